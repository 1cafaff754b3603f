//! Sigstore's `trusted_root.json` (protobuf-specs `dev.sigstore.trustroot.v1.TrustedRoot`): the
//! Fulcio CAs, Rekor logs, CT logs and timestamp authorities a bundle is checked against, each
//! with the time window in which it may be trusted.

use alloc::string::String;
use alloc::vec::Vec;

use crate::crypto::keys::{Hash, Verifier};
use crate::time::UnixTime;

/// When a key or CA may be trusted (`validFor`); `end` is inclusive, `None` means open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: UnixTime,
    pub end: Option<UnixTime>,
}

impl Validity {
    pub fn contains(&self, at: UnixTime) -> bool {
        self.start <= at && self.end.is_none_or(|end| at <= end)
    }
}

/// A transparency log's key (Rekor or CT): its log ID (SHA-256 of the DER key unless the root
/// says otherwise), the key and the digest it signs with, and its validity.
#[derive(Debug, Clone)]
pub struct LogKey {
    pub base_url: String,
    pub log_id: Vec<u8>,
    pub(crate) key: Verifier,
    pub(crate) hash: Hash,
    /// The DER SubjectPublicKeyInfo, for key hints computed over it (Rekor v2 checkpoints).
    pub key_der: Vec<u8>,
    pub validity: Validity,
}

/// A certificate authority (Fulcio) or timestamp authority: its chain, leaf-most first and
/// ending in the root, as DER, and its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub uri: String,
    pub chain: Vec<Vec<u8>>,
    pub validity: Validity,
}

/// What a bundle is checked against.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub tlogs: Vec<LogKey>,
    pub ctlogs: Vec<LogKey>,
    pub certificate_authorities: Vec<Authority>,
    pub timestamp_authorities: Vec<Authority>,
}
