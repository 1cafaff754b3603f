//! The Sigstore need of a policy whose `cosign.format` is `bundle`: each requirement's key or
//! keyless identities with its trusted root, Secrets resolved.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::identity::{IdentityPolicy, Matcher};
use crate::cosign::CosignKey;
use crate::cosign::need::{key, repository, shape};
use crate::policy::secrets::{SecretScope, field, find, key_namespace};
use crate::policy::{CosignFormat, CosignRequirement, Keyless, KeylessIdentity, Policy, PolicySet};
use crate::reason::Reason;
use crate::reference::ImageRef;

/// The Secret data key that holds a trusted root: the file name Sigstore's TUF repository
/// and `cosign trusted-root create` give it.
pub const TRUSTED_ROOT_FIELD: &str = "trusted_root.json";

/// Bundles of the image's digest, one meeting each signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreNeed {
    pub signers: Vec<Signer>,
    /// `cosign.repository`: where the bundles' referrers are stored; `None` means the image's
    /// own repository.
    pub repository: Option<ImageRef>,
}

/// Who must have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A key, as for `.sig` signatures: the key is the trust, a log entry is not required.
    Key(CosignKey),
    /// A Fulcio certificate for one of the identities, under the trusted root.
    Keyless(KeylessSigner),
}

/// One `keyless` requirement, as the policy wrote it (compiled when verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessSigner {
    pub identities: Vec<KeylessIdentity>,
    pub root: RootSource,
}

/// Where a keyless requirement's trusted root comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The default root, for a requirement that names no `trustedRootSecret`: the frontend's
    /// current one ([`Options::sigstore_root`](crate::Options::sigstore_root), which `serve`
    /// refreshes from Sigstore's TUF repository), or `None` for the public-good snapshot
    /// compiled in ([`PUBLIC_GOOD_ROOT`](super::PUBLIC_GOOD_ROOT)).
    Default { json: Option<Arc<[u8]>> },
    /// A Secret's `trusted_root.json`: `namespace/name` and its bytes.
    Secret { name: String, json: Arc<[u8]> },
}

/// `None` unless the policy reads bundles; otherwise the need, or every reason it cannot be
/// built (each a deny, the policy's to fix). `default_root` is the trusted root of keyless
/// requirements that name no Secret (`None`: the compiled-in snapshot).
pub fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
    default_root: Option<&Arc<[u8]>>,
) -> Result<Option<SigstoreNeed>, Vec<Reason>> {
    let Some(cosign) = &policy.cosign else {
        return Ok(None);
    };
    // A malformed `cosign` is said once, by the `.sig` need, whatever its format.
    if cosign.format() != CosignFormat::Bundle || !shape(cosign).is_empty() {
        return Ok(None);
    }
    let mut reasons = Vec::new();
    let mut signers = Vec::new();
    for requirement in &cosign.requirements {
        match signer(requirement, secrets, policies, default_root) {
            Ok(signer) => signers.push(signer),
            Err(why) => reasons.push(why),
        }
    }
    let repository = repository(cosign).unwrap_or_else(|why| {
        reasons.push(why);
        None
    });
    if reasons.is_empty() {
        Ok(Some(SigstoreNeed {
            signers,
            repository,
        }))
    } else {
        Err(reasons.into_iter().map(Reason::policy).collect())
    }
}

/// One requirement's signer: its key Secret read, or its keyless identities with their root.
pub(crate) fn signer(
    requirement: &CosignRequirement,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
    default_root: Option<&Arc<[u8]>>,
) -> Result<Signer, String> {
    match &requirement.keyless {
        None => key(requirement, secrets, policies).map(Signer::Key),
        Some(keyless) => Ok(Signer::Keyless(KeylessSigner {
            identities: keyless.identities.clone(),
            root: root(keyless, secrets, policies, default_root)?,
        })),
    }
}

fn root(
    keyless: &Keyless,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
    default_root: Option<&Arc<[u8]>>,
) -> Result<RootSource, String> {
    if keyless.trusted_root_secret.is_empty() {
        return Ok(RootSource::Default {
            json: default_root.cloned(),
        });
    }
    let asked = &keyless.trusted_root_secret_namespace;
    let namespace = key_namespace(asked, secrets, "keyless trustedRootSecret")?;
    let name = &keyless.trusted_root_secret;
    let secret = find(policies, namespace, name, "trusted root")?;
    let json = field(secret, TRUSTED_ROOT_FIELD)?;
    Ok(RootSource::Secret {
        name: format!("{namespace}/{name}"),
        json: Arc::from(json),
    })
}

/// Whether the policy's keyless identities cannot be compiled (a field missing or given twice,
/// a regex that does not parse, an unknown extension): the policy's text is wrong.
pub fn broken(policy: &Policy) -> bool {
    policy.cosign.as_ref().is_some_and(|cosign| {
        cosign
            .requirements
            .iter()
            .filter_map(|r| r.keyless.as_ref())
            .any(|keyless| identities(&keyless.identities).is_err())
    })
}

/// The policy's identities compiled; an error names the identity (from 1) and the field.
pub fn identities(written: &[KeylessIdentity]) -> Result<Vec<IdentityPolicy>, String> {
    if written.is_empty() {
        return Err("keyless has no identities (it would accept anyone)".into());
    }
    written
        .iter()
        .enumerate()
        .map(|(n, identity)| {
            compile(identity).map_err(|why| format!("keyless identity {}: {why}", n + 1))
        })
        .collect()
}

fn compile(identity: &KeylessIdentity) -> Result<IdentityPolicy, String> {
    let issuer = matcher("issuer", &identity.issuer, &identity.issuer_regexp)?;
    let subject = matcher("subject", &identity.subject, &identity.subject_regexp)?;
    let mut extensions = BTreeMap::new();
    for (name, value) in &identity.extensions {
        let exact = Matcher::exact(value).map_err(|e| format!("extension {name}: {e}"))?;
        extensions.insert(name.clone(), exact);
    }
    IdentityPolicy::new(issuer, subject, extensions).map_err(|e| format!("{e}"))
}

/// `field` exact or `fieldRegExp`: exactly one of them.
fn matcher(field: &str, exact: &str, regexp: &str) -> Result<Matcher, String> {
    let built = match (exact.is_empty(), regexp.is_empty()) {
        (false, true) => Matcher::exact(exact),
        (true, false) => Matcher::regex(regexp),
        (true, true) => return Err(format!("give {field} or {field}RegExp")),
        (false, false) => return Err(format!("give {field} or {field}RegExp, not both")),
    };
    built.map_err(|e| format!("{field}: {e}"))
}
