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
//! `TimeStampResp` and `TSTInfo` are declared here after RustCrypto's `x509-tsp`, which needs
//! std; `genTime` is read by hand because der's `GeneralizedTime` refuses fractions of a
//! second, which RFC 3161 allows.

use alloc::string::ToString as _;
use alloc::vec::Vec;
use core::fmt;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Sequence, Tag, Tagged as _};
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::trusted_root::{Authority, TrustedRoot};
use crate::crypto::certificate::{Cert, ChainError, check_path};
use crate::crypto::keys::Hash;
use crate::limits::MAX_TIMESTAMP_BYTES;
use crate::time::{Rfc3339, UnixTime, parse_rfc3339};

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

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

#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

#[derive(Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: der::asn1::Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<der::asn1::Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<x509_cert::ext::Extensions>,
}

#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    _policies: Option<Any>,
}

#[derive(Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    _issuer_serial: Option<Any>,
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

/// A parsed token: what the checks need.
struct Token {
    signed_data: SignedData,
    signer: SignerInfo,
    /// The DER `TSTInfo`, as signed.
    tst_der: Vec<u8>,
    at: UnixTime,
}

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
    let mut tried = Vec::new();
    for (index, authority) in root.timestamp_authorities.iter().enumerate() {
        if !authority.validity.contains(token.at) {
            continue;
        }
        match vouches(authority, &token) {
            Ok(()) => return Ok(token.at),
            Err(e) => tried.push((index, e)),
        }
    }
    if tried.is_empty() {
        return Err(TimestampError::NoAuthorityAt(token.at));
    }
    Err(TimestampError::Untrusted {
        at: token.at,
        tried,
    })
}

fn parse(response: &[u8], signature: &[u8]) -> Result<Token, TimestampError> {
    let malformed = TimestampError::Malformed;
    let response = TimeStampResp::from_der(response).map_err(|_| malformed("TimeStampResp"))?;
    if response.status.status > 1 {
        return Err(TimestampError::NotGranted(response.status.status));
    }
    let token = response.token.ok_or(malformed("no token"))?;
    if token.content_type != SIGNED_DATA {
        return Err(malformed("the token is not SignedData"));
    }
    let signed_data: SignedData = token
        .content
        .decode_as()
        .map_err(|_| malformed("SignedData"))?;
    let content = &signed_data.encap_content_info;
    if content.econtent_type != TST_INFO {
        return Err(malformed("the content is not a TSTInfo"));
    }
    let tst_der = content
        .econtent
        .as_ref()
        .ok_or(malformed("no TSTInfo"))?
        .value()
        .to_vec();
    let tst = TstInfo::from_der(&tst_der).map_err(|_| malformed("TSTInfo"))?;
    if tst.version != 1 {
        return Err(malformed("TSTInfo version"));
    }
    check_imprint(&tst.message_imprint, signature)?;
    let at = generalized_time(&tst.gen_time).ok_or(malformed("genTime"))?;
    let mut signers = signed_data.signer_infos.0.iter();
    let signer = signers.next().ok_or(malformed("no signer"))?.clone();
    if signers.next().is_some() {
        return Err(malformed("more than one signer"));
    }
    Ok(Token {
        signed_data,
        signer,
        tst_der,
        at,
    })
}

fn check_imprint(imprint: &MessageImprint, signature: &[u8]) -> Result<(), TimestampError> {
    let hash = digest_hash(&imprint.hash_algorithm.oid).ok_or(TimestampError::ImprintAlgorithm)?;
    if hash.digest(signature) != imprint.hashed_message.as_bytes() {
        return Err(TimestampError::ImprintMismatch);
    }
    Ok(())
}

fn digest_hash(oid: &ObjectIdentifier) -> Option<Hash> {
    match oid.to_string().as_str() {
        "2.16.840.1.101.3.4.2.1" => Some(Hash::Sha256),
        "2.16.840.1.101.3.4.2.2" => Some(Hash::Sha384),
        "2.16.840.1.101.3.4.2.3" => Some(Hash::Sha512),
        _ => None,
    }
}

/// `YYYYMMDDHHMMSS[.fff…]Z` as an RFC 3339 date, read by the one date parser of the core.
fn generalized_time(any: &Any) -> Option<UnixTime> {
    if any.tag() != Tag::GeneralizedTime {
        return None;
    }
    let text = core::str::from_utf8(any.value()).ok()?;
    let (date, rest) = (text.get(..14)?, text.get(14..)?);
    if !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rfc3339 = alloc::format!(
        "{}-{}-{}T{}:{}:{}{rest}",
        &date[..4],
        &date[4..6],
        &date[6..8],
        &date[8..10],
        &date[10..12],
        &date[12..14]
    );
    parse_rfc3339(&rfc3339).filter(|_| rest.ends_with('Z'))
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
    check_signed_attributes(token, signing, signing_der)?;
    let extended: Option<ExtendedKeyUsage> = signing
        .decoded(EXTENDED_KEY_USAGE)
        .map_err(|()| AuthorityError::Malformed)?;
    if !extended.is_some_and(|e| e.0.contains(&TIME_STAMPING)) {
        return Err(AuthorityError::NotTimeStamping);
    }
    if !signing.valid_at(token.at) {
        return Err(AuthorityError::NotValidAt {
            not_before: signing.not_before(),
            not_after: signing.not_after(),
        });
    }
    check_path(signing, cas, 1, token.at).map_err(AuthorityError::Chain)
}

