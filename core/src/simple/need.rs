//! The simple-signing need of a policy: its `signedBy` requirements with key Secrets resolved.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{IdentityRule, SignedBy, SimpleNeed};
use crate::policy::secrets::{SecretScope, field, find, key_namespace};
use crate::policy::{Policy, PolicySet, Requirement};
use crate::reason::Reason;
use crate::registry::Credential;

/// `None` when the policy has no simple requirement to check; otherwise the need, or every
/// reason to deny: a `reject` requirement (refused), an unknown requirement type, a missing
/// Secret, a bad identity rule (the policy's).
pub fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<Option<SimpleNeed>, Vec<Reason>> {
    let simple = &policy.simple;
    let mut reasons = denials(&simple.requirements);
    let mut requirements = Vec::new();
    let mut unbuilt = Vec::new();
    for requirement in simple.requirements.iter().filter(|r| r.kind == "signedBy") {
        match signed_by(requirement, secrets, policies) {
            Ok(signed_by) => requirements.push(signed_by),
            Err(why) => unbuilt.push(Reason::policy(why)),
        }
    }
    if requirements.is_empty() && unbuilt.is_empty() {
        return if reasons.is_empty() {
            Ok(None)
        } else {
            Err(reasons)
        };
    }
    reasons.extend(unbuilt);
    let store_auth = match simple.store_secret.as_str() {
        "" => None,
        name => match store_auth(secrets.namespace, name, policies) {
            Ok(auth) => Some(auth),
            Err(why) => {
                reasons.push(Reason::policy(why));
                None
            }
        },
    };
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let store_url = Some(simple.store_url.clone()).filter(|u| !u.is_empty());
    Ok(Some(SimpleNeed {
        requirements,
        store_url,
        store_auth,
    }))
}

/// Requirements that deny without any signature: `reject`, and types this build does not know.
fn denials(requirements: &[Requirement]) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for requirement in requirements {
        match requirement.kind.as_str() {
            "insecureAcceptAnything" | "signedBy" => {}
            "reject" => reasons.push(Reason::refused(
                "the policy rejects this image (simple requirement \"reject\")",
            )),
            other => reasons.push(Reason::policy(format!(
                "unknown simple requirement type \"{other}\""
            ))),
        }
    }
    reasons
}

/// Whether the policy's own simple requirements are wrong (an unknown type, a `signedBy`
/// without a key Secret or with a bad identity rule): no warn mode softens those.
pub fn broken(policy: &Policy) -> bool {
    policy
        .simple
        .requirements
        .iter()
        .any(|r| match r.kind.as_str() {
            "insecureAcceptAnything" | "reject" => false,
            "signedBy" => {
                r.key_secret.is_empty() || IdentityRule::from_policy(&r.signed_identity).is_err()
            }
            _ => true,
        })
}

fn signed_by(
    requirement: &Requirement,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<SignedBy, String> {
    let identity = IdentityRule::from_policy(&requirement.signed_identity)
        .map_err(|e| format!("simple signedBy: {e}"))?;
    if requirement.key_secret.is_empty() {
        return Err("simple signedBy has no keySecret".into());
    }
    let key_namespace = key_namespace(
        &requirement.key_secret_namespace,
        secrets,
        "simple signedBy",
    )?;
    let secret = find(policies, key_namespace, &requirement.key_secret, "key")?;
    let keyring = field(secret, "key")?;
    Ok(SignedBy {
        key_secret: format!("{key_namespace}/{}", requirement.key_secret),
        keyring: keyring.to_vec(),
        identity,
    })
}

fn store_auth(namespace: &str, name: &str, policies: &PolicySet) -> Result<Credential, String> {
    let secret = find(policies, namespace, name, "store")?;
    let text = |key| {
        core::str::from_utf8(field(secret, key)?)
            .map(String::from)
            .map_err(|_| format!("store Secret \"{namespace}/{name}\" \"{key}\" is not UTF-8"))
    };
    Ok(Credential {
        username: text("username")?,
        password: text("password")?,
    })
}
