//! End to end against a real Kubernetes control plane (`scripts/kube.sh start`: etcd,
//! kube-apiserver, kube-controller-manager) and the real test rig (`scripts/rig.sh start`:
//! registry, notary-server, images signed by the notary CLI).
//!
//! The chart is installed with the real `helm`, as the install steps say
//! (`sh ./portieris/gencerts …`, `helm install portieris --create-namespace --namespace
//! portieris ./portieris`), with `webHooks.url` pointing at a `portieris serve` that this file
//! runs on the host in Kubernetes mode, authenticated as the chart's ServiceAccount (so the
//! chart's RBAC is what it runs with). The API server calls it for real; controllers create
//! children for real.
//!
//! One installation is shared by every test of this file (each test has its own namespaces);
//! tests that change it (uninstall, fail closed, no policy) hold it exclusively and restore it.

#[allow(dead_code)] // shared helpers: not every test file uses all of them
#[path = "common/kube.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "common/notation.rs"]
mod notation;
#[allow(dead_code)]
#[path = "common/rig.rs"]
mod rig;
#[allow(dead_code)]
#[path = "common/sigstore.rs"]
mod sigstore;
#[allow(dead_code)]
#[path = "common/simple.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use cluster::{
    ChartCopy, Cluster, E2E_LABEL, Kind, Namespace, Portieris, WEBHOOK, cleanup_script,
    cluster_image_policies, denied, find, free_port, image_policies, wait_until,
};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace as NamespaceObject, Pod, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use rig::Rig;
use serde_json::{Value, json};
use sigstore::{Cosign, OUR_CI, Registry, SIGNER, Signer, by_digest};
use tokio::sync::{OnceCell, RwLock};

const RELEASE: &str = "portieris";
const RELEASE_NAMESPACE: &str = "portieris";
/// The release `cleanup.sh` is tested on.
const CLEANUP_RELEASE: &str = "gate";
const MWC: &str = "image-admission-config";
const SKIP_LABEL: &str = "securityenforcement.admission.cloud.ibm.com/namespace";
const CRDS: [&str; 2] = [
    "imagepolicies.portieris.cloud.ibm.com",
    "clusterimagepolicies.portieris.cloud.ibm.com",
];
/// How soon a change to policies or Secrets must be in force.
const PROPAGATION: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The shared installation

/// The chart installed in `portieris` with `webHooks.url` at a host `portieris serve`, and
/// `AllowAdmissionSkip=true`; everything else default (so the ClusterImagePolicy
/// `portieris-default` admits every image in namespaces without an ImagePolicy).
struct Fixture {
    cluster: Cluster,
    rig: Rig,
    /// `portieris/` with certificates for `portieris.portieris.svc`, 127.0.0.1 and localhost.
    chart: ChartCopy,
    port: u16,
    portieris: Option<Portieris>,
    /// Logs and kubeconfigs, kept after the run under the cluster's state folder.
    scratch: PathBuf,
    /// A namespace whose ImagePolicy requires trust: a dry run there shows whether the
    /// webhook answers.
    probe: String,
}

static FIXTURE: OnceCell<RwLock<Fixture>> = OnceCell::const_new();

async fn fixture() -> &'static RwLock<Fixture> {
    FIXTURE
        .get_or_init(|| async { RwLock::new(Fixture::start().await) })
        .await
}

impl Fixture {
    async fn start() -> Self {
        let cluster = Cluster::get();
        let rig = Rig::get();
        let client = cluster.client().await;
        forget_previous_runs(&cluster, &client).await;
        let scratch = cluster.scratch("kubernetes");
        // In the scratch folder rather than a temporary one: a static is never dropped.
        let chart = ChartCopy::at(&scratch);
        chart.gencerts(&[RELEASE_NAMESPACE, "127.0.0.1", "localhost"]);
        let probe = Namespace::new(&client, "e2e-probe", json!({})).await;
        let mut fixture = Self {
            cluster,
            rig,
            chart,
            port: free_port(),
            portieris: None,
            scratch,
            probe: probe.name.clone(),
        };
        fixture.install(&client).await;
        fixture
    }

    fn url(&self, port: u16) -> String {
        format!("webHooks.url=https://127.0.0.1:{port}/admit")
    }

    /// The install steps, plus the URL of the host portieris and AllowAdmissionSkip; then
    /// portieris itself, and a wait until the API server reaches it.
    async fn install(&mut self, client: &Client) {
        let url = self.url(self.port);
        self.cluster.helm_ok(
            self.chart.dir(),
            &[
                "install",
                RELEASE,
                "--create-namespace",
                "--namespace",
                RELEASE_NAMESPACE,
                "./portieris",
                "--set",
                &url,
                "--set",
                "AllowAdmissionSkip=true",
            ],
        );
        self.restart_portieris(client).await;
        self.wait_wired(client).await;
    }

    /// `helm delete portieris --namespace portieris`, and portieris stopped (its
    /// ServiceAccount is gone with the release).
    fn uninstall(&mut self) {
        if let Some(mut portieris) = self.portieris.take() {
            portieris.stop();
        }
        self.cluster.helm_ok(
            self.chart.dir(),
            &["delete", RELEASE, "--namespace", RELEASE_NAMESPACE],
        );
    }

    /// `helm upgrade --reuse-values --set-json …` of the shared release.
    fn upgrade(&self, sets: &[&str]) {
        let mut args = vec![
            "upgrade",
            RELEASE,
            "./portieris",
            "--namespace",
            RELEASE_NAMESPACE,
            "--reuse-values",
        ];
        for set in sets {
            args.extend(["--set-json", set]);
        }
        self.cluster.helm_ok(self.chart.dir(), &args);
    }

    /// A kubeconfig with a fresh token of the release's ServiceAccount.
    async fn service_account_kubeconfig(&self, client: &Client, name: &str) -> PathBuf {
        let file = self.scratch.join(name);
        self.cluster
            .service_account_kubeconfig(client, RELEASE_NAMESPACE, RELEASE, &file)
            .await;
        file
    }

    async fn start_portieris(&self, client: &Client, port: u16, name: &str) -> Portieris {
        let kubeconfig = self
            .service_account_kubeconfig(client, &format!("{name}.kubeconfig"))
            .await;
        Portieris::start(
            &kubeconfig,
            &self.chart.certs(),
            &self.rig.ca(),
            port,
            self.scratch.join(format!("{name}.log")),
        )
        .await
    }

    async fn restart_portieris(&mut self, client: &Client) {
        if let Some(mut old) = self.portieris.take() {
            old.stop();
        }
        self.portieris = Some(self.start_portieris(client, self.port, "portieris").await);
    }

    /// Waits until a dry run in the probe namespace is denied by portieris (not refused for
    /// want of an answer): the webhook configuration, portieris and its policies are in force.
    async fn wait_wired(&self, client: &Client) {
        let probe = Namespace::existing(client, &self.probe);
        probe
            .set_image_policy("trust", trust_all(&self.rig, &[]))
            .await;
        let unsigned = self.rig.image("unsigned_v1").image;
        probe
            .wait_for_probe(&unsigned, "portieris answering the API server", |outcome| {
                matches!(outcome, Err(message) if message.contains(&format!("admission webhook \"{WEBHOOK}\" denied")))
            })
            .await;
    }

    fn log(&self) -> String {
        self.portieris
            .as_ref()
            .map(Portieris::log_text)
            .unwrap_or_default()
    }
}

