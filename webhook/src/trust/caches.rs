//! The caches of trust results and metadata: what each holds and weighs, the bounds on
//! their entries and bytes, how long an entry is kept, and the refresh of a repository's
//! top-level roles from an earlier fetch.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portieris_core::notary::{Metadata, Trusted, Verified, freshness};
use portieris_core::time::UnixTime;

use super::client::{Job, MAX_SMALL_ROLE_BYTES, TrustError, role_url};
use super::key::Key;
use crate::fetch::cache::TtlCache;
use crate::fetch::coalesce::Coalescer;
use crate::fetch::trust_server::TrustServers;
use crate::fetch::{Credential, Fetcher, Session};

/// Failures are remembered this long: a burst of pods with a broken image costs one fetch.
pub(super) const FAILURE_TTL: Duration = Duration::from_secs(5);
/// How long the last trusted state of a repository is kept for rollback protection.
pub(super) const TRUSTED_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CACHE_ENTRIES: usize = 10_000;
/// Metadata is much larger than a result (up to the response limit per role): fewer entries.
const METADATA_ENTRIES: usize = 1_000;
/// An earlier fetch is kept this long (and for this many repositories) to refresh from:
/// bounded more tightly, as it outlives its reuse.
pub(super) const REFRESH_TTL: Duration = Duration::from_secs(60 * 60);
const REFRESH_ENTRIES: usize = 256;
/// Bytes of the trusted states (`trust_state`) and of the results (`trust_results`), each
/// weighed by the buffers it owns, chiefly its copy of `root.json` (2.4 to 3.5 KiB in the
/// recorded notary fixtures, more with several root keys): 10,000 entries of a 3 KiB root are about
/// 30 MiB, so the entry bound is reached first for ordinary roots, and this one only caps
/// repositories whose roots are unusually large (without it, 10,000 roots of up to the
/// response limit each could be kept).
const RESULT_BYTES: usize = 32 * 1024 * 1024;
/// Bytes of the top-level metadata (`trust_metadata`) and of the delegation rounds
/// (`trust_delegations`), weighed by the raw role files. A repository's top-level files are
/// about 5 KiB plus 200 bytes per tag in `targets.json` (in the recorded fixtures; delegated
/// roles grow the same way), so 64 MiB keeps all 1,000 entries for repositories of about 300
/// tags, and 150 of 2,000 tags; without it, 1,000 entries of 4 roles of up to the response
/// limit (10 MiB) each could be tens of GiB.
const METADATA_BYTES: usize = 64 * 1024 * 1024;
/// Bytes of the earlier fetches kept to refresh from, weighed as `trust_metadata` (mostly the
/// same `Arc`s, so mostly not additional memory).
const REFRESH_BYTES: usize = 32 * 1024 * 1024;

/// What a [`Trust`](super::Trust) shares with its runs: the client, the trust servers and
/// the caches.
pub(super) struct Inner {
    pub(super) fetcher: Arc<Fetcher>,
    pub(super) servers: TrustServers,
    pub(super) trusted: Mutex<TtlCache<(String, String), Weighed<Trusted>>>,
    pub(super) results: Arc<Coalescer<Key, Checked>>,
    /// Top-level metadata by repository, shared by all its tags (metric `trust_metadata`).
    pub(super) repositories: Arc<Coalescer<RepositoryKey, Result<Arc<Repository>, TrustError>>>,
    /// Delegation roles fetched in one round, by top-level fetch (its generation) and the
    /// roles asked for (metric `trust_delegations`).
    pub(super) delegations: Arc<Coalescer<RoundKey, Result<Roles, TrustError>>>,
    /// The last top-level fetch per repository, past its reuse: a refresh fetches the
    /// timestamp first and keeps the rest when it names the same snapshot.
    pub(super) previous: Mutex<TtlCache<RepositoryKey, Arc<Repository>>>,
    /// Numbers the top-level fetches: delegations are only ever combined with the top-level
    /// metadata they were fetched after (a refresh that keeps the snapshot keeps the number,
    /// as the delegations the snapshot lists are the same; a full fetch takes a new one).
    pub(super) generations: AtomicU64,
    pub(super) ttl: Duration,
    /// The wall clock; tests over recorded metadata fix it inside the metadata's validity.
    pub(super) clock: fn() -> UnixTime,
}

