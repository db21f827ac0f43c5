//! What the detailed readiness report needs to know of the bot: background tasks that died and
//! Discord channels that @everyone can still read. Process-wide, like the metrics recorder; in
//! one process the gateway's admin `/readyz` reports both, and a dead task makes public `/readyz`
//! answer 503 (a split deployment's bot has no HTTP listener and logs the same sentences).

use std::future::Future;
use std::sync::{Mutex, PoisonError};

use tokio::task::JoinHandle;

/// Tasks that ended while they should have run on.
static DEAD: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Run `task`, which should run until aborted; one that panics or returns is logged and
/// recorded. Aborting the returned handle stops it without a report.
pub fn spawn<F>(name: &'static str, task: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let inner = tokio::spawn(task);
        // Aborting this watcher must stop the task too.
        let abort = inner.abort_handle();
        let _stop_with_me = AbortOnDrop(abort);
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
        tracing::error!(task = name, %why, "a background task of the bot died");
        DEAD.lock().unwrap_or_else(PoisonError::into_inner).push(format!("bot task {name} {why}"));
    })
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tasks that died, as sentences for operators (empty when all is well): the bot is not ready.
pub fn problems() -> Vec<String> {
    DEAD.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// What operators must fix but which does not stop the chat: channels @everyone can read.
pub fn warnings() -> Vec<String> {
    crate::discord::privacy::problems().into_iter().map(|p| format!("discord: {p}")).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_is_reported_and_an_aborted_one_is_not() {
        spawn("test-panicky", async { panic!("boom") });
        let aborted = spawn("test-forever", std::future::pending());
        aborted.abort();
        for _ in 0..200 {
            if problems().iter().any(|p| p.contains("test-panicky panicked: boom")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let problems = problems();
        assert!(problems.iter().any(|p| p == "bot task test-panicky panicked: boom"), "{problems:?}");
        assert!(!problems.iter().any(|p| p.contains("test-forever")), "{problems:?}");
    }
}
