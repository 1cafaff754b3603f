//! The Notary need of a policy: `trust.enabled`, its server and pinned signers resolved.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::Signer;
use crate::policy::secrets::SecretScope;
use crate::policy::{Policy, PolicySet};
use crate::reason::Reason;

/// A Notary v1 check a policy asks for: where, and which signers must have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustNeed {
    /// `policy.trust.trustServer`; `None` means the frontend's server for the registry.
    pub server: Option<String>,
    /// Every signer the policy pins, resolved from its Secrets.
    pub signers: Vec<Signer>,
    /// Verify the image's tag rather than its digest: the rule that matched names the tag, so
    /// the digest the image names must be that tag's signed target (checked when concluding).
    pub by_tag: bool,
}

/// `None` when the policy does not enable trust; otherwise the need, or why it cannot be built
/// (a signer Secret missing or incomplete), a deny. `by_tag` is left for the verdict to set.
pub fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<Option<TrustNeed>, Vec<Reason>> {
    if !policy.trust.is_enabled() {
        return Ok(None);
    }
    let signers = signers(policy, secrets.namespace, policies)
        .map_err(|why| alloc::vec![Reason::policy(why)])?;
    let server = Some(policy.trust.trust_server.clone()).filter(|s| !s.is_empty());
    Ok(Some(TrustNeed {
        server,
        signers,
        by_tag: false,
    }))
}

/// The pinned signers, from Secrets with `name` and `publicKey` in `namespace`.
fn signers(policy: &Policy, namespace: &str, policies: &PolicySet) -> Result<Vec<Signer>, String> {
    let field = |secret: &crate::policy::Secret, key: &str| {
        let value = secret
            .data
            .get(key)
            .and_then(|v| core::str::from_utf8(v).ok())
            .filter(|v| !v.is_empty());
        value.map(String::from).ok_or_else(|| {
            format!(
                "signer Secret \"{namespace}/{}\" has no \"{key}\"",
                secret.name
            )
        })
    };
    policy
        .trust
        .signer_secrets
        .iter()
        .map(|s| {
            let secret = policies
                .secret(namespace, &s.name)
                .ok_or_else(|| format!("signer Secret \"{namespace}/{}\" not found", s.name))?;
            Ok(Signer {
                name: field(secret, "name")?,
                public_key_pem: field(secret, "publicKey")?,
            })
        })
        .collect()
}
