//! The gateway's background tasks (control events, visitor-room sweeping, keepalive), watched:
//! a task that panics or returns is logged as an error and reported by the readiness probes
//! (public `/readyz` answers 503), instead of dying silently while the gateway looks healthy.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::AbortHandle;

/// Watches background tasks and remembers the ones that ended.
#[derive(Default)]
pub struct Supervisor {
    dead: Mutex<Vec<String>>,
}

impl Supervisor {
    /// Run `task`, which should run until aborted; returns what aborts it.
    pub fn spawn<F>(self: &Arc<Self>, name: &'static str, task: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let inner = tokio::spawn(task);
        let abort = inner.abort_handle();
        let me = self.clone();
        tokio::spawn(async move {
            let why = match inner.await {
                Ok(()) => "returned".to_owned(),
                Err(e) if e.is_cancelled() => return,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic".to_owned());
                        format!("panicked: {message}")
                    }
                    Err(e) => e.to_string(),
                },
            };
            tracing::error!(task = name, %why, "a background task of the gateway died");
            metrics::counter!("chat_task_deaths_total", "task" => name).increment(1);
            me.dead.lock().unwrap_or_else(PoisonError::into_inner).push(format!("{name} {why}"));
        });
        abort
    }

    /// The tasks that died, with why.
    pub fn dead(&self) -> Vec<String> {
        self.dead.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_or_returns_is_reported_and_an_aborted_one_is_not() {
        let supervisor = Arc::new(Supervisor::default());
        supervisor.spawn("panicky", async { panic!("boom") });
        supervisor.spawn("short", async {});
        let aborted = supervisor.spawn("forever", std::future::pending());
        aborted.abort();
        for _ in 0..100 {
            if supervisor.dead().len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut dead = supervisor.dead();
        dead.sort();
        assert_eq!(dead, vec!["panicky panicked: boom".to_owned(), "short returned".to_owned()]);
    }
}
