//! Parsing one role's JSON: the envelope (`signed`, `signatures`) and the typed `signed`
//! object of each role, with notary's structural checks.
//!
//! `signed` is parsed once into a `serde_json::Value`; the canonical bytes (what was signed)
//! and the typed view are both taken from that value, so a duplicated key means the same
//! thing to both (the last one wins, as in Go).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use super::canonical_json::canonicalize;
use super::error::NotaryError;
use super::keytype::key_id;
use crate::limits;
use crate::time::UnixTime;
use crate::time::parse_rfc3339;

/// A role's file: the canonical bytes of `signed`, its signatures, and the value itself.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub role: String,
    pub signed: Value,
    pub canonical: Vec<u8>,
    pub signatures: Vec<Signature>,
}

#[derive(Debug)]
pub(crate) struct Signature {
    pub key_id: String,
    /// Lower-cased, as notary's decoder does.
    pub method: String,
    pub bytes: Vec<u8>,
}

/// What every role's `signed` has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Common {
    pub version: u64,
    pub expires: UnixTime,
}

/// A key from a `keys` map, whose map key has been checked to be its ID.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub keytype: String,
    pub public: Vec<u8>,
}

pub(crate) type Keys = BTreeMap<String, Key>;

/// Key IDs and threshold of a role.
#[derive(Debug, Clone)]
pub(crate) struct RoleKeys {
    pub key_ids: Vec<String>,
    pub threshold: u64,
}

#[derive(Debug)]
pub(crate) struct Root {
    pub common: Common,
    pub keys: Keys,
    pub roles: BTreeMap<String, RoleKeys>,
}

/// Length and hashes of a file (metadata or target).
#[derive(Debug, Clone)]
pub(crate) struct FileMeta {
    pub length: Option<u64>,
    pub hashes: BTreeMap<String, Vec<u8>>,
}

/// Timestamp and snapshot: file metadata by role name.
#[derive(Debug)]
pub(crate) struct MetaRole {
    pub common: Common,
    pub meta: BTreeMap<String, FileMeta>,
}

#[derive(Debug, Clone)]
pub(crate) struct Delegation {
    pub name: String,
    pub keys: RoleKeys,
    pub paths: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Targets {
    pub common: Common,
    pub targets: BTreeMap<String, FileMeta>,
    pub keys: Keys,
    pub delegations: Vec<Delegation>,
}

impl Envelope {
    pub(crate) fn parse(role: &str, bytes: &[u8]) -> Result<Self, NotaryError> {
        if bytes.len() > limits::MAX_ROLE_BYTES {
            return Err(NotaryError::TooLarge {
                role: role.into(),
                size: bytes.len(),
                limit: limits::MAX_ROLE_BYTES,
            });
        }
        let mut file: Value = serde_json::from_slice(bytes).map_err(|e| malformed(role, e))?;
        let signed = match file.get_mut("signed").map(Value::take) {
            Some(signed @ Value::Object(_)) => signed,
            _ => return Err(malformed(role, "no signed object")),
        };
        let raw: Option<Vec<SignatureJson>> = match file.get("signatures") {
            Some(value) => Deserialize::deserialize(value).map_err(|e| malformed(role, e))?,
            None => None,
        };
        let raw = raw.unwrap_or_default();
        if raw.len() > limits::MAX_ROLE_SIGNATURES {
            return Err(too_many(role, "signatures", limits::MAX_ROLE_SIGNATURES));
        }
        let signatures = raw
            .into_iter()
            .map(|s| {
                Ok(Signature {
                    key_id: s.keyid,
                    method: s.method.to_ascii_lowercase(),
                    bytes: base64(role, &s.sig)?,
                })
            })
            .collect::<Result<_, NotaryError>>()?;
        let canonical = canonicalize(&signed).map_err(|error| NotaryError::Canonical {
            role: role.into(),
            error,
        })?;
        Ok(Self {
            role: role.into(),
            signed,
            canonical,
            signatures,
        })
    }

    fn typed<'a, T: Deserialize<'a>>(&'a self) -> Result<T, NotaryError> {
        T::deserialize(&self.signed).map_err(|e| malformed(&self.role, e))
    }

