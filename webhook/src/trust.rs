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
//! (see the budgets below for what each weighs and why that much).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use portieris_core::ImageRef;
use portieris_core::notary::{
    self, Metadata, NotaryError, Query, Signer, Step, TargetRef, Trusted, Verified,
};
use portieris_core::time::UnixTime;

use super::fetch::cache::TtlCache;
use super::fetch::coalesce::Coalescer;
use super::fetch::trust_server::{TrustServerError, TrustServers};
use super::fetch::{Credential, FetchError, Fetcher, MAX_BODY_BYTES, Session};
use key::{Key, Parts};

mod key;

/// Largest `root.json` and `timestamp.json` read (notary's own bound on a timestamp): a root
/// holds a few keys and certificates, a timestamp one hash.
const MAX_SMALL_ROLE_BYTES: usize = 1024 * 1024;
/// Largest snapshot, targets or delegated role read: they grow with tags and delegations.
const MAX_ROLE_BYTES: usize = MAX_BODY_BYTES;
/// Delegation rounds before giving up (docker uses two levels: `targets/releases`, signers).
const MAX_ROUNDS: usize = 8;
/// Failures are remembered this long: a burst of pods with a broken image costs one fetch.
const FAILURE_TTL: Duration = Duration::from_secs(5);
/// How long the last trusted state of a repository is kept for rollback protection.
const TRUSTED_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CACHE_ENTRIES: usize = 10_000;
/// Metadata is much larger than a result (up to the response limit per role): fewer entries.
const METADATA_ENTRIES: usize = 1_000;
/// An earlier fetch is kept this long (and for this many repositories) to refresh from:
/// bounded more tightly, as it outlives its reuse.
const REFRESH_TTL: Duration = Duration::from_secs(60 * 60);
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

/// Why an image's trust data could not be verified. Every variant names the repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Server(#[from] TrustServerError),
    #[error("no trust data for {gun} on {server}")]
    NoTrustData { gun: String, server: String },
    #[error("fetching {role} trust data of {gun}: {source}")]
    Fetch {
        gun: String,
        role: String,
        source: FetchError,
    },
    #[error("trust data of {gun} refused: {error}")]
    Verify { gun: String, error: NotaryError },
    #[error("trust data of {gun} names an invalid delegation role \"{role}\"")]
    InvalidRole { gun: String, role: String },
    #[error("trust data of {gun}: delegations still incomplete after {MAX_ROUNDS} rounds")]
    TooManyRounds { gun: String },
    #[error("verifying trust data of {gun} stopped unexpectedly")]
    Aborted { gun: String },
}

/// Verifies images against their trust servers. Build once at startup; share by reference.
pub struct Trust {
    inner: Arc<Inner>,
}

struct Inner {
    fetcher: Arc<Fetcher>,
    servers: TrustServers,
    trusted: Mutex<TtlCache<(String, String), Weighed<Trusted>>>,
    results: Arc<Coalescer<Key, Checked>>,
    /// Top-level metadata by repository, shared by all its tags (metric `trust_metadata`).
    repositories: Arc<Coalescer<RepositoryKey, Result<Arc<Repository>, TrustError>>>,
    /// Delegation roles fetched in one round, by top-level fetch (its generation) and the
    /// roles asked for (metric `trust_delegations`).
    delegations: Arc<Coalescer<RoundKey, Result<Roles, TrustError>>>,
    /// The last top-level fetch per repository, past its reuse: a refresh fetches the
    /// timestamp first and keeps the rest when it names the same snapshot.
    previous: Mutex<TtlCache<RepositoryKey, Arc<Repository>>>,
    /// Numbers the top-level fetches: delegations are only ever combined with the top-level
    /// metadata they were fetched after (a refresh that keeps the snapshot keeps the number,
    /// as the delegations the snapshot lists are the same; a full fetch takes a new one).
    generations: AtomicU64,
    ttl: Duration,
    /// The wall clock; tests over recorded metadata fix it inside the metadata's validity.
    clock: fn() -> UnixTime,
}

/// A verification's result as cached, weighed.
type Checked = Result<Weighed<Arc<Verified>>, TrustError>;

/// A round of delegation roles: the top-level fetch's generation and the roles, sorted.
type RoundKey = (u64, Vec<String>);

