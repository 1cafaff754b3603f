//! Revocation of a chain's certificates from CRLs supplied with the trust store, as
//! notation-core-go's `revocation/crl` reads them, without any network: this crate never
//! fetches a CRL or asks an OCSP responder.
//!
//! For each certificate but the root (which nothing can revoke), the CRLs named for its issuer
//! whose signature verifies with the issuer's key (the next certificate of the chain) and
//! that are current are read:
//! - its serial listed (permanently, or on hold as the latest word) → revoked, unless the
//!   entry's invalidity date falls after the authentic signing time given;
//! - no usable CRL, and it names CRL distribution points or an OCSP responder → unknown: it
//!   can be revoked, but nothing supplied says whether it is;
//! - no usable CRL, and it names neither → non-revokable, which passes (as in notation).
//!
//! Delta CRLs are not supported: a certificate or CRL that points to one is unknown. CRLs that
//! do not verify or are stale are set aside; if none is left, the certificate is unknown and
//! the first one's problem says why.

use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use der::Decode as _;
use der::asn1::{GeneralizedTime, ObjectIdentifier};
use x509_cert::crl::{CertificateList, RevokedCert};
use x509_cert::ext::pkix::{CrlReason, KeyUsage, KeyUsages};

use super::chain::{self, ChainProblem};
use crate::crypto::certificate::{self, Cert, KEY_USAGE};
use crate::crypto::pem;
use crate::limits::{MAX_CRL_BYTES, MAX_CRL_ENTRIES, MAX_CRLS};
use crate::time::{Rfc3339, UnixTime};

const CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const AUTHORITY_INFO_ACCESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
const DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
/// A CRL's scope; notation does not read it (it checks every distribution point) and so
/// neither does this.
const ISSUING_DISTRIBUTION_POINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.28");
const REASON_CODE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");

/// Why a supplied CRL cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlError {
    /// More than [`MAX_CRLS`].
    TooMany(usize),
    /// More than [`MAX_CRL_BYTES`].
    TooLarge { index: usize, bytes: usize },
    /// Neither a DER CRL nor a PEM `X509 CRL` block holding one.
    Malformed { index: usize },
    /// More than [`MAX_CRL_ENTRIES`] revoked entries.
    TooManyEntries { index: usize, entries: usize },
}

impl fmt::Display for CrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany(n) => write!(f, "{n} CRLs are supplied, more than {MAX_CRLS}"),
            Self::TooLarge { index, bytes } => {
                write!(f, "CRL {index} is {bytes} bytes, more than {MAX_CRL_BYTES}")
            }
            Self::Malformed { index } => write!(f, "CRL {index} is not a DER or PEM CRL"),
            Self::TooManyEntries { index, entries } => write!(
                f,
                "CRL {index} lists {entries} certificates, more than {MAX_CRL_ENTRIES}"
            ),
        }
    }
}

impl core::error::Error for CrlError {}

/// Why a certificate's revocation status is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unknown {
    /// It names CRL distribution points or an OCSP responder, and no CRL of its issuer is
    /// supplied (nothing is fetched).
    NoCrl,
    /// The CRLs named for its issuer are not signed by the issuer's key, or the issuer may not
    /// sign CRLs (no `cRLSign` key usage).
    NotSignedByIssuer,
    /// The CRL has no `nextUpdate`.
    NoNextUpdate,
    /// The CRL's `nextUpdate` is past.
    Stale { next_update: UnixTime },
    /// The CRL's `thisUpdate` is still to come.
    NotYetIssued { this_update: UnixTime },
    /// The certificate or the CRL points to a delta CRL, which is not supported.
    DeltaCrl,
    /// The CRL, or its entry for the certificate, has a critical extension that is not
    /// understood (its OID).
    CriticalExtension(String),
    /// The CRL's entry for the certificate has a reason code or invalidity date that does not
    /// parse.
    MalformedEntry,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCrl => f.write_str(
                "it names a CRL distribution point or OCSP responder and no CRL of its issuer is supplied (revocation is not fetched)",
            ),
            Self::NotSignedByIssuer => {
                f.write_str("no CRL supplied for its issuer is signed by the issuer")
            }
            Self::NoNextUpdate => f.write_str("its issuer's CRL has no nextUpdate"),
            Self::Stale { next_update } => write!(
                f,
                "its issuer's CRL is stale (nextUpdate {})",
                Rfc3339(*next_update)
            ),
            Self::NotYetIssued { this_update } => write!(
                f,
                "its issuer's CRL is issued in the future (thisUpdate {})",
                Rfc3339(*this_update)
            ),
            Self::DeltaCrl => f.write_str("it or its issuer's CRL points to a delta CRL, which is not supported"),
            Self::CriticalExtension(oid) => write!(
                f,
                "its issuer's CRL has a critical extension {oid} that is not understood"
            ),
            Self::MalformedEntry => f.write_str("its entry in its issuer's CRL does not parse"),
        }
    }
}

