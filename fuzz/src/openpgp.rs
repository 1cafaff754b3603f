//! Simple signing's OpenPGP envelope: keyring parsing and signature verification
//! (`portieris_core::simple::openpgp`, rPGP underneath).

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;
use portieris_core::simple::openpgp::{Keyring, MAX_KEYRING, MAX_MESSAGE, verify};
use portieris_core::simple::payload::MAX_PAYLOAD;
use portieris_core::time::UnixTime;

/// A message the fixture key `rsa` signed (core/tests/fixtures/simple, made by gpg).
const RSA_RIGHT: &[u8] = include_bytes!("../../core/tests/fixtures/simple/sigs/rsa-right.sig");
/// The primary key fingerprint of that key (core/tests/fixtures/simple/fingerprints.txt).
const RSA_FINGERPRINT: &str = "2AEBD693A7B5E1EFE451B84C27300BBA33D5F884";
/// Times to verify at: after the fixtures were made (2027-01-15), the end of `u32` time, and
/// before any fixture existed.
const NOW: [u64; 3] = [1_800_000_000, u32::MAX as u64, 1_000_000_000];

/// Target `openpgp`: a mode byte (the time to verify at), the keyring's length as two
/// little-endian bytes, the keyring, then the signed message.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((length, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let split = usize::from(u16::from_le_bytes(*length)).min(rest.len());
    let (keyring_bytes, message) = rest.split_at(split);
    let now = UnixTime(NOW[usize::from(mode) % NOW.len()]);

    let Ok(keyring) = Keyring::parse(keyring_bytes) else {
        return;
    };
    assert!(keyring_bytes.len() <= MAX_KEYRING);
    // Every (sub)key fingerprint of the keyring, read directly with rPGP.
    let keys = fingerprints(keyring_bytes);
    for primary in keyring.fingerprints() {
        assert!(keys.contains(&primary), "{primary} is not in the keyring");
    }

    if let Ok(verified) = verify(&keyring, message, now) {
        assert!(
            message.len() <= MAX_MESSAGE,
            "a message over the limit verified"
        );
        assert!(verified.payload.len() <= MAX_PAYLOAD);
        assert!(
            keys.contains(&verified.signer),
            "signed by {}, which is not a key of the keyring {keys:?}",
            verified.signer
        );
    }
    // A message only the fixture key signed verifies only if the keyring holds that key.
    if let Ok(verified) = verify(&keyring, RSA_RIGHT, now) {
        assert_eq!(verified.signer, RSA_FINGERPRINT);
        assert!(
            keys.iter().any(|k| k == RSA_FINGERPRINT),
            "verified without its key"
        );
    }
}

/// Primary key and subkey fingerprints, upper-case hex, as the core names signers.
fn fingerprints(bytes: &[u8]) -> Vec<String> {
    let keys: Vec<SignedPublicKey> = if bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP") {
        match SignedPublicKey::from_armor_many(bytes) {
            Ok((keys, _)) => keys.flatten().collect(),
            Err(_) => Vec::new(),
        }
    } else {
        match SignedPublicKey::from_bytes_many(bytes) {
            Ok(keys) => keys.flatten().collect(),
            Err(_) => Vec::new(),
        }
    };
    let hex = |key: &dyn KeyDetails| -> String {
        key.fingerprint()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    };
    keys.iter()
        .flat_map(|key| {
            std::iter::once(hex(&key.primary_key))
                .chain(key.public_subkeys.iter().map(|s| hex(&s.key)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(keyring: &[u8], message: &[u8]) -> Vec<u8> {
        let length = u16::try_from(keyring.len()).expect("a small keyring");
        [&[0][..], &length.to_le_bytes(), keyring, message].concat()
    }

    #[test]
    fn the_fixture_signature_verifies_with_its_key_at_the_harness_time() {
        let keyring = include_bytes!("../../core/tests/fixtures/simple/keys/rsa.asc");
        let parsed = Keyring::parse(keyring).expect("keyring");
        let verified = verify(&parsed, RSA_RIGHT, UnixTime(NOW[0])).expect("verifies");
        assert_eq!(verified.signer, RSA_FINGERPRINT);
        run(&input(keyring, RSA_RIGHT));
    }

    #[test]
    fn another_key_does_not_verify_the_fixture_signature() {
        let keyring = include_bytes!("../../core/tests/fixtures/simple/keys/other.asc");
        let parsed = Keyring::parse(keyring).expect("keyring");
        assert!(verify(&parsed, RSA_RIGHT, UnixTime(NOW[0])).is_err());
        run(&input(keyring, RSA_RIGHT));
    }
}
