//! Registry credentials from image pull Secrets (`kubernetes.io/dockerconfigjson` and the older
//! `kubernetes.io/dockercfg`).
//!
//! Keys name a registry loosely: `host`, `https://host`, `http://host/v1/`…; all of them match
//! the registry host. Docker Hub goes by several names (`https://index.docker.io/v1/` is what
//! `docker login` writes).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use portieris_core::policy::Secret;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The Secret key of a `kubernetes.io/dockerconfigjson` Secret: `{"auths": {host: entry}}`.
pub const DOCKER_CONFIG_JSON: &str = ".dockerconfigjson";
/// The Secret key of a legacy `kubernetes.io/dockercfg` Secret: `{host: entry}`.
pub const DOCKER_CFG: &str = ".dockercfg";

const DOCKER_HUB_NAMES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A user name and password for one registry. Debug output leaves the password out.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a pull Secret could not be read. Never includes Secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerConfigError {
    #[error("Secret {secret} has neither {DOCKER_CONFIG_JSON} nor {DOCKER_CFG}")]
    NotAPullSecret { secret: String },
    #[error("Secret {secret} {key} is not a docker config JSON object")]
    Malformed { secret: String, key: &'static str },
}

/// Every credential the pull Secrets hold for `registry`, in Secret order; unreadable Secrets
/// are skipped with a warning (another Secret may still hold a valid credential).
pub fn credentials<'a>(
    registry: &str,
    secrets: impl IntoIterator<Item = &'a Secret>,
) -> Vec<Credential> {
    let mut all = Vec::new();
    for secret in secrets {
        match from_secret(registry, secret) {
            Ok(found) => all.extend(found),
            Err(error) => tracing::warn!(%error, "skipping image pull Secret"),
        }
    }
    dedup(all)
}

/// The credentials one pull Secret holds for `registry`: exact host keys first.
pub fn from_secret(registry: &str, secret: &Secret) -> Result<Vec<Credential>, DockerConfigError> {
    let name = || format!("{}/{}", secret.namespace, secret.name);
    let (key, auths) = if let Some(bytes) = secret.data.get(DOCKER_CONFIG_JSON) {
        let auths = parse(bytes).and_then(|mut v| match v.get_mut("auths")?.take() {
            Value::Object(map) => Some(map),
            _ => None,
        });
        (DOCKER_CONFIG_JSON, auths)
    } else if let Some(bytes) = secret.data.get(DOCKER_CFG) {
        (DOCKER_CFG, parse(bytes))
    } else {
        return Err(DockerConfigError::NotAPullSecret { secret: name() });
    };
    let auths = auths.ok_or_else(|| DockerConfigError::Malformed {
        secret: name(),
        key,
    })?;
    Ok(select(registry, &auths))
}

