//! AdmissionReview v1: parse a request, find every container image in it with the JSON
//! pointer of its `image` field, and write the response.

mod extract;
mod kind;
pub mod original;
pub mod patch;
mod prune;

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

pub use extract::{ContainerList, ContainerSite};
pub use kind::WorkloadKind;
pub use original::OriginalImages;

use crate::limits;
use crate::policy::Enforcement;
use crate::reference::ImageRef;

pub(crate) const API_VERSION: &str = "admission.k8s.io/v1";

/// Bounds and switches for reading requests and deciding on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Most images one object may have (containers of the three lists and image volumes).
    pub max_containers: usize,
    /// Admit objects of kinds portieris does not know instead of denying them.
    pub allow_unknown_kinds: bool,
    /// Let an ImagePolicy's `keySecretNamespace` name another namespace than its own. Off by
    /// default: an ImagePolicy author could otherwise name any namespace's Secret.
    pub allow_cross_namespace_keys: bool,
    /// The namespace portieris runs in, where ClusterImagePolicies read their `keySecret`,
    /// `signerSecrets` and `storeSecret` (a `keySecretNamespace` they write names another).
    /// A workload's own namespace is the one place a cluster-wide rule must not read keys
    /// from: whoever may create a Secret there could make the rule accept their own key.
    pub namespace: String,
    /// IBM Portieris' lookup, for migrations only: ClusterImagePolicies read their Secrets from
    /// the namespace of the workload being admitted (see `docs/migration.md`).
    pub cluster_secrets_in_workload_namespace: bool,
    /// The cluster-wide floor under every policy's `enforcement`: `Warn` makes every policy
    /// (and the no-matching-policy deny) warn, for a dry run of new policies. Invalid
    /// policies and unreadable images still deny.
    pub enforcement: Enforcement,
    /// The trusted root (`trusted_root.json` bytes) of keyless cosign requirements that name
    /// no `trustedRootSecret`; `None`: the Sigstore public-good snapshot compiled in
    /// ([`crate::sigstore::PUBLIC_GOOD_ROOT`]). `serve` sets it to the root it last fetched
    /// from Sigstore's TUF repository, parsed before it is handed in.
    pub sigstore_root: Option<Arc<[u8]>>,
}

/// Where portieris runs when nothing says otherwise: the Helm chart's namespace.
pub const DEFAULT_NAMESPACE: &str = "portieris";

impl Default for Options {
    fn default() -> Self {
        Self {
            max_containers: limits::MAX_CONTAINERS,
            allow_unknown_kinds: false,
            allow_cross_namespace_keys: false,
            namespace: String::from(DEFAULT_NAMESPACE),
            cluster_secrets_in_workload_namespace: false,
            enforcement: Enforcement::Enforce,
            sigstore_root: None,
        }
    }
}

/// The operation an admission request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// The resource kind of a request: one portieris checks, or another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Workload(WorkloadKind),
    Other {
        group: String,
        version: String,
        kind: String,
    },
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Workload(kind) => kind.fmt(f),
            Self::Other {
                group,
                version,
                kind,
            } if group.is_empty() => write!(f, "{version} {kind}"),
            Self::Other {
                group,
                version,
                kind,
            } => write!(f, "{group}/{version} {kind}"),
        }
    }
}

/// A parsed admission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub uid: String,
    pub kind: Kind,
    pub sub_resource: String,
    pub namespace: String,
    pub name: String,
    pub operation: Operation,
    /// Every non-blank image: init containers first, then containers, ephemeral containers,
    /// image volumes.
    pub sites: Vec<ContainerSite>,
    /// The controlling owner, when it is a workload kind portieris knows.
    pub owner: Option<OwnerRef>,
    /// `imagePullSecrets` names of the pod spec.
    pub pull_secrets: Vec<String>,
    /// `serviceAccountName` of the pod spec (Kubernetes' default is `default`).
    pub service_account: Option<String>,
    /// The originals the object already records, for tag-preserving mutation.
    pub original_images: OriginalImages,
}

/// A controller owner reference (`metadata.ownerReferences[]` with `controller: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: WorkloadKind,
    pub name: String,
    pub uid: String,
}

/// Why a request could not be evaluated. `uid` is set when a response can still be addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub uid: Option<String>,
    pub error: AdmissionError,
}

/// What was wrong with an admission request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The body is not JSON.
    NotJson(String),
    /// A member portieris reads is written twice in one object (JSON allows it, the API server
    /// never does it, and readers disagree on which of the two counts).
    DuplicateMember(String),
    /// `apiVersion`/`kind` are not `admission.k8s.io/v1` `AdmissionReview`.
    NotAdmissionReview,
    /// A required request field is missing or has the wrong type.
    MissingField(&'static str),
    /// An operation other than CREATE, UPDATE, DELETE or CONNECT.
    UnknownOperation(String),
    /// A field of the object is malformed.
    Malformed {
        pointer: String,
        problem: &'static str,
    },
    /// More images (containers and image volumes) than [`Options::max_containers`].
    TooManyContainers { max: usize },
}

impl fmt::Display for AdmissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson(e) => write!(f, "the body is not JSON: {e}"),
            Self::DuplicateMember(e) => write!(f, "the body is ambiguous: {e}"),
            Self::NotAdmissionReview => {
                write!(f, "the body is not an {API_VERSION} AdmissionReview")
            }
            Self::MissingField(field) => {
                write!(f, "{field} is missing or has the wrong type")
            }
            Self::UnknownOperation(op) => write!(f, "unknown operation \"{op}\""),
            Self::Malformed { pointer, problem } => write!(f, "object {pointer}: {problem}"),
            Self::TooManyContainers { max } => {
                write!(
                    f,
                    "the object has more than {max} containers and image volumes"
                )
            }
        }
    }
}

