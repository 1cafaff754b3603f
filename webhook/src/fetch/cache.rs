//! A bounded map whose entries expire: tokens, trust state, metadata, verification results and
//! signature sets.
//!
//! Every cache is bounded in entries; a cache made [`TtlCache::weighed`] is bounded in bytes
//! too, by what its weigh function says each value holds. When either bound is reached the
//! least recently used entry goes first (a hit is a use), so a burst of new keys cannot grow
//! memory without bound, and neither can a few large values, while the entries being read
//! stay.
//!
//! A cache made with [`TtlCache::named`] counts its hits and misses under its name, for the
//! `portieris_cache_requests_total` metric, and, when weighed, the bytes it holds, for
//! `portieris_cache_bytes`. The counts are process-wide, keyed by name, read at scrape time
//! ([`counts`]): caches live deep inside the fetchers, which should not need the metrics
//! registry threaded through them to be observable.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// At most `capacity` entries (and, when weighed, `max_bytes` bytes); each expires after the
/// TTL it was inserted with. When full, the least recently used entry goes first.
///
/// Recency costs a hit nothing but a stamp: `order` holds every key once, at a use no later
/// than its last, and an entry whose stamp is newer than its place is moved to its stamp when
/// it reaches the front, instead of being evicted. The front entry whose place is its stamp
/// is then the least recently used (every other entry's stamp is at or after its place, which
/// is after the front). A key moves at most once per hit, in O(log n), without a clone.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Place → key, front first; see above.
    order: BTreeMap<u64, K>,
    /// The next use's stamp.
    next: u64,
    capacity: usize,
    budget: Option<Budget<V>>,
    /// The weights of the entries held, summed (0 when unweighed).
    bytes: usize,
    counts: Option<Arc<Counts>>,
}

/// The byte bound of a weighed cache.
struct Budget<V> {
    max_bytes: usize,
    weigh: Box<dyn Fn(&V) -> usize + Send>,
}

impl<V> fmt::Debug for Budget<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Lookups of the named caches: hits, and misses (absent or expired); and the bytes held by
/// the weighed ones.
#[derive(Debug, Default)]
pub struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
    bytes: AtomicU64,
    /// Whether a cache of this name is weighed (else `bytes` means nothing).
    weighed: AtomicBool,
}

impl Counts {
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The bytes the caches of this name hold by their weigh functions; `None` when they are
    /// not weighed.
    pub fn bytes(&self) -> Option<u64> {
        self.weighed
            .load(Ordering::Relaxed)
            .then(|| self.bytes.load(Ordering::Relaxed))
    }
}

fn registry() -> &'static Mutex<BTreeMap<&'static str, Arc<Counts>>> {
    static NAMED: OnceLock<Mutex<BTreeMap<&'static str, Arc<Counts>>>> = OnceLock::new();
    NAMED.get_or_init(Mutex::default)
}

