//! Registry credentials from image pull Secrets (`kubernetes.io/dockerconfigjson` and the older
//! `kubernetes.io/dockercfg`).
//!
//! Keys name a registry loosely: `host`, `https://host`, `http://host/v1/`…; all of them match
//! the registry host, and only it (a key's path is ignored, the port is part of the host).
//! Hosts compare by their one name ([`canonical_host`]): `icr.io:443` is `icr.io`, and Docker
//! Hub's names (`https://index.docker.io/v1/` is what `docker login` writes) are one.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::policy::Secret;
use crate::reference::canonical_host;

/// The Secret key of a `kubernetes.io/dockerconfigjson` Secret: `{"auths": {host: entry}}`.
pub const DOCKER_CONFIG_JSON: &str = ".dockerconfigjson";
/// The Secret key of a legacy `kubernetes.io/dockercfg` Secret: `{host: entry}`.
pub const DOCKER_CFG: &str = ".dockercfg";
pub use crate::limits::MAX_DOCKER_CONFIG_BYTES as MAX_CONFIG_BYTES;
pub use crate::limits::MAX_DOCKER_CONFIG_ENTRIES as MAX_ENTRIES;

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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DockerConfigError {
    NotAPullSecret {
        secret: String,
    },
    Malformed {
        secret: String,
        key: &'static str,
    },
    /// The config is larger than [`MAX_CONFIG_BYTES`].
    TooLarge {
        secret: String,
        key: &'static str,
        bytes: usize,
    },
    /// The config names more than [`MAX_ENTRIES`] registries.
    TooManyEntries {
        secret: String,
        key: &'static str,
        entries: usize,
    },
}

impl fmt::Display for DockerConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAPullSecret { secret } => write!(
                f,
                "Secret {secret} has neither {DOCKER_CONFIG_JSON} nor {DOCKER_CFG}"
            ),
            Self::Malformed { secret, key } => write!(
                f,
                "Secret {secret} {key} is not a docker config JSON object"
            ),
            Self::TooLarge { secret, key, bytes } => write!(
                f,
                "Secret {secret} {key} is {bytes} bytes, more than {MAX_CONFIG_BYTES}"
            ),
            Self::TooManyEntries {
                secret,
                key,
                entries,
            } => write!(
                f,
                "Secret {secret} {key} names {entries} registries, more than {MAX_ENTRIES}"
            ),
        }
    }
}

impl core::error::Error for DockerConfigError {}

/// Every credential the pull Secrets hold for `registry`, in Secret order and without
/// duplicates, and why each unreadable Secret was skipped (another Secret may still hold a
/// valid credential, so one bad Secret does not stop the others).
pub fn credentials<'a>(
    registry: &str,
    secrets: impl IntoIterator<Item = &'a Secret>,
) -> (Vec<Credential>, Vec<DockerConfigError>) {
    let mut all = Vec::new();
    let mut skipped = Vec::new();
    for secret in secrets {
        match from_secret(registry, secret) {
            Ok(found) => all.extend(found),
            Err(error) => skipped.push(error),
        }
    }
    (dedup(all), skipped)
}

/// The credentials one pull Secret holds for `registry`: exact host keys first.
pub fn from_secret(registry: &str, secret: &Secret) -> Result<Vec<Credential>, DockerConfigError> {
    let name = || format!("{}/{}", secret.namespace, secret.name);
    let (key, bytes) = if let Some(bytes) = secret.data.get(DOCKER_CONFIG_JSON) {
        (DOCKER_CONFIG_JSON, bytes)
    } else if let Some(bytes) = secret.data.get(DOCKER_CFG) {
        (DOCKER_CFG, bytes)
    } else {
        return Err(DockerConfigError::NotAPullSecret { secret: name() });
    };
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(DockerConfigError::TooLarge {
            secret: name(),
            key,
            bytes: bytes.len(),
        });
    }
    let auths = if key == DOCKER_CONFIG_JSON {
        parse(bytes).and_then(|mut v| match v.get_mut("auths")?.take() {
            Value::Object(map) => Some(map),
            _ => None,
        })
    } else {
        parse(bytes)
    };
    let auths = auths.ok_or_else(|| DockerConfigError::Malformed {
        secret: name(),
        key,
    })?;
    if auths.len() > MAX_ENTRIES {
        return Err(DockerConfigError::TooManyEntries {
            secret: name(),
            key,
            entries: auths.len(),
        });
    }
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
pub fn names_registry(key: &str, registry: &str) -> bool {
    let registry = registry.to_ascii_lowercase();
    canonical_host(&key_host(key)) == canonical_host(&registry)
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

/// `auth` (base64 `user:password`) wins over `username` and `password`; a credential always
/// has a user name (the password may be empty).
fn credential(entry: &Value) -> Option<Credential> {
    // serde's derive would also read a three-element array as an entry; Docker reads objects.
    if !entry.is_object() {
        return None;
    }
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

/// The first of each credential, in order.
pub fn dedup(credentials: Vec<Credential>) -> Vec<Credential> {
    let mut unique: Vec<Credential> = Vec::with_capacity(credentials.len());
    for credential in credentials {
        if !unique.contains(&credential) {
            unique.push(credential);
        }
    }
    unique
}

#[cfg(test)]
mod tests;