/// Removes what earlier runs left: their namespaces, and any release or webhook of the chart.
async fn forget_previous_runs(cluster: &Cluster, client: &Client) {
    let namespaces: Api<NamespaceObject> = Api::all(client.clone());
    let _ = namespaces
        .delete_collection(
            &DeleteParams::background(),
            &ListParams::default().labels(&format!("{E2E_LABEL}=true")),
        )
        .await;
    let list = cluster.helm_ok(
        Path::new("/"),
        &["list", "--all-namespaces", "--output", "json"],
    );
    let releases: Vec<Value> = serde_json::from_str(&list).expect("helm list JSON");
    for release in &releases {
        let name = release["name"].as_str().expect("release name");
        if [RELEASE, CLEANUP_RELEASE].contains(&name) {
            let namespace = release["namespace"].as_str().expect("release namespace");
            cluster.helm_ok(Path::new("/"), &["delete", name, "--namespace", namespace]);
        }
    }
    let webhooks: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let _ = webhooks.delete(MWC, &DeleteParams::default()).await;
    // Helm installs CRDs but never upgrades them: a cluster kept from an earlier run gets the
    // current schemas here.
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/portieris/crds");
    let applied = cluster
        .command("kubectl", Path::new("/"))
        .arg("apply")
        .arg("-f")
        .arg(&crds)
        .output()
        .expect("kubectl runs");
    assert!(
        applied.status.success(),
        "CRDs not applied: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A repository rule requiring Docker Content Trust from the rig's notary, with signers.
fn trust(rig: &Rig, name: &str, signers: &[&str]) -> Value {
    let secrets: Vec<Value> = signers.iter().map(|s| json!({"name": s})).collect();
    json!({"name": name, "policy": {"trust": {
        "enabled": true,
        "trustServer": rig.env("PORTIERIS_RIG_NOTARY"),
        "signerSecrets": secrets,
    }}})
}

/// Trust required for every repository of the rig's registry.
fn trust_all(rig: &Rig, signers: &[&str]) -> Value {
    json!([trust(
        rig,
        &format!("{}/test/*", rig.env("PORTIERIS_RIG_REGISTRY")),
        signers
    )])
}

/// `127.0.0.1:5000/test/signed@sha256:…`: what an admitted rig image is rewritten to.
fn pinned(rig: &Rig, name: &str) -> String {
    let image = rig.image(name);
    format!("{}@{}", image.gun, image.digest)
}

/// A test namespace whose ImagePolicy requiring trust is in force.
async fn trusted_namespace(client: &Client, rig: &Rig, prefix: &str) -> Namespace {
    let ns = Namespace::new(client, prefix, json!({})).await;
    ns.set_image_policy("trust", trust_all(rig, &[])).await;
    wait_policy_in_force(&ns, rig).await;
    ns
}

/// Until the namespace's own policy (not the allow-all ClusterImagePolicy) decides.
async fn wait_policy_in_force(ns: &Namespace, rig: &Rig) {
    let unsigned = rig.image("unsigned_v1").image;
    ns.wait_for_probe(
        &unsigned,
        "the namespace's ImagePolicy in force",
        |outcome| outcome.is_err(),
    )
    .await;
}

fn pods(client: &Client, namespace: &str) -> Api<Pod> {
    Api::namespaced(client.clone(), namespace)
}

/// The pods labelled `app=<app>`, once there are `count` of them.
async fn wait_pods(client: &Client, namespace: &str, app: &str, count: usize) -> Vec<Pod> {
    let api = pods(client, namespace);
    let selector = ListParams::default().labels(&format!("app={app}"));
    let what = format!("{count} pods of {app} created by the controllers");
    wait_until(Duration::from_secs(30), &what, || {
        let (api, selector) = (api.clone(), selector.clone());
        async move {
            api.list(&selector)
                .await
                .is_ok_and(|l| l.items.len() >= count)
        }
    })
    .await;
    api.list(&selector).await.expect("pods listed").items
}

fn pod_images(pod: &Pod) -> Vec<String> {
    let value = serde_json::to_value(pod).expect("JSON");
    Kind::Pod.images(&value)
}

fn crd_api(client: &Client) -> Api<CustomResourceDefinition> {
    Api::all(client.clone())
}

// ---------------------------------------------------------------------------------------------
// Admission of every kind

#[tokio::test]
async fn signed_images_are_admitted_and_pinned_to_their_digest_for_every_kind() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-signed").await;
    let signed = fx.rig.image("signed_v1").image;
    let expected = pinned(&fx.rig, "signed_v1");
    for kind in Kind::ALL {
        let object = kind.object(&format!("signed-{}", kind.slug()), &signed, None);
        ns.create(kind, &object, false)
            .await
            .unwrap_or_else(|e| panic!("{kind:?} with a signed image refused: {e}\n{}", fx.log()));
        let stored = ns.get(kind, &format!("signed-{}", kind.slug())).await;
        assert_eq!(
            kind.images(&stored),
            vec![expected.clone(), expected.clone()],
            "{kind:?}: the stored init container and container run the verified digest"
        );
    }
}

#[tokio::test]
async fn unsigned_images_are_denied_for_every_kind() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-unsigned").await;
    let unsigned = fx.rig.image("unsigned_v1").image;
    for kind in Kind::ALL {
        let name = format!("unsigned-{}", kind.slug());
        let message = denied(
            ns.create(kind, &kind.object(&name, &unsigned, None), false)
                .await,
        );
        assert!(
            message.contains(&format!("Deny \"{unsigned}\"")),
            "{kind:?}: the refusal names the image: {message}"
        );
        assert!(
            ns.api(kind).get_opt(&name).await.expect("get").is_none(),
            "{kind:?}: nothing stored"
        );
    }
}

/// The issue's scenario: a Deployment whose image has SLSA provenance from our CI (attested
/// keyless by the real cosign v3 against the loopback Sigstore) runs, pinned; the same
/// Deployment of an image built elsewhere is refused, naming the condition that failed.
#[tokio::test]
async fn a_deployment_runs_only_with_slsa_provenance_built_by_our_ci() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let prefix = format!("e2e-attestations/run-{}", std::process::id());
    let cosign = Cosign::new(prefix.clone());
    let (ours, ours_digest) = cosign.push(Registry::Referrers, "ours");
    cosign.attest_provenance(&ours, &ours_digest, OUR_CI, Signer::Keyless(SIGNER));
    let (theirs, theirs_digest) = cosign.push(Registry::Referrers, "theirs");
    let elsewhere = "https://ci.example.com/builders/other@v1";
    cosign.attest_provenance(&theirs, &theirs_digest, elsewhere, Signer::Keyless(SIGNER));

    let ns = Namespace::new(&client, "e2e-attested", json!({})).await;
    let root = json!({"trusted_root.json": cosign.sigstore.trusted_root()});
    ns.set_secret("sigstore-root", root).await;
    let host = ours.split('/').next().expect("a registry");
    let rule = json!([{"name": format!("{host}/{prefix}/*"),
        "policy": {"attestations": [cosign.built_by_our_ci()]}}]);
    ns.set_image_policy("attested", rule).await;
    ns.wait_for_probe(&theirs, "the attestation policy in force", |o| o.is_err())
        .await;

    let pinned = by_digest(&ours, &ours_digest);
    let needles = ["condition 1 is false: predicate.runDetails.builder.id"];
    runs_pinned_and_refuses(&fx, &ns, (&ours, &pinned), &theirs, &needles).await;
}

/// A Deployment of `ours` (the image and what it must be pinned to) runs, pinned; one of
/// `theirs` is refused, the refusal naming the image and saying each of `needles`.
async fn runs_pinned_and_refuses(
    fx: &Fixture,
    ns: &Namespace,
    (ours, pinned): (&str, &str),
    theirs: &str,
    needles: &[&str],
) {
    let deployment = Kind::Deployment.object("ours", ours, Some(1));
    ns.create(Kind::Deployment, &deployment, false)
        .await
        .unwrap_or_else(|e| panic!("{ours} refused: {e}\n{}", fx.log()));
    let stored = ns.get(Kind::Deployment, "ours").await;
    assert_eq!(Kind::Deployment.images(&stored), vec![pinned, pinned]);
    let refused = Kind::Deployment.object("theirs", theirs, Some(1));
    let message = denied(ns.create(Kind::Deployment, &refused, false).await);
    assert!(
        message.contains(&format!("Deny \"{theirs}\""))
            && needles.iter().all(|n| message.contains(n)),
        "the refusal names the image and says {needles:?}: {message}"
    );
}

/// Notation: a Deployment whose image notation-go signed (JWS, a certificate from the trusted
/// CA, the trusted identity) runs, pinned, under a Notary Project trust policy document and a
/// trust store held in Secrets; the same Deployment of an image signed by another identity of
/// the same CA is refused, naming why.
#[tokio::test]
async fn a_deployment_runs_only_with_a_notation_signature_by_the_trusted_identity() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let prefix = format!("e2e-notation/run-{}", std::process::id());
    let signer = notation::Notation::new(prefix.clone());
    let (ours, ours_digest) = signer.push(notation::Registry::Referrers, "ours");
    signer.sign(&ours, &ours_digest, &notation::Sign::default());
    let (theirs, theirs_digest) = signer.push(notation::Registry::Referrers, "theirs");
    let other_leaf = notation::Sign {
        leaf: "leaf-rsa",
        ..notation::Sign::default()
    };
    signer.sign(&theirs, &theirs_digest, &other_leaf);

    let ns = Namespace::new(&client, "e2e-notation", json!({})).await;
    let host = ours.split('/').next().expect("a registry");
    let document = json!({"version": "1.0", "trustPolicies": [{"name": "ours",
        "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:acme"],
        "trustedIdentities": [notation::Pki::identity("leaf-ec")]}]});
    ns.set_secret(
        "trust-policy",
        json!({"trustpolicy.json": document.to_string()}),
    )
    .await;
    ns.set_secret("acme", json!({"root.pem": signer.pki.pem("root.pem")}))
        .await;
    let rule = json!([{"name": format!("{host}/{prefix}/*"), "policy": {"notation": {
        "trustPolicy": {"secret": "trust-policy"},
        "trustStores": [{"type": "ca", "name": "acme", "secret": "acme"}]}}}]);
    ns.set_image_policy("notation", rule).await;
    ns.wait_for_probe(&theirs, "the notation policy in force", |o| o.is_err())
        .await;

    let pinned = format!("{}@{ours_digest}", notation::repository(&ours));
    let needles = ["CN=leaf-rsa", "is not a trusted identity"];
    runs_pinned_and_refuses(&fx, &ns, (&ours, &pinned), &theirs, &needles).await;
}

