//! The embedded SCT (RFC 6962 §3.3): the list of signed certificate timestamps in the leaf's
//! extension 1.3.6.1.4.1.11129.2.4.2, each signed by a CT log over the precertificate — the
//! leaf's `tbsCertificate` without that extension, with the SHA-256 of the issuer's key.
//!
//! The TLS encoding is read by hand: x509-cert's `sct` feature needs `tls_codec` with std, and
//! the structure is a handful of length-prefixed fields.

use alloc::vec::Vec;
use core::fmt;

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _};
use sha2::{Digest as _, Sha256};

use crate::crypto::certificate::Cert;
use crate::crypto::keys::Hash;
use crate::limits::MAX_SCTS;
use crate::sigstore::trusted_root::LogKey;
use crate::time::{Rfc3339, UnixTime};

const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// Why no SCT vouches for the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SctError {
    /// The certificate has no SCT list extension.
    Missing,
    /// The extension is not a TLS `SignedCertificateTimestampList` of v1 SCTs, or has more
    /// than [`MAX_SCTS`].
    Malformed,
    /// No SCT is from a CT log of the trusted root valid at its time and verifies; what each
    /// SCT's log ID (hex) and time were.
    Unverified(Vec<(alloc::string::String, UnixTime)>),
}

impl fmt::Display for SctError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("the certificate has no embedded SCT"),
            Self::Malformed => write!(
                f,
                "the SCT list is malformed or holds more than {MAX_SCTS} SCTs"
            ),
            Self::Unverified(scts) => {
                f.write_str(
                    "no SCT verifies with a CT log of the trusted root valid at its time:",
                )?;
                for (log_id, at) in scts {
                    write!(f, " log {log_id} at {};", Rfc3339(*at))?;
                }
                Ok(())
            }
        }
    }
}

impl core::error::Error for SctError {}

/// One SCT as read from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sct<'a> {
    log_id: &'a [u8],
    /// Milliseconds since the epoch.
    timestamp: u64,
    extensions: &'a [u8],
    hash: u8,
    signature: &'a [u8],
}

/// Verifies that at least one embedded SCT of `leaf`, issued by `issuer`, is signed by one of
/// `ctlogs` valid at the SCT's time.
pub(super) fn verify(leaf: &Cert, issuer: &Cert, ctlogs: &[LogKey]) -> Result<(), SctError> {
    let value = leaf
        .extension(SCT_LIST)
        .map_err(|()| SctError::Malformed)?
        .ok_or(SctError::Missing)?;
    let list = OctetString::from_der(value).map_err(|_| SctError::Malformed)?;
    let scts = parse_list(list.as_bytes()).ok_or(SctError::Malformed)?;
    let tbs = precertificate_tbs(leaf).ok_or(SctError::Malformed)?;
    let issuer_key_hash = Sha256::digest(issuer.spki_der().ok_or(SctError::Malformed)?);
    let mut tried = Vec::new();
    for sct in &scts {
        let at = UnixTime(sct.timestamp / 1000);
        let message = signed_data(sct, &issuer_key_hash, &tbs).ok_or(SctError::Malformed)?;
        let verified = ctlogs.iter().any(|log| {
            log.log_id == sct.log_id
                && log.validity.contains(at)
                && hash(sct.hash) == Some(log.hash)
                && log.key.verify(log.hash, &message, sct.signature)
        });
        if verified {
            return Ok(());
        }
        tried.push((crate::crypto::hex(sct.log_id), at));
    }
    Err(SctError::Unverified(tried))
}

/// TLS `HashAlgorithm` (RFC 5246 §7.4.1.4.1) as the digest a log key signs with. Ed25519
/// logs (RFC 8422 `intrinsic`, 8) are given as the SHA-512 their key parses with.
fn hash(tls: u8) -> Option<Hash> {
    match tls {
        4 => Some(Hash::Sha256),
        5 => Some(Hash::Sha384),
        6 | 8 => Some(Hash::Sha512),
        _ => None,
    }
}

/// The leaf's `tbsCertificate` without the SCT list, re-encoded: what the log signed.
fn precertificate_tbs(leaf: &Cert) -> Option<Vec<u8>> {
    let mut tbs = leaf.cert.tbs_certificate.clone();
    if let Some(extensions) = tbs.extensions.as_mut() {
        extensions.retain(|e| e.extn_id != SCT_LIST);
    }
    tbs.to_der().ok()
}

