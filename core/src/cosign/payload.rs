//! The cosign payload: sigstore's `SimpleContainerImage`, what `cosign sign` signs.
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"registry/repo"},
//!   "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},
//!  "optional":null}
//! ```

use alloc::string::String;

use serde::Deserialize;

use crate::json::Object;
use crate::reference::{Digest, ImageRef};
use crate::simple::payload;

/// The `critical.type` cosign writes.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// Most bytes of payload accepted, the same bound as for containers' payloads (cosign's are a
/// few hundred bytes, a few KiB with `-a` annotations).
pub use crate::limits::MAX_PAYLOAD;

/// The critical section of a verified payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignPayload {
    /// `critical.identity.docker-reference`: the repository cosign signed for, normalised.
    pub identity: ImageRef,
    /// `critical.image.docker-manifest-digest`.
    pub digest: Digest,
}

pub use crate::simple::payload::PayloadError;

// Unknown fields are ignored at every level, as cosign's Go decoder ignores them: a payload
// cosign verifies is not refused here for a field a newer cosign added. `optional` is
// free-form (`cosign sign -a`) and never trusted.
#[derive(Deserialize)]
struct Raw {
    critical: Object<Critical>,
}

#[derive(Deserialize)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    identity: Object<Identity>,
    image: Object<Image>,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl CosignPayload {
    /// Parses the signed bytes. Call only on bytes whose signature verified.
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        let critical = payload::read::<Raw>(bytes)?.critical.0;
        let (identity, digest) = payload::checked(
            critical.kind,
            SIGNATURE_TYPE,
            critical.identity.0.docker_reference,
            critical.image.0.docker_manifest_digest,
        )?;
        Ok(Self { identity, digest })
    }
}
