//! The seam between the core and a frontend: per image, what the core needs fetched
//! ([`Need`]), what the frontend brings back ([`Gathered`]: [`Material`] or a typed
//! [`FetchFailure`]), and the one place material is verified ([`verify`]).
//!
//! Each format owns its need (built from the policy), its payload and its verification, in
//! its own folder (`notary/`, `simple/`, `cosign/`, `sigstore/`, `attestation/`, `notation/`); this module only lists them,
//! so adding a format touches it in four places: [`Need`], [`Material`], [`needs`] and
//! [`verify`].

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cosign::Signature;
use crate::policy::secrets::SecretScope;
use crate::policy::{Policy, PolicySet};
use crate::reason::Reason;
use crate::reference::{Digest, ImageRef};
use crate::time::UnixTime;
use crate::{attestation, cosign, notary, notation, sigstore, simple};

pub use crate::attestation::AttestationNeed;
pub use crate::cosign::{CosignKey, CosignNeed};
pub use crate::notary::TrustNeed;
pub use crate::notation::NotationNeed;
pub use crate::registry::Credential;
pub use crate::sigstore::need::{KeylessSigner, RootSource, Signer, SigstoreNeed};
pub use crate::simple::{SignedBy, SimpleNeed};
pub use failure::{Cause, FetchFailure};

mod failure;

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
    /// Sigstore bundles (cosign 3) stored as OCI referrers of the image's manifest digest, one
    /// meeting each signer: a key or a keyless identity under a trusted root.
    Sigstore(SigstoreNeed),
    /// in-toto attestations of the image's manifest digest (Sigstore bundles among its
    /// referrers, DSSE envelopes of its `.att` tag), one meeting each requirement.
    Attestation(AttestationNeed),
    /// Notary Project signatures (Notation) among the referrers of the image's manifest
    /// digest, one passing the trust policy statement for the image's repository.
    Notation(NotationNeed),
    /// The digest the image's tag has on its registry now: what ties `name:tag@digest` to its
    /// tag when the rule that matched names the tag and the policy checks no signature.
    TagDigest,
}

/// The answer to one need: its material, or why there is none.
pub type Gathered = Result<Material, FetchFailure>;

/// Raw material, one variant per format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Material {
    /// Notary v1. TUF is a conversation (each round of delegation roles depends on the last),
    /// so the frontend drives the core's own state machine ([`crate::notary::verify`]'s
    /// `Step`s), fetching what it asks for, and hands back where it ended: the target the core
    /// verified, or the core's reason to refuse the metadata served.
    Trust(Result<Digest, String>),
    /// Simple signing: the image's manifest digest, as computed from the manifest served, and
    /// every signature read for it (lookaside store or registry extension API), as bytes.
    Simple {
        digest: Digest,
        signatures: Arc<[Vec<u8>]>,
    },
    /// Key-based cosign: the image's manifest digest and the layers of its `.sig` artifact
    /// (payload blob and signature annotation).
    Cosign {
        digest: Digest,
        signatures: Arc<[Signature]>,
    },
    /// Sigstore: the image's manifest digest and the bundles its referrers hold (each the
    /// blob of one referrer manifest whose subject is that digest), as bytes.
    Sigstore {
        digest: Digest,
        bundles: Arc<[Vec<u8>]>,
    },
    /// Attestations: the image's manifest digest, the bundles its referrers hold and the
    /// layers (DSSE envelopes) of its `sha256-<hex>.att` tag, as bytes.
    Attestation {
        digest: Digest,
        bundles: Arc<[Vec<u8>]>,
        envelopes: Arc<[Vec<u8>]>,
    },
    /// Notation: the image's manifest digest, the manifest as served (its media type and size
    /// are signed too) and the envelopes its signature referrers hold.
    Notation {
        digest: Digest,
        manifest: Arc<[u8]>,
        signatures: Arc<[notation::Signature]>,
    },
    /// The digest the image's tag has on its registry now.
    TagDigest(Digest),
}

