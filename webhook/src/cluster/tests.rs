use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::Resource as _;
use kube::api::{DynamicObject, TypeMeta};
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use portieris_core::admission::{OwnerRef, WorkloadKind};
use portieris_core::policy::{PolicyKind, Unmatched};
use portieris_core::{ImageRef, PolicySet};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::ClusterError;
use super::lookups::owner_resource;
use super::reflectors::{
    Health, LAST_APPLIED, Reflector, Reflectors, changes_cache, cluster_image_policies,
    image_policies, keep_current, snapshot, trim,
};
use crate::policies::PolicyStore;

/// An object as a watch list delivers it: no `apiVersion`/`kind`.
fn listed(namespace: Option<&str>, name: &str, data: Value) -> Arc<DynamicObject> {
    Arc::new(DynamicObject {
        types: None,
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            ..ObjectMeta::default()
        },
        data,
    })
}

fn allow_all(repository: &str) -> Value {
    json!({ "spec": { "repositories": [{ "name": repository, "policy": {} }] } })
}

fn secret(namespace: &str, name: &str, key: &str, value: &[u8]) -> Arc<Secret> {
    Arc::new(Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(key.into(), ByteString(value.to_vec()))])),
        ..Secret::default()
    })
}

fn image(text: &str) -> ImageRef {
    ImageRef::parse(text).expect("test image reference is valid")
}

/// Which kind and object govern `text` in `namespace`.
fn governing(
    set: &PolicySet,
    namespace: &str,
    text: &str,
) -> Result<(PolicyKind, String), Unmatched> {
    set.resolve(namespace, &image(text))
        .map(|m| (m.kind, m.object.to_string()))
}

#[test]
fn image_policy_governs_images_in_its_namespace() {
    let set = snapshot(
        &[listed(Some("team"), "icr", allow_all("icr.io/*"))],
        &[],
        &[],
    );
    assert_eq!(
        governing(&set, "team", "icr.io/x/y"),
        Ok((PolicyKind::ImagePolicy, "icr".into()))
    );
}

#[test]
fn cluster_image_policy_governs_namespaces_without_image_policies() {
    let set = snapshot(
        &[listed(Some("team"), "icr", allow_all("icr.io/*"))],
        &[listed(None, "default", allow_all("*"))],
        &[],
    );
    assert_eq!(
        governing(&set, "other", "docker.io/library/nginx"),
        Ok((PolicyKind::ClusterImagePolicy, "default".into()))
    );
    assert_eq!(
        governing(&set, "team", "icr.io/x/y"),
        Ok((PolicyKind::ImagePolicy, "icr".into()))
    );
}

#[test]
fn objects_that_carry_their_type_fields_are_read_too() {
    let policy = DynamicObject::new("icr", &image_policies())
        .within("team")
        .data(allow_all("icr.io/*"));
    let set = snapshot(&[Arc::new(policy)], &[], &[]);
    assert_eq!(
        governing(&set, "team", "icr.io/x/y"),
        Ok((PolicyKind::ImagePolicy, "icr".into()))
    );
}

#[test]
fn secret_data_is_found_by_namespace_and_name() {
    let set = snapshot(&[], &[], &[secret("team", "signer", "publicKey", b"PEM")]);
    let found = set
        .secret("team", "signer")
        .expect("the Secret is in the set");
    assert_eq!(
        found.data.get("publicKey").map(Vec::as_slice),
        Some(&b"PEM"[..])
    );
    assert!(set.secret("other", "signer").is_none());
}

#[test]
fn malformed_policy_is_kept_and_denies_its_scope() {
    let set = snapshot(
        &[
            listed(Some("team"), "good", allow_all("icr.io/*")),
            listed(
                Some("team"),
                "broken",
                json!({ "spec": { "repositories": "icr.io/*" } }),
            ),
        ],
        &[],
        &[],
    );
    assert!(matches!(
        governing(&set, "team", "icr.io/x/y"),
        Err(Unmatched::Invalid { kind: PolicyKind::ImagePolicy, object, .. }) if object == "broken"
    ));
    assert_eq!(set.problems().count(), 1);
}

