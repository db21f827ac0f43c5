//! The one way the Discord side retries a call that must not be lost: [`retry`] with a
//! [`Policy`].
//!
//! The policy: a failed attempt waits `backoff × attempt number` before the next one, and
//! after `attempts` failures the last failure is returned for the caller to log and move on. A
//! Discord 429 is no failure: the call waits the `retry_after` Discord asked for and is tried
//! again without counting an attempt, since Discord said when it will take it; with a
//! `rate_limit_budget`, a 429 whose wait would pass the budget is returned instead (the caller
//! falls back). A refusal (4xx other than 429) is final at once: the same request would be
//! refused again.

use std::future::Future;
use std::time::Duration;

use super::rest::{Posted, RestError};

/// How many attempts, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failed attempts before giving up.
    pub attempts: u32,
    /// The wait after the first failure; the n-th failure waits n times this.
    pub backoff: Duration,
    /// The most time spent waiting out 429s; `None`: as long as Discord asks.
    pub rate_limit_budget: Option<Duration>,
}

impl Policy {
    /// Discord calls whose effect matters (a thread archived, a notice posted): five attempts,
    /// two seconds more after each failure.
    pub const DISCORD: Self = Self { attempts: 5, backoff: Duration::from_secs(2), rate_limit_budget: None };
    /// Database writes the mirror needs (a room's thread recorded): five attempts, half a
    /// second more after each failure.
    pub const DATABASE: Self = Self { attempts: 5, backoff: Duration::from_millis(500), rate_limit_budget: None };

    /// One attempt, 429s waited out within `budget` (thread creation, which falls back to the
    /// parent channel rather than keep a room waiting).
    pub const fn within(budget: Duration) -> Self {
        Self { attempts: 1, backoff: Duration::ZERO, rate_limit_budget: Some(budget) }
    }
}

/// Whether an outcome is final, to wait for and retry without counting (a 429), or a failure.
pub trait Outcome {
    /// `Some(wait)`: Discord asked to try again after `wait`.
    fn rate_limited(&self) -> Option<Duration> {
        None
    }
    /// Whether the attempt failed and is worth another one.
    fn failed(&self) -> bool;
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
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

/// Run `call` under `policy` (see the module documentation); `what` names it in the log.
pub async fn retry<T, F, Fut>(policy: Policy, what: &str, mut call: F) -> T
where
    T: Outcome,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut failures = 0u32;
    let mut waited = Duration::ZERO;
    loop {
        let outcome = call().await;
        if let Some(wait) = outcome.rate_limited() {
            if policy.rate_limit_budget.is_some_and(|budget| waited + wait > budget) {
                return outcome;
            }
            tracing::warn!(?wait, "{what}: Discord rate limit hit; retrying");
            tokio::time::sleep(wait).await;
            waited += wait;
            continue;
        }
        if !outcome.failed() {
            return outcome;
        }
        failures += 1;
        if failures >= policy.attempts {
            tracing::error!(attempts = failures, "{what}: giving up");
            return outcome;
        }
        tracing::warn!(attempt = failures, "{what}: failed; retrying");
        tokio::time::sleep(policy.backoff * failures).await;
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
    async fn failures_back_off_and_give_up_while_429s_wait_uncounted() {
        let calls = AtomicU32::new(0);
        let policy = Policy { attempts: 3, backoff: Duration::from_millis(20), rate_limit_budget: None };
        let start = tokio::time::Instant::now();
        let out: Result<(), &str> = retry(policy, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err("down")
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // 20 ms after the first failure, 40 ms after the second, none after the last.
        assert!(start.elapsed() >= Duration::from_millis(60), "{:?}", start.elapsed());

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
