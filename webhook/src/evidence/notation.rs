//! Notation's material: the manifest digest of an image (the one it names, else its tag's on
//! the registry), the manifest itself (Notation signs its media type and size too), and the
//! envelopes of its Notary Project signature referrers (the referrers API, else the
//! `sha256-<hex>` tag schema). The core verifies them.

use std::sync::Arc;

use portieris_core::evidence::{Cause, FetchFailure, Gathered, Material};
use portieris_core::notation::{ENVELOPE_MEDIA_TYPES, SIGNATURE_ARTIFACT_TYPE, Signature};
use portieris_core::{Digest, ImageRef};

use super::failure;
use crate::fetch::docker_config::Credential;
use crate::fetch::referrers::Referrers;
use crate::fetch::registry::Registry;

/// Gathers what a Notation need asks for (every need reads the same: the trust policy is
/// applied in the core), with the pod's pull Secrets' `credentials` for the
/// image's registry.
pub async fn gather(
    registry: &Registry,
    referrers: &Referrers,
    image: &ImageRef,
    credentials: &[Credential],
) -> Gathered {
    let digest = failure::digest(registry, image, credentials).await?;
    let manifest = manifest(registry, image, &digest, credentials).await?;
    let found = referrers
        .fetch(image, &digest, SIGNATURE_ARTIFACT_TYPE, credentials)
        .await?;
    let signatures = found
        .iter()
        .flat_map(|referrer| &referrer.blobs)
        .filter(|blob| ENVELOPE_MEDIA_TYPES.contains(&blob.media_type.as_str()))
        .map(|blob| Signature {
            media_type: blob.media_type.clone(),
            envelope: blob.bytes.clone(),
        })
        .collect();
    Ok(Material::Notation {
        digest,
        manifest,
        signatures,
    })
}

/// The image's manifest as served for `digest` (the core checks that it is).
async fn manifest(
    registry: &Registry,
    image: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Arc<[u8]>, FetchFailure> {
    registry
        .manifest(image, &digest.to_string(), credentials)
        .await
        .map_err(|e| failure::registry(&e))?
        .map(Arc::from)
        .ok_or_else(|| {
            FetchFailure::new(
                Cause::NotFound,
                format!("the manifest {}@{digest} is not served", image.name()),
            )
        })
}
