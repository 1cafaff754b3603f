//! What the core needs fetched to judge an image, and what the frontend brings back.

use alloc::string::String;
use alloc::vec::Vec;

pub use crate::cosign::{CosignKey, CosignNeed};
use crate::notary::Signer;
use crate::reference::Digest;
pub use crate::simple::{SignedBy, StoreAuth};

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

/// A simple-signing check: every `signedBy` requirement must hold, and where to read signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleNeed {
    pub requirements: Vec<SignedBy>,
    /// `simple.storeURL`: the lookaside store; `None` means only the registry's own API.
    pub store_url: Option<String>,
    /// Basic-auth credentials for the store, from `simple.storeSecret`.
    pub store_auth: Option<StoreAuth>,
}

/// A Notary v1 check: where, and which signers must have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustNeed {
    /// `policy.trust.trustServer`; `None` means the frontend's server for the registry.
    pub server: Option<String>,
    /// Every signer the policy pins, resolved from its Secrets.
    pub signers: Vec<Signer>,
    /// Verify the image's tag rather than its digest: the rule that matched names the tag, so
    /// the digest the image names must be that tag's signed target (checked when concluding).
    pub by_tag: bool,
}

/// The outcome of one [`Need`], in the same order: the digest verified, or why not. An error
/// here (a fetch failure, a bad signature) is a deny, never an allow.
pub type Evidence = Result<Digest, String>;