#[tokio::test]
async fn zero_replica_workloads_are_checked_and_scaling_them_does_not_bypass_the_check() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-zero").await;
    let unsigned = fx.rig.image("unsigned_v1").image;
    let signed = fx.rig.image("signed_v1").image;
    let expected = pinned(&fx.rig, "signed_v1");
    for kind in Kind::SCALABLE {
        // Portieris before 0.14 skipped zero-replica objects: create at 0, then scale (#508).
        let object = kind.object(&format!("zero-bad-{}", kind.slug()), &unsigned, Some(0));
        denied(ns.create(kind, &object, false).await);

        let name = format!("zero-{}", kind.slug());
        ns.create(kind, &kind.object(&name, &signed, Some(0)), false)
            .await
            .unwrap_or_else(|e| panic!("{kind:?} with 0 replicas of a signed image: {e}"));
        assert_eq!(kind.images(&ns.get(kind, &name).await)[1], expected);

        // Swapping the image while at 0 replicas is an UPDATE, and checked too.
        let swap = Patch::Merge(json!({"spec": {"template": {"spec": {
            "containers": [{"name": "main", "image": unsigned}]}}}}));
        denied(
            ns.api(kind)
                .patch(&name, &PatchParams::default(), &swap)
                .await,
        );

        ns.api(kind)
            .patch_scale(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 1}})),
            )
            .await
            .unwrap_or_else(|e| panic!("{kind:?} scaled: {e}"));
        let children = wait_pods(&client, &ns.name, &name, 1).await;
        assert_eq!(
            pod_images(&children[0]),
            vec![expected.clone(), expected.clone()],
            "{kind:?}: pods of the scaled workload run the verified digest"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Parents and owners

#[tokio::test]
async fn controller_made_children_are_admitted_and_a_faked_owner_reference_is_checked() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-parents").await;
    let signed = fx.rig.image("signed_v1").image;
    let expected = pinned(&fx.rig, "signed_v1");
    let unsigned = fx.rig.image("unsigned_v1").image;

    ns.create(
        Kind::Deployment,
        &Kind::Deployment.object("web", &signed, Some(1)),
        false,
    )
    .await
    .expect("signed deployment admitted");
    let first = wait_pods(&client, &ns.name, "web", 1).await;
    assert_eq!(
        pod_images(&first[0]),
        vec![expected.clone(), expected.clone()]
    );
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns.name);
    let rs = replica_sets
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("replicasets")
        .items
        .into_iter()
        .next()
        .expect("the Deployment's ReplicaSet, made by the controller-manager");
    let rs_name = rs.metadata.name.clone().expect("name");
    let rs_uid = rs.metadata.uid.clone().expect("uid");

    // Tighten the policy: the signed image now needs a signer it does not have.
    ns.set_image_policy("trust", trust_all(&fx.rig, &["alice-signer"]))
        .await;
    ns.wait_for_probe(&signed, "the tightened policy in force", Result::is_err)
        .await;

    // The controllers still create children: the ReplicaSet approves its own pods.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scaled");
    let pods_now = wait_pods(&client, &ns.name, "web", 3).await;
    for pod in &pods_now {
        assert_eq!(pod_images(pod), vec![expected.clone(), expected.clone()]);
    }
    // A pod the ReplicaSet recreates after the policy tightened is admitted too.
    let victim = pods_now[0].metadata.name.clone().expect("name");
    pods(&client, &ns.name)
        .delete(&victim, &DeleteParams::default().grace_period(0))
        .await
        .expect("pod deleted");
    let what = "the ReplicaSet replacing a deleted pod";
    let api = pods(&client, &ns.name);
    wait_until(Duration::from_secs(30), what, || {
        let (api, victim) = (api.clone(), victim.clone());
        async move {
            api.list(&ListParams::default().labels("app=web"))
                .await
                .is_ok_and(|l| {
                    l.items.len() >= 3
                        && l.items
                            .iter()
                            .all(|p| p.metadata.name.as_deref() != Some(victim.as_str()))
                })
        }
    })
    .await;

    // Hand-made pods claiming that ReplicaSet as owner are checked like any other.
    let owned = |name: &str, image: &str, uid: &str, owner: &str| {
        let mut pod = Kind::Pod.object(name, image, None);
        pod["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": uid,
        }]);
        pod
    };
    let cases = [
        (
            "fake-uid",
            owned(
                "fake-uid",
                &expected,
                "00000000-0000-0000-0000-000000000000",
                &rs_name,
            ),
        ),
        (
            "fake-owner",
            owned("fake-owner", &unsigned, &rs_uid, "ghost"),
        ),
        (
            "real-owner-other-image",
            owned("real-owner-other-image", &unsigned, &rs_uid, &rs_name),
        ),
        (
            "real-owner-tag",
            owned("real-owner-tag", &signed, &rs_uid, &rs_name),
        ),
    ];
    for (name, pod) in cases {
        let message = denied(ns.create(Kind::Pod, &pod, false).await);
        assert!(message.contains("Deny"), "{name}: {message}");
    }
}

// ---------------------------------------------------------------------------------------------
// Policy scope

#[tokio::test]
async fn an_image_policy_overrides_the_default_allow_all_cluster_image_policy() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let unsigned = fx.rig.image("unsigned_v1").image;
    let signed = fx.rig.image("signed_v1").image;

    // The chart's default ClusterImagePolicy admits anything, unverified and unpinned.
    let cluster_policies: Api<DynamicObject> =
        Api::all_with(client.clone(), &cluster_image_policies());
    let default = cluster_policies
        .get("portieris-default")
        .await
        .expect("the chart installs ClusterImagePolicy portieris-default");
    assert_eq!(default.data["spec"]["repositories"], json!([{"name": "*"}]));
    let open = Namespace::new(&client, "e2e-open", json!({})).await;
    assert_eq!(open.probe(&unsigned).await, Ok(unsigned.clone()));
    open.create(
        Kind::Pod,
        &Kind::Pod.object("anything", "docker.io/library/busybox:1", None),
        false,
    )
    .await
    .expect("admitted by the allow-all ClusterImagePolicy");

    // A namespace with an ImagePolicy uses only its ImagePolicies.
    let strict = trusted_namespace(&client, &fx.rig, "e2e-strict").await;
    denied(
        strict
            .create(Kind::Pod, &Kind::Pod.object("u", &unsigned, None), false)
            .await,
    );
    let other = "docker.io/library/busybox:1";
    let message = denied(
        strict
            .create(Kind::Pod, &Kind::Pod.object("o", other, None), false)
            .await,
    );
    assert!(
        message.contains(&format!(
            "no matching repositories in the ImagePolicies of the \"{}\" namespace",
            strict.name
        )),
        "{message}"
    );
    assert_eq!(
        strict.probe(&signed).await,
        Ok(pinned(&fx.rig, "signed_v1"))
    );
}

#[tokio::test]
async fn without_any_policy_every_image_is_denied() {
    let fx = fixture().await.write().await;
    let client = fx.cluster.client().await;
    let ns = Namespace::new(&client, "e2e-nopolicy", json!({})).await;
    let signed = fx.rig.image("signed_v1").image;

    // `clusterPolicy.allowedRepositories=[]`: the chart installs no ClusterImagePolicy.
    fx.upgrade(&["clusterPolicy.allowedRepositories=[]"]);
    let cluster_policies: Api<DynamicObject> =
        Api::all_with(client.clone(), &cluster_image_policies());
    assert!(
        cluster_policies
            .get_opt("portieris-default")
            .await
            .expect("get")
            .is_none()
    );
    let took = ns
        .wait_for_probe(&signed, "deny without policies", |outcome| {
            matches!(outcome, Err(m) if m.contains("no image policies or cluster policies"))
        })
        .await;
    assert!(took < PROPAGATION, "{took:?}");
    let message = denied(
        ns.create(
            Kind::Deployment,
            &Kind::Deployment.object("d", &signed, None),
            false,
        )
        .await,
    );
    assert!(message.contains(&format!("Deny \"{signed}\"")), "{message}");

    fx.upgrade(&[r#"clusterPolicy.allowedRepositories=[{"name":"*"}]"#]);
    ns.wait_for_probe(
        &signed,
        "the default ClusterImagePolicy back",
        Result::is_ok,
    )
    .await;
}

#[tokio::test]
async fn namespaces_labelled_skip_are_not_checked_when_admission_skip_is_allowed() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let unsigned = fx.rig.image("unsigned_v1").image;
    let checked = trusted_namespace(&client, &fx.rig, "e2e-checked").await;
    denied(
        checked
            .create(Kind::Pod, &Kind::Pod.object("u", &unsigned, None), false)
            .await,
    );

    let skipped = Namespace::new(&client, "e2e-skip", json!({SKIP_LABEL: "skip"})).await;
    skipped
        .set_image_policy("trust", trust_all(&fx.rig, &[]))
        .await;
    skipped
        .create(Kind::Pod, &Kind::Pod.object("u", &unsigned, None), false)
        .await
        .expect("a namespace labelled skip is not sent to portieris");
    assert_eq!(
        Kind::Pod.images(&skipped.get(Kind::Pod, "u").await),
        vec![unsigned.clone(), unsigned.clone()],
        "not mutated either"
    );

    // The release namespace is skipped as if labelled (Helm cannot label it): its own
    // ImagePolicy would admit only the portieris image.
    let release = Namespace::existing(&client, RELEASE_NAMESPACE);
    assert_eq!(release.probe(&unsigned).await, Ok(unsigned.clone()));

    // The label is read at each request: removing it brings the checks back.
    let namespaces: Api<NamespaceObject> = Api::all(client.clone());
    namespaces
        .patch(
            &skipped.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {SKIP_LABEL: null}}})),
        )
        .await
        .expect("label removed");
    skipped
        .wait_for_probe(&unsigned, "checks after removing the label", Result::is_err)
        .await;
}

