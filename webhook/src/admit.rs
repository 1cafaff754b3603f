//! One admission request, start to end: the path shared by `/admit` and `portieris review`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use portieris_core::admission::{Invalid, Kind, OwnerRef, Request};
use portieris_core::evidence::{Cause, FetchFailure, Gathered};
use portieris_core::reason::{Class, Reason};
use portieris_core::response;
use portieris_core::verdict::{Assessment, ImagePlan, Requirements};
use portieris_core::{Decision, Options, Plan, PolicySet, finish, plan};
use serde_json::Value;

use crate::policies::PolicyStore;
use crate::sigstore_root::DefaultRoot;

/// Images × rules resolved inline: at most about a microsecond each (patterns are bounded and
/// matched in linear time), so a plan this size takes well under a millisecond. Larger ones go
/// to a blocking thread.
const INLINE_PLAN_WORK: usize = 1024;

/// Images of one request whose evidence is gathered at once: more than a Pod usually has,
/// few enough that a request naming hundreds of images holds little memory while it waits.
const IMAGES_GATHERED_AT_ONCE: usize = 32;

/// What the admission path asks the Kubernetes API directly. Implemented in [`crate::cluster`].
pub trait ClusterLookup: Send + Sync {
    /// The owner of a child object, so that a child whose images its parent already had
    /// admitted is not verified again; `None` when it does not exist or cannot be fetched.
    fn parent<'a>(
        &'a self,
        namespace: &'a str,
        owner: &'a OwnerRef,
    ) -> BoxFuture<'a, Option<Value>>;

    /// The `imagePullSecrets` of a ServiceAccount: credentials for pods that name none.
    fn pull_secrets<'a>(
        &'a self,
        namespace: &'a str,
        service_account: &'a str,
    ) -> BoxFuture<'a, Vec<String>>;
}

/// Fetches the material an image needs (trust data, signatures); the core verifies it.
pub trait Gather: Send + Sync {
    /// One [`Gathered`] per need of `requirements`, in order: material, or a typed failure.
    fn gather<'a>(
        &'a self,
        scope: Scope<'a>,
        requirements: &'a Requirements,
    ) -> BoxFuture<'a, Vec<Gathered>>;
}

/// What gathering may draw on besides the image: the request, the policy snapshot it is
/// judged under (Secrets), and the names of the pull Secrets that hold its credentials.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub request: &'a Request,
    pub policies: &'a PolicySet,
    /// The pod's `imagePullSecrets`, or its ServiceAccount's when it names none.
    pub pull_secrets: &'a [String],
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    /// Admitted only because warn mode (a policy's `enforcement: warn`, or the server's
    /// `--enforcement warn`) waived what would have denied it, chiefly of this class.
    Warn(Class),
    /// Denied, chiefly for reasons of this class (see [`Decision::class`]).
    Deny(Class),
    /// The request could not be evaluated; it was refused.
    Invalid,
}

/// The HTTP answer to an admission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// 200 with an AdmissionReview, or 400 when the body was not one.
    pub status: u16,
    pub body: Vec<u8>,
    pub outcome: Outcome,
}

/// Evaluates admission requests against the policies in force.
pub struct Admitter {
    policies: Arc<PolicyStore>,
    gather: Box<dyn Gather>,
    cluster: Option<Box<dyn ClusterLookup>>,
    options: Options,
    /// The default Sigstore trusted root `serve` refreshes; `None`: `options`' own.
    sigstore_root: Option<DefaultRoot>,
    deadline: Duration,
}

impl Admitter {
    /// `deadline` bounds gathering evidence, so that a slow upstream ends in a deny that says
    /// so rather than in the API server's timeout.
    pub fn new(
        policies: Arc<PolicyStore>,
        gather: Box<dyn Gather>,
        options: Options,
        deadline: Duration,
    ) -> Self {
        Self {
            policies,
            gather,
            cluster: None,
            options,
            sigstore_root: None,
            deadline,
        }
    }

