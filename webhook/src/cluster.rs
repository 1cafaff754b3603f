//! Policies and Secrets from a Kubernetes cluster, and owner lookups for child workloads.
//!
//! Three reflectors (ImagePolicies, ClusterImagePolicies, Secrets) keep an in-memory copy of
//! the cluster; any change rebuilds the whole [`PolicySet`] from those copies and swaps it into
//! the [`PolicyStore`]. Requests never LIST: they read the snapshot in force, which may lag the
//! cluster by a watch round trip plus the debounce.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt as _, Stream, StreamExt as _};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{Lookup, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt};
use portieris_core::PolicySet;
use portieris_core::admission::{OwnerRef, WorkloadKind};
use portieris_core::policy::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::admit::ClusterLookup;
use crate::policies::PolicyStore;

/// Group and version of the policy CRDs.
const POLICY_GROUP: &str = "portieris.cloud.ibm.com";
const POLICY_VERSION: &str = "v1";
/// How long `connect` waits for the first complete list of every watched resource.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// Shortest time between two rebuilds: a burst of events costs one or two rebuilds.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How long an admission request waits for its owner object before verifying on its own.
const PARENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Helm release records: often the largest Secrets of a cluster, and never a signing key or
/// registry credential, so not worth holding in memory.
const SECRET_FIELDS: &str = "type!=helm.sh/release.v1";
/// Written by `kubectl apply`; on a Secret it repeats the Secret's data in clear.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

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

/// The `ImagePolicy` CRD (namespaced).
fn image_policies() -> ApiResource {
    policy_resource("ImagePolicy", "imagepolicies")
}

/// The `ClusterImagePolicy` CRD (cluster scoped).
fn cluster_image_policies() -> ApiResource {
    policy_resource("ClusterImagePolicy", "clusterimagepolicies")
}

fn policy_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(POLICY_GROUP, POLICY_VERSION, kind),
        plural,
    )
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The three caches a snapshot is built from. Clones share the caches.
#[derive(Clone)]
struct Reflectors {
    policies: Reflector<DynamicObject>,
    cluster_policies: Reflector<DynamicObject>,
    secrets: Reflector<Secret>,
    /// Signalled by every change to any cache.
    changed: Arc<Notify>,
}

impl Reflectors {
    /// Spawns the three watch tasks; they run, and retry with backoff, for the process' life.
    fn start(client: &Client) -> Self {
        let changed = Arc::new(Notify::new());
        let (policies, cluster_policies) = (image_policies(), cluster_image_policies());
        Self {
            policies: Reflector::start(
                Api::all_with(client.clone(), &policies),
                watcher::Config::default(),
                Writer::new(policies),
                Health::new(
                    "imagepolicies.portieris.cloud.ibm.com",
                    "are the Portieris CRDs installed, and may the service account list and watch imagepolicies?",
                ),
                changed.clone(),
            ),
            cluster_policies: Reflector::start(
                Api::all_with(client.clone(), &cluster_policies),
                watcher::Config::default(),
                Writer::new(cluster_policies),
                Health::new(
                    "clusterimagepolicies.portieris.cloud.ibm.com",
                    "are the Portieris CRDs installed, and may the service account list and watch clusterimagepolicies?",
                ),
                changed.clone(),
            ),
            secrets: Reflector::start(
                Api::all(client.clone()),
                watcher::Config::default().fields(SECRET_FIELDS),
                Writer::default(),
                Health::new(
                    "secrets",
                    "may the service account list and watch secrets in all namespaces?",
                ),
                changed.clone(),
            ),
            changed,
        }
    }

    /// Waits, up to [`SYNC_TIMEOUT`] in all, until every cache holds a complete list.
    async fn synced(&self) -> Result<(), ClusterError> {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        self.policies.synced(deadline).await?;
        self.cluster_policies.synced(deadline).await?;
        self.secrets.synced(deadline).await
    }

    fn snapshot(&self) -> PolicySet {
        snapshot(
            &self.policies.store.state(),
            &self.cluster_policies.store.state(),
            &self.secrets.store.state(),
        )
    }
}

/// One watched resource: its cache and the health of the task that fills it.
struct Reflector<K: Lookup + 'static>
where
    K::DynamicType: Hash + Eq,
{
    store: Store<K>,
    health: Arc<Health>,
}

// Derived Clone would require `K: Clone`; only the handles are cloned.
impl<K: Lookup + 'static> Clone for Reflector<K>
where
    K::DynamicType: Hash + Eq,
{
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            health: self.health.clone(),
        }
    }
}

