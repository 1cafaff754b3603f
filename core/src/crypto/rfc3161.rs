//! RFC 3161 time-stamp tokens: a CMS SignedData over a `TSTInfo`, as Sigstore (inside a
//! `TimeStampResp`) and Notation (the token alone) store them. What is common: reading the
//! token and its `TSTInfo`, the message imprint, `genTime` with its fraction, and the signer's
//! signed attributes and signature. Which certificate may sign, and how it chains, is each
//! format's own rule.
//!
//! `TSTInfo` is declared here after RustCrypto's `x509-tsp`, which needs std; `genTime` is read
//! by hand because der's `GeneralizedTime` refuses fractions of a second, which RFC 3161
//! allows.

use alloc::string::ToString as _;
use alloc::vec::Vec;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Sequence, Tag, Tagged as _};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::certificate::Cert;
use super::keys::{Hash, Verifier};
use crate::time::{UnixTime, parse_rfc3339};

pub(crate) const SIGNED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub(crate) const TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
pub(crate) const CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub(crate) const MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub(crate) const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
/// ETSI EN 319 422 baseline time-stamp policy: a token under it without an accuracy is
/// accurate to one second (what tspclient-go assumes).
const BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

#[derive(Sequence)]
pub(crate) struct MessageImprint {
    pub(crate) hash_algorithm: AlgorithmIdentifierOwned,
    pub(crate) hashed_message: OctetString,
}

#[derive(Sequence)]
pub(crate) struct Accuracy {
    #[asn1(optional = "true")]
    pub(crate) seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) micros: Option<u16>,
}

#[derive(Sequence)]
pub(crate) struct TstInfo {
    pub(crate) version: u8,
    pub(crate) policy: ObjectIdentifier,
    pub(crate) message_imprint: MessageImprint,
    pub(crate) serial_number: der::asn1::Int,
    pub(crate) gen_time: Any,
    #[asn1(optional = "true")]
    pub(crate) accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub(crate) ordering: bool,
    #[asn1(optional = "true")]
    pub(crate) nonce: Option<der::asn1::Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) extensions: Option<x509_cert::ext::Extensions>,
}

#[derive(Sequence)]
pub(crate) struct SigningCertificateV2 {
    pub(crate) certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub(crate) policies: Option<Any>,
}

#[derive(Sequence)]
pub(crate) struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub(crate) hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub(crate) cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub(crate) issuer_serial: Option<Any>,
}

/// Why a token cannot be read, or is not over the message given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not a SignedData `TSTInfo` with one signer; which part.
    Malformed(&'static str),
    /// The imprint's hash algorithm is not SHA-256, SHA-384 or SHA-512.
    ImprintAlgorithm,
    /// The imprint is not the hash of the message.
    ImprintMismatch,
}

/// Why the signer's signed attributes or signature do not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignerError {
    /// The signed attributes lack the content type or the digest of the `TSTInfo`, or use
    /// an unknown digest.
    SignedAttributes,
    /// `signingCertificateV2` is missing where required, or names another certificate.
    SigningCertificate,
    /// The signature over the signed attributes does not verify, or uses an unknown algorithm.
    Signature,
}

/// `genTime`: whole seconds and the microseconds after them (finer fractions are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GenTime {
    pub at: UnixTime,
    pub micros: u32,
}

/// A parsed token: what the checks need.
pub(crate) struct Token {
    pub signed_data: SignedData,
    pub signer: SignerInfo,
    /// The DER `TSTInfo`, as signed.
    tst_der: Vec<u8>,
    pub tst: TstInfo,
    pub gen_time: GenTime,
}