    /// Asks `cluster` for parents (see [`Request::inherits_from`]) and ServiceAccount pull
    /// secrets.
    pub fn with_cluster(mut self, cluster: Box<dyn ClusterLookup>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Reads the default Sigstore trusted root from `root` at each request (see
    /// [`portieris_core::Options::sigstore_root`]); until one is installed, `options`' stays.
    pub fn with_sigstore_root(mut self, root: DefaultRoot) -> Self {
        self.sigstore_root = Some(root);
        self
    }

    /// The options of one request: the default Sigstore root as it is now.
    fn options(&self) -> Cow<'_, Options> {
        match self.sigstore_root.as_ref().and_then(DefaultRoot::current) {
            Some(root) => Cow::Owned(Options {
                sigstore_root: Some(root),
                ..self.options.clone()
            }),
            None => Cow::Borrowed(&self.options),
        }
    }

    /// Ready once the first policy snapshot is loaded.
    pub fn ready(&self) -> bool {
        self.policies.is_ready()
    }

    /// Evaluates one AdmissionReview body. Never fails: every error is a refusal.
    pub async fn admit(&self, body: &[u8]) -> Admitted {
        let request = match Request::parse(body, &self.options) {
            Ok(request) => request,
            Err(invalid) => return refuse(invalid),
        };
        let decision = if self.approved_by_parent(&request).await {
            Decision::allow_unchanged()
        } else {
            self.decide(&request).await
        };
        log(&request, &decision);
        let outcome = match &decision {
            Decision::Allow { .. } => match decision.class() {
                Some(class) => Outcome::Warn(class),
                None => Outcome::Allow,
            },
            // A deny always has a reason; an empty one is still a refusal.
            Decision::Deny { .. } => Outcome::Deny(decision.class().unwrap_or(Class::Refused)),
        };
        Admitted {
            status: 200,
            body: response::respond(&request.uid, &decision),
            outcome,
        }
    }

    async fn decide(&self, request: &Request) -> Decision {
        let policies = self.policies.current();
        let images = match self.plan(request, &policies).await {
            Plan::Final(decision) => return decision,
            Plan::Images(images) => images,
        };
        let pull_secrets = self.pull_secrets(request, &images).await;
        let scope = Scope {
            request,
            policies: &policies,
            pull_secrets: &pull_secrets,
        };
        let gathered = self.evidence(scope, &images).await;
        conclude(request, images, gathered).await
    }

    /// Resolves every image's rule: inline when that is cheap, else on a blocking thread, so
    /// that a namespace whose policies are costly to match (thousands of wildcards, hundreds
    /// of images) never stalls the async workers that serve every other namespace.
    async fn plan(&self, request: &Request, policies: &Arc<PolicySet>) -> Plan {
        let work = request
            .sites
            .len()
            .saturating_mul(policies.rules_in_scope(&request.namespace));
        let options = self.options();
        if work <= INLINE_PLAN_WORK {
            return plan(request, policies, &options);
        }
        let (request, policies, options) =
            (request.clone(), Arc::clone(policies), options.into_owned());
        tokio::task::spawn_blocking(move || plan(&request, &policies, &options))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "planning an admission failed");
                Plan::Final(Decision::Deny {
                    reasons: vec![Reason::unverifiable(
                        "portieris could not evaluate its policies",
                    )],
                })
            })
    }

    /// The pod's pull secrets; when it names none, its ServiceAccount's (as the kubelet would
    /// pull with them), looked up only if some image needs evidence.
    async fn pull_secrets(&self, request: &Request, images: &[ImagePlan]) -> Vec<String> {
        let needs_evidence = images
            .iter()
            .any(|i| matches!(i.assessment, Assessment::Needs(_)));
        match (
            &self.cluster,
            request.pull_secrets.is_empty() && needs_evidence,
        ) {
            (Some(cluster), true) => {
                let account = request.service_account.as_deref().unwrap_or("default");
                cluster.pull_secrets(&request.namespace, account).await
            }
            _ => request.pull_secrets.clone(),
        }
    }

    /// Gathers the evidence of the images, [`IMAGES_GATHERED_AT_ONCE`] at a time, in order,
    /// within the deadline. Each image being verified holds a fetch session, its requests and
    /// the material fetched; a Pod of hundreds of images started all at once, and 64 such Pods
    /// took hundreds of MiB before the fetch bounds could refuse anything.
    async fn evidence(&self, scope: Scope<'_>, images: &[ImagePlan]) -> Vec<Vec<Gathered>> {
        // Collected first: a stream over a borrowing closure is not provably `Send`.
        let each: Vec<BoxFuture<'_, Vec<Gathered>>> = images
            .iter()
            .map(|image| match &image.assessment {
                Assessment::Needs(requirements) => self.gather.gather(scope, requirements),
                Assessment::Decided(_) => futures::future::ready(Vec::new()).boxed(),
            })
            .collect();
        let gathering = futures::stream::iter(each)
            .buffered(IMAGES_GATHERED_AT_ONCE)
            .collect::<Vec<_>>();
        match tokio::time::timeout(self.deadline, gathering).await {
            Ok(evidence) => evidence,
            Err(_) => {
                let late = format!(
                    "evidence was not gathered within {}s",
                    self.deadline.as_secs_f32()
                );
                images
                    .iter()
                    .map(|image| timed_out(&image.assessment, &late))
                    .collect()
            }
        }
    }

    async fn approved_by_parent(&self, request: &Request) -> bool {
        let (Some(cluster), Some(owner)) = (&self.cluster, &request.owner) else {
            return false;
        };
        match cluster.parent(&request.namespace, owner).await {
            Some(parent) => request.inherits_from(&parent),
            None => false,
        }
    }
}

