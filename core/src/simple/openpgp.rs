//! OpenPGP verification of simple signatures with rPGP, plus the key checks rPGP leaves to its
//! callers: expiry, revocation and the signing key flag, of primary keys and subkeys alike.

mod keyring;
mod keys;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use std::io::{BufReader, Read};

use pgp::composed::{Message, SignedPublicKey};
use pgp::packet::{Signature, SignatureVersion};
use pgp::types::KeyDetails;

use crate::limits::{MAX_PAYLOAD, MAX_PGP_LAYERS, MAX_PGP_SIGNATURES};
use crate::reason::Reason;
use crate::time::UnixTime;

pub use keys::SigningKey;

pub use crate::limits::{MAX_KEYRING, MAX_PGP_MESSAGE as MAX_MESSAGE};

/// Why a keyring or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenPgpError {
    Keyring(String),
    Message(String),
    /// No signature of the message verified with a usable key; one reason per signature.
    NoValidSignature(Vec<String>),
}

impl fmt::Display for OpenPgpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyring(e) => write!(f, "invalid keyring: {e}"),
            Self::Message(e) => write!(f, "invalid signature: {e}"),
            Self::NoValidSignature(reasons) => {
                write!(f, "no valid signature: {}", reasons.join("; "))
            }
        }
    }
}

/// The public keys a `signedBy` requirement trusts: any of them may sign.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// Parses a keyring of one or more public keys as gpg imports it: armoured (one block or
    /// several) or binary (keys concatenated, a GnuPG 1 `pubring.gpg` with trust packets), a
    /// key given twice counting once with the signatures of both copies.
    pub fn parse(bytes: &[u8]) -> Result<Self, OpenPgpError> {
        if bytes.len() > MAX_KEYRING {
            return Err(OpenPgpError::Keyring(format!(
                "{} bytes, more than {MAX_KEYRING}",
                bytes.len()
            )));
        }
        let keys = keyring::read(bytes).map_err(OpenPgpError::Keyring)?;
        Ok(Self { keys })
    }

    /// Fingerprints of the primary keys, upper-case hex, for messages.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| fingerprint(&k.primary_key))
            .collect()
    }
}

/// A signature that verified: the signed bytes and who signed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub payload: Vec<u8>,
    /// Fingerprint of the (sub)key that made the signature.
    pub signer: String,
}

/// Verifies a binary or armoured, compressed or plain signed message against `keyring` at
/// `now`. Every signature in the message is tried; the first that verifies with a usable key
/// wins.
pub fn verify(keyring: &Keyring, message: &[u8], now: UnixTime) -> Result<Verified, OpenPgpError> {
    if message.len() > MAX_MESSAGE {
        return Err(OpenPgpError::Message(format!(
            "{} bytes, more than {MAX_MESSAGE}",
            message.len()
        )));
    }
    let bad = |e: pgp::errors::Error| OpenPgpError::Message(e.to_string());
    let mut message = if is_armoured(message) {
        Message::from_armor(BufReader::new(message)).map_err(bad)?.0
    } else {
        Message::from_bytes(message).map_err(bad)?
    };
    for _ in 0..MAX_PGP_LAYERS {
        if !message.is_compressed() {
            break;
        }
        message = message.decompress().map_err(bad)?;
    }
    let payload = read_bounded(&mut message)?;
    let usable = keys::usable(keyring, now);
    let Message::Signed { reader, .. } = &message else {
        return Err(OpenPgpError::Message("the message is not signed".into()));
    };
    let count = reader.num_signatures();
    if count > MAX_PGP_SIGNATURES {
        return Err(OpenPgpError::Message(format!(
            "{count} signatures, more than {MAX_PGP_SIGNATURES}"
        )));
    }
    let mut reasons = Vec::new();
    for index in 0..count {
        match check_one(&message, index, &payload, &usable, now) {
            Ok(signer) => return Ok(Verified { payload, signer }),
            Err(why) => reasons.push(why),
        }
    }
    if reasons.is_empty() {
        reasons.push("the message has no signatures".into());
    }
    Err(OpenPgpError::NoValidSignature(reasons))
}

