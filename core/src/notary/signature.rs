//! Signature methods, as notary's `signed/verifiers.go` checks them.

use rsa::{Pkcs1v15Sign, Pss};
use sha2::{Digest as _, Sha256};

use crate::crypto::keys::Verifier;

/// Whether `signature` by `key` over `message` is valid for `method` (lower-cased, as
/// notary lower-cases it when decoding):
/// - `ecdsa`: SHA-256, raw `r‖s` of 64 bytes only (notary refuses ASN.1 DER);
/// - `rsapss`: SHA-256, MGF1-SHA-256, salt length exactly 32 (`PSSOptions{SaltLength: 32}`);
/// - `rsapkcs1v15`: SHA-256, PKCS#1 v1.5;
/// - `eddsa`: Ed25519 (strict: no small-order keys or non-canonical points).
///
/// Notary's fifth method, `pycrypto-pkcs#1 pss`, is not accepted: notary's own comment says it
/// never worked.
pub(crate) fn verify(method: &str, key: &Verifier, message: &[u8], signature: &[u8]) -> bool {
    match (method, key) {
        ("ecdsa", Verifier::Ecdsa(key)) => {
            use p256::ecdsa::signature::Verifier as _;
            signature.len() == 64
                && p256::ecdsa::Signature::from_slice(signature)
                    .is_ok_and(|signature| key.verify(message, &signature).is_ok())
        }
        ("rsapss", Verifier::Rsa(key)) => key
            .verify(
                Pss::new_with_salt::<Sha256>(32),
                &Sha256::digest(message),
                signature,
            )
            .is_ok(),
        ("rsapkcs1v15", Verifier::Rsa(key)) => key
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(message),
                signature,
            )
            .is_ok(),
        ("eddsa", Verifier::Ed25519(key)) => ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()),
        _ => false,
    }
}