/// Delegation roles as fetched: `None` when the server answered 404.
type Roles = Arc<Vec<(String, Option<Vec<u8>>)>>;

/// Credentials are part of the key for the same reason as in [`Key`](key::Key): metadata one
/// namespace's pull Secret could read must not serve another namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RepositoryKey {
    server: String,
    gun: String,
    credentials: Vec<Credential>,
}

/// A value and the bytes it holds, for the caches' byte bounds: the core's [`Trusted`] (alone,
/// and in [`Verified`]) keeps its root private, so its weight is taken where it is verified,
/// from the root it was verified against (the core keeps a copy of exactly those bytes).
#[derive(Clone)]
struct Weighed<T> {
    value: T,
    bytes: usize,
}

/// A repository's top-level metadata as fetched (unverified: each use verifies it).
struct Repository {
    generation: u64,
    /// root, timestamp, snapshot and targets; no delegations.
    metadata: Metadata,
    /// Reused until then: the TTL or the earliest `expires` of the roles, whichever is first.
    until: Instant,
}

/// One verification's inputs, owned by its run.
#[derive(Clone)]
struct Job {
    server: String,
    gun: String,
    target: TargetRef,
    signers: Vec<Signer>,
    credentials: Vec<Credential>,
}

impl Trust {
    /// `ttl`: how long a verified result, and the metadata it came from, is reused
    /// (`--trust-cache-ttl`).
    pub fn new(fetcher: Arc<Fetcher>, servers: TrustServers, ttl: Duration) -> Self {
        Self::with_clock(fetcher, servers, ttl, system_now)
    }

    fn with_clock(
        fetcher: Arc<Fetcher>,
        servers: TrustServers,
        ttl: Duration,
        clock: fn() -> UnixTime,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
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
            }),
        }
    }

    /// Verifies `image` (its digest if it has one, else its tag) against the trust server
    /// `server` (the policy's `trustServer`) or the one known for its registry, with pinned
    /// `signers`, authenticating with `credentials` in order.
    pub async fn verify(
        &self,
        image: &ImageRef,
        server: Option<&str>,
        signers: &[Signer],
        credentials: &[Credential],
    ) -> Result<Arc<Verified>, TrustError> {
        let server = self.inner.servers.resolve(image.domain(), server)?;
        let target = match (image.digest(), image.tag()) {
            (Some(digest), _) => TargetRef::Digest(digest.clone()),
            (None, tag) => TargetRef::Tag(tag.unwrap_or("latest").to_string()),
        };
        let gun = image.name();
        let key = Parts {
            server: &server,
            gun: &gun,
            target: &target,
            signers,
            credentials,
        }
        .key();
        // The job owns copies of its inputs; made only when a run starts (a miss).
        let run = || {
            let job = Job {
                server: server.to_string(),
                gun: gun.clone(),
                target,
                signers: signers.to_vec(),
                credentials: credentials.to_vec(),
            };
            let inner = Arc::clone(&self.inner);
            async move {
                let result = inner.run(&job).await.map(|weighed| Weighed {
                    value: Arc::new(weighed.value),
                    bytes: weighed.bytes,
                });
                let ttl = inner.keep_for(&result);
                (result, ttl)
            }
        };
        let result = self.inner.results.get_or_run(key, run).await;
        match result {
            Ok(result) => result.map(|weighed| weighed.value),
            Err(_) => Err(TrustError::Aborted { gun }),
        }
    }
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
fn trusted_bytes(trusted: &Trusted, root: &[u8]) -> usize {
    root.len() + trusted.gun().len()
}

/// What a [`Verified`] verified against `root` owns: its [`Trusted`], digest and role names.
fn verified_bytes(verified: &Verified, root: &[u8]) -> usize {
    trusted_bytes(&verified.trusted, root)
        + verified.digest.hex().len()
        + verified.roles.iter().map(String::len).sum::<usize>()
}

impl Job {
    fn repository_key(&self) -> RepositoryKey {
        RepositoryKey {
            server: self.server.clone(),
            gun: self.gun.clone(),
            credentials: self.credentials.clone(),
        }
    }

    fn aborted(&self) -> TrustError {
        TrustError::Aborted {
            gun: self.gun.clone(),
        }
    }
}

