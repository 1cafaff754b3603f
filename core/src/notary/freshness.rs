//! What a cache of notary metadata reads before verifying: how long a role's file may be kept
//! (its `signed.expires`), and which snapshot a timestamp names (`signed.meta.snapshot`), so a
//! refresh that names the same snapshot can keep the roles it pins.
//!
//! Read unverified, only to decide what to fetch and how long to keep it: every use verifies
//! the roles again ([`super::verify`]), expiry and hashes included. Values are decoded as the
//! verifier decodes them (the same date parser, base64 hashes, a non-negative length), so what
//! is kept here is what verification would read; an entry that is not a JSON object is refused
//! here, which costs only a fetch.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use super::metadata::FileMetaJson;
use crate::json::Object;
use crate::limits;
use crate::time::{UnixTime, parse_rfc3339};

/// Characters of a refused date kept for the message.
pub const QUOTED_CHARS: usize = 64;

/// The snapshot a timestamp names: what pins the snapshot's bytes. Two timestamps with equal
/// entries name the same snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// The length in bytes, when the timestamp gives one.
    pub length: Option<u64>,
    /// Hash algorithm (`sha256`, `sha512`, …) to the decoded digest; `sha256` always present.
    pub hashes: BTreeMap<String, Vec<u8>>,
}

/// Why a role's file could not be read for caching.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FreshnessError {
    TooLarge {
        size: usize,
    },
    NotJson(String),
    /// A field the reading needs is absent or not of its type (`signed.expires`, …).
    Missing(&'static str),
    /// The date, its first [`QUOTED_CHARS`] characters (the server chooses its length).
    NotRfc3339(String),
    /// `meta.snapshot` is there but not file metadata as notary writes it.
    Malformed(String),
    /// No 32-byte `sha256` for the snapshot: such a timestamp pins nothing (and fails
    /// verification).
    NoSha256,
}

impl fmt::Display for FreshnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size } => write!(
                f,
                "the role file is {size} bytes, more than {}",
                limits::MAX_ROLE_BYTES
            ),
            Self::NotJson(e) => write!(f, "the role file is not JSON: {e}"),
            Self::Missing(field) => write!(f, "the role file has no {field}"),
            Self::NotRfc3339(text) => write!(f, "expires {text:?} is not RFC 3339"),
            Self::Malformed(e) => write!(f, "signed.meta.snapshot is malformed: {e}"),
            Self::NoSha256 => write!(f, "signed.meta.snapshot has no sha256"),
        }
    }
}

impl core::error::Error for FreshnessError {}

/// A role's `signed.expires` (any role: root, timestamp, snapshot, targets, delegations).
pub fn expires(role: &[u8]) -> Result<UnixTime, FreshnessError> {
    let signed = signed(role)?;
    let text = signed
        .get("expires")
        .and_then(Value::as_str)
        .ok_or(FreshnessError::Missing("signed.expires"))?;
    parse_rfc3339(text)
        .ok_or_else(|| FreshnessError::NotRfc3339(text.chars().take(QUOTED_CHARS).collect()))
}