/// Every need of an image, failed for `why`.
fn timed_out(assessment: &Assessment, why: &str) -> Vec<Gathered> {
    match assessment {
        Assessment::Needs(requirements) => requirements
            .needs
            .iter()
            .map(|_| Err(FetchFailure::new(Cause::Timeout, why)))
            .collect(),
        Assessment::Decided(_) => Vec::new(),
    }
}

/// Verifies what was gathered and decides. Signature checks (RSA, OpenPGP, ECDSA P-384) take
/// up to milliseconds each, so when the core says there are any they run on a blocking
/// thread, not on the async workers every other request needs; Notary's were done by its
/// exchange, tag digests and remembered Sigstore verdicts cost nothing.
async fn conclude(
    request: &Request,
    images: Vec<ImagePlan>,
    gathered: Vec<Vec<Gathered>>,
) -> Decision {
    let now = crate::clock::now();
    let costly = portieris_core::verdict::costly(&images, &gathered, now);
    if !costly {
        return finish(request, &images, &gathered, now);
    }
    let request = request.clone();
    tokio::task::spawn_blocking(move || finish(&request, &images, &gathered, now))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "verifying an admission's signatures failed");
            Decision::Deny {
                reasons: vec![Reason::unverifiable(
                    "portieris could not verify the signatures",
                )],
            }
        })
}

fn refuse(invalid: Invalid) -> Admitted {
    tracing::warn!(uid = invalid.uid.as_deref().unwrap_or(""), error = %invalid.error, "invalid admission request");
    match invalid.uid {
        Some(uid) => Admitted {
            status: 200,
            body: response::respond_invalid(&uid, &invalid.error),
            outcome: Outcome::Invalid,
        },
        None => Admitted {
            status: 400,
            body: format!("{}\n", invalid.error).into_bytes(),
            outcome: Outcome::Invalid,
        },
    }
}