#[tokio::test]
async fn policy_and_secret_changes_take_effect_within_seconds() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let rig = &fx.rig;
    let ns = Namespace::new(&client, "e2e-live", json!({})).await;
    let image = rig.image("onesigner_v1").image; // signed by releases and alice
    let expected = pinned(rig, "onesigner_v1");
    let repository = format!("{}/test/onesigner", rig.env("PORTIERIS_RIG_REGISTRY"));

    // alice's signature is required, but her Secret does not exist yet.
    ns.set_image_policy(
        "signers",
        json!([trust(rig, &repository, &["alice-signer"])]),
    )
    .await;
    let t_policy = ns
        .wait_for_probe(
            &image,
            "an ImagePolicy created while running",
            Result::is_err,
        )
        .await;

    ns.set_secret(
        "alice-signer",
        json!({"name": "alice", "publicKey": rig.signer_key("alice")}),
    )
    .await;
    let t_secret = ns
        .wait_for_probe(&image, "a signer Secret created while running", |o| {
            o.as_ref() == Ok(&expected)
        })
        .await;

    // The same Secret now holds a key that never signed it.
    ns.set_secret(
        "alice-signer",
        json!({"name": "alice", "publicKey": rig.signer_key("mallory")}),
    )
    .await;
    let t_rotated = ns
        .wait_for_probe(
            &image,
            "a signer Secret changed while running",
            Result::is_err,
        )
        .await;

    ns.set_image_policy("signers", json!([trust(rig, &repository, &[])]))
        .await;
    let t_relaxed = ns
        .wait_for_probe(&image, "an ImagePolicy changed while running", |o| {
            o.as_ref() == Ok(&expected)
        })
        .await;

    // Deleting the namespace's last ImagePolicy hands it back to the ClusterImagePolicy.
    ns.dynamic(&image_policies())
        .delete("signers", &DeleteParams::default())
        .await
        .expect("policy deleted");
    let unsigned = rig.image("unsigned_v1").image;
    let t_deleted = ns
        .wait_for_probe(&unsigned, "an ImagePolicy deleted while running", |o| {
            o.as_ref() == Ok(&unsigned)
        })
        .await;

    for (what, took) in [
        ("policy created", t_policy),
        ("secret created", t_secret),
        ("secret changed", t_rotated),
        ("policy changed", t_relaxed),
        ("policy deleted", t_deleted),
    ] {
        eprintln!("{what}: in force after {took:?}");
        assert!(took < PROPAGATION, "{what}: {took:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Updates and ephemeral containers

#[tokio::test]
async fn updates_to_an_unsigned_image_are_denied_by_patch_and_by_replace() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-update").await;
    let signed = fx.rig.image("signed_v1").image;
    let unsigned = fx.rig.image("unsigned_v1").image;
    let expected = pinned(&fx.rig, "signed_v1");

    for kind in [Kind::Deployment, Kind::Pod, Kind::CronJob] {
        let name = format!("upd-{}", kind.slug());
        ns.create(
            kind,
            &kind.object(&name, &signed, Some(0).filter(|_| kind == Kind::Deployment)),
            false,
        )
        .await
        .expect("signed object admitted");
        let api = ns.api(kind);

        // Strategic merge patch (kubectl set image, kubectl patch).
        let mut patch = json!({});
        let pointer = kind.pod_spec().trim_start_matches('/').split('/');
        let mut at = &mut patch;
        for key in pointer {
            at = &mut at[key];
        }
        *at = json!({"containers": [{"name": "main", "image": unsigned}]});
        let message = denied(
            api.patch(&name, &PatchParams::default(), &Patch::Strategic(patch))
                .await,
        );
        assert!(
            message.contains(&format!("Deny \"{unsigned}\"")),
            "{kind:?}: {message}"
        );

        // Replace (PUT, kubectl replace).
        let current = api.get(&name).await.expect("get");
        let mut replacement = serde_json::to_value(&current).expect("JSON");
        let spec = replacement.pointer_mut(kind.pod_spec()).expect("pod spec");
        spec["containers"][0]["image"] = json!(unsigned);
        let replacement: DynamicObject = serde_json::from_value(replacement).expect("object");
        denied(
            api.replace(&name, &PostParams::default(), &replacement)
                .await,
        );

        assert_eq!(
            kind.images(&ns.get(kind, &name).await),
            vec![expected.clone(), expected.clone()],
            "{kind:?}: the stored object still runs the verified digest"
        );
    }
}

#[tokio::test]
async fn ephemeral_containers_are_checked() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-debug").await;
    let signed = fx.rig.image("signed_v1").image;
    let unsigned = fx.rig.image("unsigned_v1").image;
    ns.create(Kind::Pod, &Kind::Pod.object("app", &signed, None), false)
        .await
        .expect("pod admitted");
    let api = ns.api(Kind::Pod);
    let debug = |name: &str, image: &str| {
        Patch::Strategic(json!({"spec": {"ephemeralContainers": [{
            "name": name, "image": image, "targetContainerName": "main",
        }]}}))
    };
    // `kubectl debug` with an unsigned image.
    let message = denied(
        api.patch_subresource(
            "ephemeralcontainers",
            "app",
            &PatchParams::default(),
            &debug("bad", &unsigned),
        )
        .await,
    );
    assert!(
        message.contains(&format!("Deny \"{unsigned}\"")),
        "{message}"
    );

    api.patch_subresource(
        "ephemeralcontainers",
        "app",
        &PatchParams::default(),
        &debug("good", &signed),
    )
    .await
    .expect("a signed debug container is admitted");
    let stored = ns.get(Kind::Pod, "app").await;
    assert_eq!(
        stored["spec"]["ephemeralContainers"][0]["image"],
        json!(pinned(&fx.rig, "signed_v1")),
        "and pinned to its digest"
    );
}

// ---------------------------------------------------------------------------------------------
// Failure policy

#[tokio::test]
async fn a_warn_policy_admits_an_unsigned_pod_unmutated_and_kubectl_prints_the_warning() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = Namespace::new(&client, "e2e-warn", json!({})).await;
    let pattern = format!("{}/test/*", fx.rig.env("PORTIERIS_RIG_REGISTRY"));
    let mut rule = trust(&fx.rig, &pattern, &[]);
    rule["policy"]["enforcement"] = json!("warn");
    ns.set_image_policy("warn", json!([rule])).await;
    // The allow-all ClusterImagePolicy never pins: a pinned probe means this policy decides.
    let expected = pinned(&fx.rig, "signed_v1");
    ns.wait_for_probe(
        &fx.rig.image("signed_v1").image,
        "the warn ImagePolicy in force",
        |outcome| outcome.as_ref().is_ok_and(|image| *image == expected),
    )
    .await;
    let unsigned = fx.rig.image("unsigned_v1").image;
    let mut pod = Kind::Pod.object("warned", &unsigned, None);
    pod["metadata"]["namespace"] = json!(ns.name);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pod.json");
    std::fs::write(&file, pod.to_string()).expect("pod file");
    let output = fx
        .cluster
        .command("kubectl", dir.path())
        .args(["apply", "-f"])
        .arg(&file)
        .output()
        .expect("kubectl runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "admitted: {stderr}\n{}", fx.log());
    assert!(
        stderr.contains(&format!("Warning: Warn \"{unsigned}\", ")),
        "kubectl prints the warning: {stderr}"
    );
    let stored = ns.get(Kind::Pod, "warned").await;
    assert_eq!(
        Kind::Pod.images(&stored),
        vec![unsigned.clone(), unsigned],
        "stored as written, not mutated"
    );
}

