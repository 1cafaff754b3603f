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

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use portieris_core::ImageRef;
use portieris_core::notary::{
    self, Metadata, NotaryError, Query, Signer, Step, TargetRef, Trusted, Verified,
};
use portieris_core::time::UnixTime;

use super::fetch::cache::TtlCache;
use super::fetch::coalesce::Coalescer;
use super::fetch::trust_server::{TrustServerError, TrustServers};
use super::fetch::{Credential, FetchError, Fetcher, Session};

/// Delegation rounds before giving up (docker uses two levels: `targets/releases`, signers).
const MAX_ROUNDS: usize = 8;
/// Failures are remembered this long: a burst of pods with a broken image costs one fetch.
const FAILURE_TTL: Duration = Duration::from_secs(5);
/// How long the last trusted state of a repository is kept for rollback protection.
const TRUSTED_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CACHE_ENTRIES: usize = 10_000;

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
    trusted: Mutex<TtlCache<(String, String), Trusted>>,
    results: Arc<Coalescer<Key, Result<Verified, TrustError>>>,
    ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    server: String,
    gun: String,
    target: String,
    signers: Vec<(String, String)>,
    credentials: Vec<Credential>,
}

/// One verification's inputs, owned by its run.
struct Job {
    server: String,
    gun: String,
    target: TargetRef,
    signers: Vec<Signer>,
    credentials: Vec<Credential>,
}

impl Trust {
    /// `ttl`: how long a verified result is reused (`--trust-cache-ttl`).
    pub fn new(fetcher: Arc<Fetcher>, servers: TrustServers, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                fetcher,
                servers,
                trusted: Mutex::new(TtlCache::new(CACHE_ENTRIES)),
                results: Arc::new(Coalescer::new(CACHE_ENTRIES)),
                ttl,
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
    ) -> Result<Verified, TrustError> {
        let server = self.inner.servers.resolve(image.domain(), server)?;
        let target = match (image.digest(), image.tag()) {
            (Some(digest), _) => TargetRef::Digest(digest.clone()),
            (None, tag) => TargetRef::Tag(tag.unwrap_or("latest").to_string()),
        };
        let job = Job {
            server,
            gun: image.name(),
            target,
            signers: signers.to_vec(),
            credentials: credentials.to_vec(),
        };
        let key = job.key();
        let gun = job.gun.clone();
        let inner = Arc::clone(&self.inner);
        let run = move || async move {
            let result = inner.run(&job).await;
            let ttl = inner.keep_for(&result);
            (result, ttl)
        };
        self.inner
            .results
            .get_or_run(key, run)
            .await
            .unwrap_or(Err(TrustError::Aborted { gun }))
    }
}

impl Job {
    fn key(&self) -> Key {
        let target = match &self.target {
            TargetRef::Digest(digest) => digest.to_string(),
            TargetRef::Tag(tag) => format!("tag:{tag}"),
        };
        Key {
            server: self.server.clone(),
            gun: self.gun.clone(),
            target,
            signers: self
                .signers
                .iter()
                .map(|s| (s.name.clone(), s.public_key_pem.clone()))
                .collect(),
            credentials: self.credentials.clone(),
        }
    }
}

impl Inner {
    async fn run(&self, job: &Job) -> Result<Verified, TrustError> {
        let session = self.fetcher.session(&job.credentials);
        let mut metadata = self.fetch_top_level(&session, job).await?;
        let state = (job.server.clone(), job.gun.clone());
        let trusted = lock(&self.trusted).get(&state);
        let query = Query {
            gun: &job.gun,
            target: &job.target,
            signers: &job.signers,
        };
        for _ in 0..MAX_ROUNDS {
            let step =
                notary::verify(&query, &metadata, now(), trusted.as_ref()).map_err(|error| {
                    TrustError::Verify {
                        gun: job.gun.clone(),
                        error,
                    }
                })?;
            match step {
                Step::Done(verified) => {
                    lock(&self.trusted).insert(state, verified.trusted.clone(), TRUSTED_TTL);
                    return Ok(verified);
                }
                Step::Fetch(roles) => {
                    self.fetch_delegations(&session, job, &roles, &mut metadata)
                        .await?;
                }
            }
        }
        Err(TrustError::TooManyRounds {
            gun: job.gun.clone(),
        })
    }

    /// root first (a 404 means the repository is not signed at all, and it settles
    /// authentication for the session), then timestamp, snapshot and targets together.
    async fn fetch_top_level(
        &self,
        session: &Session<'_>,
        job: &Job,
    ) -> Result<Metadata, TrustError> {
        let root = session
            .get_optional(&role_url(job, "root"))
            .await
            .map_err(|source| fetch_error(job, "root", source))?
            .ok_or_else(|| TrustError::NoTrustData {
                gun: job.gun.clone(),
                server: job.server.clone(),
            })?;
        let get = |role: &'static str| async move {
            session
                .get(&role_url(job, role))
                .await
                .map_err(|source| fetch_error(job, role, source))
        };
        let (timestamp, snapshot, targets) =
            futures::try_join!(get("timestamp"), get("snapshot"), get("targets"))?;
        Ok(Metadata {
            root,
            timestamp,
            snapshot,
            targets,
            delegations: Default::default(),
        })
    }

    /// Fetches the roles not fetched yet, concurrently; 404 is recorded as `None`.
    async fn fetch_delegations(
        &self,
        session: &Session<'_>,
        job: &Job,
        roles: &[String],
        metadata: &mut Metadata,
    ) -> Result<(), TrustError> {
        let missing: Vec<&String> = roles
            .iter()
            .filter(|role| !metadata.delegations.contains_key(*role))
            .collect();
        if missing.is_empty() {
            return Err(TrustError::TooManyRounds {
                gun: job.gun.clone(),
            });
        }
        for role in &missing {
            check_role(job, role)?;
        }
        let fetched = futures::future::try_join_all(missing.iter().map(|role| async move {
            let body = session
                .get_optional(&role_url(job, role))
                .await
                .map_err(|source| fetch_error(job, role, source))?;
            Ok::<_, TrustError>(((*role).clone(), body))
        }))
        .await?;
        metadata.delegations.extend(fetched);
        Ok(())
    }

    /// Successes until the TTL or the metadata's expiry; failures briefly.
    fn keep_for(&self, result: &Result<Verified, TrustError>) -> Duration {
        match result {
            Ok(verified) => {
                let left = verified.expires.0.saturating_sub(now().0);
                self.ttl.min(Duration::from_secs(left))
            }
            Err(_) => FAILURE_TTL,
        }
    }
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

fn now() -> UnixTime {
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
        Trust::new(fetcher, servers, Duration::from_secs(60))
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
    async fn delegations_are_fetched_once_and_missing_ones_recorded_as_none() {
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
        let mut metadata = Metadata::default();
        let roles = ["targets/releases".to_string(), "targets/alice".to_string()];
        trust
            .inner
            .fetch_delegations(&session, &job, &roles, &mut metadata)
            .await
            .expect("fetched");
        assert_eq!(
            metadata.delegations["targets/releases"].as_deref(),
            Some(&b"releases"[..])
        );
        assert_eq!(metadata.delegations["targets/alice"], None);
        let again = trust
            .inner
            .fetch_delegations(&session, &job, &roles, &mut metadata)
            .await;
        assert!(
            matches!(again, Err(TrustError::TooManyRounds { .. })),
            "no progress"
        );
        assert_eq!(server.requests(), 2);
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