impl Inner {
    async fn run(self: &Arc<Self>, job: &Job) -> Result<Weighed<Verified>, TrustError> {
        let repository = self.repository(job).await?;
        match self.verify_with(job, &repository).await {
            // The cached metadata is older than what was trusted since (another credential
            // set, or another server's view, fetched a newer version): fetch again, once.
            // A server that really rolled back is still refused, by the fresh verification.
            Err(TrustError::Verify {
                error: NotaryError::Rollback { .. },
                ..
            }) => {
                self.repositories.forget(&job.repository_key());
                lock(&self.previous).remove(&job.repository_key());
                let fresh = self.repository(job).await?;
                self.verify_with(job, &fresh).await
            }
            other => other,
        }
    }

    /// Verifies the job's target against the repository's metadata, fetching (or reusing)
    /// the delegations the core asks for.
    async fn verify_with(
        self: &Arc<Self>,
        job: &Job,
        repository: &Repository,
    ) -> Result<Weighed<Verified>, TrustError> {
        let mut metadata = repository.metadata.clone();
        let state = (job.server.clone(), job.gun.clone());
        let trusted = lock(&self.trusted).get(&state);
        let query = Query {
            gun: &job.gun,
            target: &job.target,
            signers: &job.signers,
        };
        for _ in 0..MAX_ROUNDS {
            let trusted = trusted.as_ref().map(|t| &t.value);
            let step =
                notary::verify(&query, &metadata, (self.clock)(), trusted).map_err(|error| {
                    TrustError::Verify {
                        gun: job.gun.clone(),
                        error,
                    }
                })?;
            match step {
                Step::Done(verified) => {
                    // `verified.trusted` holds a copy of the root it was verified against.
                    let root = &metadata.root;
                    let state_value = Weighed {
                        value: verified.trusted.clone(),
                        bytes: trusted_bytes(&verified.trusted, root),
                    };
                    lock(&self.trusted).insert(state, state_value, TRUSTED_TTL);
                    let bytes = verified_bytes(&verified, root);
                    return Ok(Weighed {
                        value: verified,
                        bytes,
                    });
                }
                Step::Fetch(roles) => {
                    self.fetch_delegations(job, repository, &roles, &mut metadata)
                        .await?;
                }
            }
        }
        Err(TrustError::TooManyRounds {
            gun: job.gun.clone(),
        })
    }

    /// The repository's top-level metadata: cached, else the fetch in flight, else fetched
    /// (refreshed from the timestamp when an earlier fetch is known).
    async fn repository(self: &Arc<Self>, job: &Job) -> Result<Arc<Repository>, TrustError> {
        let inner = Arc::clone(self);
        let owned = job.clone();
        let run = move || async move {
            let key = owned.repository_key();
            let session = inner.fetcher.session(&owned.credentials);
            let previous = lock(&inner.previous).get(&key);
            let refreshed = match previous {
                Some(previous) => inner.refresh(&session, &owned, &previous).await,
                None => None,
            };
            let result = match refreshed {
                Some(repository) => Ok(repository),
                None => inner
                    .fetch_top_level(&session, &owned)
                    .await
                    .map(|metadata| {
                        let keep = inner.keep_top_level(&metadata);
                        Arc::new(Repository {
                            generation: inner.generations.fetch_add(1, Ordering::Relaxed),
                            until: Instant::now() + keep,
                            metadata,
                        })
                    }),
            };
            let ttl = match &result {
                Ok(repository) => {
                    let kept = Arc::clone(repository);
                    lock(&inner.previous).insert(key, kept, inner.refresh_ttl());
                    remaining(repository.until)
                }
                Err(_) => FAILURE_TTL,
            };
            (result, ttl)
        };
        self.repositories
            .get_or_run(job.repository_key(), run)
            .await
            .unwrap_or_else(|_| Err(job.aborted()))
    }

