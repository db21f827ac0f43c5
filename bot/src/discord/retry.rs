//! Retrying Discord calls that must not be lost: the bot's one retry helper
//! ([`crate::retry`]) with the Discord side's policies and [`discord`] for REST calls, whose
//! 429s wait and whose refusals (4xx other than 429) are final at once, since the same request
//! would be refused again.

use std::future::Future;
use std::time::Duration;

pub use crate::retry::{Outcome, Policy, retry};

use super::rest::{Posted, RestError};

impl Policy {
    /// Discord calls whose effect matters (a thread archived, a notice posted): five attempts,
    /// two seconds more after each failure.
    pub const DISCORD: Self =
        Self { attempts: 5, backoff: Duration::from_secs(2), max_backoff: Duration::MAX, rate_limit_budget: None };
    /// Database writes the mirror needs (a room's thread recorded): five attempts, half a
    /// second more after each failure.
    pub const DATABASE: Self =
        Self { attempts: 5, backoff: Duration::from_millis(500), max_backoff: Duration::MAX, rate_limit_budget: None };

    /// One attempt, 429s waited out within `budget` (thread creation, which falls back to the
    /// parent channel rather than keep a room waiting).
    pub const fn within(budget: Duration) -> Self {
        Self { attempts: 1, backoff: Duration::ZERO, max_backoff: Duration::MAX, rate_limit_budget: Some(budget) }
    }
}

/// A Discord REST call: accepted and refused are final, 429 waits, transport and 5xx fail.
pub struct Call(pub Result<Posted, RestError>);

impl Outcome for Call {
    fn rate_limited(&self) -> Option<Duration> {
        match &self.0 {
            Ok(Posted::RateLimited { retry_after, .. }) => Some(*retry_after),
            _ => None,
        }
    }

    fn failed(&self) -> bool {
        self.0.is_err()
    }
}

impl Call {
    /// Count the outcome in `chat_discord_requests_total`.
    pub fn count(&self) {
        let outcome = match &self.0 {
            Ok(Posted::Ok { .. }) => "ok",
            Ok(Posted::RateLimited { .. }) => "rate_limited",
            Ok(Posted::Refused { .. }) => "refused",
            Err(_) => "failed",
        };
        metrics::counter!("chat_discord_requests_total", "outcome" => outcome).increment(1);
    }
}

/// [`retry`] for a Discord REST call, counting every attempt's outcome.
pub async fn discord<F, Fut>(policy: Policy, what: &str, mut call: F) -> Result<Posted, RestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Posted, RestError>>,
{
    let counted = || {
        let attempt = call();
        async move {
            let outcome = Call(attempt.await);
            outcome.count();
            outcome
        }
    };
    retry(policy, what, counted).await.0
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn rate_limits_wait_uncounted_within_the_budget() {
        let calls = AtomicU32::new(0);
        let out = discord(Policy::within(Duration::from_secs(1)), "test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=4 => Ok(Posted::RateLimited { retry_after: Duration::from_millis(10), global: false }),
                _ => Ok(Posted::Ok { id: 7, pacing: Default::default() }),
            }
        })
        .await;
        assert!(matches!(out, Ok(Posted::Ok { id: 7, .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 6);

        // A 429 asking for more than the budget is returned at once.
        let out = discord(Policy::within(Duration::from_secs(1)), "test", || async {
            Ok(Posted::RateLimited { retry_after: Duration::from_secs(60), global: false })
        })
        .await;
        assert!(matches!(out, Ok(Posted::RateLimited { .. })));
    }
}