impl core::error::Error for AdmissionError {}

impl Request {
    /// Parses an AdmissionReview v1 body and extracts every image to check. Only the members
    /// portieris reads are built (see `prune`); the rest is checked for syntax and skipped.
    pub fn parse(body: &[u8], options: &Options) -> Result<Self, Invalid> {
        let not_json = |e: &dyn fmt::Display| invalid(None, AdmissionError::NotJson(e.to_string()));
        let body = core::str::from_utf8(body).map_err(|e| not_json(&e))?;
        let review = prune::review(body).map_err(|e| {
            let text = e.to_string();
            if text.starts_with(prune::DUPLICATE) {
                invalid(None, AdmissionError::DuplicateMember(text))
            } else {
                not_json(&e)
            }
        })?;
        Self::from_value(&review, options)
    }

    /// [`Request::parse`] for a review already read as a whole `Value`.
    pub fn from_value(review: &Value, options: &Options) -> Result<Self, Invalid> {
        if review.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION)
            || review.get("kind").and_then(Value::as_str) != Some("AdmissionReview")
        {
            return Err(invalid(None, AdmissionError::NotAdmissionReview));
        }
        let request = review
            .get("request")
            .ok_or(invalid(None, AdmissionError::MissingField("request")))?;
        let uid = text(request, "uid").filter(|u| !u.is_empty());
        let uid = uid
            .ok_or(invalid(None, AdmissionError::MissingField("request.uid")))?
            .to_string();
        Self::from_request(request, uid.clone(), options).map_err(|error| invalid(Some(uid), error))
    }

    fn from_request(
        request: &Value,
        uid: String,
        options: &Options,
    ) -> Result<Self, AdmissionError> {
        let gvk = request
            .get("kind")
            .ok_or(AdmissionError::MissingField("request.kind"))?;
        let field =
            |name: &'static str, path| text(gvk, name).ok_or(AdmissionError::MissingField(path));
        let group = field("group", "request.kind.group")?;
        let version = field("version", "request.kind.version")?;
        let kind = field("kind", "request.kind.kind")?;
        let operation = operation(
            text(request, "operation").ok_or(AdmissionError::MissingField("request.operation"))?,
        )?;
        let object = request.get("object").filter(|o| !o.is_null());
        let metadata = object.and_then(|o| o.get("metadata"));
        let namespace = text(request, "namespace")
            .filter(|n| !n.is_empty())
            .or_else(|| metadata.and_then(|m| text(m, "namespace")))
            .unwrap_or_default();
        let kind = WorkloadKind::from_group_kind(group, kind).map_or_else(
            || Kind::Other {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
            },
            Kind::Workload,
        );
        let sites = match (&kind, operation, object) {
            (Kind::Workload(workload), Operation::Create | Operation::Update, Some(object)) => {
                extract::sites(*workload, object, options.max_containers)?
            }
            (Kind::Workload(_), Operation::Create | Operation::Update, None) => {
                return Err(AdmissionError::MissingField("request.object"));
            }
            _ => Vec::new(),
        };
        let (pull_secrets, service_account) = match (&kind, object) {
            (Kind::Workload(workload), Some(object)) => extract::credentials(*workload, object),
            _ => (Vec::new(), None),
        };
        Ok(Self {
            uid,
            kind,
            sub_resource: text(request, "subResource").unwrap_or_default().into(),
            namespace: namespace.into(),
            name: text(request, "name")
                .or_else(|| metadata.and_then(|m| text(m, "name")))
                .unwrap_or_default()
                .into(),
            operation,
            sites,
            owner: metadata.and_then(kind::controller),
            pull_secrets,
            service_account,
            original_images: original::read(metadata),
        })
    }

    /// Whether this object is a child that its (fetched) parent already vouches for: the
    /// parent is the owner named (same namespace, name and UID), and every image of the
    /// child is, position for position, the digest-pinned image of the parent's pod template.
    pub fn inherits_from(&self, parent: &Value) -> bool {
        let Some(owner) = &self.owner else {
            return false;
        };
        let meta = |field| {
            parent
                .get("metadata")
                .and_then(|m| text(m, field))
                .unwrap_or_default()
        };
        if meta("uid") != owner.uid
            || meta("name") != owner.name
            || meta("namespace") != self.namespace
        {
            return false;
        }
        let Ok(parent_sites) = extract::sites(owner.kind, parent, usize::MAX) else {
            return false;
        };
        let pinned =
            |site: &ContainerSite| ImageRef::parse(&site.image).is_ok_and(|r| r.digest().is_some());
        self.sites.len() == parent_sites.len()
            && self.sites.iter().zip(&parent_sites).all(|(child, parent)| {
                child.list == parent.list
                    && child.index == parent.index
                    && child.image == parent.image
                    && pinned(child)
            })
    }
}

fn invalid(uid: Option<String>, error: AdmissionError) -> Invalid {
    Invalid { uid, error }
}

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

fn operation(text: &str) -> Result<Operation, AdmissionError> {
    match text {
        "CREATE" => Ok(Operation::Create),
        "UPDATE" => Ok(Operation::Update),
        "DELETE" => Ok(Operation::Delete),
        "CONNECT" => Ok(Operation::Connect),
        other => Err(AdmissionError::UnknownOperation(other.into())),
    }
}

#[cfg(test)]
mod tests;
