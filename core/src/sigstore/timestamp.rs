//! RFC 3161 timestamps (`timestampVerificationData.rfc3161Timestamps[].signedTimestamp`): a
//! DER `TimeStampResp` whose token is a CMS SignedData over a `TSTInfo`. A verified timestamp
//! says the bundle's signature existed at its `genTime`, which then stands in for a Rekor
//! integrated time when the leaf certificate is checked.
//!
//! What [`verify`] checks, against one timestamp authority of the root whose `validFor` holds
//! the time:
//! 1. the response is granted and its `TSTInfo`'s message imprint is the hash of the
//!    signature bytes the caller passes;
//! 2. the one SignerInfo names the authority's signing certificate (its first), and if the
//!    token embeds that certificate, it is the same one (a token may carry none);
//! 3. the signed attributes hold the content type and the digest of the `TSTInfo`, and the
//!    ESS `signingCertificateV2`, if present, names the signing certificate; the signature over
//!    them verifies with the signing certificate's key;
//! 4. the signing certificate is for time stamping and, with the rest of the authority's
//!    chain, valid at `genTime` and chained as [`super::certificate`] chains.
//!
//! `TimeStampResp` is declared here after RustCrypto's `x509-tsp`, which needs std; the token
//! inside is read by [`crate::crypto::rfc3161`], shared with Notation.

use alloc::vec::Vec;
use core::fmt;

use cms::content_info::ContentInfo;
use cms::signed_data::SignerIdentifier;
use der::asn1::Any;
use der::{Decode as _, Encode as _, Sequence};
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::trusted_root::{Authority, TrustedRoot};
use crate::crypto::certificate::{Cert, ChainError, EXTENDED_KEY_USAGE, TIME_STAMPING, check_path};
use crate::crypto::rfc3161::{SignerError, Token, TokenError, names};
use crate::limits::MAX_TIMESTAMP_BYTES;
use crate::time::{Rfc3339, UnixTime};

/// `PKIStatusInfo`: only the status is looked at.
#[derive(Sequence)]
struct StatusInfo {
    status: u32,
    #[asn1(optional = "true")]
    _text: Option<Any>,
    #[asn1(optional = "true")]
    _fail_info: Option<Any>,
}

#[derive(Sequence)]
struct TimeStampResp {
    status: StatusInfo,
    #[asn1(optional = "true")]
    token: Option<ContentInfo>,
}

/// Why a timestamp authority does not vouch for the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityError {
    /// A certificate of the authority does not parse.
    Malformed,
    /// The token's signer is not the authority's signing certificate, or the certificate the
    /// token embeds for its signer is another one.
    NotSigner,
    /// The signed attributes lack the content type or the digest of the `TSTInfo`, or hold
    /// others.
    SignedAttributes,
    /// `signingCertificateV2` names another certificate.
    SigningCertificate,
    /// The signature over the signed attributes does not verify, or uses an unknown algorithm.
    Signature,
    /// The signing certificate has no `timeStamping` extended key usage.
    NotTimeStamping,
    /// The signing certificate is not valid at the time.
    NotValidAt {
        not_before: UnixTime,
        not_after: UnixTime,
    },
    /// The rest of the chain does not hold.
    Chain(ChainError),
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("a certificate does not parse"),
            Self::NotSigner => f.write_str("its signing certificate did not sign the token"),
            Self::SignedAttributes => {
                f.write_str("the token's signed attributes do not hold its content type and digest")
            }
            Self::SigningCertificate => {
                f.write_str("the token's signingCertificateV2 names another certificate")
            }
            Self::Signature => f.write_str("the token's signature does not verify"),
            Self::NotTimeStamping => {
                f.write_str("its signing certificate is not for time stamping")
            }
            Self::NotValidAt {
                not_before,
                not_after,
            } => write!(
                f,
                "its signing certificate is valid from {} to {}, not at the token's time",
                Rfc3339(*not_before),
                Rfc3339(*not_after)
            ),
            Self::Chain(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for AuthorityError {}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// More than [`MAX_TIMESTAMP_BYTES`].
    TooLarge(usize),
    /// Not a DER `TimeStampResp` holding a SignedData `TSTInfo` with one signer; which part.
    Malformed(&'static str),
    /// The response's status is not granted (0) or granted with modifications (1).
    NotGranted(u32),
    /// The imprint's hash algorithm is not SHA-256, SHA-384 or SHA-512.
    ImprintAlgorithm,
    /// The imprint is not the hash of the signature.
    ImprintMismatch,
    /// No timestamp authority of the root is valid at the token's time.
    NoAuthorityAt(UnixTime),
    /// No timestamp authority valid at the time vouches for the token; why, for each.
    Untrusted {
        at: UnixTime,
        tried: Vec<(usize, AuthorityError)>,
    },
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(
                f,
                "the timestamp is {n} bytes, more than {MAX_TIMESTAMP_BYTES}"
            ),
            Self::Malformed(part) => write!(f, "the timestamp is malformed: {part}"),
            Self::NotGranted(status) => {
                write!(f, "the timestamp response has status {status}, not granted")
            }
            Self::ImprintAlgorithm => {
                f.write_str("the timestamp's message imprint uses an unsupported hash")
            }
            Self::ImprintMismatch => {
                f.write_str("the timestamp is not over the bundle's signature")
            }
            Self::NoAuthorityAt(at) => write!(
                f,
                "no timestamp authority of the trusted root is valid at {}",
                Rfc3339(*at)
            ),
            Self::Untrusted { at, tried } => {
                write!(
                    f,
                    "no timestamp authority of the trusted root vouches for the time {}:",
                    Rfc3339(*at)
                )?;
                for (index, error) in tried {
                    write!(f, " timestampAuthorities[{index}]: {error};")?;
                }
                Ok(())
            }
        }
    }
}

