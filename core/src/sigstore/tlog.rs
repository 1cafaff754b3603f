//! A bundle's transparency-log entry, checked offline against the logs of a trusted root:
//! the entry is the bundle's (its body records the same artifact, signature and signer), and
//! the log vouches for it with an inclusion promise (Rekor v1's signed entry timestamp) or an
//! inclusion proof up to a checkpoint the log signed (Rekor v1 and v2).
//!
//! What the entry proves about time: for Rekor v1, the integrated time the log signed in its
//! promise; Rekor v2 signs no time, so the signing time must come from RFC 3161 timestamps.

mod body;
mod checkpoint;
mod merkle;
mod promise;

use core::fmt;

pub use self::body::BodyError;
pub use self::checkpoint::CheckpointError;
pub use self::merkle::ProofError;
use super::bundle::{Bundle, TlogEntry};
use super::trusted_root::LogKey;
use crate::time::UnixTime;

/// How far an integrated time may lie ahead of `now`: the log's clock and ours may differ.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 300;

/// Who the log entry must record as the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer<'a> {
    /// The signing certificate, DER (keyless bundles: [`Bundle::leaf_certificate`]).
    Certificate(&'a [u8]),
    /// The signing key as a DER SubjectPublicKeyInfo (bundles with `publicKey`: the key the
    /// policy names).
    PublicKey(&'a [u8]),
}

impl<'a> Signer<'a> {
    /// The signer `bundle`'s entries must record: its certificate, or, for a bundle with a
    /// `publicKey` hint, the key the policy names (`None` if there is none).
    pub fn of(bundle: &'a Bundle, policy_key_spki: Option<&'a [u8]>) -> Option<Self> {
        match bundle.leaf_certificate() {
            Some(leaf) => Some(Self::Certificate(leaf)),
            None => policy_key_spki.map(Self::PublicKey),
        }
    }
}

/// What a log entry must record: the bundle's content, over this artifact, by this signer.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub bundle: &'a Bundle,
    /// SHA-256 of the artifact (for an image, of its manifest).
    pub artifact_sha256: &'a [u8; 32],
    pub signer: Signer<'a>,
}

/// A verified entry: the log that vouches for it, and the time it proves.
#[derive(Debug, Clone, Copy)]
pub struct Logged<'a> {
    pub log: &'a LogKey,
    /// The integrated time the log signed in its inclusion promise, within the log key's
    /// validity. `None` when the entry has no promise (Rekor v2): then the caller must take
    /// the signing time from a timestamp and check it with [`Logged::log_valid_at`].
    pub integrated_time: Option<UnixTime>,
}

impl Logged<'_> {
    /// Whether the log's key was trusted at `time` (e.g. a verified RFC 3161 time).
    pub fn log_valid_at(&self, time: UnixTime) -> bool {
        self.log.validity.contains(time)
    }
}

/// Why a log entry does not vouch for the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlogError {
    /// No log of the trusted root has the entry's log ID.
    UnknownLog,
    /// The log's key was not trusted at the entry's integrated time.
    LogKeyNotValid { at: UnixTime },
    /// The integrated time is after `now` (beyond [`MAX_CLOCK_SKEW_SECONDS`]).
    IntegratedTimeInFuture { integrated: UnixTime, now: UnixTime },
    /// The entry has neither an inclusion promise nor an inclusion proof.
    NoInclusion,
    /// An inclusion promise without an integrated time to check it over.
    PromiseWithoutTime,
    /// The inclusion promise is not the log's signature over the entry.
    Promise,
    /// The inclusion proof does not lead from the entry to its root hash.
    Proof(ProofError),
    /// The entry rests on its inclusion proof (no promise), and the proof has no checkpoint.
    MissingCheckpoint,
    /// The checkpoint is malformed, not signed by the log, or not for the proof's tree.
    Checkpoint(CheckpointError),
    /// The entry's body is not the bundle's signature.
    Body(BodyError),
}

impl fmt::Display for TlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownLog => f.write_str("the entry's log is not in the trusted root"),
            Self::LogKeyNotValid { at } => write!(
                f,
                "the log's key was not trusted at the entry's integrated time {}",
                crate::time::Rfc3339(*at)
            ),
            Self::IntegratedTimeInFuture { integrated, now } => write!(
                f,
                "the entry's integrated time {} is after now ({})",
                crate::time::Rfc3339(*integrated),
                crate::time::Rfc3339(*now)
            ),
            Self::NoInclusion => f.write_str("the entry has no inclusion promise or proof"),
            Self::PromiseWithoutTime => {
                f.write_str("the entry has an inclusion promise but no integrated time")
            }
            Self::Promise => f.write_str("the inclusion promise is not the log's signature"),
            Self::Proof(error) => write!(f, "inclusion proof: {error}"),
            Self::MissingCheckpoint => f.write_str("the inclusion proof has no checkpoint"),
            Self::Checkpoint(error) => write!(f, "checkpoint: {error}"),
            Self::Body(error) => write!(f, "log entry: {error}"),
        }
    }
}

impl core::error::Error for TlogError {}

/// Verifies that `entry` (one of `claim.bundle`'s) vouches for the claim: its body records the
/// claim, its log is one of `logs` (matched by log ID), and the log vouches for it — every
/// promise and proof present must verify, and at least one must be there; a proof with no
/// promise beside it must end in a checkpoint the log signed. An integrated time after `now`
/// (beyond [`MAX_CLOCK_SKEW_SECONDS`]) or outside the log key's validity is refused.
pub fn verify_entry<'a>(
    entry: &TlogEntry,
    logs: &'a [LogKey],
    claim: &Claim<'_>,
    now: UnixTime,
) -> Result<Logged<'a>, TlogError> {
    let log = logs
        .iter()
        .find(|log| log.log_id == entry.log_id)
        .ok_or(TlogError::UnknownLog)?;
    body::check(entry, claim).map_err(TlogError::Body)?;
    if let Some(time) = entry.integrated_time {
        check_time(log, time, now)?;
    }
    if entry.inclusion_promise.is_none() && entry.inclusion_proof.is_none() {
        return Err(TlogError::NoInclusion);
    }
    let integrated_time = match &entry.inclusion_promise {
        Some(promise) => Some(promise::verify(entry, promise, log)?),
        None => None,
    };
    if let Some(proof) = &entry.inclusion_proof {
        merkle::verify(proof, &entry.body).map_err(TlogError::Proof)?;
        match &proof.checkpoint {
            Some(text) => checkpoint::verify(text, proof, log).map_err(TlogError::Checkpoint)?,
            None if integrated_time.is_none() => return Err(TlogError::MissingCheckpoint),
            None => {}
        }
    }
    Ok(Logged {
        log,
        integrated_time,
    })
}

fn check_time(log: &LogKey, time: UnixTime, now: UnixTime) -> Result<(), TlogError> {
    if time.0 > now.0.saturating_add(MAX_CLOCK_SKEW_SECONDS) {
        return Err(TlogError::IntegratedTimeInFuture {
            integrated: time,
            now,
        });
    }
    if !log.validity.contains(time) {
        return Err(TlogError::LogKeyNotValid { at: time });
    }
    Ok(())
}

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;
