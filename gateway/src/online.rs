//! Who is here: this gateway reports its open sockets to the bus every second (valid for
//! [`REPORT_TTL`], so a dead gateway's count vanishes within seconds), and reads the sum
//! across gateways (`online` of `GET /api/info` and of the roulette `waiting` frame) at most
//! once a second, like the roulette count ([`CachedCount`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::state::State;

/// How often a gateway reports its sockets.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long one report counts: a gateway silent for this long (dead) is not counted.
pub(crate) const REPORT_TTL: Duration = Duration::from_secs(5);
/// How long a count read from the bus is served before it is asked again.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

/// A count asked of the bus at most once per [`MAX_AGE`] per gateway: the routes that show it
/// are public and unauthenticated, so a flood of them must not become a flood of Redis calls.
/// The lock is held while the bus is asked, so requests that find the count stale together
/// wait for one answer instead of each asking.
#[derive(Default)]
pub(crate) struct CachedCount(tokio::sync::Mutex<Option<(Instant, u64)>>);

impl CachedCount {
    /// The cached count while fresh, else `ask`'s answer (cached); `None` when the bus cannot
    /// tell.
    pub async fn get<F, Fut, E>(&self, ask: F) -> Option<u64>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        let mut cached = self.0.lock().await;
        if let Some((at, n)) = *cached
            && at.elapsed() < MAX_AGE
        {
            return Some(n);
        }
        let n = ask().await.ok()?;
        *cached = Some((Instant::now(), n));
        Some(n)
    }
}

/// People connected now across every gateway (absent while the bus is unreachable). Never
/// fewer than this gateway's own sockets now: the sum is up to two seconds old, and a visitor
/// who just connected must not read "0 online".
pub(crate) async fn online(state: &State) -> Option<u64> {
    let sum = state.online.get(|| state.bus.online()).await?;
    Some(sum.max(state.live.count() as u64))
}

/// Report this gateway's open sockets every [`REPORT_EVERY`]; runs until aborted.
pub(crate) async fn report(state: Arc<State>) {
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let sockets = state.live.count() as u64;
        match state.bus.report_online(&state.gateway_id, sockets, REPORT_TTL).await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot report who is online; the count is absent meanwhile");
            }
            Err(_) => {}
        }
    }
}

/// The gateway stops: its sockets no longer count anywhere.
pub(crate) async fn withdraw(state: &State) {
    if let Err(e) = state.bus.report_online(&state.gateway_id, 0, Duration::ZERO).await {
        tracing::debug!(error = %e, "cannot withdraw the online report; it expires by itself");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_count_is_asked_at_most_once_a_second_and_absent_on_error() {
        let cache = CachedCount::default();
        assert_eq!(cache.get(|| async { Err::<u64, ()>(()) }).await, None);
        assert_eq!(cache.get(|| async { Ok::<u64, ()>(3) }).await, Some(3));
        assert_eq!(cache.get(|| async { Ok::<u64, ()>(4) }).await, Some(3), "served from the cache");
        *cache.0.lock().await = Some((Instant::now() - MAX_AGE, 3));
        assert_eq!(cache.get(|| async { Ok::<u64, ()>(4) }).await, Some(4), "asked again once stale");
    }
}
