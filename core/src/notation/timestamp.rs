//! A Notation signature's RFC 3161 timestamp (`io.cncf.notary.timestampSignature`): the DER
//! TimeStampToken itself, a CMS SignedData over a `TSTInfo` whose imprint is the hash of the
//! envelope's signature bytes. Verified as notation-go v1.3 verifies it with tspclient-go:
//! 1. the token is SignedData (version 3) over a `TSTInfo` (version 1) whose imprint is the
//!    hash of `signature`;
//! 2. its one SignerInfo names its signing certificate by issuer and serial (tspclient takes
//!    no other form), and the token carries that certificate;
//! 3. the signed attributes hold the content type and the digest of the `TSTInfo`, the
//!    required ESS `signingCertificateV2` names the signing certificate, and the signature
//!    over them verifies with its key;
//! 4. a chain from the signing certificate through the token's other certificates reaches a
//!    certificate of the TSA trust store, and holds to Notary's timestamping rules
//!    ([`super::chain::check_timestamping`]) with every certificate valid at `genTime` (and at
//!    the signed `signingTime`, if the token has one); a CA that lists extended key usages
//!    lists `timeStamping` or `anyExtendedKeyUsage` (Go's chain verification).
//!
//! What the time means is the caller's: notation requires the signing chain valid over all of
//! [`Stamped::earliest`]`..=`[`Stamped::latest`], and checks the TSA chain's revocation.

use alloc::vec::Vec;
use core::fmt;

use cms::content_info::ContentInfo;
use cms::signed_data::SignerIdentifier;
use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::time::Time;

use super::chain::{self, ChainProblem, Profile};
use crate::crypto::certificate::{Cert, EXTENDED_KEY_USAGE, TIME_STAMPING};
use crate::crypto::rfc3161::{SignerError, Token, TokenError, names};
use crate::limits::{MAX_CHAIN_CERTIFICATES, MAX_TIMESTAMP_BYTES, MAX_TRUST_STORE_CERTIFICATES};
use crate::time::UnixTime;

const SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// `genTime`, whole seconds.
    pub time: UnixTime,
    /// `genTime - accuracy`, rounded down: a certificate whose `notBefore` is not after it
    /// was valid from the earliest time the signature may have been made.
    pub earliest: UnixTime,
    /// `genTime + accuracy`, rounded up.
    pub latest: UnixTime,
    /// The TSA's chain, DER, from its signing certificate to the trust store's root.
    pub chain: Vec<Vec<u8>>,
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampProblem {
    /// More than [`MAX_TIMESTAMP_BYTES`].
    TooLarge(usize),
    /// More than [`MAX_TRUST_STORE_CERTIFICATES`] TSA roots.
    TooManyRoots(usize),
    /// Not a DER SignedData `TSTInfo` with one signer; which part.
    Malformed(&'static str),
    /// The imprint's hash algorithm is not SHA-256, SHA-384 or SHA-512.
    ImprintAlgorithm,
    /// The imprint is not the hash of the signature.
    ImprintMismatch,
    /// The signer is named by subject key identifier; notation takes issuer and serial only.
    SignerIdentifier,
    /// The token does not carry the certificate its signer names.
    NoSigningCertificate,
    /// The signed attributes lack the content type or the digest of the `TSTInfo`.
    SignedAttributes,
    /// `signingCertificateV2` is missing or names another certificate.
    SigningCertificate,
    /// The signature over the signed attributes does not verify.
    Signature,
    /// No chain from the signing certificate reaches a certificate of the TSA trust store.
    Untrusted,
    /// The chain breaks Notary's timestamping rules, or is not valid at `genTime`.
    Chain(ChainProblem),
    /// A CA of the chain lists extended key usages without `timeStamping`.
    CaExtendedKeyUsage { index: usize },
}

impl fmt::Display for TimestampProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(
                f,
                "the timestamp is {n} bytes, more than {MAX_TIMESTAMP_BYTES}"
            ),
            Self::TooManyRoots(n) => write!(
                f,
                "the TSA trust store holds {n} certificates, more than {MAX_TRUST_STORE_CERTIFICATES}"
            ),
            Self::Malformed(part) => write!(f, "the timestamp is malformed: {part}"),
            Self::ImprintAlgorithm => {
                f.write_str("the timestamp's message imprint uses an unsupported hash")
            }
            Self::ImprintMismatch => f.write_str("the timestamp is not over the signature"),
            Self::SignerIdentifier => {
                f.write_str("the timestamp's signer is not named by issuer and serial number")
            }
            Self::NoSigningCertificate => {
                f.write_str("the timestamp does not carry its signing certificate")
            }
            Self::SignedAttributes => f.write_str(
                "the timestamp's signed attributes do not hold its content type and digest",
            ),
            Self::SigningCertificate => f.write_str(
                "the timestamp's signingCertificateV2 is missing or names another certificate",
            ),
            Self::Signature => f.write_str("the timestamp's signature does not verify"),
            Self::Untrusted => f.write_str(
                "the timestamp's signing certificate does not chain to the TSA trust store",
            ),
            Self::Chain(e) => write!(f, "the timestamp's certificate chain: {e}"),
            Self::CaExtendedKeyUsage { index } => write!(
                f,
                "certificate {index} of the timestamp's chain lists extended key usages without timeStamping"
            ),
        }
    }
}

