//! Key-based cosign: finds the manifest digest of an image (the one it names, else its tag's
//! on the registry, cached like simple signing's), reads the signature artifact at tag
//! `sha256-<hex>.sig` in the image's repository (or the policy's `cosign.repository`), fetches
//! each layer's payload blob (hash checked, bounded) and has the core verify them.
//!
//! Signature artifacts are not cached: a new signature must count at once, and the digest
//! lookup in front of them is.

use portieris_core::cosign::{self, Signature, artifact, payload};
use portieris_core::evidence::{CosignNeed, Evidence};
use portieris_core::{Digest, ImageRef};

use crate::fetch::docker_config::Credential;
use crate::registry::Registry;

/// Gathers and verifies the cosign signatures one need asks for. `credentials` (the pod's
/// pull Secrets for the image's registry) authenticate the digest lookup; `store_credentials`
/// (for the signature repository's registry) the signature reads.
pub async fn verify(
    registry: &Registry,
    need: &CosignNeed,
    image: &ImageRef,
    credentials: &[Credential],
    store_credentials: &[Credential],
) -> Evidence {
    let digest = registry
        .digest(image, credentials)
        .await
        .map_err(|e| format!("cosign: {e}"))?;
    let store = need.repository.as_ref().unwrap_or(image);
    let signatures = signatures(registry, store, &digest, store_credentials).await?;
    cosign::evaluate(need, image, &digest, &signatures)
}

/// `sha256-<hex>.sig`: the tag cosign stores the signatures of `digest` under.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm(), digest.hex())
}

/// The signature layers of `digest` in `store`; none when the tag does not exist (404).
pub async fn signatures(
    registry: &Registry,
    store: &ImageRef,
    digest: &Digest,
    credentials: &[Credential],
) -> Result<Vec<Signature>, String> {
    let tag = signature_tag(digest);
    let manifest = registry
        .manifest(store, &tag, credentials)
        .await
        .map_err(|e| format!("cosign: {e}"))?;
    let Some(manifest) = manifest else {
        return Ok(Vec::new());
    };
    let layers =
        artifact::parse(&manifest).map_err(|e| format!("cosign: {}:{tag}: {e}", store.name()))?;
    let mut signatures = Vec::with_capacity(layers.len());
    for layer in layers {
        let payload = registry
            .blob(store, &layer.digest, credentials, payload::MAX_PAYLOAD)
            .await
            .map_err(|e| format!("cosign: {e}"))?;
        signatures.push(Signature {
            payload,
            signature: layer.signature,
        });
    }
    Ok(signatures)
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
