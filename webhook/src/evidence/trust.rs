//! Notary v1's material: the trust client ([`crate::trust`]) fetches the repository's TUF
//! roles round by round as the core's state machine asks, and the core's outcome comes back
//! as [`Material::Trust`]. What could not be fetched is a [`FetchFailure`]; metadata served and
//! refused (or none at all) is the core's refusal.

use portieris_core::ImageRef;
use portieris_core::evidence::{Cause, FetchFailure, Gathered, Material, TrustNeed};

use super::failure;
use crate::fetch::docker_config::Credential;
use crate::trust::{Trust, TrustError};

pub async fn gather(
    trust: &Trust,
    need: &TrustNeed,
    image: &ImageRef,
    credentials: &[Credential],
) -> Gathered {
    // By tag: the target of the tag is verified, and the core compares it with the digest the
    // image names.
    let by_tag = need.by_tag.then(|| image.without_digest());
    let target = by_tag.as_ref().unwrap_or(image);
    let server = need.server.as_deref();
    match trust
        .verify(target, server, &need.signers, credentials)
        .await
    {
        Ok(verified) => Ok(Material::Trust(Ok(verified.digest.clone()))),
        Err(error) => outcome(&error),
    }
}

fn outcome(error: &TrustError) -> Gathered {
    let message = error.to_string();
    match error {
        TrustError::Fetch { source, .. } => Err(FetchFailure::new(failure::cause(source), message)),
        TrustError::Server(_) | TrustError::Aborted { .. } => {
            Err(FetchFailure::new(Cause::Unavailable, message))
        }
        TrustError::NoTrustData { .. }
        | TrustError::Verify { .. }
        | TrustError::InvalidRole { .. }
        | TrustError::TooManyRounds { .. } => Ok(Material::Trust(Err(message))),
    }
}
