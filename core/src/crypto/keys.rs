//! Public keys that check signatures: P-256 ECDSA, RSA (2048..=8192 bits) and Ed25519, read
//! from a DER SubjectPublicKeyInfo, within a size bound checked before any parsing.

use der::Decode as _;
use der::asn1::ObjectIdentifier;
use rsa::traits::PublicKeyParts as _;
use spki::SubjectPublicKeyInfoOwned;

use super::KeyProblem;
use crate::limits::{MAX_KEY_BYTES, RSA_BITS};

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A public key that can check signatures.
#[derive(Debug, Clone)]
pub(crate) enum Verifier {
    Ecdsa(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Refuses a key over [`MAX_KEY_BYTES`] before it is decoded.
pub(crate) fn bounded(bytes: &[u8]) -> Result<(), KeyProblem> {
    if bytes.len() > MAX_KEY_BYTES {
        return Err(KeyProblem::TooLarge {
            bytes: bytes.len(),
            limit: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

/// A verifier from a DER SubjectPublicKeyInfo.
pub(crate) fn verifier_from_der(der: &[u8]) -> Result<Verifier, KeyProblem> {
    let spki = SubjectPublicKeyInfoOwned::from_der(der).map_err(|_| KeyProblem::Der)?;
    verifier_from_spki(&spki)
}

/// A verifier from a SubjectPublicKeyInfo: P-256 ECDSA, RSA (2048..=8192 bits) or Ed25519.
pub(crate) fn verifier_from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Verifier, KeyProblem> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyProblem::Encoding)?;
    let algorithm = &spki.algorithm;
    if algorithm.oid == EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = algorithm
            .parameters
            .as_ref()
            .ok_or(KeyProblem::Algorithm)?
            .decode_as()
            .map_err(|_| KeyProblem::Algorithm)?;
        if curve != SECP256R1 {
            return Err(KeyProblem::Algorithm);
        }
        let key =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(bits).map_err(|_| KeyProblem::Encoding)?;
        Ok(Verifier::Ecdsa(key))
    } else if algorithm.oid == RSA_ENCRYPTION {
        rsa_verifier(bits)
    } else if algorithm.oid == ED25519 {
        ed25519_verifier(bits)
    } else {
        Err(KeyProblem::Algorithm)
    }
}

/// PKCS#1 `RSAPublicKey` → key. Parsed by hand from its two integers because
/// `RsaPublicKey::try_from(spki)` caps the modulus at 4096 bits.
fn rsa_verifier(pkcs1: &[u8]) -> Result<Verifier, KeyProblem> {
    let key = rsa::pkcs1::RsaPublicKey::from_der(pkcs1).map_err(|_| KeyProblem::Der)?;
    let n = rsa::BigUint::from_bytes_be(key.modulus.as_bytes());
    let e = rsa::BigUint::from_bytes_be(key.public_exponent.as_bytes());
    let key = rsa::RsaPublicKey::new_with_max_size(n, e, *RSA_BITS.end())
        .map_err(|_| KeyProblem::RsaSize)?;
    if !RSA_BITS.contains(&key.n().bits()) {
        return Err(KeyProblem::RsaSize);
    }
    Ok(Verifier::Rsa(key))
}

/// A raw 32-byte Ed25519 key.
pub(crate) fn ed25519_verifier(raw: &[u8]) -> Result<Verifier, KeyProblem> {
    let bytes: &[u8; 32] = raw.try_into().map_err(|_| KeyProblem::Encoding)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyProblem::Encoding)?;
    Ok(Verifier::Ed25519(key))
}
