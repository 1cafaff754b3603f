//! `name:tag@digest` under a rule that names tags (`repo:v1.*`).
//!
//! A container runtime pulls such an image by its digest and never looks at the tag, so the
//! tag alone proves nothing: `repo:v1.2@sha256:<any>` would otherwise run any digest of the
//! repository under the `v1.*` rule. The rule vouches for the image only when the evidence
//! ties the digest to the tag:
//! - Notary trust verifies the tag, and its signed target must be the digest;
//! - simple signing whose every `signedBy` identity names the tag (`matchRepoDigestOrExact`,
//!   `matchExact` and `remapIdentity` check `name:tag` for such an image; `exactReference`
//!   when its reference has that tag);
//! - otherwise (a rule that checks no signature; cosign, whose signatures name a repository;
//!   identities that ignore the tag) the registry is asked for the tag's current digest.
//!
//! The registry fallback, rather than matching such an image as `name@digest` under another
//! rule, keeps `mutation: tagAndDigest` re-admission working: the pinned `name:tag@digest` is
//! judged by the rule that admitted `name:tag`, as long as the tag still has that digest.

use crate::policy::Policy;
use crate::reference::ImageRef;
use crate::simple::IdentityRule;

/// How the evidence of a policy ties a digest to the tag beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tie {
    /// Notary trust, verified for the tag.
    Trust,
    /// Simple signatures whose identity names the tag.
    Simple,
    /// The registry's current digest of the tag.
    Registry,
}

/// How `policy`'s evidence ties `image`'s digest to its tag.
pub(super) fn tie(policy: &Policy, image: &ImageRef) -> Tie {
    if policy.trust.is_enabled() {
        return Tie::Trust;
    }
    let mut signed_by = policy
        .simple
        .requirements
        .iter()
        .filter(|r| r.kind == "signedBy")
        .peekable();
    if signed_by.peek().is_some() && signed_by.all(|r| names_tag(&r.signed_identity, image)) {
        Tie::Simple
    } else {
        Tie::Registry
    }
}

/// Whether signatures accepted under this identity rule name the image's tag. A rule that
/// does not compile denies anyway, under this rule: it is taken as tying.
fn names_tag(identity: &crate::policy::SignedIdentity, image: &ImageRef) -> bool {
    match IdentityRule::from_policy(identity) {
        Ok(
            IdentityRule::MatchRepoDigestOrExact
            | IdentityRule::MatchExact
            | IdentityRule::RemapIdentity { .. },
        )
        | Err(_) => true,
        Ok(IdentityRule::ExactReference(reference)) => {
            reference.digest().is_none() && reference.tag() == image.tag()
        }
        Ok(IdentityRule::MatchRepository | IdentityRule::ExactRepository(_)) => false,
    }
}