fn parse(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn select(registry: &str, auths: &Map<String, Value>) -> Vec<Credential> {
    let mut matching: Vec<(bool, Credential)> = auths
        .iter()
        .filter(|(key, _)| names_registry(key, registry))
        .filter_map(|(key, entry)| Some((key.as_str() != registry, credential(entry)?)))
        .collect();
    // Stable: exact keys first, the rest in document order.
    matching.sort_by_key(|(inexact, _)| *inexact);
    dedup(matching.into_iter().map(|(_, c)| c).collect())
}

/// Whether a config key (`host`, `https://host/v1/`…) names `registry`.
fn names_registry(key: &str, registry: &str) -> bool {
    let host = key_host(key);
    let registry = registry.to_ascii_lowercase();
    host == registry
        || (DOCKER_HUB_NAMES.contains(&registry.as_str())
            && DOCKER_HUB_NAMES.contains(&host.as_str()))
}

fn key_host(key: &str) -> String {
    let lower = key.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[derive(Deserialize)]
struct Entry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// `auth` (base64 `user:password`) wins over `username` and `password`.
fn credential(entry: &Value) -> Option<Credential> {
    let entry = Entry::deserialize(entry).ok()?;
    if let Some(auth) = entry.auth.as_deref().and_then(decode_auth) {
        return Some(auth);
    }
    match (entry.username, entry.password) {
        (Some(username), Some(password)) if !username.is_empty() => {
            Some(Credential { username, password })
        }
        _ => None,
    }
}

fn decode_auth(auth: &str) -> Option<Credential> {
    let auth = auth.trim();
    let bytes = STANDARD
        .decode(auth)
        .or_else(|_| STANDARD_NO_PAD.decode(auth))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    (!username.is_empty()).then(|| Credential {
        username: username.to_string(),
        password: password.to_string(),
    })
}

fn dedup(credentials: Vec<Credential>) -> Vec<Credential> {
    let mut unique: Vec<Credential> = Vec::with_capacity(credentials.len());
    for credential in credentials {
        if !unique.contains(&credential) {
            unique.push(credential);
        }
    }
    unique
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

    fn user(username: &str, password: &str) -> Credential {
        Credential {
            username: username.into(),
            password: password.into(),
        }
    }

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    fn found(registry: &str, secret: &Secret) -> Vec<Credential> {
        from_secret(registry, secret).expect("a pull secret")
    }

    #[test]
    fn dockerconfigjson_with_an_exact_host_key_gives_its_credential() {
        let s = secret(
            DOCKER_CONFIG_JSON,
            r#"{"auths":{"registry.example:5000":{"username":"u","password":"p"}}}"#,
        );
        assert_eq!(found("registry.example:5000", &s), [user("u", "p")]);
        assert!(
            found("registry.example", &s).is_empty(),
            "the port is part of the host"
        );
    }

    #[test]
    fn dockercfg_is_a_bare_map_of_hosts() {
        let s = secret(DOCKER_CFG, r#"{"quay.io":{"username":"u","password":"p"}}"#);
        assert_eq!(found("quay.io", &s), [user("u", "p")]);
    }

    #[test]
    fn url_keys_with_schemes_and_paths_match_the_host() {
        for key in [
            "https://icr.io",
            "http://icr.io",
            "https://icr.io/v1/",
            "icr.io/v2/",
            "HTTPS://ICR.IO",
        ] {
            let json = format!(r#"{{"auths":{{"{key}":{{"username":"u","password":"p"}}}}}}"#);
            let s = secret(DOCKER_CONFIG_JSON, &json);
            assert_eq!(found("icr.io", &s), [user("u", "p")], "key {key}");
        }
    }

    #[test]
    fn docker_hub_matches_its_index_names() {
        for key in [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
        ] {
            let json = format!(r#"{{"auths":{{"{key}":{{"username":"u","password":"p"}}}}}}"#);
            let s = secret(DOCKER_CONFIG_JSON, &json);
            assert_eq!(found("docker.io", &s), [user("u", "p")], "key {key}");
        }
    }

    #[test]
    fn auth_overrides_username_and_password_and_may_hold_colons() {
        let json = format!(
            r#"{{"auths":{{"icr.io":{{"auth":"{}","username":"old","password":"old"}}}}}}"#,
            b64("iamapikey:s3cr:et")
        );
        let s = secret(DOCKER_CONFIG_JSON, &json);
        assert_eq!(found("icr.io", &s), [user("iamapikey", "s3cr:et")]);
    }

    #[test]
    fn unpadded_auth_is_accepted_and_invalid_auth_falls_back_to_the_fields() {
        let unpadded = b64("ab:c").trim_end_matches('=').to_string();
        let json = format!(r#"{{"auths":{{"icr.io":{{"auth":"{unpadded}"}}}}}}"#);
        assert_eq!(
            found("icr.io", &secret(DOCKER_CONFIG_JSON, &json)),
            [user("ab", "c")]
        );
        let json = r#"{"auths":{"icr.io":{"auth":"%%%","username":"u","password":"p"}}}"#;
        assert_eq!(
            found("icr.io", &secret(DOCKER_CONFIG_JSON, json)),
            [user("u", "p")]
        );
    }

    #[test]
    fn entries_without_a_usable_credential_are_skipped() {
        let json = r#"{"auths":{"icr.io":{"auth":""},"https://icr.io":{"username":"u"}}}"#;
        assert!(found("icr.io", &secret(DOCKER_CONFIG_JSON, json)).is_empty());
    }

    #[test]
    fn exact_keys_come_first_and_duplicates_are_dropped() {
        let json = r#"{"auths":{
            "https://icr.io/v1/":{"username":"url","password":"p"},
            "icr.io":{"username":"exact","password":"p"},
            "http://icr.io":{"username":"url","password":"p"}}}"#;
        let s = secret(DOCKER_CONFIG_JSON, json);
        assert_eq!(found("icr.io", &s), [user("exact", "p"), user("url", "p")]);
    }

    #[test]
    fn malformed_and_foreign_secrets_are_errors_that_name_the_secret_only() {
        let s = secret(DOCKER_CONFIG_JSON, r#"{"auths":"nope"}"#);
        let error = from_secret("icr.io", &s).expect_err("malformed");
        assert_eq!(
            error.to_string(),
            "Secret team/pull .dockerconfigjson is not a docker config JSON object"
        );
        let s = secret("token", "hunter2");
        assert!(matches!(
            from_secret("icr.io", &s),
            Err(DockerConfigError::NotAPullSecret { .. })
        ));
    }

    #[test]
    fn credentials_keep_secret_order_and_skip_unreadable_secrets() {
        let a = secret(DOCKER_CFG, r#"{"icr.io":{"username":"a","password":"1"}}"#);
        let broken = secret(DOCKER_CFG, "not json");
        let b = secret(
            DOCKER_CONFIG_JSON,
            r#"{"auths":{"icr.io":{"username":"b","password":"2"}}}"#,
        );
        assert_eq!(
            credentials("icr.io", [&a, &broken, &b]),
            [user("a", "1"), user("b", "2")]
        );
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let shown = format!("{:?}", user("robot", "hunter2"));
        assert!(
            shown.contains("robot") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
