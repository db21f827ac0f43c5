//! The proof-of-work gate's shared state in memory (`crate::shield`): the spent solutions
//! (bounded by [`SPENT_MAX`], each forgotten when its challenge expires), the join-rate reports
//! (the online counts' rule, `super::online`), the mode staff set and the deployment key.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::online::Online;
use crate::shield::{SPENT_MAX, ShieldSetting};

#[derive(Default)]
pub(super) struct Shield {
    /// Spent signatures and until when they count.
    spent: HashMap<String, Instant>,
    /// The same, in the order they were spent, for purging the expired ones.
    order: VecDeque<(Instant, String)>,
    pub joins: Online,
    pub setting: Option<ShieldSetting>,
    pub key: Option<String>,
}

impl Shield {
    /// Spend `signature` until `now + ttl`: true the first time.
    pub fn spend(&mut self, signature: &str, ttl: Duration, now: Instant) -> bool {
        self.purge(now);
        if self.spent.get(signature).is_some_and(|until| *until > now) {
            return false;
        }
        if self.spent.len() >= SPENT_MAX {
            return false;
        }
        let until = now + ttl;
        self.spent.insert(signature.to_owned(), until);
        self.order.push_back((until, signature.to_owned()));
        true
    }

    /// Forget what expired. Lifetimes differ a little, so the front is purged while it has
    /// expired and a later, earlier-expiring entry waits its turn (bounded all the same).
    fn purge(&mut self, now: Instant) {
        while let Some((until, _)) = self.order.front() {
            if *until > now {
                break;
            }
            if let Some((until, signature)) = self.order.pop_front()
                && self.spent.get(&signature) == Some(&until)
            {
                self.spent.remove(&signature);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_spent_once_until_it_expires() {
        let mut shield = Shield::default();
        let t0 = Instant::now();
        assert!(shield.spend("a", Duration::from_secs(5), t0));
        assert!(!shield.spend("a", Duration::from_secs(5), t0 + Duration::from_secs(4)));
        assert!(shield.spend("b", Duration::from_secs(5), t0));
        assert!(shield.spend("a", Duration::from_secs(5), t0 + Duration::from_secs(6)), "expired, forgotten");
        assert_eq!(shield.spent.len(), 1, "b expired too");
    }
}