#[test]
fn object_of_a_foreign_kind_is_skipped() {
    let mut foreign = DynamicObject::new("settings", &image_policies())
        .within("team")
        .data(allow_all("*"));
    foreign.types = Some(TypeMeta {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
    });
    let set = snapshot(&[Arc::new(foreign)], &[], &[]);
    assert_eq!(set.rules().count(), 0);
    assert_eq!(set.problems().count(), 0);
    assert_eq!(
        governing(&set, "team", "icr.io/x/y"),
        Err(Unmatched::NoPolicies)
    );
}

#[test]
fn owner_reference_maps_to_the_api_path_of_its_kind() {
    let cases = [
        ("v1", WorkloadKind::Pod, "/api/v1/namespaces/team/pods"),
        (
            "apps/v1",
            WorkloadKind::Deployment,
            "/apis/apps/v1/namespaces/team/deployments",
        ),
        (
            "apps/v1",
            WorkloadKind::ReplicaSet,
            "/apis/apps/v1/namespaces/team/replicasets",
        ),
        (
            "apps/v1",
            WorkloadKind::StatefulSet,
            "/apis/apps/v1/namespaces/team/statefulsets",
        ),
        (
            "apps/v1",
            WorkloadKind::DaemonSet,
            "/apis/apps/v1/namespaces/team/daemonsets",
        ),
        (
            "extensions/v1beta1",
            WorkloadKind::DaemonSet,
            "/apis/extensions/v1beta1/namespaces/team/daemonsets",
        ),
        (
            "v1",
            WorkloadKind::ReplicationController,
            "/api/v1/namespaces/team/replicationcontrollers",
        ),
        (
            "batch/v1",
            WorkloadKind::Job,
            "/apis/batch/v1/namespaces/team/jobs",
        ),
        (
            "batch/v1",
            WorkloadKind::CronJob,
            "/apis/batch/v1/namespaces/team/cronjobs",
        ),
    ];
    for (api_version, kind, path) in cases {
        let owner = OwnerRef {
            api_version: api_version.into(),
            kind,
            name: "web".into(),
            uid: "u-1".into(),
        };
        let resource = owner_resource(&owner);
        assert_eq!(resource.api_version, api_version);
        assert_eq!(resource.kind, kind.as_str());
        assert_eq!(
            DynamicObject::url_path(&resource, Some("team")),
            path,
            "{kind}"
        );
    }
}

#[test]
fn policy_resources_name_the_portieris_crds() {
    let cases = [
        (
            image_policies(),
            "ImagePolicy",
            "/apis/portieris.cloud.ibm.com/v1/imagepolicies",
        ),
        (
            cluster_image_policies(),
            "ClusterImagePolicy",
            "/apis/portieris.cloud.ibm.com/v1/clusterimagepolicies",
        ),
    ];
    for (resource, kind, path) in cases {
        assert_eq!(resource.api_version, "portieris.cloud.ibm.com/v1");
        assert_eq!(resource.kind, kind);
        assert_eq!(DynamicObject::url_path(&resource, None), path);
    }
}

#[test]
fn only_events_that_change_the_cache_trigger_a_rebuild() {
    let object = || listed(Some("team"), "icr", Value::Null).as_ref().clone();
    assert!(changes_cache(&watcher::Event::Apply(object())));
    assert!(changes_cache(&watcher::Event::Delete(object())));
    assert!(changes_cache(&watcher::Event::<DynamicObject>::InitDone));
    assert!(!changes_cache(&watcher::Event::<DynamicObject>::Init));
    assert!(!changes_cache(&watcher::Event::InitApply(object())));
}

#[test]
fn trim_drops_managed_fields_and_the_last_applied_copy() {
    let mut object = secret("team", "signer", "publicKey", b"PEM")
        .as_ref()
        .clone();
    object.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
    object.metadata.annotations = Some(BTreeMap::from([
        (
            LAST_APPLIED.to_string(),
            r#"{"data":{"publicKey":"UEVN"}}"#.to_string(),
        ),
        ("team".to_string(), "kept".to_string()),
    ]));
    trim(&mut object);
    assert_eq!(object.metadata.managed_fields, Some(vec![]));
    assert_eq!(
        object.metadata.annotations,
        Some(BTreeMap::from([("team".to_string(), "kept".to_string())]))
    );
}

