//! Sigstore bundles (v0.1–v0.3) as cosign v3 stores them beside an image: a message signature
//! or a DSSE envelope, signed by a key or keyless (a Fulcio certificate with its SCT), logged in
//! Rekor (v1 inclusion promise or proof, v2 checkpoint) and optionally timestamped (RFC 3161),
//! all checked against a `trusted_root.json`. No network, no wall clock: the caller hands in
//! the bytes and the time.

pub mod bundle;
pub mod certificate;
mod evaluate;
pub mod identity;
pub mod need;
pub mod timestamp;
pub mod tlog;
pub mod trusted_root;

pub use evaluate::evaluate;
pub use need::need;
pub use trusted_root::TrustedRoot;
