//! X.509 certificates as chains use them: the exact signed bytes, the extensions, the CA
//! constraints, and whether one certificate signed another. Shared by Sigstore (Fulcio and
//! timestamp authorities) and Notation (code-signing and timestamping chains); what makes a
//! leaf acceptable is each format's own rule.
//!
//! Hand-written because no no_std crate builds X.509 paths (webpki and rustls-webpki check
//! TLS server names and refuse the code-signing profile); the chains here are short and fixed,
//! so there is no path search.

use alloc::string::ToString as _;
use alloc::vec::Vec;
use core::fmt;

use der::asn1::BitString;
use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _, Header, Reader as _, SliceReader};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::KeyProblem;
use super::keys::{self, Hash, Verifier};
use crate::time::{Rfc3339, UnixTime};

pub(crate) const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
pub(crate) const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
pub(crate) const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// The critical extensions whose meaning is checked (SAN: read as the identity).
const UNDERSTOOD: [ObjectIdentifier; 4] = [
    KEY_USAGE,
    SUBJECT_ALT_NAME,
    BASIC_CONSTRAINTS,
    EXTENDED_KEY_USAGE,
];
pub(crate) const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
pub(crate) const TIME_STAMPING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// Why one certificate authority does not sign the leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate of the authority is not DER X.509.
    Malformed { index: usize },
    /// The certificate's issuer is not the subject of the next one up.
    IssuerName { index: usize },
    /// The certificate is not a CA, lacks `keyCertSign`, or its path length is too short.
    NotCa { index: usize, why: &'static str },
    /// The certificate is not valid at the signing time.
    NotValidAt {
        index: usize,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    /// A signature algorithm other than ECDSA, RSA PKCS#1 v1.5 (SHA-2) or Ed25519, or not the
    /// one the issuer's key can make.
    Algorithm { index: usize },
    /// The signature over the certificate below `index` does not verify with its key.
    Signature { index: usize },
    /// A critical extension that is not checked.
    CriticalExtension { index: usize },
    /// The issuer's key is not usable.
    Key { index: usize, problem: KeyProblem },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { index } => write!(f, "certificate {index} does not parse"),
            Self::IssuerName { index } => write!(
                f,
                "certificate {index} is not named as the issuer of the one below it"
            ),
            Self::NotCa { index, why } => write!(f, "certificate {index} {why}"),
            Self::NotValidAt {
                index,
                not_before,
                not_after,
            } => write!(
                f,
                "certificate {index} is valid from {} to {}, not at the signing time",
                Rfc3339(*not_before),
                Rfc3339(*not_after)
            ),
            Self::Algorithm { index } => write!(
                f,
                "the signature algorithm of the certificate below {index} is not supported by its key"
            ),
            Self::Signature { index } => write!(
                f,
                "the signature of certificate {index} over the one below it does not verify"
            ),
            Self::CriticalExtension { index } => write!(
                f,
                "certificate {index} has a critical extension that is not checked"
            ),
            Self::Key { index, problem } => write!(f, "certificate {index}: {problem}"),
        }
    }
}

impl core::error::Error for ChainError {}

/// A parsed certificate with the exact bytes its signature covers.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub(crate) cert: Certificate,
    /// The `tbsCertificate` as received (re-encoding could differ from what was signed).
    tbs: Vec<u8>,
}

impl Cert {
    pub(crate) fn parse(der: &[u8]) -> Option<Self> {
        keys::bounded(der).ok()?;
        let cert = Certificate::from_der(der).ok()?;
        let tbs = raw_tbs(der)?.to_vec();
        Some(Self { cert, tbs })
    }

    pub(crate) fn not_before(&self) -> UnixTime {
        UnixTime(
            self.cert
                .tbs_certificate
                .validity
                .not_before
                .to_unix_duration()
                .as_secs(),
        )
    }