impl Token {
    /// Reads the token `info` and checks that its imprint is of `message`.
    pub(crate) fn parse(info: &ContentInfo, message: &[u8]) -> Result<Self, TokenError> {
        let malformed = TokenError::Malformed;
        if info.content_type != SIGNED_DATA {
            return Err(malformed("the token is not SignedData"));
        }
        let signed_data: SignedData = info
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
        check_imprint(&tst.message_imprint, message)?;
        let gen_time = generalized_time(&tst.gen_time).ok_or(malformed("genTime"))?;
        let mut signers = signed_data.signer_infos.0.iter();
        let signer = signers.next().ok_or(malformed("no signer"))?.clone();
        if signers.next().is_some() {
            return Err(malformed("more than one signer"));
        }
        Ok(Self {
            signed_data,
            signer,
            tst_der,
            tst,
            gen_time,
        })
    }

    /// The token's accuracy in microseconds, as tspclient-go reads it: the sum of its parts,
    /// or one second under the baseline policy when it gives none.
    /// The X.509 certificates the token embeds (other certificate choices skipped).
    pub(crate) fn embedded(&self) -> impl Iterator<Item = &x509_cert::Certificate> {
        let choices = self
            .signed_data
            .certificates
            .iter()
            .flat_map(|set| set.0.iter());
        choices.filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
    }

    pub(crate) fn accuracy_micros(&self) -> u64 {
        let (seconds, millis, micros) = self.tst.accuracy.as_ref().map_or((0, 0, 0), |a| {
            (
                a.seconds.unwrap_or(0),
                a.millis.unwrap_or(0),
                a.micros.unwrap_or(0),
            )
        });
        if seconds == 0 && millis == 0 && micros == 0 && self.tst.policy == BASELINE_POLICY {
            return 1_000_000;
        }
        seconds
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(millis) * 1000)
            .saturating_add(u64::from(micros))
    }

    /// The signed attributes hold the content type and the digest of the `TSTInfo`;
    /// `signingCertificateV2` (required if `ess_required`) names the signing certificate
    /// `signing_der`; the signature over the attributes verifies with its `key`.
    pub(crate) fn check_signer(
        &self,
        key: &Verifier,
        signing_der: &[u8],
        ess_required: bool,
    ) -> Result<(), SignerError> {
        let signer = &self.signer;
        let attributes = signer
            .signed_attrs
            .as_ref()
            .ok_or(SignerError::SignedAttributes)?;
        let digest = digest_hash(&signer.digest_alg.oid).ok_or(SignerError::SignedAttributes)?;
        let single = |oid: ObjectIdentifier| {
            let mut found = attributes.iter().filter(|a| a.oid == oid);
            let first = found.next();
            match (first, found.next()) {
                (Some(a), None) if a.values.len() == 1 => a.values.iter().next(),
                _ => None,
            }
        };
        let content_type =
            single(CONTENT_TYPE).and_then(|v| v.decode_as::<ObjectIdentifier>().ok());
        let message_digest = single(MESSAGE_DIGEST).and_then(|v| v.decode_as::<OctetString>().ok());
        if content_type != Some(TST_INFO)
            || message_digest.is_none_or(|d| d.as_bytes() != digest.digest(&self.tst_der))
        {
            return Err(SignerError::SignedAttributes);
        }
        if ess_required || attributes.iter().any(|a| a.oid == SIGNING_CERTIFICATE_V2) {
            let value = single(SIGNING_CERTIFICATE_V2).ok_or(SignerError::SigningCertificate)?;
            check_signing_certificate(value, signing_der)?;
        }
        let hash = signature_hash(&signer.signature_algorithm.oid, digest)
            .ok_or(SignerError::Signature)?;
        let signed = attributes.to_der().map_err(|_| SignerError::Signature)?;
        if key.verify(hash, &signed, signer.signature.as_bytes()) {
            Ok(())
        } else {
            Err(SignerError::Signature)
        }
    }
}

fn check_imprint(imprint: &MessageImprint, message: &[u8]) -> Result<(), TokenError> {
    let hash = digest_hash(&imprint.hash_algorithm.oid).ok_or(TokenError::ImprintAlgorithm)?;
    if hash.digest(message) != imprint.hashed_message.as_bytes() {
        return Err(TokenError::ImprintMismatch);
    }
    Ok(())
}