impl<K> Reflector<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    fn start(
        api: Api<K>,
        config: watcher::Config,
        writer: Writer<K>,
        health: Health,
        changed: Arc<Notify>,
    ) -> Self {
        let store = writer.as_reader();
        let health = Arc::new(health);
        let events = watcher(api, config)
            .default_backoff()
            .modify(trim)
            .reflect(writer);
        tokio::spawn(drive(events, health.clone(), changed));
        Self { store, health }
    }

    async fn synced(&self, deadline: Instant) -> Result<(), ClusterError> {
        match tokio::time::timeout_at(deadline, self.store.wait_until_ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(self.health.not_synced()),
        }
    }
}

/// What a watch task reports: the resource it watches and its latest failure.
struct Health {
    resource: &'static str,
    /// What to check when the resource cannot be listed.
    hint: &'static str,
    last_error: Mutex<Option<String>>,
}

impl Health {
    fn new(resource: &'static str, hint: &'static str) -> Self {
        Self {
            resource,
            hint,
            last_error: Mutex::new(None),
        }
    }

    fn failed(&self, error: &watcher::Error) {
        tracing::warn!(resource = self.resource, %error, "watch failed; retrying");
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
    }

    fn recovered(&self) {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    fn not_synced(&self) -> ClusterError {
        let last_error = self
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "no answer from the API server".into());
        ClusterError::FirstSync {
            resource: self.resource,
            last_error,
            hint: self.hint,
        }
    }
}

/// Drops what portieris never reads: managed fields, and the last-applied copy that would keep
/// a Secret's data in memory twice.
fn trim<K: ResourceExt>(object: &mut K) {
    object.managed_fields_mut().clear();
    object.annotations_mut().remove(LAST_APPLIED);
}

/// Polls one reflector stream (which applies each event to its cache) for ever, signalling
/// changes and recording failures. The watcher retries failures itself, with backoff.
async fn drive<K>(
    events: impl Stream<Item = watcher::Result<watcher::Event<K>>>,
    health: Arc<Health>,
    changed: Arc<Notify>,
) {
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) if changes_cache(&event) => {
                health.recovered();
                changed.notify_one();
            }
            Ok(_) => {}
            Err(error) => health.failed(&error),
        }
    }
    tracing::error!(
        resource = health.resource,
        "watch ended; policies from it are no longer updated"
    );
}

/// Whether the reflector's cache changed: relisted objects are buffered until `InitDone`.
fn changes_cache<K>(event: &watcher::Event<K>) -> bool {
    matches!(
        event,
        watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone
    )
}

/// Rebuilds and swaps the snapshot after changes, at most once per [`DEBOUNCE`]. A change
/// during a rebuild or the pause leaves a permit in `changed`, so the last state always lands.
async fn keep_current(reflectors: Reflectors, store: Arc<PolicyStore>) {
    loop {
        reflectors.changed.notified().await;
        let source = reflectors.clone();
        // Decoding every Secret is CPU work: keep it off the request threads.
        match tokio::task::spawn_blocking(move || source.snapshot()).await {
            Ok(set) => store.replace(set),
            Err(error) => {
                tracing::error!(%error, "policy rebuild failed; keeping the policies in force")
            }
        }
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// The policy snapshot of the cached objects. Objects the core cannot read are logged (by
/// name, never their data) and left out; a policy with a malformed spec is kept as invalid,
/// so that it denies its scope.
fn snapshot(
    policies: &[Arc<DynamicObject>],
    cluster_policies: &[Arc<DynamicObject>],
    secrets: &[Arc<Secret>],
) -> PolicySet {
    let (image_policies, cluster_image_policies) = (image_policies(), cluster_image_policies());
    let resources = policies
        .iter()
        .filter_map(|o| read(&**o, Some(&image_policies)))
        .chain(
            cluster_policies
                .iter()
                .filter_map(|o| read(&**o, Some(&cluster_image_policies))),
        )
        .chain(secrets.iter().filter_map(|s| read(&**s, None)));
    PolicySet::new(resources)
}

/// Reads one cached object as the core reads a policy file. `types` supplies the `apiVersion`
/// and `kind` that objects from a watch list lack.
fn read<K: ResourceExt + Serialize>(object: &K, types: Option<&ApiResource>) -> Option<Resource> {
    let parsed = serde_json::to_value(object)
        .map_err(|e| e.to_string())
        .and_then(|mut value| {
            if let Some(types) = types {
                fill_types(&mut value, types);
            }
            Resource::from_value(&value).map_err(|e| e.to_string())
        });
    match parsed {
        Ok(resource) => Some(resource),
        Err(error) => {
            tracing::warn!(
                namespace = object.namespace().unwrap_or_default(),
                name = object.name_any(),
                error,
                "skipping a cluster object portieris cannot read"
            );
            None
        }
    }
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

/// Fetches owner objects and ServiceAccounts with a GET each: owners change on every rollout, and a stale owner
/// would only cost a full verification of the child.
struct Parents {
    client: Client,
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
fn owner_resource(owner: &OwnerRef) -> ApiResource {
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

#[cfg(test)]
mod tests;