/// Why a chain does not pass the revocation check; `index` counts from the leaf (0). A revoked
/// certificate anywhere in the chain wins over an unknown one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationProblem {
    /// The chain does not parse.
    Chain(ChainProblem),
    /// A CRL of its issuer lists the certificate.
    Revoked {
        index: usize,
        /// The entry's `revocationDate`.
        revoked_at: UnixTime,
        /// The entry's reason code (RFC 5280 `CRLReason`), if it has one.
        reason: Option<u8>,
    },
    /// Whether the certificate is revoked is not known.
    Unknown { index: usize, why: Unknown },
}

impl fmt::Display for RevocationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chain(e) => write!(f, "{e}"),
            Self::Revoked {
                index,
                revoked_at,
                reason,
            } => {
                write!(
                    f,
                    "certificate {index} of the chain is revoked since {}",
                    Rfc3339(*revoked_at)
                )?;
                match reason {
                    Some(code) => write!(f, " (reason {code})"),
                    None => Ok(()),
                }
            }
            Self::Unknown { index, why } => write!(
                f,
                "the revocation status of certificate {index} of the chain is unknown: {why}"
            ),
        }
    }
}

impl core::error::Error for RevocationProblem {}

/// CRLs supplied with the trust store, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Crls(Vec<Crl>);

#[derive(Debug, Clone)]
struct Crl {
    list: CertificateList,
    /// The `tbsCertList` as received, which the signature covers.
    tbs: Vec<u8>,
}

