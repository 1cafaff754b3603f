//! Notary v1 (Docker Content Trust): validate a repository's TUF metadata as the notary client
//! does, pick the signed target for a tag or digest, and check pinned signers.
//!
//! Sans-IO: the caller fetches `<server>/v2/<gun>/_trust/tuf/<role>.json` and hands the bytes
//! in; [`verify`] says which delegation roles it still needs ([`Step::Fetch`]) or what was
//! verified ([`Step::Done`]).
//!
//! What is checked, in notary's order:
//! 1. `root`: a threshold of its own root keys, which must be leaf certificates whose common
//!    name is the GUN and that are valid at `now`; when a root is [`Trusted`], also a threshold
//!    of the trusted root keys, and no lower version.
//! 2. `timestamp`, `snapshot`, `targets`: keys and thresholds from root; the snapshot's hash
//!    (and length) from the timestamp, the root's and the targets' from the snapshot.
//! 3. Delegations (`targets/releases`, nested roles under it, `targets/<signer>`): keys,
//!    threshold and paths from the parent's `delegations`, hash from the snapshot.
//! 4. Every role: no version below the trusted one (rollback), not expired at `now` (freeze).
//!
//! Then the target: from the `targets/releases` subtree if it has it, else from `targets`, as
//! Docker picks it; a digest reference must be the sha256 of such a target under any name.
//! Each pinned [`Signer`] must have a delegation `targets/<name>` listing its key, signed by
//! that key, signing the same digest.
//!
//! # Where this differs from notary, Docker and IBM Portieris (on purpose)
//! - Fail closed: a `targets/releases` role (or one nested under it) that is listed in the
//!   snapshot and served but expired or under its threshold is an error; notary skips it and
//!   falls back to `targets`. Only a role absent from the snapshot, or a 404, falls back.
//! - The tag is looked up in the releases subtree, then in `targets` itself; Docker's second
//!   walk also visits the other delegations (`targets/alice`, …).
//! - A pinned signer's key must itself have signed `targets/<name>`; Portieris only checks that
//!   the role lists it. Signer roles are direct children of `targets`.
//! - Every `keys` entry must sit under its own key ID; notary only fails when a signature
//!   names a mismatched one.
//! - Root keys are single certificates as Go writes them (no intermediate bundles), and their
//!   common name must be the GUN exactly (notary also takes `prefix*` for CA pinning, which is
//!   not implemented: trust is on first use, or [`Trusted::pinned_root`]).
//! - A new root must be signed by the trusted root's keys directly; notary walks every
//!   intermediate `<n>.root.json`, so a root whose keys were rotated twice since the trusted
//!   one is refused here.
//! - ECDSA is P-256 only, RSA 2048..=8192 bits (notary: no upper bound), Ed25519 strict, and
//!   `pycrypto-pkcs#1 pss` is refused. A pinned Ed25519 `PUBLIC KEY` is accepted.
//! - Integers beyond ±2^53 in `signed` are refused (Go rounds them through float64), and field
//!   names match case-sensitively (Go's decoder folds case).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::reference::Digest;
use crate::time::UnixTime;

pub mod canonical_json;
mod chain;
mod error;
pub mod freshness;
mod keytype;
mod metadata;
mod need;
mod roles;
mod select;
mod signature;
mod verify;

pub use crate::crypto::KeyProblem;
pub use error::NotaryError;
pub use keytype::{key_id, pem_key_id};
pub use need::{TrustNeed, need};

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
    gun: String,
    /// `root.json` as served when it was verified: its root keys must sign the next root.
    root: Vec<u8>,
    /// Highest verified version by role name.
    versions: BTreeMap<String, u64>,
}

impl Trusted {
    /// Trusts a root obtained out of band (trust pinning rather than trust on first use): the
    /// next [`verify`] accepts only a root signed by a threshold of this root's root keys.
    ///
    /// # Errors
    /// When `root` is not a root for `gun` signed by a threshold of its own root keys (the
    /// certificates' validity is not checked: a pinned root may be old).
    pub fn pinned_root(gun: &str, root: &[u8]) -> Result<Self, NotaryError> {
        verify::pinned_root(gun, root)
    }

    /// The repository this was verified for.
    pub fn gun(&self) -> &str {
        &self.gun
    }

    /// The version of `role` last verified (`root`, `timestamp`, `targets/releases`, …).
    pub fn version(&self, role: &str) -> Option<u64> {
        self.versions.get(role).copied()
    }
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

/// Validates the metadata chain and selects the target.
///
/// # Errors
/// Any failed check, named in [`NotaryError`]; the caller must deny.
pub fn verify(
    query: &Query<'_>,
    metadata: &Metadata,
    now: UnixTime,
    trusted: Option<&Trusted>,
) -> Result<Step, NotaryError> {
    verify::verify(query, metadata, now, trusted)
}

#[cfg(test)]
mod tests;