/// A verification's result as cached, weighed.
pub(super) type Checked = Result<Weighed<Arc<Verified>>, TrustError>;

/// A round of delegation roles: the top-level fetch's generation and the roles, sorted.
pub(super) type RoundKey = (u64, Vec<String>);

/// Delegation roles as fetched: `None` when the server answered 404.
pub(super) type Roles = Arc<Vec<(String, Option<Vec<u8>>)>>;

/// Credentials are part of the key for the same reason as in [`Key`]: metadata one
/// namespace's pull Secret could read must not serve another namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct RepositoryKey {
    pub(super) server: String,
    pub(super) gun: String,
    pub(super) credentials: Vec<Credential>,
}

/// A value and the bytes it holds, for the caches' byte bounds: the core's [`Trusted`] (alone,
/// and in [`Verified`]) keeps its root private, so its weight is taken where it is verified,
/// from the root it was verified against (the core keeps a copy of exactly those bytes).
#[derive(Clone)]
pub(super) struct Weighed<T> {
    pub(super) value: T,
    pub(super) bytes: usize,
}

/// A repository's top-level metadata as fetched (unverified: each use verifies it).
pub(super) struct Repository {
    pub(super) generation: u64,
    /// root, timestamp, snapshot and targets; no delegations.
    pub(super) metadata: Metadata,
    /// Reused until then: the TTL or the earliest `expires` of the roles, whichever is first.
    pub(super) until: Instant,
}

impl Repository {
    /// The raw role files (what dominates; the rest is a few words).
    fn bytes(&self) -> usize {
        let Metadata {
            root,
            timestamp,
            snapshot,
            targets,
            delegations,
        } = &self.metadata;
        let delegated: usize = delegations
            .iter()
            .map(|(name, body)| name.len() + body.as_ref().map_or(0, Vec::len))
            .sum();
        root.len() + timestamp.len() + snapshot.len() + targets.len() + delegated
    }
}

// The weights of the cached results. A failure weighs its message: it holds little more than
// the strings the message quotes (computed once per failure, which a fetch preceded).

fn weigh_result(result: &Checked) -> usize {
    match result {
        Ok(verified) => verified.bytes,
        Err(error) => error.to_string().len(),
    }
}

fn weigh_repository(result: &Result<Arc<Repository>, TrustError>) -> usize {
    match result {
        Ok(repository) => repository.bytes(),
        Err(error) => error.to_string().len(),
    }
}

/// The names and raw files of a round of delegation roles.
fn weigh_round(result: &Result<Roles, TrustError>) -> usize {
    match result {
        Ok(roles) => roles
            .iter()
            .map(|(name, body)| name.len() + body.as_ref().map_or(0, Vec::len))
            .sum(),
        Err(error) => error.to_string().len(),
    }
}

/// What a [`Trusted`] verified against `root` owns: its copy of the root (dominant), the GUN
/// and about one role name per version it records (not counted exactly: the core does not
/// expose them, and they are a few dozen bytes).
pub(super) fn trusted_bytes(trusted: &Trusted, root: &[u8]) -> usize {
    root.len() + trusted.gun().len()
}

/// What a [`Verified`] verified against `root` owns: its [`Trusted`], digest and role names.
pub(super) fn verified_bytes(verified: &Verified, root: &[u8]) -> usize {
    trusted_bytes(&verified.trusted, root)
        + verified.digest.hex().len()
        + verified.roles.iter().map(String::len).sum::<usize>()
}

