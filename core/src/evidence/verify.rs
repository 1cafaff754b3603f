//! Material to a verified digest, by format.

use alloc::format;

use super::{Gathered, Material, Need};
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::time::UnixTime;

pub(super) fn verify(
    need: &Need,
    image: &ImageRef,
    gathered: &Gathered,
    now: UnixTime,
) -> Result<Digest, Reason> {
    let material = gathered
        .as_ref()
        .map_err(|failure| Reason::unverifiable(format!("{}{failure}", prefix(need))))?;
    match (need, material) {
        (Need::Trust(_), Material::Trust(outcome)) => outcome.clone().map_err(Reason::refused),
        (Need::Simple(need), Material::Simple { digest, signatures }) => {
            simple(need, image, digest, signatures, now)
        }
        (Need::Cosign(need), Material::Cosign { digest, signatures }) => {
            crate::cosign::evaluate(need, image, digest, signatures)
        }
        (Need::TagDigest, Material::TagDigest(digest)) => Ok(digest.clone()),
        _ => Err(Reason::unverifiable(
            "the evidence gathered is not the evidence the policy needs",
        )),
    }
}

/// Names the format in a fetch failure where the URL alone would not.
fn prefix(need: &Need) -> &'static str {
    match need {
        Need::Simple(_) => "simple signing: ",
        Need::Cosign(_) => "cosign: ",
        Need::Trust(_) | Need::TagDigest => "",
    }
}

#[cfg(feature = "openpgp")]
fn simple(
    need: &crate::simple::SimpleNeed,
    image: &ImageRef,
    digest: &Digest,
    signatures: &[alloc::vec::Vec<u8>],
    now: UnixTime,
) -> Result<Digest, Reason> {
    crate::simple::openpgp::evaluate(need, image, digest, signatures, now)
}

/// Without OpenPGP no simple signature can be checked: fail closed, as the policy's to fix.
#[cfg(not(feature = "openpgp"))]
fn simple(
    _: &crate::simple::SimpleNeed,
    _: &ImageRef,
    _: &Digest,
    _: &[alloc::vec::Vec<u8>],
    _: UnixTime,
) -> Result<Digest, Reason> {
    Err(Reason::policy(
        "simple signing: this build cannot verify OpenPGP signatures (feature \"openpgp\")",
    ))
}
