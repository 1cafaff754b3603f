//! Keys and certificates shared by the formats: PEM as Go reads and writes it, X.509
//! certificates, and the public keys that check signatures. What a format does with a key
//! (Notary's key types and IDs, cosign's signature encodings) stays in the format's module.

pub(crate) mod certificate;
pub(crate) mod keys;
pub(crate) mod memo_key;
pub(crate) mod pem;
pub(crate) mod rfc3161;
pub(crate) mod x509;

use alloc::string::String;
use alloc::vec::Vec;

use self::keys::Verifier;
use self::x509::CertInfo;
use crate::time::UnixTime;

/// Why a key or certificate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyProblem {
    /// A `keytype` notary does not know (or this verifier does not support).
    UnsupportedType(String),
    /// Not PEM, not the PEM block expected, or not in the exact form Go writes.
    Pem,
    /// The DER does not parse (certificate or SubjectPublicKeyInfo).
    Der,
    /// The key's algorithm or curve does not match its type (only P-256 ECDSA is supported).
    Algorithm,
    /// RSA modulus outside 2048..=8192 bits, or a bad exponent.
    RsaSize,
    /// Not a valid point or key encoding.
    Encoding,
    /// The certificate is a CA certificate, where a leaf is needed.
    NotLeaf,
    /// The certificate is signed with SHA-1.
    Sha1Certificate,
    /// The certificate's validity window is not valid at `now` (or is inverted).
    CertificateValidity {
        not_before: UnixTime,
        not_after: UnixTime,
        now: UnixTime,
    },
    /// The key is not a certificate, where one is needed (root keys).
    NotCertificate,
    /// The key or certificate is larger than any key notary writes ([`crate::limits::MAX_KEY_BYTES`]).
    TooLarge { bytes: usize, limit: usize },
}

/// A usable key: its verifier and, when it came as a certificate, the certificate.
#[derive(Debug, Clone)]
pub(crate) struct ParsedKey {
    pub verifier: Verifier,
    pub cert: Option<CertInfo>,
}

/// The first PEM block of `pem_text` as a key, with the block's DER: a `CERTIFICATE` (ECDSA or
/// RSA; no format here has a type for an Ed25519 certificate) or a `PUBLIC KEY`.
pub(crate) fn pem_key(pem_text: &str) -> Result<(Vec<u8>, ParsedKey), KeyProblem> {
    keys::bounded(pem_text.as_bytes())?;
    let block = pem::decode_first(pem_text).ok_or(KeyProblem::Pem)?;
    let key = match block.label.as_str() {
        "CERTIFICATE" => {
            let cert = CertInfo::parse(&block.der)?;
            if matches!(cert.verifier, Verifier::Ed25519(_)) {
                return Err(KeyProblem::Algorithm);
            }
            ParsedKey {
                verifier: cert.verifier.clone(),
                cert: Some(cert),
            }
        }
        "PUBLIC KEY" => ParsedKey {
            verifier: keys::verifier_from_der(&block.der)?,
            cert: None,
        },
        _ => return Err(KeyProblem::Pem),
    };
    Ok((block.der, key))
}

/// Lower-case hex, as key IDs and digests are written.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}
