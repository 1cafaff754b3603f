//! What every role of the chain goes through, whoever walks it (`verify` for the base roles,
//! `select` for delegations): rollback and freeze against what was admitted so far, hashes and
//! length against the referring role, and the verifiers of the role's keys.

use alloc::collections::BTreeMap;
use alloc::string::String;

use sha2::{Digest as _, Sha256, Sha512};

use super::Trusted;
use super::error::NotaryError;
use super::keytype::parse_key;
use super::metadata::{Common, FileMeta, Keys, RoleKeys};
use crate::crypto::hex;
use crate::crypto::keys::Verifier;
use crate::time::UnixTime;

/// Versions and the earliest expiry of everything verified so far.
pub(super) struct Chain<'a> {
    pub(super) now: UnixTime,
    pub(super) trusted: Option<&'a Trusted>,
    pub(super) expires: UnixTime,
    pub(super) versions: BTreeMap<String, u64>,
}

impl<'a> Chain<'a> {
    pub(super) fn new(now: UnixTime, trusted: Option<&'a Trusted>) -> Self {
        Self {
            now,
            trusted,
            expires: UnixTime(u64::MAX),
            versions: BTreeMap::new(),
        }
    }

    /// Rollback against the trusted version, then freeze (expiry), as notary orders them.
    pub(super) fn admit(&mut self, role: &str, common: Common) -> Result<(), NotaryError> {
        if let Some(trusted) = self.trusted.and_then(|t| t.versions.get(role))
            && common.version < *trusted
        {
            return Err(NotaryError::Rollback {
                role: role.into(),
                version: common.version,
                trusted: *trusted,
            });
        }
        if common.expires < self.now {
            return Err(NotaryError::Expired {
                role: role.into(),
                expires: common.expires,
                now: self.now,
            });
        }
        self.expires = self.expires.min(common.expires);
        self.versions.insert(role.into(), common.version);
        Ok(())
    }
}

/// Verifiers for a role's keys; keys that do not parse (or whose certificate notary would
/// refuse) are left out and so never count towards the threshold.
pub(super) fn verifiers(keys: &Keys, role_keys: &RoleKeys) -> BTreeMap<String, Verifier> {
    role_keys
        .key_ids
        .iter()
        .filter_map(|id| {
            let key = keys.get(id)?;
            let parsed = parse_key(&key.keytype, &key.public).ok()?;
            if let Some(cert) = &parsed.cert {
                cert.validate(None).ok()?;
            }
            Some((id.clone(), parsed.verifier))
        })
        .collect()
}

/// Notary's `CheckHashes` over the bytes as served (every sha256/sha512 listed must match, at
/// least one must be listed), then the length when one is given.
pub(super) fn check_file(
    role: &str,
    bytes: &[u8],
    meta: Option<&FileMeta>,
    referrer: &'static str,
) -> Result<(), NotaryError> {
    let missing = || NotaryError::MissingMeta {
        referrer,
        role: role.into(),
    };
    let meta = meta.ok_or_else(missing)?;
    let mut checked = 0;
    for (algorithm, expected) in &meta.hashes {
        let (algorithm, actual) = match algorithm.as_str() {
            "sha256" => ("sha256", Sha256::digest(bytes).to_vec()),
            "sha512" => ("sha512", Sha512::digest(bytes).to_vec()),
            _ => continue,
        };
        if actual != *expected {
            return Err(NotaryError::HashMismatch {
                role: role.into(),
                algorithm,
                expected: hex(expected),
                actual: hex(&actual),
            });
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(missing());
    }
    match meta.length {
        Some(expected) if usize::try_from(expected).ok() != Some(bytes.len()) => {
            Err(NotaryError::LengthMismatch {
                role: role.into(),
                expected,
                actual: bytes.len(),
            })
        }
        _ => Ok(()),
    }
}
