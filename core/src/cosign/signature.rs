//! The signature of a cosign payload, as sigstore's verifiers check it for a public key:
//! ECDSA P-256 or P-384 (ASN.1 DER, SHA-256; Go's `ecdsa.VerifyASN1`), RSA (PKCS#1 v1.5, SHA-256) and
//! Ed25519 (Ed25519ph over SHA-512, as cosign 2.x signs, or pure Ed25519, as cosign 1.x did).
//! Keys are parsed by `crypto` (`PUBLIC KEY` PEM, P-256 or P-384, RSA 2048..=8192 bits).

use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha512};

use crate::crypto::keys::{Hash, Verifier};
use crate::crypto::{KeyProblem, pem_key};
use crate::limits::MAX_COSIGN_SIGNATURE_BYTES;

/// Why a signature was not accepted. Deliberately says nothing about *how* the cryptography
/// failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The key Secret's PEM is not a usable public key.
    Key(KeyProblem),
    /// The annotation is not standard base64, or is too long.
    Encoding,
    /// The signature does not verify with the key over the payload.
    Invalid,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(problem) => write!(f, "not a usable PEM public key: {problem}"),
            Self::Encoding => write!(
                f,
                "the signature annotation is not base64 of at most {MAX_COSIGN_SIGNATURE_BYTES} bytes"
            ),
            Self::Invalid => f.write_str("the signature does not verify with the key"),
        }
    }
}

impl core::error::Error for SignatureError {}

/// A `PUBLIC KEY` PEM (a certificate is refused: its validity would go unchecked).
pub(super) fn public_key(pem_text: &str) -> Result<Verifier, SignatureError> {
    let (_, key) = pem_key(pem_text).map_err(SignatureError::Key)?;
    if key.cert.is_some() {
        return Err(SignatureError::Key(KeyProblem::Pem));
    }
    Ok(key.verifier)
}

/// Verifies the base64 `signature` over `payload` with the PEM public key `public_key_pem`.
pub fn verify(public_key_pem: &str, payload: &[u8], signature: &str) -> Result<(), SignatureError> {
    check(&public_key(public_key_pem)?, payload, signature)
}

pub(super) fn check(key: &Verifier, payload: &[u8], signature: &str) -> Result<(), SignatureError> {
    if signature.len() > MAX_COSIGN_SIGNATURE_BYTES {
        return Err(SignatureError::Encoding);
    }
    let raw: Vec<u8> = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Encoding)?;
    let valid = match key {
        // cosign loads every `--key` with SHA-256, whatever the curve.
        Verifier::Ecdsa(_) | Verifier::EcdsaP384(_) | Verifier::EcdsaP521(_) | Verifier::Rsa(_) => {
            key.verify(Hash::Sha256, payload, &raw)
        }
        Verifier::Ed25519(key) => ed25519_dalek::Signature::from_slice(&raw).is_ok_and(|s| {
            // cosign 2.x signs Ed25519ph (empty context); older releases signed pure Ed25519.
            // The two are domain-separated, so accepting either admits nothing extra.
            let prehashed = Sha512::new_with_prefix(payload);
            key.verify_prehashed_strict(prehashed, None, &s).is_ok()
                || key.verify_strict(payload, &s).is_ok()
        }),
    };
    if valid {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}
