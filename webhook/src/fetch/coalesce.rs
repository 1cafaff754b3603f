//! Identical concurrent requests share one run, and its result is kept for a while.
//!
//! A run is a spawned task, not a future polled by its first caller: callers may give up (an
//! admission request times out) without cancelling the run the others wait on, and the run
//! always ends by caching its result and removing its own flight entry (a drop guard, so a
//! panicking run removes it too). Nothing stays in the flight map after a run ends.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

use super::cache::TtlCache;

/// The run stopped without a result: it panicked, or the runtime is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shared run stopped before it finished")]
pub struct Aborted;

type Pending<V> = Shared<BoxFuture<'static, Result<V, Aborted>>>;

/// Results by key, and the runs in flight.
pub struct Coalescer<K, V> {
    results: Mutex<TtlCache<K, V>>,
    flights: Mutex<HashMap<K, Flight<V>>>,
    next_id: AtomicU64,
}

struct Flight<V> {
    /// Tells this run's entry from a later run's under the same key.
    id: u64,
    pending: Pending<V>,
}

impl<K, V> Coalescer<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Keeps at most `capacity` results, the least recently used going first.
    pub fn new(capacity: usize) -> Self {
        Self::with_cache(TtlCache::new(capacity))
    }

    /// Like [`Coalescer::new`], counting result-cache hits and misses under `name`.
    pub fn named(name: &'static str, capacity: usize) -> Self {
        Self::with_cache(TtlCache::named(name, capacity))
    }

    /// Bounds the kept results to `max_bytes` too, each weighing what `weigh` says (see
    /// [`TtlCache::weighed`]). A result heavier than that is still returned to every caller of
    /// its run, only not kept.
    #[must_use]
    pub fn weighed(self, max_bytes: usize, weigh: impl Fn(&V) -> usize + Send + 'static) -> Self {
        let results = self
            .results
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Self::with_cache(results.weighed(max_bytes, weigh))
    }

    fn with_cache(results: TtlCache<K, V>) -> Self {
        Self {
            results: Mutex::new(results),
            flights: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// The cached result for `key`, else the result of the run in flight for it, else of a
    /// new run of `work`, which returns the value and how long to keep it.
    pub async fn get_or_run<F, Fut>(self: &Arc<Self>, key: K, work: F) -> Result<V, Aborted>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, Duration)> + Send + 'static,
    {
        let pending = {
            let mut flights = lock(&self.flights);
            // Checked under the flight lock: a run caches before it leaves the flight map.
            if let Some(value) = lock(&self.results).get(&key) {
                return Ok(value);
            }
            match flights.get(&key) {
                Some(flight) => flight.pending.clone(),
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let pending = self.spawn(key.clone(), id, work());
                    flights.insert(
                        key,
                        Flight {
                            id,
                            pending: pending.clone(),
                        },
                    );
                    pending
                }
            }
        };
        pending.await
    }

    /// Called with the flight lock held; the task's guard waits for it before removing.
    fn spawn<Fut>(self: &Arc<Self>, key: K, id: u64, work: Fut) -> Pending<V>
    where
        Fut: Future<Output = (V, Duration)> + Send + 'static,
    {
        let guard = FlightGuard {
            owner: Arc::clone(self),
            key,
            id,
        };
        let task = tokio::spawn(async move {
            let (value, ttl) = work.await;
            lock(&guard.owner.results).insert(guard.key.clone(), value.clone(), ttl);
            drop(guard);
            value
        });
        async move { task.await.map_err(|_| Aborted) }
            .boxed()
            .shared()
    }

    /// Runs in flight (for tests and metrics).
    pub fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }

    /// Forgets a cached result.
    pub fn forget(&self, key: &K) {
        lock(&self.results).remove(key);
    }
}

/// Removes its flight entry when the run ends, whether it returned or panicked.
struct FlightGuard<K: Eq + Hash, V> {
    owner: Arc<Coalescer<K, V>>,
    key: K,
    id: u64,
}

