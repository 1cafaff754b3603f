//! The reflectors: a watch task per resource (ImagePolicies, ClusterImagePolicies, Secrets)
//! keeps an in-memory copy of it; any change rebuilds the whole [`PolicySet`] from the three
//! copies, at most once per [`DEBOUNCE`], and swaps it into the [`PolicyStore`].

use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{Lookup, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt};
use portieris_core::PolicySet;
use portieris_core::policy::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{ClusterError, SYNC_TIMEOUT, fill_types};
use crate::policies::PolicyStore;

/// Group and version of the policy CRDs.
const POLICY_GROUP: &str = "portieris.cloud.ibm.com";
const POLICY_VERSION: &str = "v1";
/// Shortest time between two rebuilds: a burst of events costs one or two rebuilds.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// Helm release records: often the largest Secrets of a cluster, and never a signing key or
/// registry credential, so not worth holding in memory.
const SECRET_FIELDS: &str = "type!=helm.sh/release.v1";
/// Written by `kubectl apply`; on a Secret it repeats the Secret's data in clear.
pub(super) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The `ImagePolicy` CRD (namespaced).
pub(super) fn image_policies() -> ApiResource {
    policy_resource("ImagePolicy", "imagepolicies")
}

/// The `ClusterImagePolicy` CRD (cluster scoped).
pub(super) fn cluster_image_policies() -> ApiResource {
    policy_resource("ClusterImagePolicy", "clusterimagepolicies")
}

fn policy_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(POLICY_GROUP, POLICY_VERSION, kind),
        plural,
    )
}

/// The three caches a snapshot is built from. Clones share the caches.
#[derive(Clone)]
pub(super) struct Reflectors {
    pub(super) policies: Reflector<DynamicObject>,
    pub(super) cluster_policies: Reflector<DynamicObject>,
    pub(super) secrets: Reflector<Secret>,
    /// Signalled by every change to any cache.
    pub(super) changed: Arc<Notify>,
}

impl Reflectors {
    /// Spawns the three watch tasks; they run, and retry with backoff, for the process' life.
    pub(super) fn start(client: &Client) -> Self {
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
    pub(super) async fn synced(&self) -> Result<(), ClusterError> {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        self.policies.synced(deadline).await?;
        self.cluster_policies.synced(deadline).await?;
        self.secrets.synced(deadline).await
    }

    pub(super) fn snapshot(&self) -> PolicySet {
        snapshot(
            &self.policies.store.state(),
            &self.cluster_policies.store.state(),
            &self.secrets.store.state(),
        )
    }
}

/// One watched resource: its cache and the health of the task that fills it.
pub(super) struct Reflector<K: Lookup + 'static>
where
    K::DynamicType: Hash + Eq,
{
    pub(super) store: Store<K>,
    pub(super) health: Arc<Health>,
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
pub(super) struct Health {
    resource: &'static str,
    /// What to check when the resource cannot be listed.
    hint: &'static str,
    last_error: Mutex<Option<String>>,
}

impl Health {
    pub(super) fn new(resource: &'static str, hint: &'static str) -> Self {
        Self {
            resource,
            hint,
            last_error: Mutex::new(None),
        }
    }

    pub(super) fn failed(&self, error: &watcher::Error) {
        tracing::warn!(resource = self.resource, %error, "watch failed; retrying");
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
    }

    pub(super) fn recovered(&self) {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    pub(super) fn not_synced(&self) -> ClusterError {
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
pub(super) fn trim<K: ResourceExt>(object: &mut K) {
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
pub(super) fn changes_cache<K>(event: &watcher::Event<K>) -> bool {
    matches!(
        event,
        watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone
    )
}

/// Rebuilds and swaps the snapshot after changes, at most once per [`DEBOUNCE`]. A change
/// during a rebuild or the pause leaves a permit in `changed`, so the last state always lands.
pub(super) async fn keep_current(reflectors: Reflectors, store: Arc<PolicyStore>) {
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
pub(super) fn snapshot(
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