    pub(crate) fn not_after(&self) -> UnixTime {
        UnixTime(
            self.cert
                .tbs_certificate
                .validity
                .not_after
                .to_unix_duration()
                .as_secs(),
        )
    }

    pub(crate) fn valid_at(&self, at: UnixTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    pub(crate) fn verifier(&self) -> Result<Verifier, KeyProblem> {
        keys::verifier_from_spki(&self.cert.tbs_certificate.subject_public_key_info)
    }

    /// [`Cert::verifier`], P-521 included (Notation's keys).
    pub(crate) fn verifier_with_p521(&self) -> Result<Verifier, KeyProblem> {
        keys::verifier_from_spki_with_p521(&self.cert.tbs_certificate.subject_public_key_info)
    }

    /// The DER SubjectPublicKeyInfo (its SHA-256 is the SCT's issuer key hash).
    pub(crate) fn spki_der(&self) -> Option<Vec<u8>> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .ok()
    }

    /// The extension `oid`'s value; `Err` if it is there twice.
    pub(crate) fn extension(&self, oid: ObjectIdentifier) -> Result<Option<&[u8]>, ()> {
        let mut found = self
            .cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == oid);
        let first = found.next().map(|e| e.extn_value.as_bytes());
        if found.next().is_some() {
            return Err(());
        }
        Ok(first)
    }

    pub(crate) fn decoded<'a, T: der::Decode<'a>>(
        &'a self,
        oid: ObjectIdentifier,
    ) -> Result<Option<T>, ()> {
        self.extension(oid)?
            .map(|value| T::from_der(value).map_err(|_| ()))
            .transpose()
    }

    pub(crate) fn unknown_critical(&self) -> Option<ObjectIdentifier> {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.critical && !UNDERSTOOD.contains(&e.extn_id))
            .map(|e| e.extn_id)
    }

    /// A CA certificate at `index` of a chain, with `below` CA certificates between it and
    /// the leaf; its validity is checked at `at` if given.
    pub(crate) fn check_ca(
        &self,
        index: usize,
        below: usize,
        at: Option<UnixTime>,
    ) -> Result<(), ChainError> {
        if self.unknown_critical().is_some() {
            return Err(ChainError::CriticalExtension { index });
        }
        let malformed = |()| ChainError::Malformed { index };
        let not_ca = |why| ChainError::NotCa { index, why };
        let constraints: BasicConstraints = self
            .decoded(BASIC_CONSTRAINTS)
            .map_err(malformed)?
            .ok_or(not_ca("has no basicConstraints"))?;
        if !constraints.ca {
            return Err(not_ca("is not a CA"));
        }
        if constraints
            .path_len_constraint
            .is_some_and(|len| usize::from(len) < below)
        {
            return Err(not_ca("has a path length too short for the chain below it"));
        }
        let usage: Option<KeyUsage> = self.decoded(KEY_USAGE).map_err(malformed)?;
        if !usage.is_some_and(|u| u.key_cert_sign()) {
            return Err(not_ca("has no keyCertSign key usage"));
        }
        if at.is_some_and(|at| !self.valid_at(at)) {
            return Err(ChainError::NotValidAt {
                index,
                not_before: self.not_before(),
                not_after: self.not_after(),
            });
        }
        Ok(())
    }

    /// Whether `issuer` (at `index` of its chain) names and signed this certificate.
    pub(crate) fn check_signed_by(&self, issuer: &Cert, index: usize) -> Result<(), ChainError> {
        self.check_signed_with(issuer, issuer.verifier(), index)
    }

    /// [`Cert::check_signed_by`], where the issuer's key may be P-521 (Notation's chains).
    pub(crate) fn check_signed_by_with_p521(
        &self,
        issuer: &Cert,
        index: usize,
    ) -> Result<(), ChainError> {
        self.check_signed_with(issuer, issuer.verifier_with_p521(), index)
    }

    fn check_signed_with(
        &self,
        issuer: &Cert,
        key: Result<Verifier, KeyProblem>,
        index: usize,
    ) -> Result<(), ChainError> {
        if self.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
            return Err(ChainError::IssuerName { index });
        }
        let key = key.map_err(|problem| ChainError::Key { index, problem })?;
        let cert = &self.cert;
        verify_signed(
            &key,
            &self.tbs,
            (&cert.signature_algorithm, &cert.tbs_certificate.signature),
            &cert.signature,
        )
        .map_err(|bad| match bad {
            BadSignature::Algorithm => ChainError::Algorithm { index },
            BadSignature::Signature => ChainError::Signature { index },
        })
    }
}

