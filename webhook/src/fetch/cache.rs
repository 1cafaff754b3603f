//! A bounded map whose entries expire: tokens, trust state and verification results.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
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
        }
    }

    /// The value, unless absent or expired (an expired entry is dropped).
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.get_at(key, Instant::now())
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
    fn a_zero_ttl_stores_nothing_and_clears_the_old_value() {
        let mut cache = TtlCache::new(2);
        cache.insert("a", 1, MINUTE);
        cache.insert("a", 2, Duration::ZERO);
        assert_eq!(cache.get(&"a"), None);
    }
}
