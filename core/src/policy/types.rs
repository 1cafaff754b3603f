//! Serde types of the `portieris.cloud.ibm.com/v1` CRDs, field for field as Portieris
//! accepts them. Unknown fields are refused: a typo such as `trsut:` must not turn a policy
//! into one that allows everything.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::condition::Condition;
use crate::limits::MAX_CONDITIONS;

/// `spec` of an `ImagePolicy` or a `ClusterImagePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(default)]
    pub repositories: Vec<Repository>,
}

/// One `repositories[]` entry: a name pattern and the policy for images it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub name: String,
    #[serde(default)]
    pub policy: Policy,
}

/// What an image must satisfy. An empty policy admits without any check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    pub trust: Trust,
    #[serde(default)]
    pub simple: Simple,
    #[serde(default)]
    pub vulnerability: Vulnerability,
    /// cosign signatures, key-based or keyless (not in Portieris; absent means no cosign
    /// check).
    pub cosign: Option<Cosign>,
    /// in-toto attestations (not in Portieris): each must be met by a statement about the
    /// image's digest of its predicate type, by its signer, on which its conditions hold.
    #[serde(default)]
    pub attestations: Vec<Attestation>,
    /// Notary Project signatures (Notation; not in Portieris), judged by a Notary Project
    /// trust policy document and the trust stores it names; absent means no Notation check.
    pub notation: Option<Notation>,
    /// Rewrite the image to its verified digest (default true).
    pub mutate_image: Option<bool>,
    /// How `mutateImage` rewrites (not in Portieris; default `digest`, Portieris' form).
    #[serde(default)]
    pub mutation: Mutation,
    /// What a failure does (not in Portieris; default `enforce`, Portieris' behaviour).
    #[serde(default)]
    pub enforcement: Enforcement,
}

impl Policy {
    /// Whether an admitted image is rewritten to `name@digest` (Portieris' default: yes).
    pub fn mutates(&self) -> bool {
        self.mutate_image.unwrap_or(true)
    }
}

/// `mutation`: the form `mutateImage` rewrites an admitted image to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutation {
    /// `name@sha256:…`: the tag is dropped, as Portieris does.
    #[default]
    Digest,
    /// `name:tag@sha256:…`: the tag stays readable, the digest decides what runs, and the
    /// object records the original references in an annotation.
    TagAndDigest,
}

/// `enforcement`: what an image that fails its policy does to the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Enforcement {
    /// The request is denied (Portieris' only behaviour).
    #[default]
    Enforce,
    /// The image is admitted unmutated and the failure comes back as a warning. Ordered after
    /// `Enforce`, so the laxer of two settings is their maximum.
    Warn,
}

/// Notary v1 (Docker Content Trust) requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Trust {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub signer_secrets: Vec<SignerSecret>,
    /// Notary server URL; defaults by registry (docker.io, quay.io).
    #[serde(default)]
    pub trust_server: String,
}

impl Trust {
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(false)
    }
}

/// A Secret holding a signer's delegation `name` and PEM `publicKey`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerSecret {
    #[serde(default)]
    pub name: String,
}

/// Red Hat simple signing requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Simple {
    #[serde(default)]
    pub requirements: Vec<Requirement>,
    #[serde(default, rename = "storeURL")]
    pub store_url: String,
    #[serde(default)]
    pub store_secret: String,
}

/// One simple-signing requirement (`insecureAcceptAnything`, `reject`, `signedBy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Requirement {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub key_secret: String,
    #[serde(default)]
    pub key_secret_namespace: String,
    #[serde(default)]
    pub signed_identity: SignedIdentity,
}

/// containers-policy.json(5) `signedIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignedIdentity {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub docker_reference: String,
    #[serde(default)]
    pub docker_repository: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub signed_prefix: String,
}

/// cosign requirements: every one must be met by a signature of the image's digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cosign {
    #[serde(default)]
    pub requirements: Vec<CosignRequirement>,
    /// Where signatures are stored (`registry/path`, as `COSIGN_REPOSITORY`); empty means
    /// the image's own repository.
    #[serde(default)]
    pub repository: String,
    /// Which signatures are read: `sig` (the `sha256-<hex>.sig` tag of cosign 1 and 2) or
    /// `bundle` (Sigstore bundles stored as OCI referrers, cosign 3's default). Absent: `bundle`
    /// when a requirement is keyless, `sig` otherwise (what policies meant before bundles).
    pub format: Option<CosignFormat>,
    /// For images pulled through a mirror: accept `.sig` signatures whose signed
    /// `docker-reference` names the repository the mirror copies (simple signing's
    /// `remapIdentity`, with the same `prefix` and `signedPrefix`).
    pub remap_identity: Option<RemapIdentity>,
}

