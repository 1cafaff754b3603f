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

pub use client::{Trust, TrustError};

mod caches;
mod client;
mod key;
#[cfg(test)]
mod tests;
