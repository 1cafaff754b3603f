//! The bundle's signature over the artifact, checked with the signer's key.

use core::fmt;

use super::dsse::{self, INTOTO_PAYLOAD_TYPE, StatementError};
use super::{Envelope, MessageSignature, SHA2_256};
use crate::crypto::KeyProblem;
use crate::crypto::keys::{Hash, Verifier};

/// Why the bundle's content does not stand for the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentError {
    /// `messageDigest` is not a SHA-256 digest, or not the artifact's.
    DigestMismatch,
    /// The signature does not verify with the signer's key.
    Signature,
    /// An Ed25519 key with a message signature: Ed25519 signs the artifact's bytes, which a
    /// digest cannot stand for.
    Ed25519MessageSignature,
    /// A DSSE payload type other than in-toto's.
    PayloadType(alloc::string::String),
    /// The in-toto statement does not name the artifact.
    Statement(StatementError),
    /// The key given is not a usable public key.
    Key(KeyProblem),
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DigestMismatch => {
                f.write_str("the bundle's message digest is not the artifact's SHA-256 digest")
            }
            Self::Signature => f.write_str("the bundle's signature does not verify with the key"),
            Self::Ed25519MessageSignature => f.write_str(
                "an Ed25519 message signature cannot be checked against the artifact's digest",
            ),
            Self::PayloadType(kind) => write!(f, "DSSE payload type {kind:?} is not in-toto's"),
            Self::Statement(error) => write!(f, "{error}"),
            Self::Key(problem) => write!(f, "the signer's key is not usable: {problem}"),
        }
    }
}

impl core::error::Error for ContentError {}

pub(super) fn check_message(
    message: &MessageSignature,
    artifact_sha256: &[u8; 32],
    key: &Verifier,
) -> Result<(), ContentError> {
    if let Some(digest) = &message.digest
        && (digest.algorithm != SHA2_256 || digest.digest != artifact_sha256)
    {
        return Err(ContentError::DigestMismatch);
    }
    if matches!(key, Verifier::Ed25519(_)) {
        return Err(ContentError::Ed25519MessageSignature);
    }
    if !key.verify_prehashed(Hash::Sha256, artifact_sha256, &message.signature) {
        return Err(ContentError::Signature);
    }
    Ok(())
}

pub(super) fn check_envelope(
    envelope: &Envelope,
    artifact_sha256: &[u8; 32],
    key: &Verifier,
) -> Result<(), ContentError> {
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(ContentError::PayloadType(envelope.payload_type.clone()));
    }
    let encoded = dsse::pae(&envelope.payload_type, &envelope.payload);
    if !key.verify(envelope_hash(key), &encoded, &envelope.signature) {
        return Err(ContentError::Signature);
    }
    dsse::check_statement(&envelope.payload, artifact_sha256).map_err(ContentError::Statement)
}

/// The digest a key signs an envelope with: Sigstore's defaults per key type.
fn envelope_hash(key: &Verifier) -> Hash {
    match key {
        Verifier::EcdsaP384(_) => Hash::Sha384,
        Verifier::EcdsaP521(_) => Hash::Sha512,
        Verifier::Ecdsa(_) | Verifier::Rsa(_) => Hash::Sha256,
        // Nominal: pure Ed25519 hashes the message with SHA-512 itself, and ignores this.
        Verifier::Ed25519(_) => Hash::Sha512,
    }
}
