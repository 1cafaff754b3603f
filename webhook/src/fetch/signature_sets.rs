//! Signature sets as fetched (simple signing's signature messages, cosign's signature layers
//! with their payloads), cached per (source, repository, digest, credentials); concurrent
//! identical reads share one fetch.
//!
//! The bytes are cached, not the verdict: the core verifies a cached set again on every
//! admission, against that admission's policy (keys, identity rule), image reference and
//! clock. So no policy's verdict is ever served to another, a key that expires or a signature
//! that goes stale is judged at the time of use, and only the fetching is saved, which is what
//! costs (up to 17 requests for a lookaside store, 2 for the extension API, 1 + one per layer
//! for cosign; verifying a set takes microseconds to a few milliseconds).
//!
//! A set with signatures is kept [`SET_TTL`], as a tag's digest is: a signature removed from
//! its store keeps counting that long. An empty set (no signatures) and a failure are kept
//! [`EMPTY_TTL`]: a burst of pods for an unsigned or unreachable image costs one fetch, and an
//! image signed just after a deny is admitted within seconds.
//!
//! Each cache keeps at most [`SET_ENTRIES`] sets and [`SET_BYTES`] of signatures (a failure
//! weighs its message), the least recently used going first. A set larger than
//! [`MAX_CACHED_SET_BYTES`] is not kept at all (concurrent reads still share its fetch), so one
//! repository with huge signatures cannot flush everyone else's.
//!
//! Credentials are part of the key: a namespace whose pull Secrets (or `storeSecret`) cannot
//! read a repository's signatures must not be served another namespace's read of them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use portieris_core::Digest;
use portieris_core::evidence::{Cause, FetchFailure};

use crate::fetch::Credential;
use crate::fetch::coalesce::Coalescer;

/// How long a set with signatures is reused.
pub const SET_TTL: Duration = Duration::from_secs(30);
/// How long an empty set or a failure is reused.
pub const EMPTY_TTL: Duration = Duration::from_secs(5);
/// Sets kept per cache; the least recently used goes first.
pub const SET_ENTRIES: usize = 1_000;
/// Signature bytes kept per cache (the sum over its sets). Real sets are a few KiB (a simple
/// signing message or a cosign payload is under 1 KiB per signature), so 1,000 of them fit in
/// a few MiB and the entry bound is reached first; this caps a cache filled with sets near
/// [`MAX_CACHED_SET_BYTES`] at 256 of them rather than 64 MiB.
pub const SET_BYTES: usize = 16 * 1024 * 1024;
/// The largest set kept (the sum of its signatures' bytes); real sets are a few KiB.
pub const MAX_CACHED_SET_BYTES: usize = 64 * 1024;

/// Where a set was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A lookaside store, by its URL (without a trailing `/`).
    Store(String),
    /// A registry (its API), by host and port.
    Registry(String),
}

/// Everything a fetched set depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetKey {
    pub source: Source,
    /// The repository path on that source.
    pub repository: String,
    pub digest: Digest,
    /// Sent to the source, in order.
    pub credentials: Vec<Credential>,
}

/// A fetched set, or why it could not be read.
type Fetched<V> = Result<Arc<[V]>, FetchFailure>;

/// The cached sets of one kind of signature. Build once; share by reference.
pub struct SignatureSets<V> {
    sets: Arc<Coalescer<SetKey, Fetched<V>>>,
    /// The bytes of one signature, for [`MAX_CACHED_SET_BYTES`] and [`SET_BYTES`].
    weigh: fn(&V) -> usize,
}

impl<V: Send + Sync + 'static> SignatureSets<V> {
    /// A cache counted as `name` in `portieris_cache_requests_total`; `weigh` gives the bytes
    /// of one signature.
    pub fn named(name: &'static str, weigh: fn(&V) -> usize) -> Self {
        Self {
            sets: Arc::new(Coalescer::named(name, SET_ENTRIES).weighed(
                SET_BYTES,
                move |fetched: &Fetched<V>| match fetched {
                    Ok(set) => set.iter().map(weigh).sum(),
                    Err(failure) => failure.message.len(),
                },
            )),
            weigh,
        }
    }

    /// The set for `key`: cached, else the one being fetched, else what `fetch` returns.
    pub async fn get_or_fetch<F, Fut>(&self, key: SetKey, fetch: F) -> Fetched<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<V>, FetchFailure>> + Send + 'static,
    {
        let aborted = FetchFailure::new(
            Cause::Unavailable,
            format!(
                "reading the signatures of {}@{} stopped unexpectedly",
                key.repository, key.digest
            ),
        );
        let weigh = self.weigh;
        let run = move || {
            let fetching = fetch();
            async move {
                let result = fetching.await.map(Arc::<[V]>::from);
                let ttl = ttl(&result, weigh);
                (result, ttl)
            }
        };
        self.sets.get_or_run(key, run).await.unwrap_or(Err(aborted))
    }
}

