//! Notary Project signatures (Notation): JWS and COSE envelopes over an image's descriptor,
//! X.509 chains to named trust stores, RFC 3161 timestamps, CRLs, and the Notary Project's
//! own trust policy document deciding what is enforced.

pub mod chain;
pub mod envelope;
mod evaluate;
pub mod identity;
pub mod need;
pub mod revocation;
pub mod timestamp;
pub mod trust_policy;

#[cfg(test)]
mod test_pki;

use alloc::string::String;
use alloc::vec::Vec;

pub use evaluate::{Verified, descriptor, evaluate, evaluate_afresh, remembered};
pub use need::{NotationNeed, TrustStore, broken, need};

/// The artifact type of a Notation signature among an image's referrers.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The media types of a signature manifest's envelope layer.
pub const ENVELOPE_MEDIA_TYPES: [&str; 2] = [envelope::MEDIA_TYPE_JWS, envelope::MEDIA_TYPE_COSE];

/// One signature as fetched: the envelope layer's media type and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub media_type: String,
    pub envelope: Vec<u8>,
}
