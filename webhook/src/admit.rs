//! One admission request, start to end: the path shared by `/admit` and `portieris review`.

use std::sync::Arc;

use futures::future::BoxFuture;
use portieris_core::admission::{self, Invalid, OwnerRef, Request};
use portieris_core::{Decision, Options, decide};
use serde_json::Value;

use crate::policies::PolicyStore;

/// Fetches the owner of a child object, so that a child whose images its parent already
/// had admitted is not verified again. Implemented against the Kubernetes API.
pub trait ParentLookup: Send + Sync {
    /// The owner object, or `None` when it does not exist or cannot be fetched.
    fn parent<'a>(
        &'a self,
        namespace: &'a str,
        owner: &'a OwnerRef,
    ) -> BoxFuture<'a, Option<Value>>;
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Deny,
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
    parents: Option<Box<dyn ParentLookup>>,
    options: Options,
}

impl Admitter {
    pub fn new(
        policies: Arc<PolicyStore>,
        parents: Option<Box<dyn ParentLookup>>,
        options: Options,
    ) -> Self {
        Self {
            policies,
            parents,
            options,
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
            Decision::Allow {
                patch: Vec::new(),
                warnings: Vec::new(),
            }
        } else {
            decide(&request, &self.policies.current(), &self.options)
        };
        log(&request, &decision);
        let outcome = if decision.is_allow() {
            Outcome::Allow
        } else {
            Outcome::Deny
        };
        Admitted {
            status: 200,
            body: admission::respond(&request.uid, &decision),
            outcome,
        }
    }

    async fn approved_by_parent(&self, request: &Request) -> bool {
        let (Some(parents), Some(owner)) = (&self.parents, &request.owner) else {
            return false;
        };
        match parents.parent(&request.namespace, owner).await {
            Some(parent) => request.inherits_from(&parent),
            None => false,
        }
    }
}

fn refuse(invalid: Invalid) -> Admitted {
    tracing::warn!(uid = invalid.uid.as_deref().unwrap_or(""), error = %invalid.error, "invalid admission request");
    match invalid.uid {
        Some(uid) => Admitted {
            status: 200,
            body: admission::respond_invalid(&uid, &invalid.error),
            outcome: Outcome::Invalid,
        },
        None => Admitted {
            status: 400,
            body: format!("{}\n", invalid.error).into_bytes(),
            outcome: Outcome::Invalid,
        },
    }
}

fn log(request: &Request, decision: &Decision) {
    let kind = request.kind.to_string();
    match decision {
        Decision::Allow { patch, .. } => tracing::info!(
            uid = %request.uid, kind, namespace = %request.namespace, name = %request.name,
            images = request.sites.len(), pinned = patch.len(), "allow"
        ),
        Decision::Deny { reasons } => tracing::info!(
            uid = %request.uid, kind, namespace = %request.namespace, name = %request.name,
            reasons = %reasons.join("; "), "deny"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;
    use portieris_core::PolicySet;
    use serde_json::json;

    const PINNED: &str =
        "icr.io/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A cluster with one ReplicaSet, answering owner lookups from memory.
    struct OneParent(Value);

    impl ParentLookup for OneParent {
        fn parent<'a>(&'a self, _: &'a str, owner: &'a OwnerRef) -> BoxFuture<'a, Option<Value>> {
            let found = (self.0["metadata"]["name"] == owner.name.as_str()).then(|| self.0.clone());
            async move { found }.boxed()
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

    /// No policies at all: every image would be denied if checked.
    fn admitter(parents: Option<Box<dyn ParentLookup>>) -> Admitter {
        let store = Arc::new(PolicyStore::new());
        store.replace(PolicySet::default());
        Admitter::new(store, parents, Options::default())
    }

    #[tokio::test]
    async fn a_child_of_a_real_parent_with_the_same_pinned_images_is_admitted_unchecked() {
        let admitter = admitter(Some(Box::new(OneParent(replica_set("rs-uid")))));
        assert_eq!(admitter.admit(&child_pod()).await.outcome, Outcome::Allow);
    }

    #[tokio::test]
    async fn a_child_whose_parent_has_another_uid_is_checked() {
        let admitter = admitter(Some(Box::new(OneParent(replica_set("recreated-uid")))));
        assert_eq!(admitter.admit(&child_pod()).await.outcome, Outcome::Deny);
    }

    #[tokio::test]
    async fn without_a_cluster_children_are_checked() {
        assert_eq!(
            admitter(None).admit(&child_pod()).await.outcome,
            Outcome::Deny
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