/// Reads the literal data, refusing more than [`MAX_PAYLOAD`] (a compression bomb stops there).
fn read_bounded(message: &mut Message<'_>) -> Result<Vec<u8>, OpenPgpError> {
    let mut payload = Vec::new();
    message
        .by_ref()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut payload)
        .map_err(|e| OpenPgpError::Message(e.to_string()))?;
    if payload.len() > MAX_PAYLOAD {
        return Err(OpenPgpError::Message(format!(
            "signed payload larger than {MAX_PAYLOAD} bytes"
        )));
    }
    Ok(payload)
}

/// Signature `index` (over `payload`) against the keys that may sign: the signer's
/// fingerprint, or why not.
fn check_one(
    message: &Message<'_>,
    index: usize,
    payload: &[u8],
    usable: &[SigningKey<'_>],
    now: UnixTime,
) -> Result<String, String> {
    let Message::Signed { reader, .. } = message else {
        return Err("the message is not signed".into());
    };
    let signature = reader
        .signature(index)
        .ok_or_else(|| format!("signature {} is missing", index + 1))?;
    let issuer = issuer(signature);
    check_signature_time(signature, now).map_err(|e| format!("signature by {issuer}: {e}"))?;
    let mut reasons = Vec::new();
    let signed_at = signature.created().map_or(0, |t| u64::from(t.as_secs()));
    for key in usable.iter().filter(|k| k.issued(signature)) {
        if let Some(problem) = &key.problem {
            reasons.push(format!("key {} {problem}", key.fingerprint));
        } else if key.created > signed_at {
            reasons.push(format!(
                "key {} is newer than the signature",
                key.fingerprint
            ));
        } else {
            match verify_with(message, index, signature, payload, key) {
                Ok(()) => return Ok(key.fingerprint.clone()),
                Err(e) => reasons.push(format!("key {}: {e}", key.fingerprint)),
            }
        }
    }
    if reasons.is_empty() {
        return Err(format!("signature by {issuer}: not a key of the keyring"));
    }
    Err(format!("signature by {issuer}: {}", reasons.join(", ")))
}

/// Signature `index` of `message` (`signature`, over `payload`) with `key`. rPGP's message
/// reader refuses a V3 signature after a one-pass header (gpg < 2.1 `--force-v3-sigs` wrote
/// them, and gpg and containers/image accept them), so those are verified over the payload
/// read, which is what they sign.
fn verify_with(
    message: &Message<'_>,
    index: usize,
    signature: &Signature,
    payload: &[u8],
    key: &SigningKey<'_>,
) -> Result<(), String> {
    if matches!(
        signature.version(),
        SignatureVersion::V2 | SignatureVersion::V3
    ) {
        return key.verify_detached(signature, payload);
    }
    message
        .verify_nested_explicit(index, key.key)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A signature must be dated, not in the future, and not expired.
fn check_signature_time(signature: &Signature, now: UnixTime) -> Result<(), String> {
    let created = signature
        .created()
        .map(|t| u64::from(t.as_secs()))
        .ok_or("the signature has no creation time")?;
    if created > now.0 {
        return Err(format!("signed in the future (@{created}, now {now})"));
    }
    if let Some(lifetime) = signature.signature_expiration_time() {
        let secs = u64::from(lifetime.as_secs());
        if secs != 0 && created.saturating_add(secs) <= now.0 {
            return Err(format!("the signature expired at @{}", created + secs));
        }
    }
    Ok(())
}

/// Who a signature says made it: fingerprints, else key IDs.
fn issuer(signature: &Signature) -> String {
    let fingerprints: Vec<String> = signature
        .issuer_fingerprint()
        .iter()
        .map(|f| hex_upper(f.as_bytes()))
        .collect();
    if !fingerprints.is_empty() {
        return fingerprints.join("/");
    }
    let ids: Vec<String> = signature
        .issuer_key_id()
        .iter()
        .map(|k| hex_upper(k.as_ref()))
        .collect();
    if ids.is_empty() {
        "an unnamed key".into()
    } else {
        format!("key ID {}", ids.join("/"))
    }
}

fn fingerprint(key: &impl KeyDetails) -> String {
    hex_upper(key.fingerprint().as_bytes())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn is_armoured(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP")
}

/// Judges the signatures found for `image`, whose registry manifest digest is `digest`: every
/// requirement must be met by at least one signature (verified with a key of its keyring,
/// naming `digest` exactly and an identity its rule accepts). The evidence is `digest`.
pub fn evaluate(
    need: &crate::simple::SimpleNeed,
    image: &crate::reference::ImageRef,
    digest: &crate::reference::Digest,
    signatures: &[Vec<u8>],
    now: UnixTime,
) -> Result<crate::reference::Digest, Reason> {
    if signatures.is_empty() {
        return Err(Reason::refused(format!(
            "no simple signatures found for {image} ({digest})"
        )));
    }
    let failures: Vec<Reason> = need
        .requirements
        .iter()
        .filter_map(|requirement| {
            requirement_holds(requirement, image, digest, signatures, now).err()
        })
        .collect();
    match Reason::join(failures) {
        None => Ok(digest.clone()),
        Some(reason) => Err(reason),
    }
}

/// One `signedBy`: met by the first signature that passes every check, or every reason why not.
fn requirement_holds(
    requirement: &crate::simple::SignedBy,
    image: &crate::reference::ImageRef,
    digest: &crate::reference::Digest,
    signatures: &[Vec<u8>],
    now: UnixTime,
) -> Result<(), Reason> {
    let secret = &requirement.key_secret;
    let keyring = Keyring::parse(&requirement.keyring)
        .map_err(|e| Reason::policy(format!("key Secret \"{secret}\": {e}")))?;
    let mut reasons = Vec::new();
    for (n, signature) in signatures.iter().enumerate() {
        match one_signature(&keyring, requirement, image, digest, signature, now) {
            Ok(()) => return Ok(()),
            Err(why) => reasons.push(format!("signature {}: {why}", n + 1)),
        }
    }
    Err(Reason::refused(format!(
        "no simple signature satisfies signedBy with key Secret \"{secret}\" ({}): {}",
        keyring.fingerprints().join(", "),
        reasons.join("; ")
    )))
}

fn one_signature(
    keyring: &Keyring,
    requirement: &crate::simple::SignedBy,
    image: &crate::reference::ImageRef,
    digest: &crate::reference::Digest,
    signature: &[u8],
    now: UnixTime,
) -> Result<(), String> {
    let verified = verify(keyring, signature, now).map_err(|e| e.to_string())?;
    let payload = crate::simple::Payload::parse(&verified.payload).map_err(|e| e.to_string())?;
    if payload.digest != *digest {
        return Err(format!(
            "signed by {} for digest {}, expected {digest}",
            verified.signer, payload.digest
        ));
    }
    requirement
        .identity
        .check(image, &payload.identity)
        .map_err(|e| format!("signed by {}: {e}", verified.signer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_KEY: &[u8] = include_bytes!("../../tests/fixtures/simple/keys/rsa.asc");
    const RSA_RIGHT: &[u8] = include_bytes!("../../tests/fixtures/simple/sigs/rsa-right.sig");

    #[test]
    fn a_keyring_over_the_limit_is_refused_before_it_is_parsed() {
        // The fixture key, then padding: armour parsers skip trailing text, so only the size
        // check can refuse it.
        let mut bytes = RSA_KEY.to_vec();
        bytes.resize(MAX_KEYRING + 1, b'\n');
        let error = Keyring::parse(&bytes).expect_err("over the limit");
        assert_eq!(
            error.to_string(),
            "invalid keyring: 1048577 bytes, more than 1048576"
        );
    }

    #[test]
    fn a_message_over_the_limit_is_refused_before_it_is_parsed() {
        let keyring = Keyring::parse(RSA_KEY).expect("the fixture keyring");
        let mut message = RSA_RIGHT.to_vec();
        message.resize(MAX_MESSAGE + 1, 0);
        let error = verify(&keyring, &message, UnixTime(1_800_000_000)).expect_err("too large");
        assert_eq!(
            error.to_string(),
            "invalid signature: 65537 bytes, more than 65536"
        );
    }
}
