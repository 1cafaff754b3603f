//! The webhook's fetch errors as the core's typed [`FetchFailure`]: the message as the error
//! words it, and its [`Cause`] for logs and metrics.

use portieris_core::evidence::{Cause, FetchFailure};
use portieris_core::registry::manifest::ManifestError;
use portieris_core::{Digest, ImageRef};

use crate::fetch::registry::{Registry, RegistryError};
use crate::fetch::{Credential, FetchError};

/// The manifest digest of `image` (the one it names, else its tag's on the registry), as every
/// registry-stored format starts.
pub(crate) async fn digest(
    registry: &Registry,
    image: &ImageRef,
    credentials: &[Credential],
) -> Result<Digest, FetchFailure> {
    registry
        .digest(image, credentials)
        .await
        .map_err(|e| self::registry(&e))
}

pub(crate) fn cause(error: &FetchError) -> Cause {
    match error {
        FetchError::Timeout { .. } => Cause::Timeout,
        FetchError::Status { status: 404, .. } => Cause::NotFound,
        FetchError::Status { status, .. } => Cause::Status(*status),
        FetchError::Tls { .. } => Cause::Tls,
        FetchError::Connect { .. } => Cause::Connect,
        FetchError::TooLarge { .. } => Cause::TooLarge,
        FetchError::Busy { .. } => Cause::Busy,
        FetchError::Auth { .. } => Cause::Auth,
        FetchError::Invalid { .. } => Cause::Unreadable,
    }
}

pub(crate) fn registry(error: &RegistryError) -> FetchFailure {
    let cause = match error {
        RegistryError::Manifest { source, .. }
        | RegistryError::Signatures { source, .. }
        | RegistryError::Read { source, .. } => cause(source),
        RegistryError::ManifestInvalid {
            source: ManifestError::TooLarge { .. },
            ..
        } => Cause::TooLarge,
        RegistryError::ManifestInvalid { .. }
        | RegistryError::SignatureList { .. }
        | RegistryError::BlobDigest { .. } => Cause::Unreadable,
        // A shared lookup that ended without an answer (its task was cancelled).
        RegistryError::Aborted { .. } | RegistryError::NoSignatureApi { .. } => Cause::Unavailable,
    };
    FetchFailure::new(cause, error.to_string())
}