impl Crls {
    /// Reads each of `files`: one CRL, DER or PEM (`X509 CRL`).
    ///
    /// # Errors
    /// The first CRL that cannot be read, or too many.
    pub fn parse(files: &[Vec<u8>]) -> Result<Self, CrlError> {
        if files.len() > MAX_CRLS {
            return Err(CrlError::TooMany(files.len()));
        }
        files
            .iter()
            .enumerate()
            .map(|(index, bytes)| parse_one(index, bytes))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Each CRL's thisUpdate and the second after its nextUpdate: when its use can change
    /// ([`usable_crl`]: current from thisUpdate through nextUpdate).
    pub(crate) fn changes(&self) -> Vec<UnixTime> {
        let updates = self.0.iter().map(|crl| &crl.list.tbs_cert_list);
        updates
            .flat_map(|tbs| {
                let stale = tbs
                    .next_update
                    .map(|t| UnixTime(seconds(t).0.saturating_add(1)));
                [Some(seconds(tbs.this_update)), stale]
            })
            .flatten()
            .collect()
    }
}

fn parse_one(index: usize, bytes: &[u8]) -> Result<Crl, CrlError> {
    if bytes.len() > MAX_CRL_BYTES {
        return Err(CrlError::TooLarge {
            index,
            bytes: bytes.len(),
        });
    }
    let malformed = CrlError::Malformed { index };
    let pem_der = match core::str::from_utf8(bytes) {
        Ok(text) if text.trim_start().starts_with("-----BEGIN") => {
            let block = pem::decode_first(text).ok_or(malformed.clone())?;
            if block.label != "X509 CRL" {
                return Err(malformed);
            }
            Some(block.der)
        }
        _ => None,
    };
    let der = pem_der.as_deref().unwrap_or(bytes);
    let list = CertificateList::from_der(der).map_err(|_| malformed.clone())?;
    let tbs = certificate::raw_tbs(der).ok_or(malformed)?.to_vec();
    let entries = list
        .tbs_cert_list
        .revoked_certificates
        .as_ref()
        .map_or(0, Vec::len);
    if entries > MAX_CRL_ENTRIES {
        return Err(CrlError::TooManyEntries { index, entries });
    }
    Ok(Crl { list, tbs })
}

/// The revocation check of `chain` (leaf first; it must already have passed
/// [`chain::check_code_signing`] or [`chain::check_timestamping`], since each certificate's
/// CRLs are verified with the next one's key) against `crls` at `now`. `signed_at` is the
/// authentic signing time, which notation passes for the `notary.x509.signingAuthority` scheme
/// only: a revocation whose invalidity date falls after it does not count.
///
/// # Errors
/// The lowest revoked certificate, else the lowest whose status is unknown.
pub fn check(
    chain: &[Vec<u8>],
    crls: &Crls,
    now: UnixTime,
    signed_at: Option<UnixTime>,
) -> Result<(), RevocationProblem> {
    let certs = chain::parse(chain).map_err(RevocationProblem::Chain)?;
    let mut unknown = None;
    for (index, pair) in certs.windows(2).enumerate() {
        match status(&pair[0], &pair[1], crls, now, signed_at) {
            Ok(()) => {}
            Err(Status::Revoked { revoked_at, reason }) => {
                return Err(RevocationProblem::Revoked {
                    index,
                    revoked_at,
                    reason,
                });
            }
            Err(Status::Unknown(why)) => {
                unknown.get_or_insert(RevocationProblem::Unknown { index, why });
            }
        }
    }
    unknown.map_or(Ok(()), Err)
}

/// What keeps one certificate from passing.
enum Status {
    Revoked {
        revoked_at: UnixTime,
        reason: Option<u8>,
    },
    Unknown(Unknown),
}

/// `cert`'s status from the CRLs of `issuer`; `Ok` if good or non-revokable.
fn status(
    cert: &Cert,
    issuer: &Cert,
    crls: &Crls,
    now: UnixTime,
    signed_at: Option<UnixTime>,
) -> Result<(), Status> {
    let issuer_name = &cert.cert.tbs_certificate.issuer;
    let mut named = crls
        .0
        .iter()
        .filter(|crl| crl.list.tbs_cert_list.issuer == *issuer_name)
        .peekable();
    if named.peek().is_none() {
        return if revokable(cert) {
            Err(Status::Unknown(Unknown::NoCrl))
        } else {
            Ok(())
        };
    }
    if has(cert, FRESHEST_CRL) {
        return Err(Status::Unknown(Unknown::DeltaCrl));
    }
    let mut first_problem = None;
    let mut usable = 0;
    for crl in named {
        match usable_crl(crl, issuer, now) {
            Ok(()) => {
                usable += 1;
                listed(crl, cert, signed_at)?;
            }
            Err(why) => {
                first_problem.get_or_insert(why);
            }
        }
    }
    match first_problem {
        Some(why) if usable == 0 => Err(Status::Unknown(why)),
        _ => Ok(()),
    }
}

/// Whether `cert` says where its revocation can be learnt: CRL distribution points or an
/// authority information access extension (notation asks OCSP when it names a responder).
fn revokable(cert: &Cert) -> bool {
    has(cert, CRL_DISTRIBUTION_POINTS) || has(cert, AUTHORITY_INFO_ACCESS)
}

fn has(cert: &Cert, oid: ObjectIdentifier) -> bool {
    !matches!(cert.extension(oid), Ok(None))
}

/// Whether `crl` is signed by `issuer`, may be signed by it, is current at `now`, and has no
/// critical extension beyond those understood.
fn usable_crl(crl: &Crl, issuer: &Cert, now: UnixTime) -> Result<(), Unknown> {
    let list = &crl.list;
    let tbs = &list.tbs_cert_list;
    let usage: Option<KeyUsage> = issuer
        .decoded(KEY_USAGE)
        .map_err(|()| Unknown::NotSignedByIssuer)?;
    if usage.is_some_and(|u| !u.0.contains(KeyUsages::CRLSign)) {
        return Err(Unknown::NotSignedByIssuer);
    }
    let key = issuer
        .verifier_with_p521()
        .map_err(|_| Unknown::NotSignedByIssuer)?;
    certificate::verify_signed(
        &key,
        &crl.tbs,
        (&list.signature_algorithm, &tbs.signature),
        &list.signature,
    )
    .map_err(|_| Unknown::NotSignedByIssuer)?;
    let this_update = seconds(tbs.this_update);
    if this_update > now {
        return Err(Unknown::NotYetIssued { this_update });
    }
    let next_update = tbs.next_update.map(seconds).ok_or(Unknown::NoNextUpdate)?;
    if now > next_update {
        return Err(Unknown::Stale { next_update });
    }
    for ext in tbs.crl_extensions.iter().flatten() {
        if ext.extn_id == DELTA_CRL_INDICATOR || ext.extn_id == FRESHEST_CRL {
            return Err(Unknown::DeltaCrl);
        }
        if ext.critical && ext.extn_id != ISSUING_DISTRIBUTION_POINT {
            return Err(Unknown::CriticalExtension(ext.extn_id.to_string()));
        }
    }
    Ok(())
}

/// Whether `crl` (usable) lists `cert` as revoked, as notation reads the entries: a
/// permanent reason revokes at once; on hold (6) or removed from the CRL (8), the latest such
/// entry decides; an invalidity date after `signed_at` means not revoked when signed.
fn listed(crl: &Crl, cert: &Cert, signed_at: Option<UnixTime>) -> Result<(), Status> {
    const CERTIFICATE_HOLD: u8 = 6;
    const REMOVE_FROM_CRL: u8 = 8;
    let serial = &cert.cert.tbs_certificate.serial_number;
    let entries = crl.list.tbs_cert_list.revoked_certificates.iter().flatten();
    let mut latest_temporary: Option<(UnixTime, u8)> = None;
    for entry in entries.filter(|e| e.serial_number == *serial) {
        let (reason, invalid_since) = entry_extensions(entry).map_err(Status::Unknown)?;
        if signed_at.zip(invalid_since).is_some_and(|(s, i)| s < i) {
            return Ok(());
        }
        let revoked_at = seconds(entry.revocation_date);
        match reason {
            Some(code @ (CERTIFICATE_HOLD | REMOVE_FROM_CRL)) => {
                if latest_temporary.is_none_or(|(when, _)| when < revoked_at) {
                    latest_temporary = Some((revoked_at, code));
                }
            }
            _ => return Err(Status::Revoked { revoked_at, reason }),
        }
    }
    match latest_temporary {
        Some((revoked_at, CERTIFICATE_HOLD)) => Err(Status::Revoked {
            revoked_at,
            reason: Some(CERTIFICATE_HOLD),
        }),
        _ => Ok(()),
    }
}

/// An entry's reason code and invalidity date.
fn entry_extensions(entry: &RevokedCert) -> Result<(Option<u8>, Option<UnixTime>), Unknown> {
    let mut reason = None;
    let mut invalid_since = None;
    for ext in entry.crl_entry_extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == REASON_CODE {
            let code = CrlReason::from_der(value).map_err(|_| Unknown::MalformedEntry)?;
            reason = Some(code as u8);
        } else if ext.extn_id == INVALIDITY_DATE {
            let date = GeneralizedTime::from_der(value).map_err(|_| Unknown::MalformedEntry)?;
            invalid_since = Some(UnixTime(date.to_unix_duration().as_secs()));
        } else if ext.critical {
            return Err(Unknown::CriticalExtension(ext.extn_id.to_string()));
        }
    }
    Ok((reason, invalid_since))
}

fn seconds(time: x509_cert::time::Time) -> UnixTime {
    UnixTime(time.to_unix_duration().as_secs())
}

#[cfg(test)]
mod tests;
