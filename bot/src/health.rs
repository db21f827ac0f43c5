//! What the detailed readiness report needs to know of the bot: background tasks that died,
//! Discord channels that @everyone can still read, and how many queue entries are dead letters.
//! Process-wide, like the metrics recorder; in one process the gateway's admin `/readyz` reports
//! them, and a dead task makes public `/readyz` answer 503 (a split deployment's bot has no HTTP
//! listener and logs the same sentences).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::task::JoinHandle;

/// Tasks that ended while they should have run on.
static DEAD: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Rows of `dead_letters`; [`UNKNOWN`] until the bot counted them.
static DEAD_LETTERS: AtomicU64 = AtomicU64::new(UNKNOWN);
const UNKNOWN: u64 = u64::MAX;

/// The bot counted its dead letters.
pub(crate) fn set_dead_letters(n: u64) {
    DEAD_LETTERS.store(n, Ordering::Relaxed);
}

/// The bot put an entry in `dead_letters`.
pub(crate) fn dead_letter_added() {
    let n = DEAD_LETTERS.load(Ordering::Relaxed);
    set_dead_letters(if n == UNKNOWN { 1 } else { n + 1 });
}

/// Rows of `dead_letters`, once the bot of this process counted them.
pub fn dead_letters() -> Option<u64> {
    Some(DEAD_LETTERS.load(Ordering::Relaxed)).filter(|n| *n != UNKNOWN)
}

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
    let mut warnings: Vec<String> =
        crate::discord::privacy::problems().into_iter().map(|p| format!("discord: {p}")).collect();
    if let Some(n) = dead_letters().filter(|n| *n > 0) {
        warnings.push(format!("{n} queue entries could not be logged and are kept in the dead_letters table"));
    }
    warnings
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
