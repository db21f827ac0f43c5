//! The one way the bot retries a call that must not be lost: [`retry`] (or [`retry_while`])
//! with a [`Policy`].
//!
//! The policy: a failed attempt waits `backoff × attempt number` (at most `max_backoff`) before
//! the next one, and after `attempts` failures the last failure is returned for the caller to
//! log and move on; [`retry_while`] keeps going past `attempts` for as long as its caller says
//! so (the queue consumer while the bot runs, since a batch it gave up on would be overtaken).
//! A Discord 429 is no failure: the call waits the `retry_after` Discord asked for and is tried
//! again without counting an attempt, since Discord said when it will take it; with a
//! `rate_limit_budget`, a 429 whose wait would pass the budget is returned instead (the caller
//! falls back). The Discord-specific outcomes and policies are in [`crate::discord::retry`].

use std::future::Future;
use std::time::Duration;

/// How many attempts, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failed attempts before giving up.
    pub attempts: u32,
    /// The wait after the first failure; the n-th failure waits n times this.
    pub backoff: Duration,
    /// The longest wait between two attempts, however many failed.
    pub max_backoff: Duration,
    /// The most time spent waiting out 429s; `None`: as long as Discord asks.
    pub rate_limit_budget: Option<Duration>,
}

impl Policy {
    /// Database writes that must not be lost: a quarter second more after each failure, at
    /// most two seconds, three attempts. The queue consumer makes it five, then keeps what still
    /// fails in `dead_letters` (see `crate::dead_letters`).
    pub const QUEUE: Self = Self {
        attempts: 3,
        backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(2),
        rate_limit_budget: None,
    };
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

/// Run `call` under `policy` (see the module documentation); `what` names it in the log.
pub async fn retry<T, F, Fut>(policy: Policy, what: &str, call: F) -> T
where
    T: Outcome,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    retry_while(policy, what, || false, call).await
}

/// [`retry`], except that `policy.attempts` is only the limit once `persist` returns false:
/// until then every failure is retried.
pub async fn retry_while<T, F, Fut>(policy: Policy, what: &str, persist: impl Fn() -> bool, mut call: F) -> T
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
        failures = failures.saturating_add(1);
        if failures >= policy.attempts && !persist() {
            tracing::error!(attempts = failures, "{what}: giving up");
            return outcome;
        }
        tracing::warn!(attempt = failures, "{what}: failed; retrying");
        tokio::time::sleep(policy.backoff.saturating_mul(failures).min(policy.max_backoff)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn failures_back_off_and_give_up() {
        let calls = AtomicU32::new(0);
        let policy = Policy {
            attempts: 3,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::MAX,
            rate_limit_budget: None,
        };
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
    }

    #[tokio::test]
    async fn retry_while_persists_past_the_attempts_with_capped_waits() {
        let calls = AtomicU32::new(0);
        let policy = Policy {
            attempts: 2,
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            rate_limit_budget: None,
        };
        let start = tokio::time::Instant::now();
        let out: Result<(), &str> = retry_while(
            policy,
            "test",
            || calls.load(Ordering::SeqCst) < 5,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("down")
            },
        )
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // 10 ms, then 20 ms (the cap) three times.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(70), "{elapsed:?}");
    }
}
