//! in-toto attestations (Statement v0.1 and v1 in DSSE envelopes) about an image: provenance,
//! SBOMs, scan results. A policy's `attestations` each name a predicate type, a signer (a key
//! or keyless identities, checked exactly as image signatures are) and CEL conditions over the
//! statement; each must be met by one statement about the image's digest.
//!
//! Statements arrive as Sigstore bundles among the digest's OCI referrers (cosign 3) or as
//! the layers of its `sha256-<hex>.att` tag (cosign 1 and 2, key-signed); the frontend reads
//! both and hands in the bytes.

mod evaluate;
pub mod need;
pub mod predicate;

pub use crate::condition::{Bindings, CompileError, Condition, ConditionError};
pub use evaluate::{Attested, evaluate, remembered, verify};
pub use need::{AttestationNeed, Required, broken, need, problems};