    /// The earlier fetch with a new timestamp, when that names the same snapshot (so the same
    /// root, targets and delegations) and nothing has expired; else `None`, and everything is
    /// fetched again (any failure here included: the full fetch reports it).
    async fn refresh(
        &self,
        session: &Session<'_>,
        job: &Job,
        previous: &Repository,
    ) -> Option<Arc<Repository>> {
        let timestamp = session
            .get_within(&role_url(job, "timestamp"), MAX_SMALL_ROLE_BYTES)
            .await
            .ok()?;
        let snapshot = snapshot_meta(&timestamp)?;
        if snapshot_meta(&previous.metadata.timestamp) != Some(snapshot) {
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

    fn keep_top_level(&self, metadata: &Metadata) -> Duration {
        let roles = [
            &metadata.root,
            &metadata.timestamp,
            &metadata.snapshot,
            &metadata.targets,
        ];
        self.keep_metadata(self.ttl, roles.into_iter().map(Vec::as_slice))
    }

    /// root first (a 404 means the repository is not signed at all, and it settles
    /// authentication for the session), then timestamp, snapshot and targets together.
    async fn fetch_top_level(
        &self,
        session: &Session<'_>,
        job: &Job,
    ) -> Result<Metadata, TrustError> {
        let root = session
            .get_optional_within(&role_url(job, "root"), MAX_SMALL_ROLE_BYTES)
            .await
            .map_err(|source| fetch_error(job, "root", source))?
            .ok_or_else(|| TrustError::NoTrustData {
                gun: job.gun.clone(),
                server: job.server.clone(),
            })?;
        let get = |role: &'static str, limit| async move {
            session
                .get_within(&role_url(job, role), limit)
                .await
                .map_err(|source| fetch_error(job, role, source))
        };
        let (timestamp, snapshot, targets) = futures::try_join!(
            get("timestamp", MAX_SMALL_ROLE_BYTES),
            get("snapshot", MAX_ROLE_BYTES),
            get("targets", MAX_ROLE_BYTES)
        )?;
        Ok(Metadata {
            root,
            timestamp,
            snapshot,
            targets,
            delegations: Default::default(),
        })
    }

    /// Adds the roles not fetched yet to `metadata`: from the cache when this round was
    /// fetched for the same top-level metadata, else fetched (once for concurrent callers).
    async fn fetch_delegations(
        self: &Arc<Self>,
        job: &Job,
        repository: &Repository,
        roles: &[String],
        metadata: &mut Metadata,
    ) -> Result<(), TrustError> {
        let mut missing: Vec<String> = roles
            .iter()
            .filter(|role| !metadata.delegations.contains_key(*role))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Err(TrustError::TooManyRounds {
                gun: job.gun.clone(),
            });
        }
        for role in &missing {
            check_role(job, role)?;
        }
        missing.sort_unstable();
        missing.dedup();
        let key = (repository.generation, missing.clone());
        let inner = Arc::clone(self);
        let owned = job.clone();
        let run = move || async move {
            let session = inner.fetcher.session(&owned.credentials);
            let result = inner.fetch_roles(&session, &owned, &missing).await;
            let ttl = match &result {
                // Past the top-level metadata's reuse: a refresh that keeps the snapshot keeps
                // the generation, and the snapshot pins these roles' hashes, so they are still
                // the ones the server serves.
                Ok(fetched) => {
                    let bodies = fetched.iter().filter_map(|(_, body)| body.as_deref());
                    inner.keep_metadata(inner.refresh_ttl(), bodies)
                }
                Err(_) => FAILURE_TTL,
            };
            (result.map(Arc::new), ttl)
        };
        let fetched = self
            .delegations
            .get_or_run(key, run)
            .await
            .unwrap_or_else(|_| Err(job.aborted()))?;
        metadata.delegations.extend(fetched.iter().cloned());
        Ok(())
    }