impl core::error::Error for TimestampProblem {}

/// Verifies the DER TimeStampToken `token` over `signature` (the envelope's raw signature
/// bytes) against the TSA trust store `tsa_roots` (DER). See the module docs.
///
/// # Errors
/// See [`TimestampProblem`].
pub fn verify(
    token: &[u8],
    signature: &[u8],
    tsa_roots: &[Vec<u8>],
) -> Result<Stamped, TimestampProblem> {
    if token.len() > MAX_TIMESTAMP_BYTES {
        return Err(TimestampProblem::TooLarge(token.len()));
    }
    if tsa_roots.len() > MAX_TRUST_STORE_CERTIFICATES {
        return Err(TimestampProblem::TooManyRoots(tsa_roots.len()));
    }
    let info =
        ContentInfo::from_der(token).map_err(|_| TimestampProblem::Malformed("ContentInfo"))?;
    let token = Token::parse(&info, signature).map_err(|e| match e {
        TokenError::Malformed(part) => TimestampProblem::Malformed(part),
        TokenError::ImprintAlgorithm => TimestampProblem::ImprintAlgorithm,
        TokenError::ImprintMismatch => TimestampProblem::ImprintMismatch,
    })?;
    let carried = carried(&token);
    let (signing_der, _) = signing_certificate(&token, &carried)?;
    let chain = to_root(signing_der, &carried, tsa_roots)?;
    let certs = chain::check(&chain, Profile::Timestamping).map_err(TimestampProblem::Chain)?;
    let stamped = token.gen_time;
    // Valid at genTime itself, its fraction included (as Go compares instants).
    let gen_end = UnixTime(stamped.at.0.saturating_add(u64::from(stamped.micros > 0)));
    chain::valid_over(&certs, stamped.at, gen_end).map_err(TimestampProblem::Chain)?;
    if let Some(at) = signing_time(&token)? {
        chain::valid_over(&certs, at, at).map_err(TimestampProblem::Chain)?;
    }
    check_ca_usages(&certs)?;
    let (earliest, latest) = range(stamped.at, stamped.micros, token.accuracy_micros());
    Ok(Stamped {
        time: stamped.at,
        earliest,
        latest,
        chain,
    })
}

/// Steps 2 and 3 of the module docs: the carried certificate the signer names, whose key
/// signed the signed attributes.
fn signing_certificate<'c>(
    token: &Token,
    carried: &'c [(Vec<u8>, Cert)],
) -> Result<&'c (Vec<u8>, Cert), TimestampProblem> {
    if token.signed_data.version != cms::content_info::CmsVersion::V3 {
        return Err(TimestampProblem::Malformed("SignedData version"));
    }
    if !matches!(token.signer.sid, SignerIdentifier::IssuerAndSerialNumber(_)) {
        return Err(TimestampProblem::SignerIdentifier);
    }
    let signing = carried
        .iter()
        .find(|(_, cert)| names(&token.signer.sid, cert))
        .ok_or(TimestampProblem::NoSigningCertificate)?;
    let (der, cert) = signing;
    let key = cert
        .verifier_with_p521()
        .map_err(|_| TimestampProblem::Signature)?;
    token.check_signer(&key, der, true).map_err(|e| match e {
        SignerError::SignedAttributes => TimestampProblem::SignedAttributes,
        SignerError::SigningCertificate => TimestampProblem::SigningCertificate,
        SignerError::Signature => TimestampProblem::Signature,
    })?;
    Ok(signing)
}

