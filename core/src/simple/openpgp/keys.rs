//! Which keys of a keyring may sign at a given time. rPGP parses keys but leaves expiry,
//! revocation and key flags to the caller; this is that caller. Only self-signatures that
//! verify count: third-party certifications and unverifiable packets are ignored, never trusted.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use pgp::composed::{SignedPublicKey, SignedPublicSubKey};
use pgp::packet::{PublicKey, PublicSubkey, Signature, SignatureType};
use pgp::types::{KeyDetails, KeyId, Tag, VerifyingKey};

use super::{Keyring, fingerprint, hex_upper};
use crate::time::UnixTime;

/// A primary key or subkey, and why it may not sign now (`None`: it may).
pub struct SigningKey<'a> {
    pub key: &'a dyn VerifyingKey,
    packet: KeyPacket<'a>,
    pub fingerprint: String,
    key_id: KeyId,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    pub problem: Option<String>,
}

/// The key by its packet type, which `Signature::verify` needs.
#[derive(Clone, Copy)]
enum KeyPacket<'a> {
    Primary(&'a PublicKey),
    Subkey(&'a PublicSubkey),
}

impl SigningKey<'_> {
    /// Verifies `signature` over the signed `data` itself: the way for V3 signatures, which
    /// rPGP's message reader does not verify after a one-pass header.
    pub(super) fn verify_detached(&self, signature: &Signature, data: &[u8]) -> Result<(), String> {
        let result = match self.packet {
            KeyPacket::Primary(key) => signature.verify(key, data),
            KeyPacket::Subkey(key) => signature.verify(key, data),
        };
        result.map_err(|e| e.to_string())
    }

    /// Whether `signature` names this key as its issuer. A signature that names no issuer
    /// could be from any key, so every key is tried.
    pub fn issued(&self, signature: &Signature) -> bool {
        let fingerprints = signature.issuer_fingerprint();
        let ids = signature.issuer_key_id();
        if fingerprints.is_empty() && ids.is_empty() {
            return true;
        }
        fingerprints
            .iter()
            .any(|f| hex_upper(f.as_bytes()) == self.fingerprint)
            || ids.iter().any(|id| **id == self.key_id)
    }
}

/// Every primary key and subkey of the keyring, each with its problem if it may not sign.
pub fn usable(keyring: &Keyring, now: UnixTime) -> Vec<SigningKey<'_>> {
    let mut out = Vec::new();
    for key in &keyring.keys {
        let primary = primary_problem(key, now);
        let cannot_sign = || {
            let flags = latest_self_signature(key).map(|s| s.key_flags().sign());
            (flags != Some(true)).then(|| String::from("is not allowed to sign (key flags)"))
        };
        out.push(SigningKey {
            key: &key.primary_key,
            packet: KeyPacket::Primary(&key.primary_key),
            fingerprint: fingerprint(&key.primary_key),
            key_id: key.primary_key.legacy_key_id(),
            created: secs(&key.primary_key),
            problem: primary.clone().or_else(cannot_sign),
        });
        for subkey in &key.public_subkeys {
            let problem = match &primary {
                Some(p) => Some(format!("belongs to a primary key that {p}")),
                None => subkey_problem(&key.primary_key, subkey, now),
            };
            out.push(SigningKey {
                key: &subkey.key,
                packet: KeyPacket::Subkey(&subkey.key),
                fingerprint: fingerprint(&subkey.key),
                key_id: subkey.key.legacy_key_id(),
                created: secs(&subkey.key),
                problem,
            });
        }
    }
    out
}

/// Why the primary key may not be used at all: revoked, expired, or no valid self-signature.
fn primary_problem(key: &SignedPublicKey, now: UnixTime) -> Option<String> {
    let primary = &key.primary_key;
    let revoked = key
        .details
        .revocation_signatures
        .iter()
        .any(|s| s.verify_key(primary).is_ok());
    if revoked {
        return Some("is revoked".into());
    }
    let Some(latest) = latest_self_signature(key) else {
        return Some("has no valid self-signature".into());
    };
    expired(secs(primary), latest, now)
}

/// The newest verified self-signature: a user ID certification or a direct-key signature.
fn latest_self_signature(key: &SignedPublicKey) -> Option<&Signature> {
    let primary = &key.primary_key;
    let certifications = key.details.users.iter().flat_map(|user| {
        user.signatures.iter().filter(move |s| {
            is_from(s, primary)
                && s.verify_certification(primary, Tag::UserId, &user.id)
                    .is_ok()
        })
    });
    let direct = key
        .details
        .direct_signatures
        .iter()
        .filter(|s| is_from(s, primary) && s.verify_key(primary).is_ok());
    certifications.chain(direct).max_by_key(|s| created(s))
}

/// Why a subkey may not sign: revoked, no valid binding, not for signing, or expired.
fn subkey_problem(
    primary: &PublicKey,
    subkey: &SignedPublicSubKey,
    now: UnixTime,
) -> Option<String> {
    let of_type = |t: SignatureType| {
        subkey.signatures.iter().filter(move |s| {
            s.typ() == Some(t) && s.verify_subkey_binding(primary, &subkey.key).is_ok()
        })
    };
    if of_type(SignatureType::SubkeyRevocation).next().is_some() {
        return Some("is revoked".into());
    }
    let Some(binding) = of_type(SignatureType::SubkeyBinding).max_by_key(|s| created(s)) else {
        return Some("has no valid binding signature".into());
    };
    if !binding.key_flags().sign() {
        return Some("is not allowed to sign (key flags)".into());
    }
    // A signing subkey must sign the primary back, or anyone could claim someone's subkey.
    let backed = binding
        .embedded_signature()
        .is_some_and(|b| b.verify_primary_key_binding(&subkey.key, primary).is_ok());
    if !backed {
        return Some("has no valid primary key binding (back-signature)".into());
    }
    expired(secs(&subkey.key), binding, now)
}

fn expired(created: u64, signature: &Signature, now: UnixTime) -> Option<String> {
    let lifetime = u64::from(signature.key_expiration_time()?.as_secs());
    let end = created.saturating_add(lifetime);
    (lifetime != 0 && end <= now.0).then(|| format!("expired at @{end}"))
}

fn is_from(signature: &Signature, key: &PublicKey) -> bool {
    let fingerprint = key.fingerprint();
    let id = key.legacy_key_id();
    signature
        .issuer_fingerprint()
        .iter()
        .any(|f| **f == fingerprint)
        || signature.issuer_key_id().iter().any(|k| **k == id)
}

fn created(signature: &Signature) -> u32 {
    signature.created().map_or(0, |t| t.as_secs())
}

fn secs(key: &impl KeyDetails) -> u64 {
    u64::from(key.created_at().as_secs())
}