/// What `policy` needs checked, in a fixed order (simple signing, cosign, Sigstore,
/// attestations, Notation, Notary), and every
/// reason to deny without evidence: a requirement that rejects, or a need that cannot be built
/// (a missing Secret, a key that is not one; the policy's to fix). `sigstore_root` is the
/// frontend's default Sigstore trusted root ([`crate::Options::sigstore_root`]).
pub fn needs(
    policy: &Policy,
    secrets: SecretScope<'_>,
    policies: &PolicySet,
    sigstore_root: Option<&Arc<[u8]>>,
) -> (Vec<Need>, Vec<Reason>) {
    let mut needs = Vec::new();
    let mut reasons = Vec::new();
    let mut add = |built: Result<Option<Need>, Vec<Reason>>| match built {
        Ok(need) => needs.extend(need),
        Err(why) => reasons.extend(why),
    };
    add(simple::need(policy, secrets, policies).map(|n| n.map(Need::Simple)));
    add(cosign::need(policy, secrets, policies).map(|n| n.map(Need::Cosign)));
    add(sigstore::need(policy, secrets, policies, sigstore_root).map(|n| n.map(Need::Sigstore)));
    let attestations = attestation::need(policy, secrets, policies, sigstore_root);
    add(attestations.map(|n| n.map(Need::Attestation)));
    add(notation::need(policy, secrets, policies).map(|n| n.map(Need::Notation)));
    add(notary::need(policy, secrets, policies).map(|n| n.map(Need::Trust)));
    (needs, reasons)
}

/// Whether the policy's own text is wrong for some format (an unknown requirement, one without
/// its key Secret): no warn mode softens that.
pub fn broken(policy: &Policy) -> bool {
    simple::broken(policy)
        || cosign::broken(policy)
        || sigstore::need::broken(policy)
        || attestation::broken(policy)
        || notation::broken(policy)
}

/// Verifies what was gathered for `need`: the digest it vouches for (the material's own), or
/// why not. A fetch
/// failure is [`Unverifiable`](crate::reason::Class::Unverifiable); material that does not
/// hold is [`Refused`](crate::reason::Class::Refused); a key that cannot be read is the
/// policy's ([`Policy`](crate::reason::Class::Policy)). `now` judges key and signature
/// validity periods.
pub fn verify<'a>(
    need: &Need,
    image: &ImageRef,
    gathered: &'a Gathered,
    now: UnixTime,
) -> Result<&'a Digest, Reason> {
    vouch(need, image, gathered, now).map(|vouched| vouched.digest)
}

/// What verified material vouches for: its digest, and the failures of checks its policy
/// only logs (Notation's `audit` and `permissive` levels), which admit with a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched<'a> {
    pub digest: &'a Digest,
    pub notes: Vec<String>,
}

impl<'a> Vouched<'a> {
    /// A digest with nothing to note.
    pub fn plain(digest: &'a Digest) -> Self {
        Self {
            digest,
            notes: Vec::new(),
        }
    }
}

/// [`verify`], with the notes a format leaves on what it admits.
pub fn vouch<'a>(
    need: &Need,
    image: &ImageRef,
    gathered: &'a Gathered,
    now: UnixTime,
) -> Result<Vouched<'a>, Reason> {
    let material = gathered
        .as_ref()
        .map_err(|failure| Reason::unverifiable(format!("{}{failure}", prefix(need))))?;
    match (need, material) {
        (
            Need::Notation(need),
            Material::Notation {
                digest,
                manifest,
                signatures,
            },
        ) => notation_signatures(need, image, digest, manifest, signatures, now),
        _ => plain(need, image, material, now).map(Vouched::plain),
    }
}

/// Notation: the manifest's descriptor from its bytes, then the trust policy's verdict, whose
/// logged failures are the notes.
fn notation_signatures<'a>(
    need: &NotationNeed,
    image: &ImageRef,
    digest: &'a Digest,
    manifest: &[u8],
    signatures: &[notation::Signature],
    now: UnixTime,
) -> Result<Vouched<'a>, Reason> {
    let target = notation::descriptor(digest, manifest).map_err(Reason::unverifiable)?;
    let verified = notation::evaluate(need, image, &target, signatures, now)?;
    let notes = (verified.logged.into_iter())
        .map(|why| format!("notation: logged, not enforced: {why}"))
        .collect();
    Ok(Vouched { digest, notes })
}

