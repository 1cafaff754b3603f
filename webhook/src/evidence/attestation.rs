//! Attestations' material: the manifest digest of an image, the Sigstore bundles among its
//! referrers (cosign 3; only the DSSE ones are attestations, the core tells) and the DSSE
//! envelopes that are the layers of its `sha256-<hex>.att` tag (cosign 1 and 2), read from the
//! image's repository or the policy's `cosign.repository`. The core verifies them.
//!
//! Bundles are the Sigstore fetcher's (one cached read serves both needs); envelope sets are
//! cached as cosign's signature sets are.

use std::sync::Arc;

use portieris_core::evidence::{AttestationNeed, FetchFailure, Gathered, Material};
use portieris_core::limits::MAX_BUNDLE_BYTES;
use portieris_core::{Digest, ImageRef};

use super::{cosign, failure, sigstore};
use crate::fetch::docker_config::Credential;
use crate::fetch::referrers::Referrers;
use crate::fetch::registry::Registry;
use crate::fetch::signature_sets::{SetKey, Source};

/// Gathers what one need asks for; credentials as for Sigstore bundles.
pub async fn gather(
    registry: &Registry,
    referrers: &Referrers,
    need: &AttestationNeed,
    image: &ImageRef,
    credentials: &[Credential],
    store_credentials: &[Credential],
) -> Gathered {
    let digest = failure::digest(registry, image, credentials).await?;
    let store = need.repository.as_ref().unwrap_or(image);
    let (bundles, envelopes) = futures::try_join!(
        sigstore::bundles(referrers, store, &digest, store_credentials),
        envelopes(registry, store, &digest, store_credentials),
    )?;
    Ok(Material::Attestation {
        digest,
        bundles,
        envelopes,
    })
}

/// `sha256-<hex>.att`: the tag cosign stores the attestations of `digest` under.
pub fn attestation_tag(digest: &Digest) -> String {
    format!("{}-{}.att", digest.algorithm(), digest.hex())
}

/// The `.att` tag's layers (DSSE envelopes, each at most a bundle's size); none when the tag
/// does not exist. Cached in `registry`.
async fn envelopes(
    registry: &Registry,
    store: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Arc<[Vec<u8>]>, FetchFailure> {
    let key = SetKey {
        source: Source::Registry(store.domain().to_string()),
        repository: store.path().to_string(),
        digest: digest.clone(),
        credentials: credentials.to_vec(),
    };
    let job = (registry.clone(), store.clone(), attestation_tag(digest));
    let credentials = key.credentials.clone();
    let fetch = move || async move {
        let (registry, store, tag) = job;
        let layers =
            cosign::layers(&registry, &store, &tag, &credentials, MAX_BUNDLE_BYTES).await?;
        Ok(layers.into_iter().map(|(_, blob)| blob).collect())
    };
    registry
        .cosign_attestations()
        .get_or_fetch(key, fetch)
        .await
}