/// Checks that `cas` (leaf-most first) are CAs valid at `at` that sign `below` and each
/// other; `offset` is the index of `cas[0]` in its chain, for errors.
pub(crate) fn check_path(
    below: &Cert,
    cas: &[Cert],
    offset: usize,
    at: UnixTime,
) -> Result<(), ChainError> {
    let mut below = below;
    for (depth, ca) in cas.iter().enumerate() {
        let index = offset + depth;
        ca.check_ca(index, depth, Some(at))?;
        below.check_signed_by(ca, index)?;
        below = ca;
    }
    Ok(())
}

/// Why a signed structure (a certificate, a CRL) does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadSignature {
    /// An algorithm other than ECDSA, RSA PKCS#1 v1.5 (SHA-2) or Ed25519, not the one `key`
    /// makes, or not the same outside and inside the signed part.
    Algorithm,
    Signature,
}

/// Whether `key` made `signature` over the DER `signed`, with `algorithms` the one named beside
/// the signature and the one named inside the signed part: they must agree (RFC 5280 4.1.1.2,
/// 5.1.1.2).
pub(crate) fn verify_signed(
    key: &Verifier,
    signed: &[u8],
    algorithms: (&AlgorithmIdentifierOwned, &AlgorithmIdentifierOwned),
    signature: &BitString,
) -> Result<(), BadSignature> {
    let (outer, inner) = algorithms;
    if outer != inner {
        return Err(BadSignature::Algorithm);
    }
    let hash = signature_hash(outer, key).ok_or(BadSignature::Algorithm)?;
    let signature = signature.as_bytes().ok_or(BadSignature::Signature)?;
    if key.verify(hash, signed, signature) {
        Ok(())
    } else {
        Err(BadSignature::Signature)
    }
}

/// The digest of `algorithm`, if `key` makes that kind of signature.
fn signature_hash(algorithm: &AlgorithmIdentifierOwned, key: &Verifier) -> Option<Hash> {
    let (hash, ecdsa, rsa, ed25519) = match algorithm.oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" => (Hash::Sha256, true, false, false),
        "1.2.840.10045.4.3.3" => (Hash::Sha384, true, false, false),
        "1.2.840.10045.4.3.4" => (Hash::Sha512, true, false, false),
        "1.2.840.113549.1.1.11" => (Hash::Sha256, false, true, false),
        "1.2.840.113549.1.1.12" => (Hash::Sha384, false, true, false),
        "1.2.840.113549.1.1.13" => (Hash::Sha512, false, true, false),
        "1.3.101.112" => (Hash::Sha512, false, false, true),
        _ => return None,
    };
    let fits = match key {
        Verifier::Ecdsa(_) | Verifier::EcdsaP384(_) | Verifier::EcdsaP521(_) => ecdsa,
        Verifier::Rsa(_) => rsa,
        Verifier::Ed25519(_) => ed25519,
    };
    fits.then_some(hash)
}

/// The signed part of a certificate or CRL (the first TLV of its outer SEQUENCE) as it is in
/// `der`: re-encoding it could differ from what was signed.
pub(crate) fn raw_tbs(der: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(der).ok()?;
    Header::decode(&mut reader).ok()?;
    reader.tlv_bytes().ok()
}