/// The counts of every named cache, by name. Caches sharing a name share their counts (bytes
/// included: they add up).
pub fn counts() -> Vec<(&'static str, Arc<Counts>)> {
    let named = registry().lock().unwrap_or_else(PoisonError::into_inner);
    named
        .iter()
        .map(|(name, c)| (*name, Arc::clone(c)))
        .collect()
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    expires: Instant,
    /// Its key's place in `order`.
    place: u64,
    /// Its last use (insertion or hit); never before `place`.
    used: u64,
    /// Its weight when inserted, so that removing it takes exactly that off the total.
    bytes: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
            capacity: capacity.max(1),
            budget: None,
            bytes: 0,
            counts: None,
        }
    }

    /// Like [`TtlCache::new`], counting hits and misses under `name` (see [`counts`]).
    pub fn named(name: &'static str, capacity: usize) -> Self {
        let mut named = registry().lock().unwrap_or_else(PoisonError::into_inner);
        let mut cache = Self::new(capacity);
        cache.counts = Some(Arc::clone(named.entry(name).or_default()));
        cache
    }

    /// Bounds the cache to `max_bytes` too, each value weighing what `weigh` says (an estimate
    /// of the heap bytes it holds: callers count its dominant buffers). A value heavier than
    /// `max_bytes` is not kept. Call it on a new cache: entries already held weigh nothing.
    #[must_use]
    pub fn weighed(
        mut self,
        max_bytes: usize,
        weigh: impl Fn(&V) -> usize + Send + 'static,
    ) -> Self {
        self.budget = Some(Budget {
            max_bytes,
            weigh: Box::new(weigh),
        });
        if let Some(counts) = &self.counts {
            counts.weighed.store(true, Ordering::Relaxed);
        }
        self
    }

    /// The value, unless absent or expired (an expired entry is dropped). A hit makes the
    /// entry the most recently used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        let value = self.get_at(key, Instant::now());
        if let Some(counts) = &self.counts {
            let counter = if value.is_some() {
                &counts.hits
            } else {
                &counts.misses
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        value
    }

    fn get_at(&mut self, key: &K, now: Instant) -> Option<V> {
        let entry = self.entries.get_mut(key)?;
        if entry.expires > now {
            entry.used = self.next;
            self.next += 1;
            return Some(entry.value.clone());
        }
        self.remove(key);
        None
    }

    /// Stores `value` for `ttl`, in place of any value of `key`; a zero TTL, or a value
    /// heavier than the whole byte budget, stores nothing (and still drops the old value).
    /// Least recently used entries go until both bounds hold.
    pub fn insert(&mut self, key: K, value: V, ttl: Duration) {
        self.remove(&key);
        if ttl.is_zero() {
            return;
        }
        let (bytes, max_bytes) = match &self.budget {
            Some(budget) => ((budget.weigh)(&value), budget.max_bytes),
            None => (0, usize::MAX),
        };
        if bytes > max_bytes {
            return;
        }
        while self.entries.len() >= self.capacity || self.bytes.saturating_add(bytes) > max_bytes {
            if !self.evict_least_recently_used() {
                break;
            }
        }
        let stamp = self.next;
        self.next += 1;
        self.order.insert(stamp, key.clone());
        let expires = Instant::now() + ttl;
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                place: stamp,
                used: stamp,
                bytes,
            },
        );
        self.add_bytes(bytes);
    }

    /// Evicts the least recently used entry, moving the keys used since their place to their
    /// stamp on the way; false when empty.
    fn evict_least_recently_used(&mut self) -> bool {
        while let Some((place, key)) = self.order.pop_first() {
            // Every key in `order` is in `entries` (they are inserted and removed together).
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            if entry.used == place {
                self.remove(&key);
                return true;
            }
            entry.place = entry.used;
            self.order.insert(entry.used, key);
        }
        false
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.place);
        self.sub_bytes(entry.bytes);
        Some(entry.value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the entries held weigh, summed (0 when not weighed).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn add_bytes(&mut self, bytes: usize) {
        self.bytes += bytes;
        if let Some(counts) = &self.counts {
            counts.bytes.fetch_add(as_u64(bytes), Ordering::Relaxed);
        }
    }

    fn sub_bytes(&mut self, bytes: usize) {
        self.bytes -= bytes;
        if let Some(counts) = &self.counts {
            counts.bytes.fetch_sub(as_u64(bytes), Ordering::Relaxed);
        }
    }
}

/// A dropped cache no longer holds its bytes (others of its name may).
impl<K, V> Drop for TtlCache<K, V> {
    fn drop(&mut self) {
        if let Some(counts) = &self.counts {
            counts
                .bytes
                .fetch_sub(as_u64(self.bytes), Ordering::Relaxed);
        }
    }
}