/// RFC 6962 §3.2 `digitally-signed` struct of a precertificate entry.
fn signed_data(sct: &Sct<'_>, issuer_key_hash: &[u8], tbs: &[u8]) -> Option<Vec<u8>> {
    let mut data = Vec::with_capacity(tbs.len() + sct.extensions.len() + 64);
    data.push(0); // version v1
    data.push(0); // signature_type certificate_timestamp
    data.extend_from_slice(&sct.timestamp.to_be_bytes());
    data.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    data.extend_from_slice(issuer_key_hash);
    let tbs_len = u32::try_from(tbs.len()).ok().filter(|n| *n < 1 << 24)?;
    data.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    data.extend_from_slice(tbs);
    data.extend_from_slice(&u16::try_from(sct.extensions.len()).ok()?.to_be_bytes());
    data.extend_from_slice(sct.extensions);
    Some(data)
}

/// A TLS `opaque <1..2^16-1>` list of `opaque SerializedSCT<1..2^16-1>`.
fn parse_list(bytes: &[u8]) -> Option<Vec<Sct<'_>>> {
    let mut outer = Tls(bytes);
    let mut list = Tls(outer.vector16()?);
    if !outer.0.is_empty() {
        return None;
    }
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        if scts.len() == MAX_SCTS {
            return None;
        }
        scts.push(parse_sct(list.vector16()?)?);
    }
    (!scts.is_empty()).then_some(scts)
}

fn parse_sct(bytes: &[u8]) -> Option<Sct<'_>> {
    let mut r = Tls(bytes);
    if r.take(1)? != [0] {
        return None; // only v1 SCTs exist
    }
    let log_id = r.take(32)?;
    let timestamp = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let extensions = r.vector16()?;
    let hash = r.take(1)?[0];
    let _signature_algorithm = r.take(1)?;
    let signature = r.vector16()?;
    r.0.is_empty().then_some(Sct {
        log_id,
        timestamp,
        extensions,
        hash,
        signature,
    })
}

/// A cursor over TLS-encoded bytes.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn vector16(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sct_bytes(extensions: &[u8]) -> Vec<u8> {
        let mut sct = alloc::vec![0u8];
        sct.extend_from_slice(&[7; 32]);
        sct.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        sct.extend_from_slice(&u16::try_from(extensions.len()).unwrap_or(0).to_be_bytes());
        sct.extend_from_slice(extensions);
        sct.extend_from_slice(&[4, 3, 0, 2, 0xaa, 0xbb]);
        sct
    }

    fn list(scts: &[Vec<u8>]) -> Vec<u8> {
        let mut inner = Vec::new();
        for sct in scts {
            inner.extend_from_slice(&u16::try_from(sct.len()).unwrap_or(0).to_be_bytes());
            inner.extend_from_slice(sct);
        }
        let mut outer = u16::try_from(inner.len())
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        outer.extend_from_slice(&inner);
        outer
    }

    #[test]
    fn reads_an_sct_with_extensions() {
        let bytes = list(&[sct_bytes(&[1, 2, 3])]);
        let scts = parse_list(&bytes).expect("a list");
        assert_eq!(scts.len(), 1);
        assert_eq!(scts[0].log_id, [7; 32]);
        assert_eq!(scts[0].timestamp, 1_700_000_000_123);
        assert_eq!(scts[0].extensions, [1, 2, 3]);
        assert_eq!(scts[0].hash, 4);
        assert_eq!(scts[0].signature, [0xaa, 0xbb]);
        let data = signed_data(&scts[0], &[9; 32], &[0x30, 0]).expect("data");
        assert_eq!(data.len(), 2 + 8 + 2 + 32 + 3 + 2 + 2 + 3);
        assert_eq!(data[data.len() - 5..], [0, 3, 1, 2, 3]);
    }

    #[test]
    fn refuses_trailing_bytes_other_versions_empty_lists_and_too_many() {
        let mut bytes = list(&[sct_bytes(&[])]);
        bytes.push(0);
        assert!(parse_list(&bytes).is_none());
        let mut v2 = sct_bytes(&[]);
        v2[0] = 1;
        assert!(parse_list(&list(&[v2])).is_none());
        assert!(parse_list(&list(&[])).is_none());
        let many: Vec<Vec<u8>> = (0..=MAX_SCTS).map(|_| sct_bytes(&[])).collect();
        assert!(parse_list(&list(&many)).is_none());
        assert!(parse_list(&list(&many[..MAX_SCTS])).is_some());
    }
}
