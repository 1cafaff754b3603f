//! Certificate chains: one certificate signed by the next, names linked, CA constraints and
//! validity at the signing time, up to a certificate authority of the trusted root.
//!
//! Hand-written because no no_std crate builds X.509 paths (webpki and rustls-webpki check
//! TLS server names and refuse the code-signing profile); the chains here are short and fixed
//! by the trusted root, so there is no path search.

use alloc::string::ToString as _;
use alloc::vec::Vec;
use core::fmt;

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _, Header, Reader as _, SliceReader};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use super::{CertificateError, Role};
use crate::crypto::KeyProblem;
use crate::crypto::keys::{self, Hash, Verifier};
use crate::sigstore::trusted_root::{Authority, TrustedRoot};
use crate::time::{Rfc3339, UnixTime};

const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// The critical extensions whose meaning is checked (SAN: read as the identity).
const UNDERSTOOD: [ObjectIdentifier; 4] = [
    KEY_USAGE,
    SUBJECT_ALT_NAME,
    BASIC_CONSTRAINTS,
    EXTENDED_KEY_USAGE,
];
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

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
pub(in crate::sigstore) struct Cert {
    pub(in crate::sigstore) cert: Certificate,
    /// The `tbsCertificate` as received (re-encoding could differ from what was signed).
    tbs: Vec<u8>,
}

impl Cert {
    pub(in crate::sigstore) fn parse(der: &[u8]) -> Option<Self> {
        keys::bounded(der).ok()?;
        let cert = Certificate::from_der(der).ok()?;
        let tbs = raw_tbs(der)?.to_vec();
        Some(Self { cert, tbs })
    }

    pub(in crate::sigstore) fn not_before(&self) -> UnixTime {
        UnixTime(
            self.cert
                .tbs_certificate
                .validity
                .not_before
                .to_unix_duration()
                .as_secs(),
        )
    }

    pub(in crate::sigstore) fn not_after(&self) -> UnixTime {
        UnixTime(
            self.cert
                .tbs_certificate
                .validity
                .not_after
                .to_unix_duration()
                .as_secs(),
        )
    }

    pub(in crate::sigstore) fn valid_at(&self, at: UnixTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    pub(in crate::sigstore) fn verifier(&self) -> Result<Verifier, KeyProblem> {
        keys::verifier_from_spki(&self.cert.tbs_certificate.subject_public_key_info)
    }

    /// The DER SubjectPublicKeyInfo (its SHA-256 is the SCT's issuer key hash).
    pub(in crate::sigstore) fn spki_der(&self) -> Option<Vec<u8>> {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .ok()
    }

    /// The extension `oid`'s value; `Err` if it is there twice.
    pub(in crate::sigstore) fn extension(
        &self,
        oid: ObjectIdentifier,
    ) -> Result<Option<&[u8]>, ()> {
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

    pub(in crate::sigstore) fn decoded<'a, T: der::Decode<'a>>(
        &'a self,
        oid: ObjectIdentifier,
    ) -> Result<Option<T>, ()> {
        self.extension(oid)?
            .map(|value| T::from_der(value).map_err(|_| ()))
            .transpose()
    }

    pub(in crate::sigstore) fn unknown_critical(&self) -> Option<ObjectIdentifier> {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.critical && !UNDERSTOOD.contains(&e.extn_id))
            .map(|e| e.extn_id)
    }

    /// The leaf's own checks: an end entity for code signing, valid at `at`.
    pub(super) fn check_leaf(&self, at: UnixTime) -> Result<(), CertificateError> {
        let malformed = |()| CertificateError::Malformed(Role::Leaf);
        if let Some(oid) = self.unknown_critical() {
            return Err(CertificateError::UnknownCriticalExtension {
                role: Role::Leaf,
                oid: oid.to_string(),
            });
        }
        let constraints: Option<BasicConstraints> =
            self.decoded(BASIC_CONSTRAINTS).map_err(malformed)?;
        if constraints.is_some_and(|c| c.ca) {
            return Err(CertificateError::NotCodeSigning("is a CA certificate"));
        }
        let usage: Option<KeyUsage> = self.decoded(KEY_USAGE).map_err(malformed)?;
        if !usage.is_some_and(|u| u.digital_signature()) {
            return Err(CertificateError::NotCodeSigning(
                "has no digitalSignature key usage",
            ));
        }
        let extended: Option<ExtendedKeyUsage> =
            self.decoded(EXTENDED_KEY_USAGE).map_err(malformed)?;
        if !extended.is_some_and(|e| e.0.contains(&CODE_SIGNING)) {
            return Err(CertificateError::NotCodeSigning(
                "has no codeSigning extended key usage",
            ));
        }
        if !self.valid_at(at) {
            return Err(CertificateError::Expired {
                not_before: self.not_before(),
                not_after: self.not_after(),
                at,
            });
        }
        Ok(())
    }

    /// A CA certificate at `index` of a chain, with `below` CA certificates between it and
    /// the leaf.
    fn check_ca(&self, index: usize, below: usize, at: UnixTime) -> Result<(), ChainError> {
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
        if !self.valid_at(at) {
            return Err(ChainError::NotValidAt {
                index,
                not_before: self.not_before(),
                not_after: self.not_after(),
            });
        }
        Ok(())
    }

    /// Whether `issuer` (at `index` of its chain) names and signed this certificate.
    pub(in crate::sigstore) fn check_signed_by(
        &self,
        issuer: &Cert,
        index: usize,
    ) -> Result<(), ChainError> {
        if self.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
            return Err(ChainError::IssuerName { index });
        }
        let key = issuer
            .verifier()
            .map_err(|problem| ChainError::Key { index, problem })?;
        let hash = signature_hash(&self.cert, &key).ok_or(ChainError::Algorithm { index })?;
        let signature = self
            .cert
            .signature
            .as_bytes()
            .ok_or(ChainError::Signature { index })?;
        if key.verify(hash, &self.tbs, signature) {
            Ok(())
        } else {
            Err(ChainError::Signature { index })
        }
    }
}