/// One line per decision. Fields are passed as `&str`, not `%` (Display): the JSON formatter
/// writes a string as it is, but runs a Display value through `fmt` first.
fn log(request: &Request, decision: &Decision) {
    let kind: Cow<'_, str> = match &request.kind {
        Kind::Workload(workload) => workload.as_str().into(),
        other => other.to_string().into(),
    };
    let (uid, kind) = (request.uid.as_str(), &*kind);
    let (namespace, name) = (request.namespace.as_str(), request.name.as_str());
    match decision {
        Decision::Allow { waived, .. } if !waived.is_empty() => tracing::warn!(
            uid,
            kind,
            namespace,
            name,
            waived = joined(waived).as_str(),
            reason = decision.class().map_or("", Class::label),
            "allow in warn mode"
        ),
        Decision::Allow { patch, .. } => tracing::info!(
            uid,
            kind,
            namespace,
            name,
            images = request.sites.len(),
            pinned = patch.len(),
            "allow"
        ),
        Decision::Deny { reasons } => tracing::info!(
            uid,
            kind,
            namespace,
            name,
            reasons = joined(reasons).as_str(),
            reason = decision.class().map_or("", Class::label),
            "deny"
        ),
    }
}

fn joined(reasons: &[Reason]) -> String {
    let texts: Vec<&str> = reasons.iter().map(|r| r.text.as_str()).collect();
    texts.join("; ")
}