fn as_u64(bytes: usize) -> u64 {
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    /// Weighed by length: a `Vec<u8>` of n bytes weighs n.
    fn weighed(capacity: usize, max_bytes: usize) -> TtlCache<&'static str, Vec<u8>> {
        TtlCache::new(capacity).weighed(max_bytes, Vec::len)
    }

    #[test]
    fn a_value_is_served_until_it_expires() {
        let mut cache = TtlCache::new(4);
        cache.insert("k", 1, MINUTE);
        assert_eq!(cache.get(&"k"), Some(1));
        assert_eq!(cache.get_at(&"k", Instant::now() + 2 * MINUTE), None);
        assert!(cache.is_empty(), "expired entries are dropped on read");
    }

    #[test]
    fn a_recently_read_entry_survives_eviction_and_an_unread_one_goes() {
        let mut cache = TtlCache::new(3);
        cache.insert("a", 1, MINUTE);
        cache.insert("b", 2, MINUTE);
        cache.insert("c", 3, MINUTE);
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), Some(2));
        cache.insert("d", 4, MINUTE);
        assert_eq!(cache.get(&"c"), None, "inserted after a, never read");
        cache.insert("e", 5, MINUTE);
        assert_eq!(cache.get(&"a"), None, "read before b");
        assert_eq!(cache.get(&"b"), Some(2));
        assert_eq!(cache.get(&"d"), Some(4));
        assert_eq!(cache.get(&"e"), Some(5));
        assert_eq!(cache.len(), 3);
        assert_eq!(
            cache.order.len(),
            3,
            "each key is queued once, however often read"
        );
    }

    #[test]
    fn a_replaced_entry_counts_as_used() {
        let mut cache = TtlCache::new(2);
        cache.insert("a", 1, MINUTE);
        cache.insert("b", 2, MINUTE);
        cache.insert("a", 3, MINUTE); // replacing makes "a" the most recent
        cache.insert("c", 4, MINUTE);
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"a"), Some(3));
        assert_eq!(cache.get(&"c"), Some(4));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn eviction_follows_a_plain_lru_model() {
        // A reference LRU (most recent last) against the cache, over a pseudo-random mix of
        // reads and weighed inserts of a few keys.
        const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
        let (capacity, max_bytes) = (4, 20);
        let mut cache = weighed(capacity, max_bytes);
        let mut model: Vec<(&str, usize)> = Vec::new();
        let mut seed: u64 = 0x5eed;
        for _ in 0..5_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key = KEYS[usize::try_from(seed >> 61).unwrap_or(0) % KEYS.len()];
            let size = usize::try_from((seed >> 32) % 12).unwrap_or(0);
            if (seed >> 40) & 1 == 0 {
                let found = model.iter().position(|(k, _)| *k == key);
                let expected = found.map(|i| {
                    let hit = model.remove(i);
                    model.push(hit);
                    hit.1
                });
                assert_eq!(cache.get(&key).map(|v| v.len()), expected, "{key}");
            } else {
                model.retain(|(k, _)| *k != key);
                while model.len() >= capacity
                    || model.iter().map(|(_, n)| n).sum::<usize>() + size > max_bytes
                {
                    model.remove(0);
                }
                model.push((key, size));
                cache.insert(key, vec![0; size], MINUTE);
            }
            assert_eq!(cache.len(), model.len());
            assert_eq!(cache.order.len(), model.len());
            assert_eq!(cache.bytes(), model.iter().map(|(_, n)| n).sum::<usize>());
        }
    }

    #[test]
    fn least_recently_used_entries_go_until_the_bytes_fit() {
        let mut cache = weighed(100, 10);
        cache.insert("a", vec![0; 4], MINUTE);
        cache.insert("b", vec![0; 4], MINUTE);
        assert!(cache.get(&"a").is_some());
        cache.insert("c", vec![0; 4], MINUTE);
        assert_eq!(cache.get(&"b"), None, "the least recently used goes");
        assert_eq!((cache.len(), cache.bytes()), (2, 8));
        cache.insert("d", vec![0; 9], MINUTE);
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"c"), None);
        assert_eq!(cache.get(&"d").map(|v| v.len()), Some(9));
        assert_eq!((cache.len(), cache.bytes()), (1, 9));
    }

    #[test]
    fn a_value_heavier_than_the_budget_is_not_kept_and_evicts_nothing() {
        let mut cache = weighed(100, 10);
        cache.insert("small", vec![0; 3], MINUTE);
        cache.insert("big", vec![0; 5], MINUTE);
        cache.insert("big", vec![0; 11], MINUTE);
        assert_eq!(
            cache.get(&"big"),
            None,
            "the old value is dropped, the new not kept"
        );
        assert_eq!(cache.get(&"small").map(|v| v.len()), Some(3));
        assert_eq!((cache.len(), cache.bytes()), (1, 3));
        cache.insert("exact", vec![0; 10], MINUTE);
        assert_eq!(
            cache.get(&"exact").map(|v| v.len()),
            Some(10),
            "the whole budget fits"
        );
        assert_eq!((cache.len(), cache.bytes()), (1, 10));
    }

    #[test]
    fn the_byte_total_stays_exact_through_replace_remove_expiry_and_zero_ttl() {
        let mut cache = weighed(100, 1_000);
        cache.insert("a", vec![0; 3], MINUTE);
        cache.insert("b", vec![0; 5], MINUTE);
        cache.insert("c", vec![0; 7], MINUTE);
        assert_eq!(cache.bytes(), 15);
        cache.insert("a", vec![0; 6], MINUTE);
        assert_eq!(cache.bytes(), 18, "a replaced value's weight is taken off");
        assert_eq!(cache.remove(&"b").map(|v| v.len()), Some(5));
        assert_eq!(cache.bytes(), 13);
        assert_eq!(cache.remove(&"b"), None);
        assert_eq!(cache.bytes(), 13);
        cache.insert("c", vec![0; 2], Duration::ZERO);
        assert_eq!(cache.bytes(), 6, "a zero TTL drops the old value");
        assert_eq!(cache.get_at(&"a", Instant::now() + 2 * MINUTE), None);
        assert_eq!(
            (cache.len(), cache.bytes()),
            (0, 0),
            "an expired entry's weight goes"
        );
    }

    #[test]
    fn an_unweighed_cache_is_bounded_by_entries_only() {
        let mut cache = TtlCache::new(2);
        cache.insert("a", vec![0_u8; 1 << 20], MINUTE);
        cache.insert("b", vec![0_u8; 1 << 20], MINUTE);
        assert_eq!((cache.len(), cache.bytes()), (2, 0));
    }

    #[test]
    fn a_named_weighed_cache_reports_its_bytes_until_dropped() {
        let bytes = || {
            counts()
                .into_iter()
                .find(|(name, _)| *name == "test_bytes")
                .and_then(|(_, c)| c.bytes())
        };
        let mut cache = TtlCache::named("test_bytes", 4).weighed(100, Vec::len);
        cache.insert("a", vec![0_u8; 30], MINUTE);
        cache.insert("b", vec![0_u8; 40], MINUTE);
        cache.insert("a", vec![0_u8; 20], MINUTE);
        assert_eq!(bytes(), Some(60));
        cache.insert("c", vec![0_u8; 90], MINUTE); // "b", then "a", go
        assert_eq!(bytes(), Some(90));
        drop(cache);
        assert_eq!(bytes(), Some(0));
        let mut unweighed = TtlCache::named("test_unweighed", 4);
        unweighed.insert("a", 1, MINUTE);
        let (_, c) = counts()
            .into_iter()
            .find(|(name, _)| *name == "test_unweighed")
            .expect("registered by name");
        assert_eq!(c.bytes(), None);
    }

    #[test]
    fn a_named_cache_counts_hits_and_misses_under_its_name() {
        let mut cache = TtlCache::named("test_counting", 2);
        assert_eq!(cache.get(&"k"), None);
        cache.insert("k", 1, MINUTE);
        assert_eq!(cache.get(&"k"), Some(1));
        assert_eq!(cache.get(&"k"), Some(1));
        cache.insert("k", 2, Duration::ZERO);
        assert_eq!(cache.get(&"k"), None);
        let (_, c) = counts()
            .into_iter()
            .find(|(name, _)| *name == "test_counting")
            .expect("registered by name");
        assert_eq!((c.hits(), c.misses()), (2, 2));
    }

    #[test]
    fn an_unnamed_cache_counts_nothing() {
        let mut cache: TtlCache<&str, i32> = TtlCache::new(2);
        assert_eq!(cache.get(&"k"), None);
        assert!(cache.counts.is_none());
    }

    #[test]
    fn a_zero_ttl_stores_nothing_and_clears_the_old_value() {
        let mut cache = TtlCache::new(2);
        cache.insert("a", 1, MINUTE);
        cache.insert("a", 2, Duration::ZERO);
        assert_eq!(cache.get(&"a"), None);
    }
}
