//! Docker Content Trust: fetch a repository's Notary v1 metadata from its trust server and let
//! the core verify it (`portieris_core::notary::verify`), fetching the delegation roles it asks
//! for, round after round.
//!
//! Caches: the last [`Trusted`] state per (server, GUN), so that a later request cannot be
//! served older metadata (rollback); results per (server, GUN, target, signers, credentials)
//! until the TTL or the metadata's expiry, whichever is first, and failures for a few seconds
//! to shed load. Credentials are part of the result key: a namespace whose pull Secrets cannot
//! read a private repository must not be admitted on another namespace's behalf. Concurrent
//! identical verifications share one run.
//!
//! The metadata itself is cached too, as fetched, so that the tags of one repository share
//! one set of fetches: the top-level roles per (server, GUN, credentials), and each round of
//! delegation roles per top-level fetch and role set. The top-level roles are kept until the
//! TTL or their earliest `expires`, then refreshed from the timestamp: when it names the same
//! snapshot, the rest (delegations included, kept up to an hour) is reused. Every tag is still
//! verified by the core against them (hashes, signatures, expiry, rollback, signer pinning),
//! so a cache hit skips I/O only.
//!
//! Every cache is bounded in entries and bytes, the least recently used entry going first
//! (see the budgets in `caches.rs` for what each weighs and why that much).
//!
//! `client.rs` holds the verification flow and its fetches, `caches.rs` the caches, their
//! bounds and the refresh, `key.rs` the key of a verified result.

use portieris_core::time::UnixTime;

pub use client::{Trust, TrustError};

mod caches;
mod client;
mod key;
#[cfg(test)]
mod tests;

// Role files read unverified, only to bound the caches and to decide on a refresh.

/// What a timestamp says of the snapshot (version, hashes, length), read unverified only to
/// decide whether to fetch the snapshot again: the core verifies the snapshot against it.
fn snapshot_meta(timestamp: &[u8]) -> Option<serde_json::Value> {
    let envelope: serde_json::Value = serde_json::from_slice(timestamp).ok()?;
    let meta = envelope.get("signed")?.get("meta")?.get("snapshot")?;
    Some(meta.clone())
}

/// A role's `signed.expires`, as notary writes it (`2026-12-11T21:14:15.008180593Z`, UTC).
fn expires(body: &[u8]) -> Option<UnixTime> {
    let envelope: serde_json::Value = serde_json::from_slice(body).ok()?;
    parse_utc(envelope.get("signed")?.get("expires")?.as_str()?)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; anything else (offsets included) is `None`.
fn parse_utc(text: &str) -> Option<UnixTime> {
    let (date_time, rest) = (text.get(..19)?, text.get(19..)?);
    let fraction = rest.strip_suffix('Z')?;
    let fraction_ok = fraction.is_empty()
        || fraction
            .strip_prefix('.')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    let separators = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")];
    if !fraction_ok
        || separators
            .iter()
            .any(|&(at, sep)| date_time.get(at..=at) != Some(sep))
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = date_time.get(from..to)?;
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second.min(60);
    u64::try_from(seconds).ok().map(UnixTime)
}