#[test]
fn first_sync_error_names_the_resource_and_its_last_failure() {
    let health = Health::new(
        "imagepolicies.portieris.cloud.ibm.com",
        "are the CRDs installed?",
    );
    let unanswered = health.not_synced().to_string();
    assert!(
        unanswered.contains("imagepolicies.portieris.cloud.ibm.com"),
        "{unanswered}"
    );
    assert!(unanswered.contains("no answer"), "{unanswered}");

    let not_found = kube::core::Status::failure(
        "the server could not find the requested resource",
        "NotFound",
    )
    .with_code(404);
    health.failed(&watcher::Error::InitialListFailed(kube::Error::Api(
        not_found.boxed(),
    )));
    let error = health.not_synced();
    let message = error.to_string();
    assert!(matches!(error, ClusterError::FirstSync { .. }));
    assert!(
        message.contains("could not find the requested resource"),
        "{message}"
    );
    assert!(message.contains("are the CRDs installed?"), "{message}");

    health.recovered();
    assert!(health.not_synced().to_string().contains("no answer"));
}

/// Reflectors fed by hand instead of by watch tasks.
struct Fake {
    reflectors: Reflectors,
    policies: Writer<DynamicObject>,
    cluster_policies: Writer<DynamicObject>,
}

impl Fake {
    fn new() -> Self {
        let policies = Writer::new(image_policies());
        let cluster_policies = Writer::new(cluster_image_policies());
        let secrets = Writer::<Secret>::default();
        let reflectors = Reflectors {
            policies: Reflector {
                store: policies.as_reader(),
                health: Arc::new(Health::new("test", "test")),
            },
            cluster_policies: Reflector {
                store: cluster_policies.as_reader(),
                health: Arc::new(Health::new("test", "test")),
            },
            secrets: Reflector {
                store: secrets.as_reader(),
                health: Arc::new(Health::new("test", "test")),
            },
            changed: Arc::new(Notify::new()),
        };
        Self {
            reflectors,
            policies,
            cluster_policies,
        }
    }

    fn list_policies(&mut self, objects: &[Arc<DynamicObject>]) {
        self.policies.apply_watcher_event(&watcher::Event::Init);
        for object in objects {
            self.policies
                .apply_watcher_event(&watcher::Event::InitApply(object.as_ref().clone()));
        }
        self.policies.apply_watcher_event(&watcher::Event::InitDone);
    }
}

#[test]
fn snapshot_follows_the_reflector_cache() {
    let mut fake = Fake::new();
    let icr = listed(Some("team"), "icr", allow_all("icr.io/*"));
    fake.list_policies(core::slice::from_ref(&icr));
    assert_eq!(
        governing(&fake.reflectors.snapshot(), "team", "icr.io/x/y"),
        Ok((PolicyKind::ImagePolicy, "icr".into()))
    );

    fake.policies
        .apply_watcher_event(&watcher::Event::Delete(icr.as_ref().clone()));
    assert_eq!(
        governing(&fake.reflectors.snapshot(), "team", "icr.io/x/y"),
        Err(Unmatched::NoPolicies)
    );
}

/// Polls until `check` holds for the snapshot in force, or fails after a few seconds.
async fn eventually(store: &PolicyStore, check: impl Fn(&PolicySet) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check(&store.current()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "snapshot never changed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn changes_during_the_debounce_pause_still_land() {
    let mut fake = Fake::new();
    let store = Arc::new(PolicyStore::new());
    let task = tokio::spawn(keep_current(fake.reflectors.clone(), store.clone()));

    fake.list_policies(&[listed(Some("team"), "icr", allow_all("icr.io/*"))]);
    fake.reflectors.changed.notify_one();
    eventually(&store, |set| set.rules().count() == 1).await;
    assert!(store.is_ready());

    // Right after a rebuild, inside the pause: must still be applied once it ends.
    fake.cluster_policies
        .apply_watcher_event(&watcher::Event::Apply(
            listed(None, "all", allow_all("*")).as_ref().clone(),
        ));
    fake.reflectors.changed.notify_one();
    eventually(&store, |set| {
        governing(set, "other", "docker.io/library/nginx")
            == Ok((PolicyKind::ClusterImagePolicy, "all".into()))
    })
    .await;
    task.abort();
}
