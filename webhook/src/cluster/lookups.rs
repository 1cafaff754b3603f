//! The parent lookup: owner objects and ServiceAccounts, read with a GET each when an
//! admission request needs them.

use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use portieris_core::admission::{OwnerRef, WorkloadKind};
use serde_json::Value;

use super::fill_types;
use crate::admit::ClusterLookup;

/// How long an admission request waits for its owner object before verifying on its own.
const PARENT_TIMEOUT: Duration = Duration::from_secs(2);

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// Fetches owner objects and ServiceAccounts with a GET each: owners change on every rollout, and a stale owner
/// would only cost a full verification of the child.
pub(super) struct Parents {
    pub(super) client: Client,
}

impl ClusterLookup for Parents {
    fn parent<'a>(
        &'a self,
        namespace: &'a str,
        owner: &'a OwnerRef,
    ) -> BoxFuture<'a, Option<Value>> {
        self.fetch(namespace, owner).boxed()
    }

    fn pull_secrets<'a>(
        &'a self,
        namespace: &'a str,
        service_account: &'a str,
    ) -> BoxFuture<'a, Vec<String>> {
        self.account_pull_secrets(namespace, service_account)
            .boxed()
    }
}

impl Parents {
    async fn fetch(&self, namespace: &str, owner: &OwnerRef) -> Option<Value> {
        let resource = owner_resource(owner);
        let api = Api::<DynamicObject>::namespaced_with(self.client.clone(), namespace, &resource);
        let found = tokio::time::timeout(PARENT_TIMEOUT, api.get_opt(&owner.name)).await;
        let failure = match found {
            Ok(Ok(Some(object))) => return owner_value(&object, &resource),
            Ok(Ok(None)) => "not found".to_string(),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {PARENT_TIMEOUT:?}"),
        };
        tracing::debug!(
            namespace,
            kind = %owner.kind,
            name = owner.name,
            failure,
            "owner not fetched; verifying the object itself"
        );
        None
    }
}

impl Parents {
    /// The ServiceAccount's `imagePullSecrets`; none when it cannot be read in time.
    async fn account_pull_secrets(&self, namespace: &str, name: &str) -> Vec<String> {
        let api = Api::<ServiceAccount>::namespaced(self.client.clone(), namespace);
        match tokio::time::timeout(PARENT_TIMEOUT, api.get_opt(name)).await {
            Ok(Ok(Some(account))) => account
                .image_pull_secrets
                .unwrap_or_default()
                .into_iter()
                .map(|reference| reference.name)
                .filter(|name| !name.is_empty())
                .collect(),
            outcome => {
                let failure = match outcome {
                    Ok(Ok(_)) => "not found".to_string(),
                    Ok(Err(error)) => error.to_string(),
                    Err(_) => format!("no answer within {PARENT_TIMEOUT:?}"),
                };
                tracing::debug!(
                    namespace,
                    name,
                    failure,
                    "ServiceAccount not read; no pull secrets from it"
                );
                Vec::new()
            }
        }
    }
}

fn owner_value(object: &DynamicObject, resource: &ApiResource) -> Option<Value> {
    let mut value = serde_json::to_value(object).ok()?;
    fill_types(&mut value, resource);
    Some(value)
}

/// The API resource an owner reference points to, in the group and version it names.
pub(super) fn owner_resource(owner: &OwnerRef) -> ApiResource {
    let (group, version) = split_api_version(&owner.api_version);
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, owner.kind.as_str()),
        plural(owner.kind),
    )
}

fn plural(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Pod => "pods",
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::ReplicaSet => "replicasets",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
        WorkloadKind::ReplicationController => "replicationcontrollers",
        WorkloadKind::Job => "jobs",
        WorkloadKind::CronJob => "cronjobs",
        // Never an owner (`OwnerRef` refuses it); the subresource's parent is its Pod.
        WorkloadKind::EphemeralContainers => "pods",
    }
}