pub(crate) fn digest_hash(oid: &ObjectIdentifier) -> Option<Hash> {
    match oid.to_string().as_str() {
        "2.16.840.1.101.3.4.2.1" => Some(Hash::Sha256),
        "2.16.840.1.101.3.4.2.2" => Some(Hash::Sha384),
        "2.16.840.1.101.3.4.2.3" => Some(Hash::Sha512),
        _ => None,
    }
}

/// `YYYYMMDDHHMMSS[.fff…]Z`, read by the one date parser of the core, with its fraction.
pub(crate) fn generalized_time(any: &Any) -> Option<GenTime> {
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
    let at = parse_rfc3339(&rfc3339).filter(|_| rest.ends_with('Z'))?;
    // The parser checked the fraction's digits; only the first six count here.
    let fraction = rest.strip_prefix('.').unwrap_or("").trim_end_matches('Z');
    let micros = fraction
        .bytes()
        .chain(core::iter::repeat(b'0'))
        .take(6)
        .fold(0u32, |n, digit| {
            n * 10 + u32::from(digit.saturating_sub(b'0'))
        });
    Some(GenTime { at, micros })
}

/// Whether the SignerInfo's identifier names `cert`.
pub(crate) fn names(sid: &SignerIdentifier, cert: &Cert) -> bool {
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

/// ESS `signingCertificateV2` (RFC 5035): its first certificate hash is the signer's.
fn check_signing_certificate(value: &Any, signing_der: &[u8]) -> Result<(), SignerError> {
    let ess: SigningCertificateV2 = value
        .decode_as()
        .map_err(|_| SignerError::SigningCertificate)?;
    let first = ess.certs.first().ok_or(SignerError::SigningCertificate)?;
    let hash = match &first.hash_algorithm {
        Some(algorithm) => digest_hash(&algorithm.oid).ok_or(SignerError::SigningCertificate)?,
        None => Hash::Sha256,
    };
    if hash.digest(signing_der) != first.cert_hash.as_bytes() {
        return Err(SignerError::SigningCertificate);
    }
    Ok(())
}

/// The digest of a SignerInfo's signature: named by its algorithm (ecdsa-with-SHA256, …) or,
/// for a bare key algorithm (id-ecPublicKey, rsaEncryption), the SignerInfo's digest.
pub(crate) fn signature_hash(oid: &ObjectIdentifier, digest: Hash) -> Option<Hash> {
    match oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" | "1.2.840.113549.1.1.11" => Some(Hash::Sha256),
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => Some(Hash::Sha384),
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => Some(Hash::Sha512),
        "1.2.840.10045.2.1" | "1.2.840.113549.1.1.1" | "1.3.101.112" => Some(digest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generalized(text: &str) -> Option<GenTime> {
        let any = Any::new(Tag::GeneralizedTime, text.as_bytes()).ok()?;
        generalized_time(&any)
    }

    #[test]
    fn gen_time_may_have_a_fraction_and_must_be_utc() {
        let at = parse_rfc3339("2025-06-12T12:02:20Z").expect("date");
        assert_eq!(
            generalized("20250612120220Z"),
            Some(GenTime { at, micros: 0 })
        );
        assert_eq!(
            generalized("20250612120220.123Z"),
            Some(GenTime {
                at,
                micros: 123_000
            })
        );
        assert_eq!(
            generalized("20250612120220.1234567Z"),
            Some(GenTime {
                at,
                micros: 123_456
            })
        );
        assert_eq!(generalized("20250612120220"), None);
        assert_eq!(generalized("20250612120220+01:00"), None);
        assert_eq!(generalized("2025061212022Z"), None);
    }

    #[test]
    fn unknown_algorithms_are_refused() {
        let md5 = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
        assert_eq!(digest_hash(&md5), None);
        let sha1_rsa = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
        assert_eq!(signature_hash(&sha1_rsa, Hash::Sha256), None);
    }
}
