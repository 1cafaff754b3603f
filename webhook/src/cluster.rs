//! Policies and Secrets from a Kubernetes cluster, and owner lookups for child workloads.
//!
//! Three reflectors (ImagePolicies, ClusterImagePolicies, Secrets) keep an in-memory copy of
//! the cluster; any change rebuilds the whole [`PolicySet`](portieris_core::PolicySet) from
//! those copies and swaps it into the [`PolicyStore`]. Requests never LIST: they read the
//! snapshot in force, which may lag the cluster by a watch round trip plus the debounce.
//!
//! `reflectors.rs` keeps the snapshot; `lookups.rs` reads owners and ServiceAccounts.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::api::ApiResource;
use serde_json::Value;

use crate::admit::ClusterLookup;
use crate::policies::PolicyStore;
use lookups::Parents;
use reflectors::{Reflectors, keep_current};

mod lookups;
mod reflectors;

/// How long `connect` waits for the first complete list of every watched resource.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the cluster source could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no Kubernetes configuration (in-cluster service account or kubeconfig); use --policy-dir to run without a cluster"
    )]
    Connect(#[source] kube::Error),
    #[error(
        "{resource} not listed within {}s ({last_error}); {hint}",
        SYNC_TIMEOUT.as_secs()
    )]
    FirstSync {
        resource: &'static str,
        last_error: String,
        hint: &'static str,
    },
}

/// Watches policies and Secrets, returns once the first snapshot is in force, and keeps it
/// current in the background. The returned lookup fetches owners from the same cluster.
pub async fn connect(store: Arc<PolicyStore>) -> anyhow::Result<Box<dyn ClusterLookup>> {
    let client = Client::try_default().await.map_err(ClusterError::Connect)?;
    let reflectors = Reflectors::start(&client);
    reflectors.synced().await?;
    store.replace(reflectors.snapshot());
    tracing::info!(
        image_policies = reflectors.policies.store.len(),
        cluster_image_policies = reflectors.cluster_policies.store.len(),
        secrets = reflectors.secrets.store.len(),
        "policies loaded from the cluster"
    );
    tokio::spawn(keep_current(reflectors, store));
    Ok(Box::new(Parents { client }))
}

/// Sets `apiVersion` and `kind` where they are missing; an object that has them keeps them.
fn fill_types(value: &mut Value, types: &ApiResource) {
    if let Value::Object(fields) = value {
        fields
            .entry("apiVersion")
            .or_insert_with(|| types.api_version.clone().into());
        fields
            .entry("kind")
            .or_insert_with(|| types.kind.clone().into());
    }
}

#[cfg(test)]
mod tests;