#[tokio::test]
async fn tag_and_digest_mutation_keeps_the_tag_records_the_original_and_the_pods_follow() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = Namespace::new(&client, "e2e-keeptag", json!({})).await;
    let pattern = format!("{}/test/*", fx.rig.env("PORTIERIS_RIG_REGISTRY"));
    let mut rule = trust(&fx.rig, &pattern, &[]);
    rule["policy"]["mutation"] = json!("tagAndDigest");
    ns.set_image_policy("keep-tag", json!([rule])).await;
    let signed = fx.rig.image("signed_v1");
    let expected = format!("{}:{}@{}", signed.gun, signed.tag, signed.digest);
    ns.wait_for_probe(
        &signed.image,
        "the tagAndDigest ImagePolicy in force",
        |outcome| outcome.as_ref().is_ok_and(|image| *image == expected),
    )
    .await;
    let deployment = Kind::Deployment.object("kept", &signed.image, Some(1));
    ns.create(Kind::Deployment, &deployment, false)
        .await
        .unwrap_or_else(|e| panic!("signed Deployment refused: {e}\n{}", fx.log()));
    let stored = ns.get(Kind::Deployment, "kept").await;
    assert_eq!(
        Kind::Deployment.images(&stored),
        vec![expected.clone(), expected.clone()]
    );
    let recorded = stored["metadata"]["annotations"]["portieris.cloud.ibm.com/original-images"]
        .as_str()
        .expect("the Deployment records the originals");
    assert_eq!(
        serde_json::from_str::<Value>(recorded).expect("JSON"),
        json!({"/spec/template/spec/initContainers/0/image": signed.image,
            "/spec/template/spec/containers/0/image": signed.image})
    );
    // The ReplicaSet and its Pod carry the pinned images on: admitted, nothing re-resolved.
    let pods = wait_pods(&client, &ns.name, "kept", 1).await;
    assert_eq!(pod_images(&pods[0]), vec![expected.clone(), expected]);
}

