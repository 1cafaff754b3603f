//! Where a matched policy reads its Secrets, and reading them: shared by every format's need
//! (key Secrets, signer Secrets, store Secrets).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{PolicySet, Secret};

/// Where a matched policy reads its Secrets: an ImagePolicy in its own namespace; a
/// ClusterImagePolicy in portieris' namespace, or in one its `keySecretNamespace` names (only
/// cluster administrators write ClusterImagePolicies); with the migration switch, both in the
/// workload's namespace as IBM Portieris did. Built by the verdict from the match and options.
#[derive(Debug, Clone, Copy)]
pub struct SecretScope<'a> {
    /// Where `keySecret`, `signerSecrets` and `storeSecret` are read.
    pub namespace: &'a str,
    /// Whether `keySecretNamespace` may name another namespace.
    pub may_name_another: bool,
}

/// The namespace a key Secret is read from: `asked` (`keySecretNamespace`) when it is the
/// policy's own or the scope lets it name another, the scope's when empty. `what` names the
/// requirement in the refusal.
pub fn key_namespace<'a>(
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

/// The Secret `namespace/name`; `what` names it in the refusal.
pub fn find<'a>(
    policies: &'a PolicySet,
    namespace: &str,
    name: &str,
    what: &str,
) -> Result<&'a Secret, String> {
    policies
        .secret(namespace, name)
        .ok_or_else(|| format!("{what} Secret \"{namespace}/{name}\" not found"))
}

/// A Secret's non-empty `key`.
pub fn field<'a>(secret: &'a Secret, key: &str) -> Result<&'a [u8], String> {
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
