//! Online counts in memory: each gateway's last report of its open sockets, valid until it
//! expires. In one process there is one gateway, so the sum is its local count; the rule is
//! the Redis bus's all the same (`crate::redis::online`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Reports by gateway: sockets, and when the report stops counting.
#[derive(Default)]
pub(super) struct Online {
    reports: HashMap<String, (u64, Instant)>,
}

impl Online {
    /// Record `gateway`'s report (a zero `ttl` withdraws it), dropping expired ones so the map
    /// holds no more than the gateways reporting now.
    pub(super) fn report(&mut self, gateway: &str, sockets: u64, ttl: Duration, now: Instant) {
        self.purge(now);
        if ttl.is_zero() {
            self.reports.remove(gateway);
        } else {
            self.reports.insert(gateway.to_owned(), (sockets, now + ttl));
        }
    }

    /// The sum of the reports still valid.
    pub(super) fn total(&mut self, now: Instant) -> u64 {
        self.purge(now);
        self.reports.values().map(|(n, _)| *n).sum()
    }

    fn purge(&mut self, now: Instant) {
        self.reports.retain(|_, (_, until)| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_add_up_replace_expire_and_withdraw() {
        let mut online = Online::default();
        let t0 = Instant::now();
        online.report("a", 3, Duration::from_secs(5), t0);
        online.report("b", 4, Duration::from_secs(2), t0);
        assert_eq!(online.total(t0), 7);
        online.report("a", 1, Duration::from_secs(5), t0);
        assert_eq!(online.total(t0), 5, "a new report replaces the old one");
        assert_eq!(online.total(t0 + Duration::from_secs(3)), 1, "b stopped reporting");
        online.report("a", 1, Duration::ZERO, t0 + Duration::from_secs(3));
        assert_eq!(online.total(t0 + Duration::from_secs(3)), 0, "a withdrew");
        assert!(online.reports.is_empty());
    }
}