#[tokio::test]
async fn creates_are_refused_while_portieris_is_down_and_admitted_with_failure_policy_ignore() {
    let fx = fixture().await.write().await;
    let client = fx.cluster.client().await;
    let ns = trusted_namespace(&client, &fx.rig, "e2e-down").await;
    let signed = fx.rig.image("signed_v1").image;
    let unsigned = fx.rig.image("unsigned_v1").image;

    // A second portieris, which this test will stop.
    let port = free_port();
    let mut second = fx.start_portieris(&client, port, "portieris-down").await;
    fx.upgrade(&[&format!(
        "webHooks.url={:?}",
        format!("https://127.0.0.1:{port}/admit")
    )]);
    let probe_name = ns.name.clone();
    ns.wait_for_probe(&signed, "the webhook moved to the second portieris", |o| {
        o.is_ok() && second_log_mentions(&second, &probe_name)
    })
    .await;

    second.stop();
    for kind in [Kind::Pod, Kind::Deployment] {
        let object = kind.object(&format!("down-{}", kind.slug()), &signed, None);
        match ns.create(kind, &object, false).await {
            Err(kube::Error::Api(status)) => assert!(
                status
                    .message
                    .contains(&format!("failed calling webhook \"{WEBHOOK}\"")),
                "{kind:?}: {status:?}"
            ),
            other => panic!("{kind:?}: fail closed expected, got {other:?}"),
        }
    }

    // failurePolicy=Ignore: the same creates go through, unchecked.
    fx.upgrade(&[r#"webHooks.failurePolicy="Ignore""#]);
    ns.wait_for_probe(&unsigned, "failurePolicy Ignore in force", |o| {
        o.as_ref() == Ok(&unsigned)
    })
    .await;
    ns.create(
        Kind::Deployment,
        &Kind::Deployment.object("open", &unsigned, None),
        false,
    )
    .await
    .expect("admitted unchecked while portieris is down");

    fx.upgrade(&[
        r#"webHooks.failurePolicy="Fail""#,
        &format!(
            "webHooks.url={:?}",
            format!("https://127.0.0.1:{}/admit", fx.port)
        ),
    ]);
    fx.wait_wired(&client).await;
}

fn second_log_mentions(second: &Portieris, namespace: &str) -> bool {
    second.log_text().contains(namespace)
}

// ---------------------------------------------------------------------------------------------
// CRD schemas

#[tokio::test]
async fn malformed_policies_are_rejected_at_apply_time_and_typos_deny_their_namespace() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    let ns = Namespace::new(&client, "e2e-schema", json!({})).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let apply = |name: &str, kind: &str, spec: &str| {
        let file = dir.path().join(format!("{name}.yaml"));
        let namespace = if kind == "ImagePolicy" {
            format!("\n  namespace: {}", ns.name)
        } else {
            String::new()
        };
        let yaml = format!(
            "apiVersion: portieris.cloud.ibm.com/v1\nkind: {kind}\nmetadata:\n  name: {name}{namespace}\n{spec}"
        );
        std::fs::write(&file, yaml).expect("policy file");
        let output = fx
            .cluster
            .command("kubectl", dir.path())
            .args(["apply", "-f"])
            .arg(&file)
            .output()
            .expect("kubectl runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let rejected = [
        ("no-spec", "ImagePolicy", "", "spec: Required value"),
        (
            "not-a-list",
            "ImagePolicy",
            "spec:\n  repositories: nginx\n",
            "must be of type array",
        ),
        (
            "no-name",
            "ImagePolicy",
            "spec:\n  repositories:\n  - policy: {}\n",
            "name: Required value",
        ),
        (
            "empty-name",
            "ImagePolicy",
            "spec:\n  repositories:\n  - name: \"\"\n",
            "should be at least 1 chars long",
        ),
        (
            "wrong-type",
            "ImagePolicy",
            "spec:\n  repositories:\n  - name: x\n    policy:\n      trust: {enabled: \"yes\"}\n",
            "must be of type boolean",
        ),
        (
            "bad-requirement",
            "ClusterImagePolicy",
            "spec:\n  repositories:\n  - name: x\n    policy:\n      simple:\n        requirements:\n        - type: signedByy\n",
            "Unsupported value: \"signedByy\"",
        ),
        (
            "bad-identity",
            "ClusterImagePolicy",
            "spec:\n  repositories:\n  - name: x\n    policy:\n      simple:\n        requirements:\n        - type: signedBy\n          keySecret: k\n          signedIdentity: {type: matchEverything}\n",
            "Unsupported value: \"matchEverything\"",
        ),
    ];
    for (name, kind, spec, error) in rejected {
        let (ok, output) = apply(name, kind, spec);
        assert!(!ok, "{name}: accepted:\n{output}");
        assert!(
            output.contains(error),
            "{name}: expected {error:?} in:\n{output}"
        );
    }
    let accepted = [
        (
            "valid",
            "ImagePolicy",
            "spec:\n  repositories:\n  - name: \"icr.io/*\"\n    policy:\n      trust:\n        enabled: true\n        signerSecrets:\n        - name: alice\n      mutateImage: false\n",
        ),
        (
            "no-policy",
            "ImagePolicy",
            "spec:\n  repositories:\n  - name: \"docker.io/library/*\"\n  - name: \"quay.io/*\"\n    policy:\n",
        ),
        (
            "cluster-valid",
            "ClusterImagePolicy",
            "spec:\n  repositories:\n  - name: \"example.invalid/*\"\n    policy:\n      simple:\n        requirements:\n        - type: signedBy\n          keySecret: k\n          signedIdentity: {type: matchRepository}\n",
        ),
    ];
    for (name, kind, spec) in accepted {
        let (ok, output) = apply(name, kind, spec);
        assert!(ok, "{name}: rejected:\n{output}");
    }
    // `policy:` left empty (null) is pruned by the API server, so portieris reads what it
    // stores as a repository without policy: admitted unchecked, like Portieris' own.
    let stored = ns
        .dynamic(&image_policies())
        .get("no-policy")
        .await
        .expect("stored");
    assert_eq!(
        stored.data["spec"]["repositories"],
        json!([{"name": "docker.io/library/*"}, {"name": "quay.io/*"}])
    );
    let busybox = "quay.io/library/busybox:1";
    ns.wait_for_probe(busybox, "the applied policies in force", |o| {
        o.as_deref() == Ok(busybox)
    })
    .await;
    // A typo is kept, not pruned (which would store an allow-all rule): portieris refuses
    // the object and denies its whole namespace.
    let (ok, output) = apply(
        "typo",
        "ImagePolicy",
        "spec:\n  repositories:\n  - name: \"*\"\n    policy:\n      trsut: {enabled: true}\n",
    );
    assert!(ok, "typo: rejected:\n{output}");
    let stored = ns
        .dynamic(&image_policies())
        .get("typo")
        .await
        .expect("stored");
    assert_eq!(
        stored.data["spec"]["repositories"][0]["policy"]["trsut"],
        json!({"enabled": true})
    );
    ns.wait_for_probe(busybox, "a policy typo denies its namespace", |o| {
        o.as_ref().is_err_and(|e| e.contains("trsut"))
    })
    .await;
    let _ = Api::<DynamicObject>::all_with(client.clone(), &cluster_image_policies())
        .delete("cluster-valid", &DeleteParams::default())
        .await;
}

// ---------------------------------------------------------------------------------------------
// Install, uninstall, cleanup

#[tokio::test]
async fn the_install_steps_work_in_another_namespace_and_helm_delete_removes_everything_but_the_crds()
 {
    let mut fx = fixture().await.write().await;
    let client = fx.cluster.client().await;
    let webhooks: Api<MutatingWebhookConfiguration> = Api::all(client.clone());

    // `helm delete portieris --namespace portieris`.
    fx.uninstall();
    assert!(webhooks.get_opt(MWC).await.expect("get").is_none());
    let cluster_policies: Api<DynamicObject> =
        Api::all_with(client.clone(), &cluster_image_policies());
    assert!(
        cluster_policies
            .get_opt("portieris-default")
            .await
            .expect("get")
            .is_none()
    );
    for crd in CRDS {
        assert!(
            crd_api(&client).get_opt(crd).await.expect("get").is_some(),
            "Helm keeps {crd}"
        );
    }

    // An existing namespace: no --create-namespace, certificates for that namespace.
    let target = Namespace::new(&client, "portieris-alt", json!({})).await;
    let chart = ChartCopy::new();
    chart.gencerts(&[&target.name]);
    fx.cluster.helm_ok(
        chart.dir(),
        &[
            "install",
            RELEASE,
            "--namespace",
            &target.name,
            "./portieris",
        ],
    );

    let webhook = webhooks.get(MWC).await.expect("the webhook configuration");
    let hook = &webhook.webhooks.as_ref().expect("webhooks")[0];
    let service = hook
        .client_config
        .service
        .as_ref()
        .expect("a service reference");
    assert_eq!(
        (
            service.name.as_str(),
            service.namespace.as_str(),
            service.path.as_deref(),
            service.port
        ),
        ("portieris", target.name.as_str(), Some("/admit"), Some(443))
    );
    let ca = hook.client_config.ca_bundle.as_ref().expect("caBundle");
    assert_eq!(
        String::from_utf8_lossy(&ca.0),
        chart.ca_pem(),
        "caBundle is gencerts' CA"
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &target.name);
    let certs = secrets
        .get("portieris-certs")
        .await
        .expect("portieris-certs");
    let tls = certs.data.as_ref().expect("data")["tls.crt"].0.clone();
    assert_eq!(
        String::from_utf8_lossy(&tls),
        std::fs::read_to_string(chart.certs().join("tls.crt")).expect("tls.crt")
    );

    // Portieris' own pods are created although the webhook cannot be reached (no kubelet
    // runs them): webHooks.exemptSelf keeps them out of the webhook.
    let own = wait_pods_labelled(&client, &target.name, "app=portieris,release=portieris", 3).await;
    assert_eq!(own.len(), 3, "three replicas");

    // Fail closed: nobody answers at the Service, so other workloads are refused.
    let elsewhere = Namespace::new(&client, "e2e-closed", json!({})).await;
    let signed = fx.rig.image("signed_v1").image;
    match elsewhere
        .create(Kind::Pod, &Kind::Pod.object("p", &signed, None), false)
        .await
    {
        Err(kube::Error::Api(status)) => assert!(
            status
                .message
                .contains(&format!("failed calling webhook \"{WEBHOOK}\"")),
            "{status:?}"
        ),
        other => panic!("fail closed expected, got {other:?}"),
    }

    fx.cluster.helm_ok(
        chart.dir(),
        &["delete", RELEASE, "--namespace", &target.name],
    );
    assert!(webhooks.get_opt(MWC).await.expect("get").is_none());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &target.name);
    assert!(deployments.get_opt(RELEASE).await.expect("get").is_none());
    elsewhere
        .create(Kind::Pod, &Kind::Pod.object("after", &signed, None), false)
        .await
        .expect("no webhook any more");

    fx.install(&client).await;
}

async fn wait_pods_labelled(
    client: &Client,
    namespace: &str,
    labels: &str,
    count: usize,
) -> Vec<Pod> {
    let api = pods(client, namespace);
    let selector = ListParams::default().labels(labels);
    wait_until(
        Duration::from_secs(30),
        &format!("{count} pods {labels}"),
        || {
            let (api, selector) = (api.clone(), selector.clone());
            async move {
                api.list(&selector)
                    .await
                    .is_ok_and(|l| l.items.len() >= count)
            }
        },
    )
    .await;
    api.list(&selector).await.expect("pods").items
}

#[tokio::test]
async fn cleanup_script_removes_the_webhook_the_crds_the_release_and_only_the_given_namespace() {
    let mut fx = fixture().await.write().await;
    let client = fx.cluster.client().await;
    fx.uninstall();

    let namespace = format!("portieris-cleanup-{}", std::process::id());
    let chart = ChartCopy::new();
    chart.gencerts(&[&namespace]);
    fx.cluster.helm_ok(
        chart.dir(),
        &[
            "install",
            CLEANUP_RELEASE,
            "--create-namespace",
            "--namespace",
            &namespace,
            "./portieris",
        ],
    );
    let keep = Namespace::new(&client, "e2e-keep", json!({})).await;
    keep.set_image_policy("mine", trust_all(&fx.rig, &[])).await;

    let output = fx
        .cluster
        .command("bash", Path::new("/"))
        .arg(cleanup_script())
        .args([CLEANUP_RELEASE, &namespace])
        .output()
        .expect("cleanup.sh runs");
    assert!(
        output.status.success(),
        "cleanup.sh failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let webhooks: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    assert!(
        webhooks.get_opt(MWC).await.expect("get").is_none(),
        "webhook deleted"
    );
    let status = fx.cluster.helm(
        Path::new("/"),
        &["status", CLEANUP_RELEASE, "--namespace", &namespace],
    );
    assert!(!status.status.success(), "release deleted");
    let namespaces: Api<NamespaceObject> = Api::all(client.clone());
    assert!(
        namespaces.get_opt(&namespace).await.expect("get").is_none(),
        "{namespace} deleted"
    );
    assert!(
        namespaces
            .get_opt(RELEASE_NAMESPACE)
            .await
            .expect("get")
            .is_some(),
        "the default namespace `portieris` is not touched when another is named"
    );
    // The CRDs, and so every policy of the cluster, are gone.
    for crd in CRDS {
        wait_until(Duration::from_secs(30), &format!("{crd} deleted"), || {
            let api = crd_api(&client);
            async move { api.get_opt(crd).await.is_ok_and(|c| c.is_none()) }
        })
        .await;
    }

    fx.install(&client).await;
}

// ---------------------------------------------------------------------------------------------
// Rendering (helm template and lint): values and options that need no running cluster

fn render(fx: &Fixture, namespace: &str, args: &[&str]) -> Vec<Value> {
    fx.chart
        .template(&fx.cluster, namespace, args)
        .unwrap_or_else(|e| panic!("helm template {args:?} failed: {e}"))
}

fn webhook_of(objects: &[Value]) -> &Value {
    &find(objects, "MutatingWebhookConfiguration", MWC)["webhooks"][0]
}

#[tokio::test]
async fn the_chart_lints_clean_with_every_certificate_source() {
    let fx = fixture().await.read().await;
    let version = fx.cluster.kube_version();
    let lint = |dir: &Path, args: &[&str]| {
        let mut full = vec![
            "lint",
            "./portieris",
            "--strict",
            "--namespace",
            RELEASE_NAMESPACE,
            "--kube-version",
            &version,
        ];
        full.extend_from_slice(args);
        let output = fx.cluster.helm_ok(dir, &full);
        // helm lint reports a template's `fail` as "[INFO] Fail: …" and still succeeds.
        assert!(
            !output.contains("Fail:") && !output.contains("[WARNING]"),
            "helm lint {args:?}:\n{output}"
        );
    };
    lint(fx.chart.dir(), &[]);
    lint(
        fx.chart.dir(),
        &["--set", "webHooks.url=https://127.0.0.1:8443/admit"],
    );
    let bare = ChartCopy::new();
    lint(bare.dir(), &["--set", "UseCertManager=true"]);
    lint(
        bare.dir(),
        &[
            "--set",
            "UseGeneratedCerts.enabled=true",
            "--set",
            "UseGeneratedCerts.tlsCert=x",
            "--set",
            "UseGeneratedCerts.tlsKey=y",
            "--set",
            "UseGeneratedCerts.caCert=z",
        ],
    );
}

#[tokio::test]
async fn the_enforcement_value_sets_the_server_flag_and_only_takes_enforce_or_warn() {
    let fx = fixture().await.read().await;
    let enforcement = |args: &[&str]| {
        let objects = render(&fx, RELEASE_NAMESPACE, args);
        let container =
            &find(&objects, "Deployment", "portieris")["spec"]["template"]["spec"]["containers"][0];
        let env = container["env"].as_array().expect("env").clone();
        env.into_iter()
            .find(|e| e["name"] == "PORTIERIS_ENFORCEMENT")
            .map(|e| e["value"].clone())
    };
    assert_eq!(enforcement(&[]), Some(json!("enforce")));
    assert_eq!(
        enforcement(&["--set", "enforcement=warn"]),
        Some(json!("warn"))
    );
    let refused = fx
        .chart
        .template(
            &fx.cluster,
            RELEASE_NAMESPACE,
            &["--set", "enforcement=audit"],
        )
        .expect_err("the schema refuses other values");
    assert!(refused.contains("enforcement"), "{refused}");
}

#[tokio::test]
async fn the_sigstore_values_set_the_tuf_refresh_of_the_default_root() {
    let fx = fixture().await.read().await;
    let env = |args: &[&str], name: &str| {
        let objects = render(&fx, RELEASE_NAMESPACE, args);
        let container =
            &find(&objects, "Deployment", "portieris")["spec"]["template"]["spec"]["containers"][0];
        let env = container["env"].as_array().expect("env").clone();
        env.into_iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(
        env(&[], "PORTIERIS_SIGSTORE_TUF_URL"),
        Some(json!("https://tuf-repo-cdn.sigstore.dev"))
    );
    assert_eq!(
        env(&[], "PORTIERIS_SIGSTORE_TUF_REFRESH"),
        Some(json!("24h"))
    );
    let off = [
        "--set",
        "sigstore.tufUrl=none",
        "--set",
        "sigstore.tufRefresh=6h",
    ];
    assert_eq!(env(&off, "PORTIERIS_SIGSTORE_TUF_URL"), Some(json!("none")));
    assert_eq!(
        env(&off, "PORTIERIS_SIGSTORE_TUF_REFRESH"),
        Some(json!("6h"))
    );
    let refused = fx
        .chart
        .template(
            &fx.cluster,
            RELEASE_NAMESPACE,
            &["--set", "sigstore.tufRefresh=daily"],
        )
        .expect_err("the schema refuses other durations");
    assert!(refused.contains("tufRefresh"), "{refused}");
}

#[tokio::test]
async fn the_default_objects_follow_the_portieris_admission_contract() {
    let fx = fixture().await.read().await;
    let objects = render(&fx, RELEASE_NAMESPACE, &[]);

    let hook = webhook_of(&objects);
    assert_eq!(hook["name"], WEBHOOK);
    assert_eq!(
        hook["clientConfig"]["service"],
        json!({"name": "portieris", "namespace": RELEASE_NAMESPACE, "path": "/admit", "port": 443})
    );
    let ca = base64::engine::general_purpose::STANDARD
        .decode(hook["clientConfig"]["caBundle"].as_str().expect("caBundle"))
        .expect("base64");
    assert_eq!(String::from_utf8_lossy(&ca), fx.chart.ca_pem());
    assert_eq!(
        hook["rules"],
        json!([{
            "operations": ["CREATE", "UPDATE"], "apiGroups": ["*"], "apiVersions": ["*"],
            "resources": ["pods", "pods/ephemeralcontainers", "deployments", "replicasets",
                "daemonsets", "statefulsets", "replicationcontrollers", "jobs", "cronjobs"],
            "scope": "Namespaced",
        }])
    );
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(hook["timeoutSeconds"], 10);
    assert_eq!(hook["reinvocationPolicy"], "IfNeeded");
    assert!(
        hook.get("namespaceSelector").is_none(),
        "every namespace by default"
    );
    assert_eq!(hook["matchConditions"][0]["name"], "not-portieris-itself");

    let service = find(&objects, "Service", "portieris");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8000);
    assert_eq!(
        service["spec"]["selector"],
        json!({"app": "portieris", "release": RELEASE})
    );

    let deployment = find(&objects, "Deployment", "portieris");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"})
    );
    let spec = &pod["spec"];
    assert_eq!(spec["priorityClassName"], "system-cluster-critical");
    assert_eq!(spec["serviceAccountName"], "portieris");
    assert!(spec["affinity"]["podAntiAffinity"].is_object());
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(spec["securityContext"]["runAsUser"], 1000060001);
    let container = &spec["containers"][0];
    assert_eq!(container["args"], json!(["serve"]));
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    for (probe, path) in [
        ("livenessProbe", "/health/liveness"),
        ("readinessProbe", "/health/readiness"),
    ] {
        assert_eq!(
            container[probe]["httpGet"],
            json!({"path": path, "port": 8000, "scheme": "HTTPS"}),
            "{probe}"
        );
    }
    assert!(
        container["volumeMounts"]
            .as_array()
            .expect("mounts")
            .contains(
                &json!({"name": "portieris-certs", "mountPath": "/etc/certs", "readOnly": true})
            )
    );

    let pdb = find(&objects, "PodDisruptionBudget", "portieris");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    for (key, value) in pdb["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector")
    {
        assert_eq!(&labels[key], value, "the PDB selects the pods' label {key}");
    }

    let role = find(&objects, "ClusterRole", "portieris");
    let mut granted: Vec<String> = Vec::new();
    for rule in role["rules"].as_array().expect("rules") {
        for group in rule["apiGroups"].as_array().expect("groups") {
            for resource in rule["resources"].as_array().expect("resources") {
                let verbs: Vec<&str> = rule["verbs"]
                    .as_array()
                    .expect("verbs")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                granted.push(format!(
                    "{}/{}:{}",
                    group.as_str().expect("group"),
                    resource.as_str().expect("resource"),
                    verbs.join(",")
                ));
            }
        }
    }
    granted.sort();
    assert_eq!(
        granted,
        [
            "/pods:get",
            "/replicationcontrollers:get",
            "/secrets:get,list,watch",
            "/serviceaccounts:get",
            "apps/daemonsets:get",
            "apps/deployments:get",
            "apps/replicasets:get",
            "apps/statefulsets:get",
            "batch/cronjobs:get",
            "batch/jobs:get",
            "portieris.cloud.ibm.com/clusterimagepolicies:get,list,watch",
            "portieris.cloud.ibm.com/imagepolicies:get,list,watch",
        ]
    );
    let binding = find(&objects, "ClusterRoleBinding", "portieris");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "portieris", "namespace": RELEASE_NAMESPACE}])
    );

    let secret = find(&objects, "Secret", "portieris-certs");
    assert!(secret["data"]["tls.crt"].is_string() && secret["data"]["tls.key"].is_string());
    let own = find(&objects, "ImagePolicy", "portieris-default");
    assert_eq!(own["metadata"]["namespace"], RELEASE_NAMESPACE);
    assert_eq!(
        own["spec"]["repositories"][0]["name"],
        "ghcr.io/portieris-rs/portieris"
    );
    let cluster_policy = find(&objects, "ClusterImagePolicy", "portieris-default");
    assert_eq!(
        cluster_policy["spec"]["repositories"],
        json!([{"name": "*"}])
    );
}