/// Whether the SignerInfo's identifier names `cert`.
fn names(sid: &SignerIdentifier, cert: &Cert) -> bool {
    let tbs = &cert.cert.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == tbs.issuer && id.serial_number == tbs.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(id) => cert
            .decoded::<SubjectKeyIdentifier>(SUBJECT_KEY_IDENTIFIER)
            .ok()
            .flatten()
            .is_some_and(|own| own == *id),
    }
}

/// A token need not embed its signing certificate; if it embeds one the SignerInfo names, it
/// must be the authority's (byte for byte).
fn embedded_is(token: &Token, signing: &Cert, signing_der: &[u8]) -> bool {
    let embedded = token
        .signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter());
    embedded
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
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

/// Step 3: the signed attributes, and the signature over them.
fn check_signed_attributes(
    token: &Token,
    signing: &Cert,
    signing_der: &[u8],
) -> Result<(), AuthorityError> {
    let signer = &token.signer;
    let attributes = signer
        .signed_attrs
        .as_ref()
        .ok_or(AuthorityError::SignedAttributes)?;
    let digest = digest_hash(&signer.digest_alg.oid).ok_or(AuthorityError::SignedAttributes)?;
    let single = |oid: ObjectIdentifier| {
        let mut found = attributes.iter().filter(|a| a.oid == oid);
        let first = found.next();
        match (first, found.next()) {
            (Some(a), None) if a.values.len() == 1 => a.values.iter().next(),
            _ => None,
        }
    };
    let content_type = single(CONTENT_TYPE).and_then(|v| v.decode_as::<ObjectIdentifier>().ok());
    let message_digest = single(MESSAGE_DIGEST).and_then(|v| v.decode_as::<OctetString>().ok());
    if content_type != Some(TST_INFO)
        || message_digest.is_none_or(|d| d.as_bytes() != digest.digest(&token.tst_der))
    {
        return Err(AuthorityError::SignedAttributes);
    }
    if attributes.iter().any(|a| a.oid == SIGNING_CERTIFICATE_V2) {
        let value = single(SIGNING_CERTIFICATE_V2).ok_or(AuthorityError::SigningCertificate)?;
        check_signing_certificate(value, signing_der)?;
    }
    let key = signing.verifier().map_err(|_| AuthorityError::Signature)?;
    let hash =
        signature_hash(&signer.signature_algorithm.oid, digest).ok_or(AuthorityError::Signature)?;
    let signed = attributes.to_der().map_err(|_| AuthorityError::Signature)?;
    if key.verify(hash, &signed, signer.signature.as_bytes()) {
        Ok(())
    } else {
        Err(AuthorityError::Signature)
    }
}

/// ESS `signingCertificateV2` (RFC 5035): its first certificate hash is the signer's.
fn check_signing_certificate(value: &Any, signing_der: &[u8]) -> Result<(), AuthorityError> {
    let ess: SigningCertificateV2 = value
        .decode_as()
        .map_err(|_| AuthorityError::SigningCertificate)?;
    let first = ess
        .certs
        .first()
        .ok_or(AuthorityError::SigningCertificate)?;
    let hash = match &first.hash_algorithm {
        Some(algorithm) => digest_hash(&algorithm.oid).ok_or(AuthorityError::SigningCertificate)?,
        None => Hash::Sha256,
    };
    if hash.digest(signing_der) != first.cert_hash.as_bytes() {
        return Err(AuthorityError::SigningCertificate);
    }
    Ok(())
}

/// The digest of a SignerInfo's signature: named by its algorithm (ecdsa-with-SHA256, …) or,
/// for a bare key algorithm (id-ecPublicKey, rsaEncryption), the SignerInfo's digest.
fn signature_hash(oid: &ObjectIdentifier, digest: Hash) -> Option<Hash> {
    match oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" | "1.2.840.113549.1.1.11" => Some(Hash::Sha256),
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => Some(Hash::Sha384),
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => Some(Hash::Sha512),
        "1.2.840.10045.2.1" | "1.2.840.113549.1.1.1" | "1.3.101.112" => Some(digest),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