impl<K: Eq + Hash, V> Drop for FlightGuard<K, V> {
    fn drop(&mut self) {
        let mut flights = lock(&self.owner.flights);
        if flights.get(&self.key).is_some_and(|f| f.id == self.id) {
            flights.remove(&self.key);
        }
    }
}

/// A panic while a lock was held leaves consistent maps here (single inserts and removes).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    const MINUTE: Duration = Duration::from_secs(60);

    fn counted(
        runs: &Arc<AtomicUsize>,
        value: u32,
        ttl: Duration,
    ) -> impl FnOnce() -> BoxFuture<'static, (u32, Duration)> + use<> {
        let runs = Arc::clone(runs);
        move || {
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                (value, ttl)
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn concurrent_callers_of_one_key_share_one_run() {
        let coalescer = Arc::new(Coalescer::<&str, u32>::new(8));
        let runs = Arc::new(AtomicUsize::new(0));
        let calls = (0..10).map(|_| coalescer.get_or_run("k", counted(&runs, 7, MINUTE)));
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(|r| *r == Ok(7)));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(coalescer.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_result_is_reused_for_its_ttl_and_a_zero_ttl_is_not_kept() {
        let coalescer = Arc::new(Coalescer::<&str, u32>::new(8));
        let runs = Arc::new(AtomicUsize::new(0));
        coalescer
            .get_or_run("kept", counted(&runs, 1, MINUTE))
            .await
            .expect("run");
        coalescer
            .get_or_run("kept", counted(&runs, 2, MINUTE))
            .await
            .expect("cached");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let zero = Duration::ZERO;
        coalescer
            .get_or_run("gone", counted(&runs, 3, zero))
            .await
            .expect("run");
        let again = coalescer.get_or_run("gone", counted(&runs, 4, zero)).await;
        assert_eq!(again, Ok(4));
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_result_heavier_than_the_budget_is_returned_but_not_kept() {
        let coalescer = Arc::new(Coalescer::<&str, u32>::new(8).weighed(10, |v| *v as usize));
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let heavy = coalescer
                .get_or_run("heavy", counted(&runs, 11, MINUTE))
                .await;
            assert_eq!(heavy, Ok(11));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2, "run again: not kept");
        for _ in 0..2 {
            let light = coalescer
                .get_or_run("light", counted(&runs, 10, MINUTE))
                .await;
            assert_eq!(light, Ok(10));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3, "kept: it fits");
    }

    #[tokio::test]
    async fn different_keys_run_separately() {
        let coalescer = Arc::new(Coalescer::<&str, u32>::new(8));
        let runs = Arc::new(AtomicUsize::new(0));
        let (a, b) = futures::join!(
            coalescer.get_or_run("a", counted(&runs, 1, MINUTE)),
            coalescer.get_or_run("b", counted(&runs, 2, MINUTE)),
        );
        assert_eq!((a, b), (Ok(1), Ok(2)));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_run_aborts_its_waiters_and_leaves_no_flight_behind() {
        let coalescer = Arc::new(Coalescer::<&str, u32>::new(8));
        let boom = || async { panic!("verification bug") }.boxed();
        let (a, b) = futures::join!(
            coalescer.get_or_run("k", boom),
            coalescer.get_or_run("k", boom)
        );
        assert_eq!((a, b), (Err(Aborted), Err(Aborted)));
        assert_eq!(coalescer.in_flight(), 0);
        let runs = Arc::new(AtomicUsize::new(0));
        let next = coalescer.get_or_run("k", counted(&runs, 5, MINUTE)).await;
        assert_eq!(next, Ok(5), "the key is usable again");
    }

    #[tokio::test]
    async fn a_run_whose_callers_gave_up_still_finishes_and_is_cached() {
        let coalescer = Arc::new(Coalescer::<&str, u32>::new(8));
        let runs = Arc::new(AtomicUsize::new(0));
        let call = coalescer.get_or_run("k", counted(&runs, 9, MINUTE));
        let gave_up = tokio::time::timeout(Duration::from_millis(5), call).await;
        assert!(gave_up.is_err());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(coalescer.in_flight(), 0);
        let cached = coalescer.get_or_run("k", counted(&runs, 10, MINUTE)).await;
        assert_eq!(cached, Ok(9));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