    /// Fetches `roles` concurrently; 404 is recorded as `None`.
    async fn fetch_roles(
        &self,
        session: &Session<'_>,
        job: &Job,
        roles: &[String],
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, TrustError> {
        futures::future::try_join_all(roles.iter().map(|role| async move {
            let body = session
                .get_optional_within(&role_url(job, role), MAX_ROLE_BYTES)
                .await
                .map_err(|source| fetch_error(job, role, source))?;
            Ok::<_, TrustError>((role.clone(), body))
        }))
        .await
    }

    /// Successes until the TTL or the metadata's expiry; failures briefly.
    fn keep_for(&self, result: &Checked) -> Duration {
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
    fn keep_metadata<'a>(
        &self,
        limit: Duration,
        roles: impl IntoIterator<Item = &'a [u8]>,
    ) -> Duration {
        let now = (self.clock)();
        roles
            .into_iter()
            .map(|body| match expires(body) {
                Some(at) => Duration::from_secs(at.0.saturating_sub(now.0)),
                None => FAILURE_TTL,
            })
            .fold(limit, Duration::min)
    }

    /// How long what a refresh may reuse is kept: nothing when caching is off (a zero TTL).
    fn refresh_ttl(&self) -> Duration {
        if self.ttl.is_zero() {
            Duration::ZERO
        } else {
            REFRESH_TTL
        }
    }
}

/// Time left until `until`; zero (not cached) once passed.
fn remaining(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}

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

fn role_url(job: &Job, role: &str) -> String {
    format!("{}/v2/{}/_trust/tuf/{role}.json", job.server, job.gun)
}

fn fetch_error(job: &Job, role: &str, source: FetchError) -> TrustError {
    TrustError::Fetch {
        gun: job.gun.clone(),
        role: role.to_string(),
        source,
    }
}

/// Delegation names come from the metadata: keep them to `targets/<name>[/<name>…]` so that
/// none can walk the server's URL space.
fn check_role(job: &Job, role: &str) -> Result<(), TrustError> {
    let valid = role.strip_prefix("targets/").is_some_and(|rest| {
        rest.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        })
    });
    if valid {
        Ok(())
    } else {
        Err(TrustError::InvalidRole {
            gun: job.gun.clone(),
            role: role.to_string(),
        })
    }
}

