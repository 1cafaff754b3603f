//! The verification flow: a [`Trust`] resolves an image's trust server, fetches the
//! repository's top-level roles and lets the core verify them (`portieris_core::notary::verify`)
//! round after round, fetching the delegation roles it asks for. What is fetched and verified
//! goes through the caches of `caches.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use portieris_core::ImageRef;
use portieris_core::notary::{
    self, Metadata, NotaryError, Query, Signer, Step, TargetRef, Trusted, Verified,
};
use portieris_core::time::UnixTime;

use super::caches::{
    FAILURE_TTL, Inner, Repository, RepositoryKey, TRUSTED_TTL, Weighed, lock, remaining,
    trusted_bytes, verified_bytes,
};
use super::key::Parts;
use crate::fetch::trust_server::{TrustServerError, TrustServers};
use crate::fetch::{Credential, FetchError, Fetcher, MAX_BODY_BYTES, Session};

/// Largest `root.json` and `timestamp.json` read (notary's own bound on a timestamp): a root
/// holds a few keys and certificates, a timestamp one hash.
pub(super) const MAX_SMALL_ROLE_BYTES: usize = 1024 * 1024;
/// Largest snapshot, targets or delegated role read: they grow with tags and delegations.
const MAX_ROLE_BYTES: usize = MAX_BODY_BYTES;
/// Delegation rounds before giving up (docker uses two levels: `targets/releases`, signers).
const MAX_ROUNDS: usize = 8;

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
    pub(super) inner: Arc<Inner>,
}

/// One verification's inputs, owned by its run.
#[derive(Clone)]
pub(super) struct Job {
    pub(super) server: String,
    pub(super) gun: String,
    pub(super) target: TargetRef,
    pub(super) signers: Vec<Signer>,
    pub(super) credentials: Vec<Credential>,
}

impl Trust {
    /// `ttl`: how long a verified result, and the metadata it came from, is reused
    /// (`--trust-cache-ttl`).
    pub fn new(fetcher: Arc<Fetcher>, servers: TrustServers, ttl: Duration) -> Self {
        Self::with_clock(fetcher, servers, ttl, crate::clock::now)
    }

    pub(super) fn with_clock(
        fetcher: Arc<Fetcher>,
        servers: TrustServers,
        ttl: Duration,
        clock: fn() -> UnixTime,
    ) -> Self {
        Self {
            inner: Arc::new(Inner::new(fetcher, servers, ttl, clock)),
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

    /// One call of the core's state machine, on a blocking thread: its signatures may be RSA
    /// (milliseconds each), and the async workers serve every other request. The metadata
    /// goes there and comes back rather than being copied.
    async fn step(
        &self,
        job: &Job,
        metadata: Metadata,
        trusted: Option<Trusted>,
    ) -> Result<(Metadata, Result<Step, NotaryError>), TrustError> {
        let (gun, target, signers) = (job.gun.clone(), job.target.clone(), job.signers.clone());
        let now = (self.clock)();
        tokio::task::spawn_blocking(move || {
            let query = Query {
                gun: &gun,
                target: &target,
                signers: &signers,
            };
            let step = notary::verify(&query, &metadata, now, trusted.as_ref());
            (metadata, step)
        })
        .await
        .map_err(|_| job.aborted())
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
        let trusted = lock(&self.trusted).get(&state).map(|t| t.value);
        for _ in 0..MAX_ROUNDS {
            let (returned, step) = self.step(job, metadata, trusted.clone()).await?;
            metadata = returned;
            let step = step.map_err(|error| TrustError::Verify {
                gun: job.gun.clone(),
                error,
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

    /// root first (a 404 means the repository is not signed at all, and it settles
    /// authentication for the session), then timestamp, snapshot and targets together.
    pub(super) async fn fetch_top_level(
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
    pub(super) async fn fetch_delegations(
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
    pub(super) async fn fetch_roles(
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
}

pub(super) fn role_url(job: &Job, role: &str) -> String {
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
pub(super) fn check_role(job: &Job, role: &str) -> Result<(), TrustError> {
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
