//! A bounded map whose entries expire: tokens, trust state and verification results.
//!
//! A cache made with [`TtlCache::named`] counts its hits and misses under its name, for the
//! `portieris_cache_requests_total` metric. The counts are process-wide, keyed by name, read
//! at scrape time ([`counts`]): caches live deep inside the fetchers, which should not need
//! the metrics registry threaded through them to be observable.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// At most `capacity` entries; each expires after the TTL it was inserted with. When full, the
/// oldest insertion goes first, so a burst of new keys cannot grow memory without bound.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Insertion sequence → key, oldest first.
    order: BTreeMap<u64, K>,
    next: u64,
    capacity: usize,
    counts: Option<Arc<Counts>>,
}

/// Lookups of the named caches: hits, and misses (absent or expired).
#[derive(Debug, Default)]
pub struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counts {
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

fn registry() -> &'static Mutex<BTreeMap<&'static str, Arc<Counts>>> {
    static NAMED: OnceLock<Mutex<BTreeMap<&'static str, Arc<Counts>>>> = OnceLock::new();
    NAMED.get_or_init(Mutex::default)
}

/// The counts of every named cache, by name. Caches sharing a name share their counts.
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
    seq: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
            capacity: capacity.max(1),
            counts: None,
        }
    }

    /// Like [`TtlCache::new`], counting hits and misses under `name` (see [`counts`]).
    pub fn named(name: &'static str, capacity: usize) -> Self {
        let mut named = registry().lock().unwrap_or_else(PoisonError::into_inner);
        let counts = Arc::clone(named.entry(name).or_default());
        Self {
            counts: Some(counts),
            ..Self::new(capacity)
        }
    }

    /// The value, unless absent or expired (an expired entry is dropped).
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
        let entry = self.entries.get(key)?;
        if entry.expires > now {
            return Some(entry.value.clone());
        }
        self.remove(key);
        None
    }

    /// Stores `value` for `ttl`; a zero TTL stores nothing.
    pub fn insert(&mut self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            self.remove(&key);
            return;
        }
        self.remove(&key);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let seq = self.next;
        self.next += 1;
        self.order.insert(seq, key.clone());
        let expires = Instant::now() + ttl;
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.seq);
        Some(entry.value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_value_is_served_until_it_expires() {
        let mut cache = TtlCache::new(4);
        cache.insert("k", 1, MINUTE);
        assert_eq!(cache.get(&"k"), Some(1));
        assert_eq!(cache.get_at(&"k", Instant::now() + 2 * MINUTE), None);
        assert!(cache.is_empty(), "expired entries are dropped on read");
    }

    #[test]
    fn the_oldest_insertion_is_evicted_when_full() {
        let mut cache = TtlCache::new(2);
        cache.insert("a", 1, MINUTE);
        cache.insert("b", 2, MINUTE);
        cache.insert("a", 3, MINUTE); // re-inserting makes "a" the newest
        cache.insert("c", 4, MINUTE);
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"a"), Some(3));
        assert_eq!(cache.get(&"c"), Some(4));
        assert_eq!(cache.len(), 2);
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