fn system_now() -> UnixTime {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UnixTime(seconds)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    // Relative: this file is also compiled into tests/fetch.rs, under another root.
    use super::super::fetch::FetchConfig;
    use super::super::fetch::test_server::{Canned, FakeServer};

    fn trust(extra: &[(String, String)]) -> Trust {
        let config = FetchConfig::new(Duration::from_secs(2), None);
        let fetcher = Arc::new(Fetcher::new(&config).expect("client"));
        let servers = TrustServers::new(extra.iter().cloned()).expect("servers");
        Trust::with_clock(fetcher, servers, Duration::from_secs(60), fixtures_made)
    }

    /// When the notary fixtures were recorded (`generated_at`, the same for every case): the
    /// clock of these tests, so they do not depend on the date they run on.
    fn fixtures_made() -> UnixTime {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/fixtures/notary/signed/expected.json");
        let text = std::fs::read_to_string(path).expect("fixture");
        let expected: serde_json::Value = serde_json::from_str(&text).expect("json");
        parse_utc(expected["generated_at"].as_str().expect("generated_at")).expect("date")
    }

    fn job(role_server: &str) -> Job {
        Job {
            server: role_server.to_string(),
            gun: "127.0.0.1:5000/test/app".into(),
            target: TargetRef::Tag("v1".into()),
            signers: Vec::new(),
            credentials: Vec::new(),
        }
    }

    #[tokio::test]
    async fn an_image_of_an_unmapped_registry_names_the_registry_and_the_flag() {
        let image = ImageRef::parse("registry.example/app:v1").expect("image");
        let error = trust(&[])
            .verify(&image, None, &[], &[])
            .await
            .expect_err("no server");
        assert!(matches!(
            error,
            TrustError::Server(TrustServerError::Unknown { .. })
        ));
        assert!(
            error
                .to_string()
                .contains("--trust-server registry.example="),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_repository_without_root_metadata_has_no_trust_data() {
        let server = FakeServer::start(|_| Canned::status(404)).await;
        let image = ImageRef::parse("127.0.0.1:5000/test/app:v1").expect("image");
        let trust = trust(&[("127.0.0.1:5000".into(), server.url())]);
        for _ in 0..3 {
            let error = trust
                .verify(&image, None, &[], &[])
                .await
                .expect_err("unsigned");
            assert_eq!(
                error,
                TrustError::NoTrustData {
                    gun: "127.0.0.1:5000/test/app".into(),
                    server: server.url()
                }
            );
        }
        assert_eq!(server.requests(), 1, "the failure is cached");
        assert_eq!(
            server.paths(),
            ["/v2/127.0.0.1:5000/test/app/_trust/tuf/root.json"]
        );
    }

    #[tokio::test]
    async fn the_policy_trust_server_is_used_over_the_map() {
        let server = FakeServer::start(|_| Canned::status(404)).await;
        let image = ImageRef::parse("docker.io/library/nginx:1").expect("image");
        let error = trust(&[])
            .verify(&image, Some(&server.url()), &[], &[])
            .await
            .expect_err("unsigned");
        assert!(matches!(error, TrustError::NoTrustData { .. }), "{error}");
        assert_eq!(
            server.paths(),
            ["/v2/docker.io/library/nginx/_trust/tuf/root.json"]
        );
    }

    #[tokio::test]
    async fn a_failing_role_fetch_names_the_role_and_url() {
        let server = FakeServer::start(|seen| {
            if seen.path.ends_with("/snapshot.json") {
                Canned::status(500)
            } else {
                Canned::ok(b"{}".to_vec())
            }
        })
        .await;
        let trust = trust(&[]);
        let job = job(&server.url());
        let session = trust.inner.fetcher.session(&[]);
        let error = trust
            .inner
            .fetch_top_level(&session, &job)
            .await
            .expect_err("500");
        let text = error.to_string();
        assert!(
            text.starts_with("fetching snapshot trust data of 127.0.0.1:5000/test/app: "),
            "{text}"
        );
        assert!(
            text.contains("/_trust/tuf/snapshot.json: HTTP status 500"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn delegations_are_fetched_and_missing_ones_recorded_as_none() {
        let server = FakeServer::start(|seen| {
            if seen.path.ends_with("targets/releases.json") {
                Canned::ok(b"releases".to_vec())
            } else {
                Canned::status(404)
            }
        })
        .await;
        let trust = trust(&[]);
        let job = job(&server.url());
        let session = trust.inner.fetcher.session(&[]);
        let roles = ["targets/releases".to_string(), "targets/alice".to_string()];
        let fetched = trust
            .inner
            .fetch_roles(&session, &job, &roles)
            .await
            .expect("fetched");
        assert_eq!(
            fetched,
            [
                ("targets/releases".to_string(), Some(b"releases".to_vec())),
                ("targets/alice".to_string(), None)
            ]
        );
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn a_round_of_delegations_is_reused_for_the_same_top_level_fetch_only() {
        let server = FakeServer::start(|_| Canned::ok(b"role".to_vec())).await;
        let trust = trust(&[]);
        let job = job(&server.url());
        let repository = |generation| Repository {
            generation,
            metadata: Metadata::default(),
            until: Instant::now() + Duration::from_secs(60),
        };
        let roles = ["targets/releases".to_string()];
        for generation in [0, 0, 1] {
            let mut metadata = Metadata::default();
            trust
                .inner
                .fetch_delegations(&job, &repository(generation), &roles, &mut metadata)
                .await
                .expect("fetched");
            assert_eq!(
                metadata.delegations["targets/releases"].as_deref(),
                Some(&b"role"[..])
            );
            let again = trust
                .inner
                .fetch_delegations(&job, &repository(generation), &roles, &mut metadata)
                .await;
            assert!(
                matches!(again, Err(TrustError::TooManyRounds { .. })),
                "no progress"
            );
        }
        assert_eq!(server.requests(), 2, "once per generation");
    }

    /// Serves a fixture repository of `core/tests/fixtures/notary` (metadata a real
    /// notary-server served) at `/v2/<gun>/_trust/tuf/<role>.json`; 404 for other roles.
    async fn notary(case: &str) -> FakeServer {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/fixtures/notary")
            .join(case);
        FakeServer::start(move |seen| {
            let role = seen
                .path
                .split_once("/_trust/tuf/")
                .and_then(|(_, role)| role.strip_suffix(".json"));
            match role.and_then(|role| std::fs::read(dir.join(format!("{role}.json"))).ok()) {
                Some(body) => Canned::ok(body),
                None => Canned::status(404),
            }
        })
        .await
    }

    const SIGNED: &str = "127.0.0.1:25000/test/signed";

    fn trust_for(server: &FakeServer) -> Trust {
        trust(&[("127.0.0.1:25000".into(), server.url())])
    }

    fn tuf_paths(server: &FakeServer) -> Vec<String> {
        let mut paths: Vec<String> = server
            .paths()
            .into_iter()
            .filter_map(|p| {
                p.split_once("/_trust/tuf/")
                    .map(|(_, role)| role.to_string())
            })
            .collect();
        paths.sort();
        paths
    }

    const ONE_SET: [&str; 5] = [
        "root.json",
        "snapshot.json",
        "targets.json",
        "targets/releases.json",
        "timestamp.json",
    ];

    #[tokio::test]
    async fn a_second_tag_of_a_repository_is_verified_without_fetching_its_metadata_again() {
        let server = notary("signed").await;
        let trust = trust_for(&server);
        let mut digests = Vec::new();
        for tag in ["v1", "v2", "oci"] {
            let image = ImageRef::parse(&format!("{SIGNED}:{tag}")).expect("image");
            let verified = trust.verify(&image, None, &[], &[]).await.expect(tag);
            digests.push(verified.digest.to_string());
        }
        assert_eq!(
            digests,
            [
                "sha256:ea8937ed4765cd3025fa2d319761afde635fba1deb03135a2c7df2dacbc58452",
                "sha256:5591cfea6fbfd91a33f53057f10e76d247a3a6808dfaedb71161052e2e6a4713",
                "sha256:3d63bb705b39e6744197afafbc059d566691dcbd5ae304e5080d81eac92d7dfe",
            ],
            "each tag is verified to its own digest"
        );
        assert_eq!(tuf_paths(&server), ONE_SET);
    }

    #[tokio::test]
    async fn concurrent_cold_tags_of_a_repository_share_one_set_of_fetches() {
        let server = notary("signed").await;
        let trust = trust_for(&server);
        let images: Vec<ImageRef> = ["v1", "v2", "oci", "v1", "v2", "oci"]
            .iter()
            .map(|tag| ImageRef::parse(&format!("{SIGNED}:{tag}")).expect("image"))
            .collect();
        let results =
            futures::future::join_all(images.iter().map(|i| trust.verify(i, None, &[], &[]))).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(tuf_paths(&server), ONE_SET);
    }

    #[tokio::test]
    async fn a_tag_missing_from_the_cached_targets_is_denied_without_fetching_again() {
        let server = notary("signed").await;
        let trust = trust_for(&server);
        let signed = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
        trust.verify(&signed, None, &[], &[]).await.expect("signed");
        for tag in ["v8", "v9"] {
            let image = ImageRef::parse(&format!("{SIGNED}:{tag}")).expect("image");
            let error = trust
                .verify(&image, None, &[], &[])
                .await
                .expect_err("never signed");
            assert!(
                matches!(
                    &error,
                    TrustError::Verify {
                        error: NotaryError::NotSigned { .. },
                        ..
                    }
                ),
                "{error}"
            );
        }
        assert_eq!(tuf_paths(&server), ONE_SET);
    }

    #[tokio::test]
    async fn pinned_signers_are_still_checked_per_tag_against_cached_metadata() {
        let server = notary("signers").await;
        let trust = trust_for(&server);
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/fixtures/notary/keys");
        let signer = |name: &str, key: &str| Signer {
            name: name.into(),
            public_key_pem: std::fs::read_to_string(keys.join(format!("{key}.pub.pem")))
                .expect("key"),
        };
        let image = ImageRef::parse("127.0.0.1:25000/test/signers:v1").expect("image");
        let both = [signer("alice", "alice"), signer("bob", "bob")];
        trust
            .verify(&image, None, &both, &[])
            .await
            .expect("alice and bob signed");
        let fetched = server.requests();
        let wrong_key = [signer("alice", "mallory")];
        let error = trust
            .verify(&image, None, &wrong_key, &[])
            .await
            .expect_err("alice's role does not list mallory's key");
        assert!(matches!(error, TrustError::Verify { .. }), "{error}");
        assert_eq!(
            server.requests(),
            fetched,
            "served from the cached metadata"
        );
    }

    #[tokio::test]
    async fn metadata_is_cached_per_credentials() {
        let server = notary("signed").await;
        let trust = trust_for(&server);
        let image = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
        let credential = Credential {
            username: "user".into(),
            password: "secret".into(),
        };
        trust
            .verify(&image, None, &[], &[])
            .await
            .expect("anonymous");
        trust
            .verify(&image, None, &[], &[credential])
            .await
            .expect("with a credential");
        assert_eq!(server.requests(), 2 * ONE_SET.len());
    }

    fn signed_key(server: &FakeServer) -> RepositoryKey {
        RepositoryKey {
            server: server.url(),
            gun: SIGNED.into(),
            credentials: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_refresh_fetches_the_timestamp_and_reuses_the_rest_for_the_same_snapshot() {
        let server = notary("signed").await;
        let trust = trust_for(&server);
        let v1 = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
        trust.verify(&v1, None, &[], &[]).await.expect("v1");
        // As if the metadata's TTL had passed.
        trust.inner.repositories.forget(&signed_key(&server));
        let v2 = ImageRef::parse(&format!("{SIGNED}:v2")).expect("image");
        trust.verify(&v2, None, &[], &[]).await.expect("v2");
        let mut expected = ONE_SET.to_vec();
        expected.push("timestamp.json");
        expected.sort_unstable();
        assert_eq!(tuf_paths(&server), expected);
    }

    #[tokio::test]
    async fn a_refresh_whose_timestamp_names_another_snapshot_fetches_everything() {
        let server = notary("signed").await;
        let trust = trust_for(&server);
        let v1 = ImageRef::parse(&format!("{SIGNED}:v1")).expect("image");
        trust.verify(&v1, None, &[], &[]).await.expect("v1");
        let key = signed_key(&server);
        let previous = lock(&trust.inner.previous).get(&key).expect("kept");
        let mut older = previous.metadata.clone();
        older.timestamp = br#"{"signed":{"meta":{"snapshot":{"version":1}}}}"#.to_vec();
        let older = Repository {
            generation: previous.generation,
            metadata: older,
            until: previous.until,
        };
        lock(&trust.inner.previous).insert(key.clone(), Arc::new(older), REFRESH_TTL);
        trust.inner.repositories.forget(&key);
        let v2 = ImageRef::parse(&format!("{SIGNED}:v2")).expect("image");
        trust.verify(&v2, None, &[], &[]).await.expect("v2");
        let paths = tuf_paths(&server);
        let count = |role: &str| paths.iter().filter(|p| *p == role).count();
        assert_eq!(
            [
                count("root.json"),
                count("snapshot.json"),
                count("targets.json")
            ],
            [2, 2, 2],
            "{paths:?}"
        );
        assert_eq!(
            count("timestamp.json"),
            3,
            "the refresh's, then the full fetch's"
        );
        assert_eq!(
            count("targets/releases.json"),
            2,
            "delegations of another snapshot are not reused"
        );
    }

    #[test]
    fn expiry_dates_are_read_as_notary_writes_them() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(UnixTime(0)));
        assert_eq!(
            parse_utc("2000-03-01T00:00:00Z"),
            Some(UnixTime(951_868_800))
        );
        assert_eq!(
            parse_utc("2026-12-11T21:14:15.008180593Z"),
            Some(UnixTime(1_797_023_655))
        );
        for bad in [
            "2026-12-11T21:14:15+01:00",
            "2026-12-11 21:14:15Z",
            "2026-13-11T21:14:15Z",
            "2026-12-11T21:14:15.Z",
            "+026-12-11T21:14:15Z",
            "",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
        let role = br#"{"signed":{"_type":"Timestamp","expires":"1970-01-01T00:01:40Z"}}"#;
        assert_eq!(expires(role), Some(UnixTime(100)));
        assert_eq!(expires(b"not json"), None);
    }

    #[test]
    fn metadata_is_kept_until_the_ttl_or_its_first_expiry() {
        let trust = trust(&[]);
        let far = br#"{"signed":{"expires":"2999-01-01T00:00:00Z"}}"#;
        let past = br#"{"signed":{"expires":"2000-01-01T00:00:00Z"}}"#;
        let keep = |roles: &[&[u8]]| {
            trust
                .inner
                .keep_metadata(trust.inner.ttl, roles.iter().copied())
        };
        assert_eq!(keep(&[far]), Duration::from_secs(60), "the TTL");
        assert_eq!(keep(&[far, past]), Duration::ZERO, "expired: not kept");
        assert_eq!(keep(&[far, b"{}"]), FAILURE_TTL, "no date: briefly");
    }

    #[test]
    fn delegation_role_names_cannot_leave_the_targets_tree() {
        let job = job("https://notary.example");
        for good in [
            "targets/releases",
            "targets/alice",
            "targets/team/ci-bot_1.x",
        ] {
            assert!(check_role(&job, good).is_ok(), "{good}");
        }
        for bad in [
            "root",
            "targets",
            "targets/",
            "targets/../root",
            "targets/a//b",
            "targets/a?x",
            "targets/./a",
        ] {
            assert!(check_role(&job, bad).is_err(), "{bad}");
        }
    }
}
