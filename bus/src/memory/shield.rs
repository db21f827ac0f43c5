//! The proof-of-work gate's shared state in memory (`crate::shield`): the spent solutions
//! (bounded by [`SPENT_MAX`], each forgotten when its challenge expires), the join-rate reports
//! (the online counts' rule, `super::online`), the mode staff set and the deployment key.

use std::time::{Duration, Instant};

use super::expiring::{ExpiringSet, Inserted};
use super::online::Online;
use crate::shield::{SPENT_MAX, ShieldSetting};

pub(super) struct Shield {
    /// Spent signatures, each until its challenge expires.
    spent: ExpiringSet,
    pub joins: Online,
    pub setting: Option<ShieldSetting>,
    pub key: Option<String>,
}

impl Default for Shield {
    fn default() -> Self {
        Self { spent: ExpiringSet::new(SPENT_MAX), joins: Online::default(), setting: None, key: None }
    }
}

impl Shield {
    /// Spend `signature` until `now + ttl`: true the first time (a full set refuses, as spent).
    pub fn spend(&mut self, signature: &str, ttl: Duration, now: Instant) -> bool {
        self.spent.insert(signature, ttl, now) == Inserted::New
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