/// Test doubles for the admission path, shared by this crate's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Evidence from memory: the same answer for every need, after `delay`.
    pub(crate) struct Fixed(pub Gathered, pub Duration);

    impl Gather for Fixed {
        fn gather<'a>(
            &'a self,
            _: Scope<'a>,
            requirements: &'a Requirements,
        ) -> BoxFuture<'a, Vec<Gathered>> {
            let evidence = requirements.needs.iter().map(|_| self.0.clone()).collect();
            let delay = self.1;
            async move {
                tokio::time::sleep(delay).await;
                evidence
            }
            .boxed()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Fixed;
    use super::*;
    use portieris_core::PolicySet;
    use portieris_core::evidence::Material;
    use serde_json::json;

    const PINNED: &str =
        "icr.io/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A cluster with one ReplicaSet, answering owner lookups from memory.
    struct OneParent(Value);

    impl ClusterLookup for OneParent {
        fn parent<'a>(&'a self, _: &'a str, owner: &'a OwnerRef) -> BoxFuture<'a, Option<Value>> {
            let found = (self.0["metadata"]["name"] == owner.name.as_str()).then(|| self.0.clone());
            async move { found }.boxed()
        }

        fn pull_secrets<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Vec<String>> {
            async { Vec::new() }.boxed()
        }
    }

    fn replica_set(uid: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "rs", "namespace": "team", "uid": uid},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": PINNED}]}}}})
    }

    fn child_pod() -> Vec<u8> {
        let pod = json!({"metadata": {"name": "rs-x", "namespace": "team", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": PINNED}]}});
        serde_json::to_vec(
            &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "team",
            "operation": "CREATE", "object": pod}}),
        )
        .expect("json")
    }

    /// Notary's outcome: `digest` verified.
    fn trusted(digest: portieris_core::Digest) -> Gathered {
        Ok(Material::Trust(Ok(digest)))
    }

    fn with_policies(set: PolicySet, gather: Fixed) -> Admitter {
        let store = Arc::new(PolicyStore::new());
        store.replace(set);
        Admitter::new(
            store,
            Box::new(gather),
            Options::default(),
            Duration::from_millis(300),
        )
    }

    /// No policies at all: every image would be denied if checked.
    fn admitter(parents: Option<Box<dyn ClusterLookup>>) -> Admitter {
        let admitter = with_policies(
            PolicySet::default(),
            Fixed(
                Err(FetchFailure::new(Cause::NotFound, "no evidence here")),
                Duration::ZERO,
            ),
        );
        match parents {
            Some(parents) => admitter.with_cluster(parents),
            None => admitter,
        }
    }

    fn trust_everything() -> PolicySet {
        trust_everything_with(json!({}))
    }

    /// Trust for every image, with `extra` policy fields.
    fn trust_everything_with(extra: Value) -> PolicySet {
        let mut policy = extra;
        policy["trust"] = json!({"enabled": true});
        let policy = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
            "metadata": {"name": "c"}, "spec": {"repositories": [{"name": "*", "policy": policy}]}});
        PolicySet::new([portieris_core::policy::Resource::from_value(&policy).expect("policy")])
    }

    fn pod(image: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "team", "operation": "CREATE",
            "object": {"spec": {"containers": [{"name": "c", "image": image}]}}}}))
        .expect("json")
    }

    #[tokio::test]
    async fn gathered_evidence_admits_and_pins_the_image() {
        let digest = portieris_core::Digest::parse(&PINNED[PINNED.len() - 71..]).expect("digest");
        let admitter = with_policies(trust_everything(), Fixed(trusted(digest), Duration::ZERO));
        let admitted = admitter.admit(&pod("icr.io/team/app:1")).await;
        assert_eq!(admitted.outcome, Outcome::Allow);
        let response: Value = serde_json::from_slice(&admitted.body).expect("json");
        assert_eq!(response["response"]["patchType"], "JSONPatch");
    }

    #[tokio::test]
    async fn a_warn_policy_admits_a_failing_image_unpatched_with_its_warning() {
        let admitter = with_policies(
            trust_everything_with(json!({"enforcement": "warn"})),
            Fixed(Ok(Material::Trust(Err("unsigned".into()))), Duration::ZERO),
        );
        let admitted = admitter.admit(&pod("icr.io/team/app:1")).await;
        assert_eq!(admitted.outcome, Outcome::Warn(Class::Refused));
        let response: Value = serde_json::from_slice(&admitted.body).expect("json");
        assert_eq!(response["response"]["allowed"], true);
        assert!(response["response"].get("patch").is_none(), "unmutated");
        assert_eq!(
            response["response"]["warnings"],
            json!([
                r#"Warn "icr.io/team/app:1", unsigned (ClusterImagePolicy "c", repository "*")"#
            ])
        );
    }

    #[tokio::test]
    async fn evidence_that_is_not_in_by_the_deadline_denies_and_says_so() {
        let digest = portieris_core::Digest::parse(&PINNED[PINNED.len() - 71..]).expect("digest");
        let admitter = with_policies(
            trust_everything(),
            Fixed(trusted(digest), Duration::from_secs(5)),
        );
        let started = std::time::Instant::now();
        let admitted = admitter.admit(&pod("icr.io/team/app:1")).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded by the deadline"
        );
        assert_eq!(admitted.outcome, Outcome::Deny(Class::Unverifiable));
        assert!(String::from_utf8_lossy(&admitted.body).contains("not gathered within 0.3s"));
    }

    #[tokio::test]
    async fn a_child_of_a_real_parent_with_the_same_pinned_images_is_admitted_unchecked() {
        let admitter = admitter(Some(Box::new(OneParent(replica_set("rs-uid")))));
        assert_eq!(admitter.admit(&child_pod()).await.outcome, Outcome::Allow);
    }

    #[tokio::test]
    async fn a_child_whose_parent_has_another_uid_is_checked() {
        let admitter = admitter(Some(Box::new(OneParent(replica_set("recreated-uid")))));
        let outcome = admitter.admit(&child_pod()).await.outcome;
        assert_eq!(outcome, Outcome::Deny(Class::Refused));
    }

    #[tokio::test]
    async fn without_a_cluster_children_are_checked() {
        assert_eq!(
            admitter(None).admit(&child_pod()).await.outcome,
            Outcome::Deny(Class::Refused)
        );
    }

    #[tokio::test]
    async fn an_unaddressable_body_is_an_http_400_and_an_addressable_one_a_refusal() {
        let admitted = admitter(None).admit(b"[]").await;
        assert_eq!((admitted.status, admitted.outcome), (400, Outcome::Invalid));
        let malformed = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}"#;
        let admitted = admitter(None).admit(malformed).await;
        assert_eq!((admitted.status, admitted.outcome), (200, Outcome::Invalid));
        let response: Value = serde_json::from_slice(&admitted.body).expect("json");
        assert_eq!(response["response"]["allowed"], false);
    }
}