/// The signed `signingTime` attribute, if the token has one (tspclient-go checks it against
/// the chain as a sanity check).
fn signing_time(token: &Token) -> Result<Option<UnixTime>, TimestampProblem> {
    let malformed = TimestampProblem::Malformed("signingTime");
    let mut found = token
        .signer
        .signed_attrs
        .iter()
        .flat_map(|attributes| attributes.iter())
        .filter(|a| a.oid == SIGNING_TIME);
    let Some(attribute) = found.next() else {
        return Ok(None);
    };
    let mut values = attribute.values.iter();
    let (Some(value), None, None) = (values.next(), values.next(), found.next()) else {
        return Err(malformed);
    };
    // `Time` is a CHOICE, so it is read from the whole TLV.
    let der = value.to_der().map_err(|_| malformed.clone())?;
    let time = Time::from_der(&der).map_err(|_| malformed)?;
    Ok(Some(UnixTime(time.to_unix_duration().as_secs())))
}

/// Go's chain verification for the `timeStamping` usage: a CA without extended key usages,
/// or with `anyExtendedKeyUsage`, allows it; one that lists others must list it.
fn check_ca_usages(certs: &[Cert]) -> Result<(), TimestampProblem> {
    for (index, cert) in certs.iter().enumerate().skip(1) {
        let usages: Option<ExtendedKeyUsage> = cert
            .decoded(EXTENDED_KEY_USAGE)
            .map_err(|()| TimestampProblem::Chain(ChainProblem::Malformed { index }))?;
        let usages = usages.map(|u| u.0).unwrap_or_default();
        let allows = |oid| usages.contains(&oid);
        if !usages.is_empty() && !allows(TIME_STAMPING) && !allows(ANY_EXTENDED_KEY_USAGE) {
            return Err(TimestampProblem::CaExtendedKeyUsage { index });
        }
    }
    Ok(())
}

/// The certificates the token carries, with their DER, as far as they parse.
fn carried(token: &Token) -> Vec<(Vec<u8>, Cert)> {
    token
        .embedded()
        .filter_map(|cert| cert.to_der().ok())
        .take(MAX_CHAIN_CERTIFICATES)
        .filter_map(|der| Cert::parse(&der).map(|cert| (der, cert)))
        .collect()
}

/// The chain (DER, signing certificate first) up from `signing` through `carried` to a
/// certificate of `roots`: at each step a root that names and signed the certificate is
/// taken first, else a carried certificate not yet in the chain.
fn to_root(
    signing: &[u8],
    carried: &[(Vec<u8>, Cert)],
    roots: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, TimestampProblem> {
    let roots: Vec<(&[u8], Cert)> = roots
        .iter()
        .filter_map(|der| Cert::parse(der).map(|cert| (der.as_slice(), cert)))
        .collect();
    let mut chain = Vec::from([signing.to_vec()]);
    let mut current = Cert::parse(signing).ok_or(TimestampProblem::NoSigningCertificate)?;
    while chain.len() < MAX_CHAIN_CERTIFICATES {
        let signed_by = |issuer: &Cert| current.check_signed_by_with_p521(issuer, 0).is_ok();
        if let Some((root, _)) = roots.iter().find(|(_, root)| signed_by(root)) {
            chain.push(root.to_vec());
            return Ok(chain);
        }
        let next = carried
            .iter()
            .filter(|(der, _)| !chain.contains(der))
            .find(|(_, issuer)| signed_by(issuer));
        let Some((der, issuer)) = next else { break };
        chain.push(der.clone());
        current = issuer.clone();
    }
    Err(TimestampProblem::Untrusted)
}

/// `genTime ± accuracy` in whole seconds, widened to whole seconds outward: certificate times
/// are whole seconds, so the comparisons stay exact.
fn range(at: UnixTime, micros: u32, accuracy_micros: u64) -> (UnixTime, UnixTime) {
    const MICROS: u64 = 1_000_000;
    let generated = u128::from(at.0) * u128::from(MICROS) + u128::from(micros);
    let accuracy = u128::from(accuracy_micros);
    let seconds =
        |micros: u128| UnixTime(u64::try_from(micros / u128::from(MICROS)).unwrap_or(u64::MAX));
    let earliest = seconds(generated.saturating_sub(accuracy));
    let latest = seconds((generated + accuracy).div_ceil(u128::from(MICROS)) * u128::from(MICROS));
    (earliest, latest)
}

#[cfg(test)]
mod tests;
