//! A bounded set of keys that each count until their own deadline: the spent challenge
//! solutions (`shield`) and the messages each device reported (`Bus::claim_report`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Keys with deadlines, at most `max` of them.
pub(super) struct ExpiringSet {
    /// Each key and until when it counts.
    until: HashMap<String, Instant>,
    /// The same, in the order they were added, for purging the expired ones.
    order: VecDeque<(Instant, String)>,
    max: usize,
}

/// What [`ExpiringSet::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inserted {
    /// The key is new (or its last deadline had passed): it counts until `now + ttl`.
    New,
    /// The key counts already; nothing changed.
    Present,
    /// The set holds `max` keys: nothing changed.
    Full,
}

impl ExpiringSet {
    pub(super) fn new(max: usize) -> Self {
        Self { until: HashMap::new(), order: VecDeque::new(), max }
    }

    /// Add `key` until `now + ttl` unless it is there already or the set is full.
    pub(super) fn insert(&mut self, key: &str, ttl: Duration, now: Instant) -> Inserted {
        self.purge(now);
        if self.until.get(key).is_some_and(|until| *until > now) {
            return Inserted::Present;
        }
        if self.until.len() >= self.max {
            return Inserted::Full;
        }
        let until = now + ttl;
        self.until.insert(key.to_owned(), until);
        self.order.push_back((until, key.to_owned()));
        Inserted::New
    }

    /// Forget `key`; whether it was there.
    pub(super) fn remove(&mut self, key: &str) -> bool {
        self.until.remove(key).is_some()
    }

    /// Forget the key added first (to make room).
    pub(super) fn evict_oldest(&mut self) {
        while let Some((until, key)) = self.order.pop_front() {
            if self.until.get(&key) == Some(&until) {
                self.until.remove(&key);
                return;
            }
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.until.len()
    }

    /// Forget what expired. Lifetimes differ a little, so the front is purged while it has
    /// expired and a later, earlier-expiring entry waits its turn (bounded all the same).
    fn purge(&mut self, now: Instant) {
        while let Some((until, _)) = self.order.front() {
            if *until > now {
                break;
            }
            if let Some((until, key)) = self.order.pop_front()
                && self.until.get(&key) == Some(&until)
            {
                self.until.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_count_until_they_expire_and_the_set_is_bounded() {
        let mut set = ExpiringSet::new(2);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(5);
        assert_eq!(set.insert("a", ttl, t0), Inserted::New);
        assert_eq!(set.insert("a", ttl, t0 + Duration::from_secs(4)), Inserted::Present);
        assert_eq!(set.insert("b", ttl, t0), Inserted::New);
        assert_eq!(set.insert("c", ttl, t0), Inserted::Full);
        set.evict_oldest();
        assert_eq!(set.insert("c", ttl, t0), Inserted::New, "a was evicted");
        assert!(set.remove("c") && !set.remove("c"));
        assert_eq!(set.insert("a", ttl, t0 + Duration::from_secs(6)), Inserted::New, "b expired, a is new");
        assert_eq!(set.len(), 1);
    }
}
