//! Sigstore bundles (v0.1–v0.3) as cosign v3 stores them beside an image: a message signature
//! or a DSSE envelope, signed by a key or keyless (a Fulcio certificate with its SCT), logged in
//! Rekor (v1 inclusion promise or proof, v2 checkpoint) and optionally timestamped (RFC 3161),
//! all checked against a `trusted_root.json`. No network, no wall clock: the caller hands in
//! the bytes and the time.

pub mod bundle;
pub mod certificate;
pub(crate) mod evaluate;
pub mod identity;
pub(crate) mod memo;
pub mod need;
pub mod timestamp;
pub mod tlog;
pub mod trusted_root;
pub mod verify;

pub use evaluate::{evaluate, remembered};
pub use need::need;
pub use trusted_root::TrustedRoot;
pub use verify::{Expect, Verified, VerifyError, verify};

/// The Sigstore public-good instance's trusted root as sigstore-python 4.5.1 ships it
/// (`scripts/vectors-sigstore.sh` refreshes it): the root of a keyless requirement that names
/// no `trustedRootSecret` when the frontend has no newer one. It is a snapshot; its keys
/// rotate, so `portieris serve` refreshes the default root from Sigstore's TUF repository
/// ([`crate::Options::sigstore_root`]).
pub const PUBLIC_GOOD_ROOT: &[u8] = include_bytes!("sigstore/public-good.trusted_root.json");
