//! The seam between the core and a frontend: per image, what the core needs fetched
//! ([`Need`]), what the frontend brings back ([`Gathered`]: [`Material`] or a typed
//! [`FetchFailure`]), and the one place material is verified ([`verify`]).
//!
//! Each format owns its need and its verification (`notary`, `simple`, `cosign`); this module
//! only names them, so the formats do not depend on it.

use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::time::UnixTime;

pub use crate::cosign::{CosignKey, CosignNeed};
pub use crate::notary::TrustNeed;
pub use crate::registry::Credential;
pub use crate::simple::{SignedBy, SimpleNeed};
pub use material::{Cause, FetchFailure, Gathered, Material};

mod material;
mod verify;

/// One piece of evidence an image needs before it can be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Need {
    /// Notary v1 trust data for the image's repository, verified for its tag or digest.
    Trust(TrustNeed),
    /// Red Hat simple signatures for the image's manifest digest, each `signedBy` requirement
    /// met by at least one signature.
    Simple(SimpleNeed),
    /// Key-based cosign signatures for the image's manifest digest, one by each key.
    Cosign(CosignNeed),
    /// The digest the image's tag has on its registry now: what ties `name:tag@digest` to its
    /// tag when the rule that matched names the tag and the policy checks no signature.
    TagDigest,
}

/// Verifies what was gathered for `need`: the digest it vouches for, or why not. A fetch
/// failure is [`Unverifiable`](crate::reason::Class::Unverifiable); material that does not
/// hold is [`Refused`](crate::reason::Class::Refused); a key that cannot be read is the
/// policy's ([`Policy`](crate::reason::Class::Policy)). `now` judges key and signature
/// validity periods.
pub fn verify(
    need: &Need,
    image: &ImageRef,
    gathered: &Gathered,
    now: UnixTime,
) -> Result<Digest, Reason> {
    verify::verify(need, image, gathered, now)
}

#[cfg(test)]
mod tests;