/// How long a fetched set is kept (see the module documentation); the referrers cache keeps
/// its sets by the same rule.
pub(crate) fn ttl<V>(result: &Fetched<V>, weigh: fn(&V) -> usize) -> Duration {
    match result {
        Err(_) => EMPTY_TTL,
        Ok(set) if set.is_empty() => EMPTY_TTL,
        Ok(set) if set.iter().map(weigh).sum::<usize>() > MAX_CACHED_SET_BYTES => Duration::ZERO,
        Ok(_) => SET_TTL,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(credentials: &[(&str, &str)]) -> SetKey {
        SetKey {
            source: Source::Store("http://store".into()),
            repository: "team/app".into(),
            digest: Digest::from_sha256(&[7; 32]),
            credentials: credentials
                .iter()
                .map(|(u, p)| Credential {
                    username: (*u).into(),
                    password: (*p).into(),
                })
                .collect(),
        }
    }

    fn denied() -> FetchFailure {
        FetchFailure::new(Cause::Auth, "denied")
    }

    fn sets() -> SignatureSets<Vec<u8>> {
        SignatureSets::named("signature_sets_test", Vec::len)
    }

    /// A fetch that counts its runs and returns `result`.
    fn counted(
        runs: &Arc<AtomicUsize>,
        result: Result<Vec<Vec<u8>>, FetchFailure>,
    ) -> impl FnOnce() -> std::future::Ready<Result<Vec<Vec<u8>>, FetchFailure>> + use<> {
        let runs = Arc::clone(runs);
        move || {
            runs.fetch_add(1, Ordering::SeqCst);
            std::future::ready(result)
        }
    }

    #[test]
    fn signatures_are_kept_longer_than_empty_sets_failures_and_large_sets() {
        let weigh: fn(&Vec<u8>) -> usize = Vec::len;
        let set = |sizes: &[usize]| Ok(sizes.iter().map(|n| vec![0; *n]).collect());
        assert_eq!(ttl(&set(&[700, 900]), weigh), SET_TTL);
        assert_eq!(ttl(&set(&[MAX_CACHED_SET_BYTES]), weigh), SET_TTL);
        assert_eq!(ttl(&set(&[]), weigh), EMPTY_TTL);
        assert_eq!(ttl(&Err::<Arc<[Vec<u8>]>, _>(denied()), weigh), EMPTY_TTL);
        let large = set(&[MAX_CACHED_SET_BYTES / 2, MAX_CACHED_SET_BYTES / 2 + 1]);
        assert_eq!(ttl(&large, weigh), Duration::ZERO);
        assert!(EMPTY_TTL < SET_TTL);
    }

    #[tokio::test]
    async fn a_set_is_fetched_once_per_key_and_credentials_are_part_of_the_key() {
        let sets = sets();
        let runs = Arc::new(AtomicUsize::new(0));
        let one = Ok(vec![b"sig".to_vec()]);
        let first = sets
            .get_or_fetch(key(&[("u", "p")]), counted(&runs, one.clone()))
            .await;
        let again = sets
            .get_or_fetch(key(&[("u", "p")]), counted(&runs, Ok(Vec::new())))
            .await;
        assert_eq!(first.as_deref(), Ok(&[b"sig".to_vec()][..]));
        assert_eq!(again, first, "served from the cache");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        for other in [&[("u", "q")][..], &[], &[("u", "p"), ("v", "p")]] {
            let theirs = sets
                .get_or_fetch(key(other), counted(&runs, Err(denied())))
                .await;
            assert_eq!(theirs.as_deref(), Err(&denied()), "{other:?}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn concurrent_reads_of_one_set_share_one_fetch() {
        let sets = sets();
        let runs = Arc::new(AtomicUsize::new(0));
        let slow = || {
            let runs = Arc::clone(&runs);
            move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(vec![b"sig".to_vec()])
            }
        };
        let reads = (0..8).map(|_| sets.get_or_fetch(key(&[]), slow()));
        let results = futures::future::join_all(reads).await;
        assert!(
            results
                .iter()
                .all(|r| r.as_deref() == Ok(&[b"sig".to_vec()][..]))
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_cache_weighs_its_sets_by_their_signatures_and_failures_by_their_message() {
        let sets = SignatureSets::named("signature_sets_bytes_test", Vec::len);
        let runs = Arc::new(AtomicUsize::new(0));
        let two = Ok(vec![vec![0; 300], vec![0; 200]]);
        let _ = sets.get_or_fetch(key(&[]), counted(&runs, two)).await;
        let failed = Err(denied());
        let _ = sets
            .get_or_fetch(key(&[("u", "p")]), counted(&runs, failed))
            .await;
        let bytes = crate::fetch::cache::counts()
            .into_iter()
            .find(|(name, _)| *name == "signature_sets_bytes_test")
            .and_then(|(_, c)| c.bytes());
        assert_eq!(bytes, Some(500 + 6), "the signatures, and \"denied\"");
    }

    #[tokio::test]
    async fn a_set_too_large_to_keep_is_fetched_again() {
        let sets = sets();
        let runs = Arc::new(AtomicUsize::new(0));
        let large = Ok(vec![vec![0; MAX_CACHED_SET_BYTES + 1]]);
        for _ in 0..2 {
            let got = sets
                .get_or_fetch(key(&[]), counted(&runs, large.clone()))
                .await;
            assert!(got.is_ok());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
