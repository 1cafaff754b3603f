//! The simple-signing need of a policy: its `signedBy` requirements with key Secrets resolved.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::SecretScope;
use crate::evidence::{Credential, SignedBy, SimpleNeed};
use crate::policy::{Policy, PolicySet, Requirement, Secret};
use crate::simple::IdentityRule;

/// `None` when the policy has no `signedBy`; otherwise the need, or every reason it cannot be
/// built (a missing Secret, a bad identity rule), each a deny.
pub(super) fn need(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
) -> Result<Option<SimpleNeed>, Vec<String>> {
    let simple = &policy.simple;
    let mut requirements = Vec::new();
    let mut reasons = Vec::new();
    for requirement in simple.requirements.iter().filter(|r| r.kind == "signedBy") {
        match signed_by(requirement, secrets, policies) {
            Ok(signed_by) => requirements.push(signed_by),
            Err(why) => reasons.push(why),
        }
    }
    if requirements.is_empty() && reasons.is_empty() {
        return Ok(None);
    }
    let store_auth = match simple.store_secret.as_str() {
        "" => None,
        name => match store_auth(secrets.namespace, name, policies) {
            Ok(auth) => Some(auth),
            Err(why) => {
                reasons.push(why);
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

/// Whether the policy's own simple requirements are wrong (an unknown type, a `signedBy`
/// without a key Secret or with a bad identity rule): no warn mode softens those.
pub(super) fn broken(policy: &Policy) -> bool {
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

/// The namespace a key Secret is read from: `asked` (`keySecretNamespace`) when it is the
/// policy's own or the scope lets it name another, the scope's when empty. `what` names the
/// requirement in the refusal.
pub(super) fn key_namespace<'a>(
    asked: &'a str,
    secrets: SecretScope<'a>,
    what: &str,
) -> Result<&'a str, String> {
    match asked {
        "" => Ok(secrets.namespace),
        other if other == secrets.namespace || secrets.may_name_another => Ok(other),
        other => Err(format!(
            "{what} keySecretNamespace \"{other}\" is not allowed: key Secrets from other \
             namespaces are disabled"
        )),
    }
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

pub(super) fn find<'a>(
    policies: &'a PolicySet,
    namespace: &str,
    name: &str,
    what: &str,
) -> Result<&'a Secret, String> {
    policies
        .secret(namespace, name)
        .ok_or_else(|| format!("{what} Secret \"{namespace}/{name}\" not found"))
}

pub(super) fn field<'a>(secret: &'a Secret, key: &str) -> Result<&'a [u8], String> {
    secret
        .data
        .get(key)
        .map(Vec::as_slice)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            format!(
                "Secret \"{}/{}\" has no \"{key}\"",
                secret.namespace, secret.name
            )
        })
}
