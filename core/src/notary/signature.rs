//! Signatures as notary checks them: a role's threshold (`signed/verify.go`) and each
//! signature method (`signed/verifiers.go`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;

use rsa::{Pkcs1v15Sign, Pss};
use sha2::{Digest as _, Sha256};

use super::error::NotaryError;
use super::metadata::Envelope;
use crate::crypto::keys::Verifier;

/// Checks `envelope`'s signatures against `keys` (ID → verifier; keys that failed to parse are
/// absent) and returns the IDs of the keys with a valid signature, at least `threshold` of
/// them. Each key counts once, however many signatures carry its ID.
pub(crate) fn verify_threshold(
    envelope: &Envelope,
    keys: &BTreeMap<String, Verifier>,
    threshold: u64,
) -> Result<BTreeSet<String>, NotaryError> {
    let valid = valid_signers(envelope, keys);
    if u64::try_from(valid.len()).unwrap_or(u64::MAX) < threshold {
        return Err(NotaryError::ThresholdNotMet {
            role: envelope.role.clone(),
            valid: valid.len(),
            threshold,
        });
    }
    Ok(valid)
}

/// The IDs of `keys` that produced a valid signature over the envelope.
pub(crate) fn valid_signers(
    envelope: &Envelope,
    keys: &BTreeMap<String, Verifier>,
) -> BTreeSet<String> {
    let mut valid = BTreeSet::new();
    for sig in &envelope.signatures {
        if valid.contains(&sig.key_id) {
            continue;
        }
        let Some(key) = keys.get(&sig.key_id) else {
            continue;
        };
        if verify(&sig.method, key, &envelope.canonical, &sig.bytes) {
            valid.insert(sig.key_id.clone());
        }
    }
    valid
}

/// Whether `signature` by `key` over `message` is valid for `method` (lower-cased, as
/// notary lower-cases it when decoding):
/// - `ecdsa`: SHA-256, raw `r‖s` of 64 bytes only (notary refuses ASN.1 DER);
/// - `rsapss`: SHA-256, MGF1-SHA-256, salt length exactly 32 (`PSSOptions{SaltLength: 32}`);
/// - `rsapkcs1v15`: SHA-256, PKCS#1 v1.5;
/// - `eddsa`: Ed25519 (strict: no small-order keys or non-canonical points).
///
/// Notary's fifth method, `pycrypto-pkcs#1 pss`, is not accepted: notary's own comment says it
/// never worked.
fn verify(method: &str, key: &Verifier, message: &[u8], signature: &[u8]) -> bool {
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
