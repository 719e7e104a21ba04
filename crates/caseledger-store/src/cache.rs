//! The state of recently written aggregates, kept in memory by the process that wrote them, so
//! that the next command on the same aggregate skips loading it (a round trip and a replay of
//! the stream's tail).
//!
//! It is only a cache: [`crate::Database::execute_cached`] trusts an entry only as far as its
//! write proves it, and decides anything else again from the log. An entry is taken out while a
//! command uses it, so two commands of this process never start from the same entry. The cache
//! holds at most [`AggregateCache::DEFAULT_CAPACITY`] aggregates; the oldest written go first.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::snapshots::Loaded;

type Key = (&'static str, String);

struct Entry {
    stamp: u64,
    value: Box<dyn Any + Send + Sync>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    /// Keys in the order they were put, with the stamp they had then; a key taken or put again
    /// since is skipped when its turn to be evicted comes.
    order: VecDeque<(Key, u64)>,
    next_stamp: u64,
}

/// Aggregates' states after their last command in this process. Cheap to clone; clones share.
#[derive(Clone)]
pub struct AggregateCache {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    counters: Arc<[AtomicU64; 3]>,
}

/// How commands used the cache since the process started (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Commands decided and committed from a cached state.
    pub hits: u64,
    /// Commands that found no cached state.
    pub misses: u64,
    /// Commands whose cached state did not hold (a conflict, a refusal, a version mismatch, or
    /// nothing written) and were decided again from the log.
    pub stale: u64,
}

/// What one command made of the cache.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CacheUse {
    Hit = 0,
    Miss = 1,
    Stale = 2,
}

impl std::fmt::Debug for AggregateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for AggregateCache {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl AggregateCache {
    /// How many aggregates the server keeps: the open cases of a district and then some, a few
    /// MB of memory.
    pub const DEFAULT_CAPACITY: usize = 4_096;

    /// A cache of at most `capacity` aggregates (0 keeps none).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            capacity,
            counters: Arc::new(Default::default()),
        }
    }

    /// The counts of hits, misses and stale entries so far.
    pub fn stats(&self) -> CacheStats {
        let count = |what: CacheUse| self.counters[what as usize].load(Ordering::Relaxed);
        CacheStats {
            hits: count(CacheUse::Hit),
            misses: count(CacheUse::Miss),
            stale: count(CacheUse::Stale),
        }
    }

    pub(crate) fn record(&self, what: CacheUse) {
        self.counters[what as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many aggregates it holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The critical sections cannot panic halfway; a poisoned lock still holds a valid map.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the entry of `aggregate_id` out, if there is one of type `A`.
    pub(crate) fn take<A: cqrs_es::Aggregate + 'static>(
        &self,
        aggregate_id: &str,
    ) -> Option<Loaded<A>> {
        let entry = self
            .lock()
            .entries
            .remove(&(A::TYPE, aggregate_id.to_owned()))?;
        entry
            .value
            .downcast::<Loaded<A>>()
            .ok()
            .map(|loaded| *loaded)
    }

    /// Puts the state of `aggregate_id` after a command, evicting the oldest beyond capacity.
    pub(crate) fn put<A: cqrs_es::Aggregate + 'static>(
        &self,
        aggregate_id: &str,
        loaded: Loaded<A>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let key: Key = (A::TYPE, aggregate_id.to_owned());
        let mut inner = self.lock();
        inner.next_stamp += 1;
        let stamp = inner.next_stamp;
        inner.order.push_back((key.clone(), stamp));
        inner.entries.insert(
            key,
            Entry {
                stamp,
                value: Box::new(loaded),
            },
        );
        while inner.entries.len() > self.capacity {
            let Some((key, stamp)) = inner.order.pop_front() else {
                break;
            };
            if inner
                .entries
                .get(&key)
                .is_some_and(|entry| entry.stamp == stamp)
            {
                inner.entries.remove(&key);
            }
        }
        // Taken and re-put keys leave stale turns behind; drop them before they pile up.
        if inner.order.len() > self.capacity.saturating_mul(2) {
            let Inner { entries, order, .. } = &mut *inner;
            order
                .retain(|(key, stamp)| entries.get(key).is_some_and(|entry| entry.stamp == *stamp));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caseledger_domain::case::EnterpriseCase;

    fn loaded(version: u64) -> Loaded<EnterpriseCase> {
        Loaded {
            aggregate: EnterpriseCase::default(),
            version,
            last_hash: Some(format!("hash-{version}")),
            snapshot_version: 0,
        }
    }

    #[test]
    fn an_entry_is_taken_once_and_the_oldest_go_first() {
        let cache = AggregateCache::with_capacity(2);
        cache.put("a", loaded(1));
        cache.put("b", loaded(2));
        // Taking and putting "a" again makes it the newest.
        let a = cache.take::<EnterpriseCase>("a").expect("a is cached");
        assert_eq!(a.version, 1);
        assert!(
            cache.take::<EnterpriseCase>("a").is_none(),
            "taken entries are gone"
        );
        cache.put("a", loaded(3));
        cache.put("c", loaded(4));
        assert_eq!(cache.len(), 2);
        assert!(
            cache.take::<EnterpriseCase>("b").is_none(),
            "b was the oldest"
        );
        assert_eq!(
            cache.take::<EnterpriseCase>("a").map(|l| l.version),
            Some(3)
        );
        assert_eq!(
            cache.take::<EnterpriseCase>("c").map(|l| l.last_hash),
            Some(Some("hash-4".to_owned()))
        );
    }

    #[test]
    fn stale_turns_do_not_pile_up_and_capacity_zero_keeps_nothing() {
        let cache = AggregateCache::with_capacity(3);
        for round in 0..100 {
            cache.put("hot", loaded(round));
            let _ = cache.take::<EnterpriseCase>("hot");
        }
        assert!(
            cache.lock().order.len() <= 6,
            "{}",
            cache.lock().order.len()
        );
        let none = AggregateCache::with_capacity(0);
        none.put("a", loaded(1));
        assert!(none.is_empty());
    }
}