    /// `signed` as root metadata (notary's `isValidRootStructure`).
    pub(crate) fn root(&self) -> Result<Root, NotaryError> {
        let json: RootJson = self.typed()?;
        let role = self.role.as_str();
        let common = common(role, "Root", &json.kind, &json.expires, json.version)?;
        let keys = keys(role, json.keys.unwrap_or_default())?;
        let mut roles = BTreeMap::new();
        for name in ["root", "targets", "snapshot", "timestamp"] {
            let Some(Some(entry)) = json.roles.as_ref().and_then(|roles| roles.get(name)) else {
                return Err(malformed(role, alloc::format!("no {name} role")));
            };
            let role_keys = role_keys(role, entry.keyids.clone(), entry.threshold, &keys)?;
            roles.insert(name.to_string(), role_keys);
        }
        Ok(Root {
            common,
            keys,
            roles,
        })
    }

    /// `signed` as timestamp or snapshot metadata; `kind` is `Timestamp` or `Snapshot`.
    pub(crate) fn meta_role(&self, kind: &'static str) -> Result<MetaRole, NotaryError> {
        let json: MetaJson = self.typed()?;
        let common = common(&self.role, kind, &json.kind, &json.expires, json.version)?;
        let meta = files(&self.role, json.meta.unwrap_or_default())?;
        Ok(MetaRole { common, meta })
    }

