//! A token bucket: `burst` tokens, refilled continuously at `per_second`; and the buckets every
//! socket of one address shares (kept in the gateway's cache, taken from by the session).

use std::time::{Duration, Instant};

use protocol::frames::RateLimit;

/// How long an address's limits are kept after their last lookup.
pub(crate) const IP_LIMITS_IDLE: Duration = Duration::from_secs(600);

/// Limits shared by every socket of one address.
pub(crate) struct IpLimits {
    pub say: TokenBucket,
    pub joins: TokenBucket,
    pub typing: TokenBucket,
    /// `report` frames.
    pub reports: TokenBucket,
    /// `react` frames.
    pub reactions: TokenBucket,
}

pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(rate: &RateLimit) -> Self {
        let capacity = f64::from(rate.burst.max(1));
        Self { capacity, per_second: rate.per_second.max(0.001), tokens: capacity, updated: Instant::now() }
    }

    /// Take one token, or say how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_paces() {
        let mut bucket = TokenBucket::new(&RateLimit { burst: 3, per_second: 2.0 });
        let t0 = Instant::now();
        assert!(bucket.take(t0).is_ok());
        assert!(bucket.take(t0).is_ok());
        assert!(bucket.take(t0).is_ok());
        let wait = bucket.take(t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(bucket.take(t0 + Duration::from_millis(500)).is_ok());
    }
}