/// The snapshot a timestamp's `signed.meta.snapshot` names.
pub fn snapshot_entry(timestamp: &[u8]) -> Result<SnapshotEntry, FreshnessError> {
    let signed = signed(timestamp)?;
    let entry = signed
        .get("meta")
        .and_then(|meta| meta.get("snapshot"))
        .ok_or(FreshnessError::Missing("signed.meta.snapshot"))?;
    // Read as the verifier reads it (Go's zero values for `null` or absent fields).
    let Object(json) = Object::<FileMetaJson>::deserialize(entry)
        .map_err(|e| FreshnessError::Malformed(e.to_string()))?;
    let length = json
        .length
        .map(|length| {
            u64::try_from(length).map_err(|_| FreshnessError::Malformed("negative length".into()))
        })
        .transpose()?;
    let hashes = json
        .hashes
        .unwrap_or_default()
        .into_iter()
        .map(|(algorithm, hash)| match STANDARD.decode(&hash) {
            Ok(bytes) => Ok((algorithm, bytes)),
            Err(_) => Err(FreshnessError::Malformed(alloc::format!(
                "{algorithm} {hash:?} is not base64"
            ))),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    if hashes.get("sha256").is_none_or(|hash| hash.len() != 32) {
        return Err(FreshnessError::NoSha256);
    }
    Ok(SnapshotEntry { length, hashes })
}

/// The `signed` object of a role's file. Read as a whole `Value`, as the verifier reads it, so
/// a key written twice means the same here (the last one).
fn signed(role: &[u8]) -> Result<Value, FreshnessError> {
    if role.len() > limits::MAX_ROLE_BYTES {
        return Err(FreshnessError::TooLarge { size: role.len() });
    }
    let mut file: Value =
        serde_json::from_slice(role).map_err(|e| FreshnessError::NotJson(e.to_string()))?;
    match file.get_mut("signed").map(Value::take) {
        Some(signed @ Value::Object(_)) => Ok(signed),
        _ => Err(FreshnessError::Missing("signed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const SHA512: &str =
        "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";

    fn timestamp(snapshot: &str) -> Vec<u8> {
        alloc::format!(
            r#"{{"signed":{{"_type":"Timestamp","expires":"2030-01-01T00:00:00Z","version":2,"meta":{{"snapshot":{snapshot}}}}},"signatures":[]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_expiry_of_a_role_is_read_as_notary_writes_it() {
        let role = br#"{"signed":{"_type":"Timestamp","expires":"1970-01-01T00:01:40Z"}}"#;
        assert_eq!(expires(role), Ok(UnixTime(100)));
        let nanos = br#"{"signed":{"expires":"2026-12-11T21:14:15.008180593Z"}}"#;
        assert_eq!(expires(nanos), Ok(UnixTime(1_797_023_655)));
        let offset = br#"{"signed":{"expires":"2026-12-11T22:14:15+01:00"}}"#;
        assert_eq!(expires(offset), Ok(UnixTime(1_797_023_655)));
    }

    #[test]
    fn a_role_without_a_readable_expiry_is_refused_with_the_reason() {
        assert!(matches!(
            expires(b"not json"),
            Err(FreshnessError::NotJson(_))
        ));
        assert_eq!(
            expires(br#"{"signed":{"expires":1}}"#),
            Err(FreshnessError::Missing("signed.expires"))
        );
        assert_eq!(
            expires(br#"{"signed":"x"}"#),
            Err(FreshnessError::Missing("signed"))
        );
        let local = br#"{"signed":{"expires":"2026-12-11 21:14:15Z"}}"#;
        assert_eq!(
            expires(local),
            Err(FreshnessError::NotRfc3339("2026-12-11 21:14:15Z".into()))
        );
        let long = alloc::format!(r#"{{"signed":{{"expires":"{}"}}}}"#, "9".repeat(100));
        assert_eq!(
            expires(long.as_bytes()),
            Err(FreshnessError::NotRfc3339("9".repeat(QUOTED_CHARS)))
        );
        let big = alloc::vec![b' '; limits::MAX_ROLE_BYTES + 1];
        assert!(matches!(
            expires(&big),
            Err(FreshnessError::TooLarge { .. })
        ));
    }

    #[test]
    fn timestamps_naming_the_same_snapshot_compare_equal() {
        let one = timestamp(&alloc::format!(
            r#"{{"hashes":{{"sha256":"{SHA256}","sha512":"{SHA512}"}},"length":0}}"#
        ));
        // The same entry, written in another order by a newer timestamp.
        let two = alloc::format!(
            r#"{{"signed":{{"version":3,"meta":{{"snapshot":{{"length":0,"hashes":{{"sha512":"{SHA512}","sha256":"{SHA256}"}}}}}},"expires":"2031-01-01T00:00:00Z"}}}}"#
        );
        let entry = snapshot_entry(&one).expect("entry");
        assert_eq!(entry.length, Some(0));
        assert_eq!(entry.hashes.get("sha256").map(Vec::len), Some(32));
        assert_eq!(snapshot_entry(two.as_bytes()), Ok(entry.clone()));
        let longer = timestamp(&alloc::format!(
            r#"{{"hashes":{{"sha256":"{SHA256}","sha512":"{SHA512}"}},"length":1}}"#
        ));
        assert_ne!(snapshot_entry(&longer), Ok(entry.clone()));
        let other = timestamp(&alloc::format!(
            r#"{{"hashes":{{"sha256":"{}"}},"length":0}}"#,
            SHA256.replace('4', "5")
        ));
        assert_ne!(snapshot_entry(&other), Ok(entry));
    }

    #[test]
    fn a_snapshot_entry_without_a_sha256_pins_nothing() {
        for (snapshot, why) in [
            (
                alloc::format!(r#"{{"hashes":{{"sha512":"{SHA512}"}}}}"#),
                FreshnessError::NoSha256,
            ),
            (r#"{"length":3}"#.into(), FreshnessError::NoSha256),
            (
                r#"[]"#.into(),
                FreshnessError::Malformed("invalid type: sequence, expected a JSON object".into()),
            ),
            (
                r#"{"hashes":{"sha256":"AAAA"}}"#.into(),
                FreshnessError::NoSha256,
            ),
            (
                r#"{"hashes":{"sha256":"%%"}}"#.into(),
                FreshnessError::Malformed(r#"sha256 "%%" is not base64"#.into()),
            ),
            (
                alloc::format!(r#"{{"hashes":{{"sha256":"{SHA256}"}},"length":-1}}"#),
                FreshnessError::Malformed("negative length".into()),
            ),
        ] {
            assert_eq!(
                snapshot_entry(&timestamp(&snapshot)),
                Err(why),
                "{snapshot}"
            );
        }
        let none = br#"{"signed":{"meta":{}}}"#;
        assert_eq!(
            snapshot_entry(none),
            Err(FreshnessError::Missing("signed.meta.snapshot"))
        );
    }
}
