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
    let kind = format!("{:?}", request.kind);
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
