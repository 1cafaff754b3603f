//! Key-based cosign signatures (sigstore's "simple signing" as `cosign sign --key` makes them):
//! the payload, the signature over it, and the judgement of one image's signatures against the
//! keys a policy requires.
//!
//! Sans-IO: the frontend reads the signature artifact (`sha256-<hex>.sig` in the repository)
//! and hands in each layer's payload bytes with its `dev.cosignproject.cosign/signature`
//! annotation; [`evaluate`] decides.
//!
//! What is checked, for each required key, on at least one signature:
//! 1. the base64 signature verifies over the exact payload bytes with the key (ECDSA P-256
//!    ASN.1 DER over SHA-256, as `cosign generate-key-pair` keys sign; RSA PKCS#1 v1.5 over
//!    SHA-256; Ed25519ph or Ed25519);
//! 2. the payload is a "cosign container image signature" naming the image's digest;
//! 3. its `docker-reference` is the image's repository.
//!
//! cosign itself (`SimpleClaimVerifier`) checks only the digest; the type and identity checks
//! are stricter here on purpose. Like cosign, unknown fields in the payload are ignored.

pub mod artifact;
pub(crate) mod need;
pub mod payload;
mod signature;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub use artifact::{ArtifactError, Layer};
pub use need::{KEY_FIELDS, broken, need};
pub use payload::{CosignPayload, PayloadError};
pub use signature::{SignatureError, verify};

use crate::policy::RemapIdentity;
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::simple::identity::remap as remap_reference;

/// The annotation of a signature layer that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub use crate::limits::MAX_COSIGN_SIGNATURES as MAX_SIGNATURES;

/// One `cosign.requirements` entry with its key Secret resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignKey {
    /// `namespace/name` of the key Secret, for messages.
    pub key_secret: String,
    /// The PEM `PUBLIC KEY` (the content of `cosign.pub`).
    pub public_key_pem: String,
}

/// A cosign check: every key must have signed the image's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignNeed {
    pub keys: Vec<CosignKey>,
    /// `cosign.repository`: where the signatures are stored; `None` means the image's own
    /// repository.
    pub repository: Option<ImageRef>,
    /// `cosign.remapIdentity`: the repository a mirror's images were signed as.
    pub remap: Option<RemapIdentity>,
}

/// One signature layer as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The layer blob: the payload that was signed, byte for byte.
    pub payload: Vec<u8>,
    /// The `dev.cosignproject.cosign/signature` annotation (base64), if the layer has one.
    pub signature: Option<String>,
}

/// Judges the cosign signatures found for `image`, whose manifest digest is `digest`: every
/// key of `need` must have made at least one signature that verifies, names `digest` and
/// names the image's repository. The evidence is `digest`.
pub fn evaluate(
    need: &CosignNeed,
    image: &ImageRef,
    digest: &Digest,
    signatures: &[Signature],
) -> Result<Digest, Reason> {
    if signatures.is_empty() {
        return Err(Reason::refused(format!(
            "no cosign signatures found for {image} ({digest})"
        )));
    }
    let signed_as = signed_as(need, image)?;
    let failures = need
        .keys
        .iter()
        .filter_map(|key| key_holds(key, image, &signed_as, digest, signatures).err());
    match Reason::join(failures) {
        None => Ok(digest.clone()),
        Some(reason) => Err(reason),
    }
}

/// The repository a signature of `image` must name: its own, or where `remapIdentity` says a
/// mirror's images were signed.
fn signed_as(need: &CosignNeed, image: &ImageRef) -> Result<String, Reason> {
    match &need.remap {
        None => Ok(image.name()),
        Some(remap) => remap_reference(image, &remap.prefix, &remap.signed_prefix)
            .map(|signed| signed.name())
            .map_err(|e| Reason::policy(format!("cosign: {e}"))),
    }
}

/// One key: met by the first signature that passes every check, or every reason why not.
fn key_holds(
    key: &CosignKey,
    image: &ImageRef,
    signed_as: &str,
    digest: &Digest,
    signatures: &[Signature],
) -> Result<(), Reason> {
    let secret = &key.key_secret;
    let verifier = signature::public_key(&key.public_key_pem)
        .map_err(|e| Reason::policy(format!("cosign key Secret \"{secret}\": {e}")))?;
    let mut reasons = Vec::new();
    for (n, one) in signatures.iter().enumerate() {
        match one_signature(&verifier, signed_as, digest, one) {
            Ok(()) => return Ok(()),
            Err(why) => reasons.push(format!("signature {}: {why}", n + 1)),
        }
    }
    Err(Reason::refused(format!(
        "no cosign signature of {image} verifies with the key in Secret \"{secret}\": {}",
        reasons.join("; ")
    )))
}

fn one_signature(
    verifier: &crate::crypto::keys::Verifier,
    signed_as: &str,
    digest: &Digest,
    one: &Signature,
) -> Result<(), String> {
    let encoded = one
        .signature
        .as_deref()
        .ok_or_else(|| format!("no {SIGNATURE_ANNOTATION} annotation"))?;
    signature::check(verifier, &one.payload, encoded).map_err(|e| e.to_string())?;
    let payload = CosignPayload::parse(&one.payload).map_err(|e| e.to_string())?;
    if payload.digest != *digest {
        return Err(format!(
            "signed digest {}, expected {digest}",
            payload.digest
        ));
    }
    if payload.identity.name() != signed_as {
        return Err(format!(
            "signed for repository {}, not {signed_as}",
            payload.identity.name(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