#[tokio::test]
async fn every_portieris_value_is_accepted_and_its_chart_bugs_are_fixed() {
    let fx = fixture().await.read().await;
    let ns = RELEASE_NAMESPACE;

    // The misspelt key of Portieris still works; the right one wins.
    let objects = render(
        &fx,
        ns,
        &[
            "--set",
            "deployemntAnnotations.old=1",
            "--set",
            "deployemntAnnotations.both=old",
            "--set",
            "deploymentAnnotations.new=2",
            "--set",
            "deploymentAnnotations.both=new",
            "--set",
            "podAnnotations.extra=yes",
        ],
    );
    let deployment = find(&objects, "Deployment", "portieris");
    assert_eq!(
        deployment["metadata"]["annotations"],
        json!({"old": "1", "new": "2", "both": "new"})
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["extra"],
        "yes"
    );

    // The PDB honours `enabled`, and maxUnavailable.
    let objects = render(&fx, ns, &["--set", "podDisruptionBudget.enabled=false"]);
    assert!(!objects.iter().any(|o| o["kind"] == "PodDisruptionBudget"));
    let objects = render(&fx, ns, &["--set", "podDisruptionBudget.maxUnavailable=1"]);
    let pdb = find(&objects, "PodDisruptionBudget", "portieris");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(pdb["spec"].get("minAvailable").is_none());

    // No namespace is hard-coded: everything follows the release namespace.
    let elsewhere = ChartCopy::new();
    elsewhere.gencerts(&["security"]);
    let objects = elsewhere
        .template(&fx.cluster, "security", &["--set", "PolicySet=IKS"])
        .expect("rendered for namespace security");
    for object in &objects {
        if let Some(namespace) = object["metadata"]["namespace"].as_str() {
            let iks = ["kube-system", "ibm-system"].contains(&namespace)
                && object["kind"] == "ImagePolicy";
            assert!(namespace == "security" || iks, "{object}");
        }
    }
    assert_eq!(
        webhook_of(&objects)["clientConfig"]["service"]["namespace"],
        "security"
    );
    assert_eq!(
        find(&objects, "ClusterRoleBinding", "portieris")["subjects"][0]["namespace"],
        "security"
    );
    assert!(
        objects
            .iter()
            .any(|o| o["kind"] == "ImagePolicy" && o["metadata"]["namespace"] == "kube-system")
    );
    assert!(
        objects
            .iter()
            .any(|o| o["kind"] == "ImagePolicy" && o["metadata"]["namespace"] == "ibm-system")
    );
    // Certificates made for one namespace are refused for another.
    let error = elsewhere
        .template(&fx.cluster, "other", &[])
        .expect_err("certificates of namespace security refused for other");
    assert!(error.contains("gencerts other"), "{error}");

    // Admission skip, selectors, failure policy, timeout.
    let objects = render(
        &fx,
        ns,
        &[
            "--set",
            "AllowAdmissionSkip=true",
            "--set-json",
            r#"NamespaceSelectorAdmissionSkip=[{"key":"team","operator":"NotIn","values":["infra"]}]"#,
            "--set-json",
            r#"ObjectSelectorAdmissionSkip={"matchLabels":{"checked":"yes"}}"#,
            "--set",
            "webHooks.failurePolicy=Ignore",
            "--set",
            "webHooks.timeoutSeconds=5",
        ],
    );
    let hook = webhook_of(&objects);
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"],
        json!([
            {"key": SKIP_LABEL, "operator": "NotIn", "values": ["skip"]},
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [ns]},
            {"key": "team", "operator": "NotIn", "values": ["infra"]},
        ])
    );
    assert_eq!(
        hook["objectSelector"],
        json!({"matchLabels": {"checked": "yes"}})
    );
    assert_eq!(hook["failurePolicy"], "Ignore");
    assert_eq!(hook["timeoutSeconds"], 5);
    let error = fx
        .chart
        .template(
            &fx.cluster,
            ns,
            &["--set", "webHooks.failurePolicy=Sometimes"],
        )
        .expect_err("an unknown failurePolicy is refused");
    assert!(error.contains("failurePolicy"), "{error}");

    // Workload settings.
    let objects = render(
        &fx,
        ns,
        &[
            "--set",
            "replicaCount=5",
            "--set",
            "image.host=registry.example.com/sec",
            "--set",
            "image.image=gate",
            "--set",
            &format!("image.digest=sha256:{}", "a".repeat(64)),
            "--set",
            "image.pullPolicy=Always",
            "--set",
            "image.pullSecret=regcred",
            "--set",
            "useHostNetwork=true",
            "--set",
            "priorityClass=",
            "--set",
            "nodeSelector.disk=ssd",
            "--set-json",
            r#"tolerations=[{"key":"k","operator":"Exists"}]"#,
            "--set",
            "resources.limits.memory=1Gi",
            "--set",
            "securityContext.runAsUser=4242",
            "--set",
            "service.targetPort=9443",
            "--set",
            "service.metricsPort=9090",
            "--set",
            "selectByRelease=false",
            "--set-json",
            r#"extraArgs=["--fetch-timeout","3s"]"#,
            "--set-json",
            r#"extraEnv=[{"name":"PORTIERIS_LOG","value":"debug"}]"#,
            "--set-json",
            "clusterPolicy.allowedRepositories=[]",
        ],
    );
    let deployment = find(&objects, "Deployment", "portieris");
    let spec = &deployment["spec"]["template"]["spec"];
    let container = &spec["containers"][0];
    assert_eq!(deployment["spec"]["replicas"], 5);
    assert_eq!(
        container["image"],
        format!("registry.example.com/sec/gate@sha256:{}", "a".repeat(64))
    );
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert!(spec.get("priorityClassName").is_none());
    assert_eq!(spec["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(
        spec["tolerations"],
        json!([{"key": "k", "operator": "Exists"}])
    );
    assert_eq!(container["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(spec["securityContext"]["runAsUser"], 4242);
    assert_eq!(container["args"], json!(["serve", "--fetch-timeout", "3s"]));
    let env = container["env"].as_array().expect("env");
    assert!(env.contains(&json!({"name": "PORTIERIS_LISTEN", "value": "0.0.0.0:9443"})));
    assert!(env.contains(&json!({"name": "PORTIERIS_METRICS_LISTEN", "value": "0.0.0.0:9090"})));
    assert!(env.contains(&json!({"name": "PORTIERIS_LOG", "value": "debug"})));
    // ClusterImagePolicies read their Secrets in the release namespace, not the workload's.
    assert!(env.contains(&json!({"name": "PORTIERIS_NAMESPACE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}})));
    assert!(
        !env.iter()
            .any(|e| e["name"] == "PORTIERIS_CLUSTER_POLICY_SECRETS_IN_WORKLOAD_NAMESPACE")
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], 9443);
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"],
        "9090"
    );
    assert_eq!(
        find(&objects, "ServiceAccount", "portieris")["imagePullSecrets"],
        json!([{"name": "regcred"}])
    );
    assert_eq!(
        find(&objects, "Service", "portieris")["spec"]["selector"],
        json!({"app": "portieris"})
    );
    assert_eq!(
        find(&objects, "ImagePolicy", "portieris-default")["spec"]["repositories"][0]["name"],
        "registry.example.com/sec/gate"
    );
    assert!(
        !objects.iter().any(|o| o["kind"] == "ClusterImagePolicy"),
        "[] installs none"
    );

    // Certificates from values, or managed elsewhere.
    let bare = ChartCopy::new();
    let objects = bare
        .template(
            &fx.cluster,
            ns,
            &[
                "--set",
                "UseGeneratedCerts.enabled=true",
                "--set",
                "UseGeneratedCerts.tlsCert=CERT",
                "--set",
                "UseGeneratedCerts.tlsKey=KEY",
                "--set",
                "UseGeneratedCerts.caCert=CA",
            ],
        )
        .expect("certificates from values");
    let secret = find(&objects, "Secret", "portieris-certs");
    assert_eq!(
        secret["data"]["tls.crt"],
        base64::engine::general_purpose::STANDARD.encode("CERT")
    );
    assert_eq!(
        webhook_of(&objects)["clientConfig"]["caBundle"],
        base64::engine::general_purpose::STANDARD.encode("CA")
    );
    let objects = bare
        .template(&fx.cluster, ns, &["--set", "SkipSecretCreation=true"])
        .expect("certificates managed elsewhere");
    assert!(!objects.iter().any(|o| o["kind"] == "Secret"));

    // Without certificates, installing says how to make them.
    let error = bare
        .template(&fx.cluster, ns, &[])
        .expect_err("no certs refused");
    assert!(
        error.contains(&format!("sh ./portieris/gencerts {ns}")),
        "{error}"
    );
}

#[tokio::test]
async fn cert_manager_mode_renders_an_issuer_a_certificate_and_ca_injection() {
    let fx = fixture().await.read().await;
    // cert-manager's CRDs are not in the test API server, so this is checked as rendered.
    let bare = ChartCopy::new();
    let ns = "security";
    let objects = bare
        .template(&fx.cluster, ns, &["--set", "UseCertManager=true"])
        .expect("no gencerts needed with cert-manager");
    let issuer = find(&objects, "Issuer", "portieris");
    assert_eq!(issuer["apiVersion"], "cert-manager.io/v1");
    assert_eq!(issuer["metadata"]["namespace"], ns);
    assert_eq!(issuer["spec"], json!({"selfSigned": {}}));
    let certificate = find(&objects, "Certificate", "portieris-certs");
    assert_eq!(certificate["metadata"]["namespace"], ns);
    assert_eq!(certificate["spec"]["secretName"], "portieris-certs");
    assert_eq!(
        certificate["spec"]["dnsNames"],
        json!([format!("portieris.{ns}.svc")])
    );
    assert_eq!(
        certificate["spec"]["issuerRef"],
        json!({"group": "cert-manager.io", "kind": "Issuer", "name": "portieris"})
    );
    let webhook = find(&objects, "MutatingWebhookConfiguration", MWC);
    assert_eq!(
        webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{ns}/portieris-certs")
    );
    assert!(
        webhook["webhooks"][0]["clientConfig"]
            .get("caBundle")
            .is_none(),
        "cert-manager injects it"
    );
    assert!(
        !objects.iter().any(|o| o["kind"] == "Secret"),
        "cert-manager writes the Secret"
    );

    // An existing ClusterIssuer.
    let objects = bare
        .template(
            &fx.cluster,
            ns,
            &[
                "--set",
                "UseCertManager=true",
                "--set",
                "certManagerIssuer.skipCreation=true",
                "--set",
                "certManagerIssuer.kind=ClusterIssuer",
                "--set",
                "certManagerIssuer.name=corp-ca",
            ],
        )
        .expect("rendered");
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "Issuer" || o["kind"] == "ClusterIssuer")
    );
    assert_eq!(
        find(&objects, "Certificate", "portieris-certs")["spec"]["issuerRef"],
        json!({"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "corp-ca"})
    );
}

#[tokio::test]
async fn url_mode_points_the_webhook_at_an_outside_portieris_with_the_gencerts_ca() {
    let fx = fixture().await.read().await;
    let client = fx.cluster.client().await;
    // The shared installation is this mode: check what the API server stores.
    let webhooks: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let webhook = webhooks.get(MWC).await.expect("installed");
    let hook = &webhook.webhooks.as_ref().expect("webhooks")[0];
    assert_eq!(
        hook.client_config.url.as_deref(),
        Some(format!("https://127.0.0.1:{}/admit", fx.port).as_str())
    );
    assert!(hook.client_config.service.is_none());
    assert_eq!(
        String::from_utf8_lossy(&hook.client_config.ca_bundle.as_ref().expect("caBundle").0),
        fx.chart.ca_pem()
    );
    let objects = render(
        &fx,
        RELEASE_NAMESPACE,
        &["--set", "webHooks.url=https://gate.example.com/admit"],
    );
    assert_eq!(
        webhook_of(&objects)["clientConfig"]["url"],
        "https://gate.example.com/admit"
    );
    // The URL is checked by the chart's schema.
    let error = fx
        .chart
        .template(
            &fx.cluster,
            RELEASE_NAMESPACE,
            &["--set", "webHooks.url=http://plain/admit"],
        )
        .expect_err("plain HTTP refused");
    assert!(error.contains("url"), "{error}");
}