/// The digest of `cert`'s signature algorithm, if `key` makes that kind of signature. The
/// outer and inner (`tbsCertificate.signature`) algorithms must agree, as RFC 5280 requires.
fn signature_hash(cert: &Certificate, key: &Verifier) -> Option<Hash> {
    let algorithm = &cert.signature_algorithm;
    if *algorithm != cert.tbs_certificate.signature {
        return None;
    }
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

/// The `tbsCertificate` TLV as it is in `der`.
fn raw_tbs(der: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(der).ok()?;
    Header::decode(&mut reader).ok()?;
    reader.tlv_bytes().ok()
}

/// The first certificate authority of `root` valid at `at` whose chain signs `leaf`, with the
/// certificate that signed the leaf.
pub(super) fn to_root<'r>(
    leaf: &Cert,
    at: UnixTime,
    root: &'r TrustedRoot,
) -> Result<(&'r Authority, Cert), CertificateError> {
    let mut tried = Vec::new();
    for (index, authority) in root.certificate_authorities.iter().enumerate() {
        if !authority.validity.contains(at) {
            continue;
        }
        match signs(authority, leaf, at) {
            Ok(issuer) => return Ok((authority, issuer)),
            Err(e) => tried.push((index, e)),
        }
    }
    if tried.is_empty() {
        return Err(CertificateError::NoAuthorityAt(at));
    }
    Err(CertificateError::Untrusted(tried))
}

/// Whether `authority`'s chain (leaf-most first, ending in its root) signs `leaf` at `at`;
/// the certificate that signed the leaf if so. The root is the trust anchor: its own
/// signature is not what makes it trusted, so it is not checked.
pub(super) fn signs(authority: &Authority, leaf: &Cert, at: UnixTime) -> Result<Cert, ChainError> {
    let chain = authority
        .chain
        .iter()
        .enumerate()
        .map(|(index, der)| Cert::parse(der).ok_or(ChainError::Malformed { index }))
        .collect::<Result<Vec<_>, _>>()?;
    check_path(leaf, &chain, 0, at)?;
    chain
        .into_iter()
        .next()
        .ok_or(ChainError::Malformed { index: 0 })
}

/// Checks that `cas` (leaf-most first) are CAs valid at `at` that sign `below` and each
/// other; `offset` is the index of `cas[0]` in its chain, for errors.
pub(in crate::sigstore) fn check_path(
    below: &Cert,
    cas: &[Cert],
    offset: usize,
    at: UnixTime,
) -> Result<(), ChainError> {
    let mut below = below;
    for (depth, ca) in cas.iter().enumerate() {
        let index = offset + depth;
        ca.check_ca(index, depth, at)?;
        below.check_signed_by(ca, index)?;
        below = ca;
    }
    Ok(())
}