impl Inner {
    /// The caches, empty, with their bounds; `ttl` is `--trust-cache-ttl`.
    pub(super) fn new(
        fetcher: Arc<Fetcher>,
        servers: TrustServers,
        ttl: Duration,
        clock: fn() -> UnixTime,
    ) -> Self {
        Self {
            fetcher,
            servers,
            trusted: Mutex::new(
                TtlCache::named("trust_state", CACHE_ENTRIES)
                    .weighed(RESULT_BYTES, |state: &Weighed<Trusted>| state.bytes),
            ),
            results: Arc::new(
                Coalescer::named("trust_results", CACHE_ENTRIES)
                    .weighed(RESULT_BYTES, weigh_result),
            ),
            repositories: Arc::new(
                Coalescer::named("trust_metadata", METADATA_ENTRIES)
                    .weighed(METADATA_BYTES, weigh_repository),
            ),
            delegations: Arc::new(
                Coalescer::named("trust_delegations", METADATA_ENTRIES)
                    .weighed(METADATA_BYTES, weigh_round),
            ),
            previous: Mutex::new(
                TtlCache::new(REFRESH_ENTRIES)
                    .weighed(REFRESH_BYTES, |repository: &Arc<Repository>| {
                        repository.bytes()
                    }),
            ),
            generations: AtomicU64::new(0),
            ttl,
            clock,
        }
    }

    /// The earlier fetch with a new timestamp, when that names the same snapshot (so the same
    /// root, targets and delegations) and nothing has expired; else `None`, and everything is
    /// fetched again (any failure here included: the full fetch reports it).
    pub(super) async fn refresh(
        &self,
        session: &Session<'_>,
        job: &Job,
        previous: &Repository,
    ) -> Option<Arc<Repository>> {
        let timestamp = session
            .get_within(&role_url(job, "timestamp"), MAX_SMALL_ROLE_BYTES)
            .await
            .ok()?;
        // Read unverified, only to decide whether to fetch again: the core verifies the
        // snapshot against the timestamp either way.
        let snapshot = freshness::snapshot_entry(&timestamp).ok()?;
        if freshness::snapshot_entry(&previous.metadata.timestamp).ok() != Some(snapshot) {
            return None;
        }
        let metadata = Metadata {
            timestamp,
            ..previous.metadata.clone()
        };
        let keep = self.keep_top_level(&metadata);
        (!keep.is_zero()).then(|| {
            Arc::new(Repository {
                // The same snapshot: delegations cached for it still match.
                generation: previous.generation,
                until: Instant::now() + keep,
                metadata,
            })
        })
    }

    pub(super) fn keep_top_level(&self, metadata: &Metadata) -> Duration {
        let roles = [
            &metadata.root,
            &metadata.timestamp,
            &metadata.snapshot,
            &metadata.targets,
        ];
        self.keep_metadata(self.ttl, roles.into_iter().map(Vec::as_slice))
    }

    /// Successes until the TTL or the metadata's expiry; failures briefly.
    pub(super) fn keep_for(&self, result: &Checked) -> Duration {
        match result {
            Ok(Weighed {
                value: verified, ..
            }) => {
                let left = verified.expires.0.saturating_sub((self.clock)().0);
                self.ttl.min(Duration::from_secs(left))
            }
            Err(_) => FAILURE_TTL,
        }
    }

    /// How long fetched roles may be reused: `limit`, never past the earliest `expires` among
    /// them. The dates are read unverified, only to bound the cache: every use verifies the
    /// roles again, expiry included. Unreadable ones are kept briefly (the verification says
    /// what is wrong with them); expired ones not at all.
    pub(super) fn keep_metadata<'a>(
        &self,
        limit: Duration,
        roles: impl IntoIterator<Item = &'a [u8]>,
    ) -> Duration {
        let now = (self.clock)();
        roles
            .into_iter()
            .map(|body| match freshness::expires(body) {
                Ok(at) => Duration::from_secs(at.0.saturating_sub(now.0)),
                Err(_) => FAILURE_TTL,
            })
            .fold(limit, Duration::min)
    }

    /// How long what a refresh may reuse is kept: nothing when caching is off (a zero TTL).
    pub(super) fn refresh_ttl(&self) -> Duration {
        if self.ttl.is_zero() {
            Duration::ZERO
        } else {
            REFRESH_TTL
        }
    }
}

/// Time left until `until`; zero (not cached) once passed.
pub(super) fn remaining(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
