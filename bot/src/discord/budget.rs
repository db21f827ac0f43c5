//! The bot's global request budget: every REST call the bot makes itself waits here first, so
//! the bot as a whole stays under Discord's global limit (50 requests a second per bot), and
//! urgent posts (reports, later alerts) go ahead of the mirror's backlog.
//!
//! A fixed window of [`Budget::limit`] requests per [`Budget::window`]. Calls come in two
//! classes: [`Priority::Urgent`] may use the whole window; [`Priority::Bulk`] (the mirror,
//! channel upkeep) may use all but [`Budget::reserve`] of it, and none while an urgent call
//! waits. So however many mirror workers wait, an urgent call takes the next free request, and
//! the reserve keeps room for one even in a window the mirror filled at once. A global 429
//! from Discord pauses every class until its `retry_after` has passed.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Which class a call waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Reports and alerts: ahead of everything else.
    Urgent,
    /// The mirror and everything else.
    Bulk,
}

/// The budget's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests per window (Discord allows 50 a second; the bot keeps a margin).
    pub limit: u32,
    pub window: Duration,
    /// Requests of each window only urgent calls may use.
    pub reserve: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { limit: 45, window: Duration::from_secs(1), reserve: 5 }
    }
}

#[derive(Debug)]
struct State {
    started: Instant,
    used: u32,
    urgent_waiting: u32,
    paused_until: Option<Instant>,
}

/// The shared budget (one per bot; [`super::rest::Rest`] clones share it).
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    state: Mutex<State>,
    freed: Notify,
}

/// Counts an urgent call as waiting until it is granted or abandoned.
struct Waiting<'a>(&'a Budget);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.urgent_waiting = state.urgent_waiting.saturating_sub(1);
        drop(state);
        self.0.freed.notify_waiters();
    }
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        let limits = Limits {
            limit: limits.limit.max(1),
            reserve: limits.reserve.min(limits.limit.saturating_sub(1)),
            ..limits
        };
        let state = State { started: Instant::now(), used: 0, urgent_waiting: 0, paused_until: None };
        Self { limits, state: Mutex::new(state), freed: Notify::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait until a request of class `priority` may go.
    pub async fn acquire(&self, priority: Priority) {
        let _waiting = (priority == Priority::Urgent).then(|| {
            self.lock().urgent_waiting += 1;
            Waiting(self)
        });
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let wake = {
                let mut state = self.lock();
                let now = Instant::now();
                if now.duration_since(state.started) >= self.limits.window {
                    state.started = now;
                    state.used = 0;
                }
                match state.paused_until {
                    Some(until) if until > now => until,
                    _ => {
                        let cap = match priority {
                            Priority::Urgent => self.limits.limit,
                            Priority::Bulk if state.urgent_waiting > 0 => 0,
                            Priority::Bulk => self.limits.limit - self.limits.reserve,
                        };
                        if state.used < cap {
                            state.used += 1;
                            return;
                        }
                        state.started + self.limits.window
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = &mut freed => {}
            }
        }
    }

    /// Discord answered a global 429: nothing goes before `retry_after` has passed.
    pub fn pause(&self, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut state = self.lock();
        if state.paused_until.is_none_or(|t| t < until) {
            state.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn urgent_calls_go_ahead_of_a_bulk_backlog() {
        let budget = Arc::new(Budget::new(Limits { limit: 4, window: Duration::from_secs(1), reserve: 1 }));
        let order = Arc::new(Mutex::new(Vec::new()));
        // Twelve bulk calls (the mirror's backlog: three windows' worth) wait first.
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (budget, order) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                budget.acquire(Priority::Bulk).await;
                order.lock().unwrap().push(format!("bulk{i}"));
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Bulk calls used 3 of the first window's 4: the reserve is left.
        assert_eq!(order.lock().unwrap().len(), 3);
        let (b, o) = (budget.clone(), order.clone());
        let urgent = tokio::spawn(async move {
            b.acquire(Priority::Urgent).await;
            o.lock().unwrap().push("urgent".to_owned());
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The reserve serves it at once, ahead of nine waiting bulk calls.
        assert_eq!(order.lock().unwrap().last().map(String::as_str), Some("urgent"));
        assert_eq!(order.lock().unwrap().len(), 4);
        urgent.await.unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(order.lock().unwrap().len(), 13);
    }

    #[tokio::test]
    async fn a_waiting_urgent_call_holds_back_bulk_calls() {
        let budget = Arc::new(Budget::new(Limits { limit: 2, window: Duration::from_secs(1), reserve: 0 }));
        budget.acquire(Priority::Bulk).await;
        budget.acquire(Priority::Bulk).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (budget, order) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                budget.acquire(Priority::Bulk).await;
                order.lock().unwrap().push(format!("bulk{i}"));
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (b, o) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            b.acquire(Priority::Urgent).await;
            o.lock().unwrap().push("urgent".to_owned());
        }));
        for task in tasks {
            task.await.unwrap();
        }
        // The bulk calls waited longer, yet the urgent one went first in the next window.
        assert_eq!(order.lock().unwrap().first().map(String::as_str), Some("urgent"));
    }

    #[tokio::test]
    async fn a_global_rate_limit_pauses_everything() {
        let budget = Budget::new(Limits { limit: 10, window: Duration::from_secs(1), reserve: 2 });
        budget.pause(Duration::from_millis(300));
        let started = Instant::now();
        budget.acquire(Priority::Urgent).await;
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