impl core::error::Error for TimestampError {}

/// Verifies the DER `TimeStampResp` `response` over `signature` (the bundle's signature
/// bytes) against the timestamp authorities of `root`; the time it vouches for.
///
/// # Errors
/// See [`TimestampError`].
pub fn verify(
    response: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<UnixTime, TimestampError> {
    if response.len() > MAX_TIMESTAMP_BYTES {
        return Err(TimestampError::TooLarge(response.len()));
    }
    let token = parse(response, signature)?;
    let at = token.gen_time.at;
    let mut tried = Vec::new();
    for (index, authority) in root.timestamp_authorities.iter().enumerate() {
        if !authority.validity.contains(at) {
            continue;
        }
        match vouches(authority, &token) {
            Ok(()) => return Ok(token.gen_time.at),
            Err(e) => tried.push((index, e)),
        }
    }
    if tried.is_empty() {
        return Err(TimestampError::NoAuthorityAt(at));
    }
    Err(TimestampError::Untrusted { at, tried })
}

fn parse(response: &[u8], signature: &[u8]) -> Result<Token, TimestampError> {
    let response = TimeStampResp::from_der(response)
        .map_err(|_| TimestampError::Malformed("TimeStampResp"))?;
    if response.status.status > 1 {
        return Err(TimestampError::NotGranted(response.status.status));
    }
    let token = response
        .token
        .ok_or(TimestampError::Malformed("no token"))?;
    Token::parse(&token, signature).map_err(|e| match e {
        TokenError::Malformed(part) => TimestampError::Malformed(part),
        TokenError::ImprintAlgorithm => TimestampError::ImprintAlgorithm,
        TokenError::ImprintMismatch => TimestampError::ImprintMismatch,
    })
}

/// Whether `authority` vouches for `token`: see the module docs, steps 2–4.
fn vouches(authority: &Authority, token: &Token) -> Result<(), AuthorityError> {
    let chain = authority
        .chain
        .iter()
        .map(|der| Cert::parse(der).ok_or(AuthorityError::Malformed))
        .collect::<Result<Vec<_>, _>>()?;
    let (signing, cas) = chain.split_first().ok_or(AuthorityError::Malformed)?;
    let signing_der = authority.chain.first().ok_or(AuthorityError::Malformed)?;
    if !names(&token.signer.sid, signing) || !embedded_is(token, signing, signing_der) {
        return Err(AuthorityError::NotSigner);
    }
    let key = signing.verifier().map_err(|_| AuthorityError::Signature)?;
    token
        .check_signer(&key, signing_der, false)
        .map_err(|e| match e {
            SignerError::SignedAttributes => AuthorityError::SignedAttributes,
            SignerError::SigningCertificate => AuthorityError::SigningCertificate,
            SignerError::Signature => AuthorityError::Signature,
        })?;
    let extended: Option<ExtendedKeyUsage> = signing
        .decoded(EXTENDED_KEY_USAGE)
        .map_err(|()| AuthorityError::Malformed)?;
    if !extended.is_some_and(|e| e.0.contains(&TIME_STAMPING)) {
        return Err(AuthorityError::NotTimeStamping);
    }
    if !signing.valid_at(token.gen_time.at) {
        return Err(AuthorityError::NotValidAt {
            not_before: signing.not_before(),
            not_after: signing.not_after(),
        });
    }
    check_path(signing, cas, 1, token.gen_time.at).map_err(AuthorityError::Chain)
}

/// A token need not embed its signing certificate; if it embeds one the SignerInfo names, it
/// must be the authority's (byte for byte).
fn embedded_is(token: &Token, signing: &Cert, signing_der: &[u8]) -> bool {
    token
        .embedded()
        .filter(|cert| {
            let tbs = &cert.tbs_certificate;
            match &token.signer.sid {
                SignerIdentifier::IssuerAndSerialNumber(id) => {
                    id.issuer == tbs.issuer && id.serial_number == tbs.serial_number
                }
                // Without an issuer and serial, any embedded certificate with the signing
                // certificate's key is taken as the signer's.
                SignerIdentifier::SubjectKeyIdentifier(_) => {
                    tbs.subject_public_key_info
                        == signing.cert.tbs_certificate.subject_public_key_info
                }
            }
        })
        .all(|cert| cert.to_der().is_ok_and(|der| der == signing_der))
}

#[cfg(test)]
mod tests;