    /// `signed` as targets metadata of `self.role` (notary's `isValidTargetsStructure`):
    /// each delegation must be a valid role name directly under this one.
    pub(crate) fn targets(&self) -> Result<Targets, NotaryError> {
        let json: TargetsJson = self.typed()?;
        let role = self.role.as_str();
        let common = common(role, "Targets", &json.kind, &json.expires, json.version)?;
        let targets = files(role, json.targets.unwrap_or_default())?;
        let delegations_json = json.delegations.unwrap_or_default();
        let keys = keys(role, delegations_json.keys.unwrap_or_default())?;
        let roles = delegations_json.roles.unwrap_or_default();
        if roles.len() > limits::MAX_DELEGATIONS {
            return Err(too_many(role, "delegations", limits::MAX_DELEGATIONS));
        }
        let mut delegations = Vec::with_capacity(roles.len());
        for entry in roles {
            let Some(entry) = entry else {
                return Err(malformed(role, "null delegation"));
            };
            if !super::roles::is_child(role, &entry.name) {
                return Err(malformed(
                    role,
                    alloc::format!("invalid delegation {:?}", entry.name),
                ));
            }
            let keys = role_keys(role, entry.keyids, entry.threshold, &keys)?;
            delegations.push(Delegation {
                name: entry.name,
                keys,
                paths: entry.paths.unwrap_or_default(),
            });
        }
        Ok(Targets {
            common,
            targets,
            keys,
            delegations,
        })
    }
}

fn common(
    role: &str,
    expected: &'static str,
    kind: &str,
    expires: &str,
    version: i64,
) -> Result<Common, NotaryError> {
    if kind != expected {
        return Err(NotaryError::WrongType {
            role: role.into(),
            expected,
            found: kind.into(),
        });
    }
    let version = u64::try_from(version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| malformed(role, "version is less than 1"))?;
    let expires = parse_rfc3339(expires)
        .ok_or_else(|| malformed(role, alloc::format!("expires {expires:?} is not RFC 3339")))?;
    Ok(Common { version, expires })
}

/// Decodes a `keys` map, checking that each key is listed under its own ID.
fn keys(role: &str, json: BTreeMap<String, KeyJson>) -> Result<Keys, NotaryError> {
    if json.len() > limits::MAX_ROLE_KEYS {
        return Err(too_many(role, "keys", limits::MAX_ROLE_KEYS));
    }
    json.into_iter()
        .map(|(listed, key)| {
            let public = match key.keyval.public {
                Some(text) => base64(role, &text)?,
                None => Vec::new(),
            };
            let computed = key_id(&key.keytype, &public);
            if computed != listed {
                return Err(NotaryError::KeyIdMismatch {
                    role: role.into(),
                    listed,
                    computed,
                });
            }
            let key = Key {
                keytype: key.keytype,
                public,
            };
            Ok((listed, key))
        })
        .collect()
}

fn role_keys(
    role: &str,
    key_ids: Option<Vec<String>>,
    threshold: i64,
    keys: &Keys,
) -> Result<RoleKeys, NotaryError> {
    let key_ids = key_ids.unwrap_or_default();
    if key_ids.len() > limits::MAX_ROLE_KEYS {
        return Err(too_many(role, "keys", limits::MAX_ROLE_KEYS));
    }
    if let Some(unknown) = key_ids.iter().find(|id| !keys.contains_key(*id)) {
        return Err(NotaryError::UnknownKey {
            role: role.into(),
            key_id: unknown.clone(),
        });
    }
    let threshold = u64::try_from(threshold)
        .ok()
        .filter(|t| *t >= 1)
        .ok_or_else(|| malformed(role, "threshold is less than 1"))?;
    Ok(RoleKeys { key_ids, threshold })
}

fn files(
    role: &str,
    json: BTreeMap<String, FileMetaJson>,
) -> Result<BTreeMap<String, FileMeta>, NotaryError> {
    json.into_iter()
        .map(|(name, file)| {
            let length = file
                .length
                .map(|length| u64::try_from(length).map_err(|_| malformed(role, "negative length")))
                .transpose()?;
            let hashes = file
                .hashes
                .unwrap_or_default()
                .into_iter()
                .map(|(algorithm, hash)| Ok((algorithm, base64(role, &hash)?)))
                .collect::<Result<_, NotaryError>>()?;
            Ok((name, FileMeta { length, hashes }))
        })
        .collect()
}

fn base64(role: &str, text: &str) -> Result<Vec<u8>, NotaryError> {
    STANDARD
        .decode(text)
        .map_err(|_| malformed(role, alloc::format!("{text:?} is not base64")))
}

pub(crate) fn malformed(role: &str, reason: impl core::fmt::Display) -> NotaryError {
    NotaryError::Malformed {
        role: role.into(),
        reason: reason.to_string(),
    }
}

pub(crate) fn too_many(role: &str, what: &'static str, limit: usize) -> NotaryError {
    NotaryError::LimitExceeded {
        role: role.into(),
        what,
        limit,
    }
}

// The JSON shapes. Collections are optional because Go decodes `null` (or a missing field)
// as an empty map or slice; unknown fields are ignored, as in Go.

#[derive(Deserialize)]
struct SignatureJson {
    keyid: String,
    method: String,
    sig: String,
}

#[derive(Deserialize)]
struct KeyJson {
    keytype: String,
    keyval: KeyValJson,
}

#[derive(Deserialize)]
struct KeyValJson {
    #[serde(default)]
    public: Option<String>,
}

#[derive(Deserialize)]
struct RootRoleJson {
    #[serde(default)]
    keyids: Option<Vec<String>>,
    threshold: i64,
}

#[derive(Deserialize)]
struct RootJson {
    #[serde(rename = "_type")]
    kind: String,
    expires: String,
    version: i64,
    #[serde(default)]
    keys: Option<BTreeMap<String, KeyJson>>,
    #[serde(default)]
    roles: Option<BTreeMap<String, Option<RootRoleJson>>>,
}

/// A file's entry in a timestamp or snapshot (`meta.<role>`); Go decodes `null` (or an absent
/// field) as zero or empty.
#[derive(Deserialize)]
pub(super) struct FileMetaJson {
    #[serde(default)]
    pub(super) length: Option<i64>,
    #[serde(default)]
    pub(super) hashes: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct MetaJson {
    #[serde(rename = "_type")]
    kind: String,
    expires: String,
    version: i64,
    #[serde(default)]
    meta: Option<BTreeMap<String, FileMetaJson>>,
}

#[derive(Deserialize, Default)]
struct DelegationsJson {
    #[serde(default)]
    keys: Option<BTreeMap<String, KeyJson>>,
    #[serde(default)]
    roles: Option<Vec<Option<RoleJson>>>,
}

#[derive(Deserialize)]
struct RoleJson {
    name: String,
    #[serde(default)]
    keyids: Option<Vec<String>>,
    threshold: i64,
    #[serde(default)]
    paths: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TargetsJson {
    #[serde(rename = "_type")]
    kind: String,
    expires: String,
    version: i64,
    #[serde(default)]
    targets: Option<BTreeMap<String, FileMetaJson>>,
    #[serde(default)]
    delegations: Option<DelegationsJson>,
}
