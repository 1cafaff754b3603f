//! Registry credentials from image pull Secrets. The parsing (`.dockerconfigjson`,
//! `.dockercfg`, host matching, `auth` decoding, limits) is in portieris-core's
//! `registry::docker_config`, I/O-free and fuzzed; this adds the logging.

use portieris_core::policy::Secret;
use portieris_core::registry::docker_config;
pub use portieris_core::registry::docker_config::{
    Credential, DOCKER_CFG, DOCKER_CONFIG_JSON, DockerConfigError, from_secret,
};

/// Every credential the pull Secrets hold for `registry`, in Secret order; unreadable Secrets
/// are skipped with a warning (another Secret may still hold a valid credential).
pub fn credentials<'a>(
    registry: &str,
    secrets: impl IntoIterator<Item = &'a Secret>,
) -> Vec<Credential> {
    let (found, skipped) = docker_config::credentials(registry, secrets);
    for error in skipped {
        tracing::warn!(%error, "skipping image pull Secret");
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn secret(key: &str, json: &str) -> Secret {
        Secret {
            namespace: "team".into(),
            name: "pull".into(),
            data: BTreeMap::from([(key.to_string(), json.as_bytes().to_vec())]),
        }
    }

    #[test]
    fn credentials_keep_secret_order_and_skip_unreadable_secrets() {
        let a = secret(DOCKER_CFG, r#"{"icr.io":{"username":"a","password":"1"}}"#);
        let broken = secret(DOCKER_CFG, "not json");
        let b = secret(
            DOCKER_CONFIG_JSON,
            r#"{"auths":{"icr.io":{"username":"b","password":"2"}}}"#,
        );
        let found = credentials("icr.io", [&a, &broken, &b]);
        let names: Vec<&str> = found.iter().map(|c| c.username.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
