//! Notary v1 (Docker Content Trust): validate a repository's TUF metadata as the notary client
//! does, pick the signed target for a tag or digest, and check pinned signers.
//!
//! Sans-IO: the caller fetches `<server>/v2/<gun>/_trust/tuf/<role>.json` and hands the bytes
//! in; [`verify`] says which delegation roles it still needs ([`Step::Fetch`]) or what was
//! verified ([`Step::Done`]).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::reference::Digest;
use crate::time::UnixTime;

/// What is to be verified: a tag or a digest of the repository `gun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRef {
    Tag(String),
    Digest(Digest),
}

/// A signer a policy pins (`signerSecrets`): delegation `targets/<name>` with this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub name: String,
    /// PEM public key or certificate, as in the Secret's `publicKey`.
    pub public_key_pem: String,
}

/// Metadata as served, by role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub root: Vec<u8>,
    pub timestamp: Vec<u8>,
    pub snapshot: Vec<u8>,
    pub targets: Vec<u8>,
    /// Delegation roles fetched so far (`targets/releases`, `targets/alice`, …); `None` when the
    /// server answered 404.
    pub delegations: BTreeMap<String, Option<Vec<u8>>>,
}

/// One verification request.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub gun: &'a str,
    pub target: &'a TargetRef,
    pub signers: &'a [Signer],
}

/// What the caller last trusted for this repository: roots and versions, for rollback and
/// freeze protection. Opaque; cache it per (server, GUN) and pass it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    _private: (),
}

/// The outcome of one call to [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Step {
    /// Fetch these delegation roles, add them to [`Metadata::delegations`], call again.
    Fetch(Vec<String>),
    Done(Verified),
}

/// A verified target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed manifest digest.
    pub digest: Digest,
    pub length: u64,
    /// Roles that signed it.
    pub roles: Vec<String>,
    /// When the first metadata of the chain expires: cache no longer than this.
    pub expires: UnixTime,
    pub trusted: Trusted,
}

/// Why trust data was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotaryError {}

impl fmt::Display for NotaryError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl core::error::Error for NotaryError {}

/// Validates the metadata chain and selects the target.
pub fn verify(
    query: &Query<'_>,
    metadata: &Metadata,
    now: UnixTime,
    trusted: Option<&Trusted>,
) -> Result<Step, NotaryError> {
    let _ = (query, metadata, now, trusted);
    todo!("Notary verification")
}
