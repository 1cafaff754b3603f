//! Key-based cosign's material: the manifest digest of an image (the one it names, else its
//! tag's on the registry, cached like simple signing's) and the signature artifact at tag
//! `sha256-<hex>.sig` in the image's repository (or the policy's `cosign.repository`), each
//! layer's payload blob fetched (hash checked, bounded). The core verifies them.
//!
//! The signature set read (every layer's payload with its signature) is cached per
//! (registry, repository, digest, credentials): 30 s, an empty set or a failure 5 s, so a
//! signature pushed after a deny counts within seconds; concurrent reads of one set share one
//! fetch ([`crate::fetch::signature_sets`]). The payload blobs of one artifact are fetched
//! concurrently.

use std::sync::Arc;

use futures::future::try_join_all;
use portieris_core::cosign::{Signature, artifact, payload};
use portieris_core::evidence::{Cause, CosignNeed, FetchFailure, Gathered, Material};
use portieris_core::{Digest, ImageRef};

use super::failure;
use crate::fetch::docker_config::Credential;
use crate::fetch::registry::Registry;
use crate::fetch::signature_sets::{SetKey, Source};

/// Gathers what one need asks for. `credentials` (the pod's pull Secrets for the image's
/// registry) authenticate the digest lookup; `store_credentials` (for the signature
/// repository's registry) the signature reads.
pub async fn gather(
    registry: &Registry,
    need: &CosignNeed,
    image: &ImageRef,
    credentials: &[Credential],
    store_credentials: &[Credential],
) -> Gathered {
    let digest = failure::digest(registry, image, credentials).await?;
    let store = need.repository.as_ref().unwrap_or(image);
    let signatures = signatures(registry, store, &digest, store_credentials).await?;
    Ok(Material::Cosign { digest, signatures })
}

/// `sha256-<hex>.sig`: the tag cosign stores the signatures of `digest` under.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm(), digest.hex())
}

/// The signature layers of `digest` in `store`, in layer order; none when the tag does not
/// exist (404). Cached in `registry`.
pub async fn signatures(
    registry: &Registry,
    store: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Arc<[Signature]>, FetchFailure> {
    let key = SetKey {
        source: Source::Registry(store.domain().to_string()),
        repository: store.path().to_string(),
        digest: digest.clone(),
        credentials: credentials.to_vec(),
    };
    let job = (registry.clone(), store.clone(), digest.clone());
    let credentials = key.credentials.clone();
    let fetch = move || async move {
        let (registry, store, digest) = job;
        fetch_signatures(&registry, &store, &digest, &credentials).await
    };
    registry.cosign_signatures().get_or_fetch(key, fetch).await
}

/// [`signatures`] uncached: the `.sig` artifact's layers with their payloads.
async fn fetch_signatures(
    registry: &Registry,
    store: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Vec<Signature>, FetchFailure> {
    let tag = signature_tag(digest);
    let layers = layers(registry, store, &tag, credentials, payload::MAX_PAYLOAD).await?;
    let signatures = layers.into_iter().map(|(layer, payload)| Signature {
        payload,
        signature: layer.signature,
    });
    Ok(signatures.collect())
}

/// The layers of the cosign artifact at `tag` in `store` (`.sig`, `.att`), each with its
/// blob (at most `max_layer` bytes), in layer order; none when the tag does not exist (404).
/// The manifest, then every blob at once (at most [`portieris_core::cosign::MAX_SIGNATURES`]:
/// the manifest parser refuses more).
pub(super) async fn layers(
    registry: &Registry,
    store: &ImageRef,
    tag: &str,
    credentials: &[Credential],
    max_layer: usize,
) -> Result<Vec<(artifact::Layer, Vec<u8>)>, FetchFailure> {
    let manifest = registry
        .manifest(store, tag, credentials)
        .await
        .map_err(|e| failure::registry(&e))?;
    let Some(manifest) = manifest else {
        return Ok(Vec::new());
    };
    // The artifact's layers say which blobs to fetch.
    let layers = artifact::layers(&manifest, max_layer).map_err(|e| {
        FetchFailure::new(Cause::Unreadable, format!("{}:{tag}: {e}", store.name()))
    })?;
    // try_join_all keeps the layers' order, and stops at the first failure.
    try_join_all(layers.into_iter().map(|layer| async move {
        let blob = registry
            .blob(store, &layer.digest, credentials, max_layer)
            .await
            .map_err(|e| failure::registry(&e))?;
        Ok((layer, blob))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_looked_up_at_the_tag_cosign_pushes() {
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let digest = Digest::parse(&format!("sha256:{hex}")).expect("digest");
        assert_eq!(signature_tag(&digest), format!("sha256-{hex}.sig"));
    }
}