/// Every format but Notation's: a digest, and nothing to note.
fn plain<'a>(
    need: &Need,
    image: &ImageRef,
    material: &'a Material,
    now: UnixTime,
) -> Result<&'a Digest, Reason> {
    match (need, material) {
        (Need::Trust(_), Material::Trust(outcome)) => {
            outcome.as_ref().map_err(|why| Reason::refused(why.clone()))
        }
        (Need::Simple(need), Material::Simple { digest, signatures }) => {
            simple_signatures(need, image, digest, signatures, now).map(|_| digest)
        }
        (Need::Cosign(need), Material::Cosign { digest, signatures }) => {
            cosign::evaluate(need, image, digest, signatures).map(|_| digest)
        }
        (Need::Sigstore(need), Material::Sigstore { digest, bundles }) => {
            sigstore::evaluate(need, image, digest, bundles, now).map(|_| digest)
        }
        (
            Need::Attestation(need),
            Material::Attestation {
                digest,
                bundles,
                envelopes,
            },
        ) => attestation::evaluate(need, image, digest, bundles, envelopes, now).map(|_| digest),
        (Need::TagDigest, Material::TagDigest(digest)) => Ok(digest),
        _ => Err(Reason::unverifiable(
            "the evidence gathered is not the evidence the policy needs",
        )),
    }
}

/// Whether verifying `gathered` for `need` at `now` costs signature checks: not for a
/// failure, Notary's outcome or a tag's digest, nor for Sigstore bundles, attestations or
/// Notation signatures whose verdicts are remembered (Notation's for a time window that holds
/// `now`).
pub fn costly(need: &Need, image: &ImageRef, gathered: &Gathered, now: UnixTime) -> bool {
    match (need, gathered) {
        (_, Err(_) | Ok(Material::Trust(_) | Material::TagDigest(_))) => false,
        (Need::Sigstore(need), Ok(Material::Sigstore { digest, bundles })) => {
            !sigstore::remembered(need, digest, bundles)
        }
        (
            Need::Attestation(need),
            Ok(Material::Attestation {
                digest,
                bundles,
                envelopes,
            }),
        ) => !attestation::remembered(need, digest, bundles, envelopes),
        (
            Need::Notation(need),
            Ok(Material::Notation {
                digest,
                manifest,
                signatures,
            }),
        ) => !notation::descriptor(digest, manifest)
            .is_ok_and(|target| notation::remembered(need, image, &target, signatures, now)),
        _ => true,
    }
}

/// Names the format in a fetch failure where the URL alone would not.
fn prefix(need: &Need) -> &'static str {
    match need {
        Need::Simple(_) => "simple signing: ",
        Need::Cosign(_) => "cosign: ",
        Need::Sigstore(_) => "sigstore: ",
        Need::Attestation(_) => "attestations: ",
        Need::Notation(_) => "notation: ",
        Need::Trust(_) | Need::TagDigest => "",
    }
}

#[cfg(feature = "openpgp")]
fn simple_signatures(
    need: &SimpleNeed,
    image: &ImageRef,
    digest: &Digest,
    signatures: &[Vec<u8>],
    now: UnixTime,
) -> Result<Digest, Reason> {
    simple::openpgp::evaluate(need, image, digest, signatures, now)
}

/// Without OpenPGP no simple signature can be checked: fail closed, as the policy's to fix.
#[cfg(not(feature = "openpgp"))]
fn simple_signatures(
    _: &SimpleNeed,
    _: &ImageRef,
    _: &Digest,
    _: &[Vec<u8>],
    _: UnixTime,
) -> Result<Digest, Reason> {
    Err(Reason::policy(
        "simple signing: this build cannot verify OpenPGP signatures (feature \"openpgp\")",
    ))
}

#[cfg(test)]
mod tests;
