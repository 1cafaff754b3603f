//! Sigstore's material: the manifest digest of an image (the one it names, else its tag's on
//! the registry) and the Sigstore bundles stored as its OCI 1.1 referrers (cosign 3's
//! default; the referrers API, else the `sha256-<hex>` tag schema), read from the image's
//! repository or the policy's `cosign.repository`. The core verifies them.

use std::sync::Arc;

use portieris_core::evidence::{FetchFailure, Gathered, Material, SigstoreNeed};
use portieris_core::{Digest, ImageRef};

use super::failure;
use crate::fetch::docker_config::Credential;
use crate::fetch::referrers::Referrers;
use crate::fetch::registry::Registry;

/// The artifact type of a Sigstore bundle referrer, and the media type of its one layer.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Gathers what one need asks for. `credentials` (the pod's pull Secrets for the image's
/// registry) authenticate the digest lookup; `store_credentials` (for the bundles'
/// repository's registry) the referrer reads.
pub async fn gather(
    registry: &Registry,
    referrers: &Referrers,
    need: &SigstoreNeed,
    image: &ImageRef,
    credentials: &[Credential],
    store_credentials: &[Credential],
) -> Gathered {
    let digest = failure::digest(registry, image, credentials).await?;
    let store = need.repository.as_ref().unwrap_or(image);
    let bundles = bundles(referrers, store, &digest, store_credentials).await?;
    Ok(Material::Sigstore { digest, bundles })
}

/// The Sigstore bundles among the referrers of `digest` in `store` (each referrer's bundle
/// layers, in the referrers' order).
pub async fn bundles(
    referrers: &Referrers,
    store: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Arc<[Vec<u8>]>, FetchFailure> {
    let found = referrers
        .fetch(store, digest, BUNDLE_ARTIFACT_TYPE, credentials)
        .await?;
    Ok(found
        .iter()
        .flat_map(|referrer| &referrer.blobs)
        .filter(|blob| blob.media_type == BUNDLE_ARTIFACT_TYPE)
        .map(|blob| blob.bytes.clone())
        .collect())
}