impl Cosign {
    /// The format read: [`Cosign::format`], or its default.
    pub fn format(&self) -> CosignFormat {
        self.format
            .unwrap_or(if self.requirements.iter().any(|r| r.keyless.is_some()) {
                CosignFormat::Bundle
            } else {
                CosignFormat::Sig
            })
    }
}

/// `cosign.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CosignFormat {
    Sig,
    Bundle,
}

/// `cosign.remapIdentity`: images under `prefix` were signed as `signedPrefix` + the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemapIdentity {
    pub prefix: String,
    pub signed_prefix: String,
}

/// One cosign requirement: a key (a Secret holding a PEM public key, `cosign.pub` or `key`) or
/// a keyless identity set, never both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CosignRequirement {
    #[serde(default)]
    pub key_secret: String,
    #[serde(default)]
    pub key_secret_namespace: String,
    pub keyless: Option<Keyless>,
}

/// Keyless signing: a Fulcio certificate for one of `identities`, checked against a trusted
/// root (the Secret's `trusted_root.json`, or the Sigstore public-good root when unnamed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Keyless {
    #[serde(default)]
    pub identities: Vec<KeylessIdentity>,
    #[serde(default)]
    pub trusted_root_secret: String,
    #[serde(default)]
    pub trusted_root_secret_namespace: String,
}

/// One accepted identity, named as sigstore policy-controller names them: the OIDC issuer and
/// the certificate's subject (SAN email or URI), each exact or an anchored regular expression,
/// and Fulcio's certificate extensions by name (`githubWorkflowRepository`,
/// `sourceRepositoryRef`, `buildSignerURI`…), exact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessIdentity {
    #[serde(default)]
    pub issuer: String,
    #[serde(default, rename = "issuerRegExp")]
    pub issuer_regexp: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default, rename = "subjectRegExp")]
    pub subject_regexp: String,
    #[serde(default)]
    pub extensions: BTreeMap<String, String>,
}

/// One `attestations` entry: a predicate type (a URI, or a short name of `cosign attest
/// --type`), who must have signed (a key or keyless identities, as a cosign requirement), and
/// CEL conditions over the statement, compiled with the policy (an expression that does not
/// compile makes the policy object invalid, its position said).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attestation {
    pub predicate_type: String,
    pub signer: CosignRequirement,
    #[serde(default, deserialize_with = "conditions")]
    pub conditions: Vec<Condition>,
}

/// Compiles each condition as it is read; an error names the condition (from 1) and where in
/// it the problem is.
fn conditions<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Condition>, D::Error> {
    let sources = Vec::<String>::deserialize(deserializer)?;
    if sources.len() > MAX_CONDITIONS {
        return Err(D::Error::custom(format_args!(
            "{} conditions, more than {MAX_CONDITIONS}",
            sources.len()
        )));
    }
    sources
        .iter()
        .enumerate()
        .map(|(n, source)| {
            Condition::compile(source)
                .map_err(|e| D::Error::custom(format_args!("condition {}: {e}", n + 1)))
        })
        .collect()
}

/// `notation`: where the trust policy document and the trust stores are. Secrets are read
/// where key Secrets are (the policy's namespace; a ClusterImagePolicy's, or
/// `secretNamespace` when cluster policies may name another).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Notation {
    pub trust_policy: NotationSource,
    #[serde(default)]
    pub trust_stores: Vec<NotationTrustStore>,
    #[serde(default)]
    pub secret_namespace: String,
}

/// Where a piece of Notation configuration is kept: a Secret, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationSource {
    pub secret: String,
}

/// One named trust store, as the trust policy document names it (`ca:acme-rockets` is
/// `{type: ca, name: acme-rockets}`): certificates in every key of its Secret, CRLs in the
/// keys ending in `.crl`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationTrustStore {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub secret: String,
}

/// IBM Cloud Vulnerability Advisor settings (parsed for compatibility only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vulnerability {
    #[serde(default, rename = "ICCRVA")]
    pub iccrva: Iccrva,
}

/// `vulnerability.ICCRVA`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iccrva {
    pub enabled: Option<bool>,
    #[serde(default)]
    pub account: String,
}
