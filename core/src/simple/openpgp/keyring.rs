//! Reading a keyring the way gpg imports one: armoured blocks one after another, binary
//! keyrings concatenated, GnuPG 1 `pubring.gpg` files with their trust packets, and several
//! copies of one key merged into one.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::io::Read;

use pgp::armor::{BlockType, Dearmor};
use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::PacketHeader;
use pgp::types::{KeyDetails, PacketLength, Tag};

use crate::limits::{MAX_KEYRING_KEYS, MAX_KEYRING_SUBKEYS};

const BEGIN: &[u8] = b"-----BEGIN PGP";

/// The distinct public keys of an armoured or binary keyring.
pub(super) fn read(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, String> {
    let mut keys = Keys::default();
    if super::is_armoured(bytes) {
        for block in armour_blocks(bytes) {
            keys.add_binary(&dearmor(block)?)?;
        }
    } else {
        keys.add_binary(bytes)?;
    }
    if keys.keys.is_empty() {
        return Err("no public keys".into());
    }
    Ok(keys.keys)
}

#[derive(Default)]
struct Keys {
    keys: Vec<SignedPublicKey>,
    /// Certificates and subkeys read so far, before merging.
    read: usize,
    subkeys: usize,
}

impl Keys {
    fn add_binary(&mut self, bytes: &[u8]) -> Result<(), String> {
        let packets = without_trust_packets(bytes);
        let parsed =
            SignedPublicKey::from_bytes_many(packets.as_slice()).map_err(|e| e.to_string())?;
        for key in parsed {
            self.read += 1;
            if self.read > MAX_KEYRING_KEYS {
                return Err(format!("more than {MAX_KEYRING_KEYS} keys"));
            }
            self.add(key.map_err(|e| e.to_string())?)?;
        }
        Ok(())
    }

    /// Adds a key, or merges it into the copy already read.
    fn add(&mut self, key: SignedPublicKey) -> Result<(), String> {
        // Counted before merging, so that merging (which compares subkeys) stays bounded.
        self.subkeys += key.public_subkeys.len();
        if self.subkeys > MAX_KEYRING_SUBKEYS {
            return Err(format!("more than {MAX_KEYRING_SUBKEYS} subkeys"));
        }
        let fingerprint = key.primary_key.fingerprint();
        let known = self
            .keys
            .iter_mut()
            .find(|k| k.primary_key.fingerprint() == fingerprint);
        match known {
            Some(known) => merge(known, key),
            None => self.keys.push(key),
        }
        Ok(())
    }
}

/// Folds another copy of a key into `known`, as gpg does on import: every signature of either
/// copy counts, so a revocation in one copy revokes the key (or subkey) for good.
fn merge(known: &mut SignedPublicKey, copy: SignedPublicKey) {
    let details = &mut known.details;
    details
        .revocation_signatures
        .extend(copy.details.revocation_signatures);
    details
        .direct_signatures
        .extend(copy.details.direct_signatures);
    details.users.extend(copy.details.users);
    details.user_attributes.extend(copy.details.user_attributes);
    for subkey in copy.public_subkeys {
        let fingerprint = subkey.key.fingerprint();
        let same = known
            .public_subkeys
            .iter_mut()
            .find(|s| s.key.fingerprint() == fingerprint);
        match same {
            Some(same) => same.signatures.extend(subkey.signatures),
            None => known.public_subkeys.push(subkey),
        }
    }
}

/// The armoured blocks of `bytes`, each from its `-----BEGIN PGP` line to the next one.
fn armour_blocks(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = find(bytes, BEGIN).map(|start| &bytes[start..]);
    core::iter::from_fn(move || {
        let block = rest?;
        let after = block.get(BEGIN.len()..).unwrap_or_default();
        match find(after, BEGIN) {
            Some(next) => {
                let (this, next_block) = block.split_at(BEGIN.len() + next);
                rest = Some(next_block);
                Some(this)
            }
            None => rest.take(),
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The binary contents of one armoured public key block.
fn dearmor(block: &[u8]) -> Result<Vec<u8>, String> {
    let mut dearmor = Dearmor::new(block);
    dearmor.read_header().map_err(|e| e.to_string())?;
    if dearmor.typ != Some(BlockType::PublicKey) {
        return Err("an armoured block is not a public key block".into());
    }
    let mut binary = Vec::new();
    // Base64 is longer than what it encodes: the block's length bounds the read.
    dearmor
        .take(block.len() as u64)
        .read_to_end(&mut binary)
        .map_err(|e| e.to_string())?;
    Ok(binary)
}

/// `bytes` without its trust packets: GnuPG 1 keyrings keep local trust data after keys,
/// user IDs and signatures; gpg skips it, rPGP's key parser stops at it. Anything that does not
/// frame as packets is left as it is, for rPGP to judge.
fn without_trust_packets(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(length) = packet_length(rest) else {
            out.extend_from_slice(rest);
            break;
        };
        let (packet, after) = rest.split_at(length.0);
        if length.1 != Tag::Trust {
            out.extend_from_slice(packet);
        }
        rest = after;
    }
    out
}

/// The whole length and the tag of the packet `bytes` starts with, when its length is known
/// and within `bytes`.
fn packet_length(bytes: &[u8]) -> Option<(usize, Tag)> {
    let mut reader = bytes;
    let header = PacketHeader::try_from_reader(&mut reader).ok()?;
    let PacketLength::Fixed(body) = header.packet_length() else {
        return None;
    };
    let total = (bytes.len() - reader.len()).checked_add(usize::try_from(body).ok()?)?;
    (total <= bytes.len()).then_some((total, header.tag()))
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use pgp::composed::Deserializable;
    use pgp::packet::SignatureType;
    use pgp::ser::Serialize;

    use super::super::{Keyring, verify};
    use super::{SignedPublicKey, dearmor};
    use crate::time::UnixTime;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/containers-image"
    );

    fn fixture(name: &str) -> alloc::vec::Vec<u8> {
        std::fs::read(alloc::format!("{FIXTURES}/{name}")).expect("fixture")
    }

    /// public-key-with-revoked-subkey.gpg as it was before its subkey was revoked.
    fn before_revocation() -> alloc::vec::Vec<u8> {
        let armoured = fixture("public-key-with-revoked-subkey.gpg");
        let (mut key, _) = SignedPublicKey::from_armor_single(armoured.as_slice()).expect("key");
        for subkey in &mut key.public_subkeys {
            subkey
                .signatures
                .retain(|s| s.typ() != Some(SignatureType::SubkeyRevocation));
        }
        key.to_bytes().expect("serialised")
    }

    #[test]
    fn a_revocation_in_either_copy_of_a_key_holds() {
        let signature = fixture("subkey-revoked.signature");
        let now = UnixTime(1_767_225_600);
        let old = before_revocation();
        let alone = Keyring::parse(&old).expect("keyring");
        assert!(
            verify(&alone, &signature, now).is_ok(),
            "the old copy alone"
        );
        let revoked = fixture("public-key-with-revoked-subkey.gpg");
        let mut binary = old.clone();
        binary.extend(dearmor(&revoked).expect("armoured"));
        for both in [binary, [revoked.clone(), old.clone()].concat()] {
            let keyring = Keyring::parse(&both);
            let why = keyring.map(|k| verify(&k, &signature, now).map(|v| v.signer));
            let why = alloc::format!("{why:?}");
            assert!(why.contains("is revoked"), "{why}");
        }
    }

    #[test]
    fn keys_past_the_limits_are_refused() {
        let pubring = fixture("pubring.gpg");
        // pubring.gpg holds four keys with one subkey each.
        let keys = pubring.repeat(17);
        let why = Keyring::parse(&keys).expect_err("68 keys").to_string();
        assert!(why.contains("more than 64 keys"), "{why}");
        let armoured = fixture("public-key.gpg");
        assert!(Keyring::parse(&armoured.repeat(64)).is_ok());
    }
}
