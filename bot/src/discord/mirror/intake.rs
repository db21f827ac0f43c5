//! What the bot hands the mirror: logged messages ([`Mirror::submit`]), the end of a room
//! ([`Mirror::close`]) and, at start, what was logged but never reached Discord. Each room's
//! work goes to that room's worker, started on demand and stopped when idle; queue entries are
//! acknowledged here, and only here, once their worker is done with them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use protocol::LoggedMessage;
use tokio::sync::mpsc;

use super::{Inner, Job, Mirror, Work, lock, worker};
use crate::message_log::SCAN_BATCH;

/// Prefix of jobs that come from the log rather than the queue (nothing to acknowledge).
const LOG_ONLY: &str = "log:";

impl Mirror {
    /// At start: queue again what was logged recently but never reached Discord (the
    /// one-process default keeps its queue in memory, so a restart would otherwise forget it).
    /// These jobs have no queue entry to acknowledge.
    pub async fn resume_unmirrored(&self) -> Result<usize, sea_orm::DbErr> {
        let since = Utc::now() - chrono::Duration::from_std(self.inner.config.max_lag).unwrap_or_default();
        let mut n = 0;
        let mut after: Option<String> = None;
        // Page by page, by primary key from `since`'s first id (see `MessageLog::unmirrored_page`).
        loop {
            let rows = self.inner.log.unmirrored_page(since, after.as_deref(), SCAN_BATCH).await?;
            let full = rows.len() as u64 == SCAN_BATCH;
            after = rows.last().map(|row| row.id.clone());
            let jobs: Vec<Job> = rows.into_iter().filter_map(job_of).collect();
            n += jobs.len();
            self.submit(jobs);
            if !full {
                break;
            }
        }
        if n > 0 {
            tracing::info!(messages = n, "mirroring messages logged before the restart but not yet in Discord");
        }
        Ok(n)
    }

    /// Wait (up to `timeout`) until every submitted job is in Discord: a graceful stop.
    pub async fn flush(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !lock(&self.inner.in_flight).is_empty() {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    waiting = lock(&self.inner.in_flight).len(),
                    "stopping before every message reached Discord"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Queue logged messages for their rooms' channels. Entries already held are skipped.
    pub fn submit(&self, jobs: Vec<Job>) {
        let mut in_flight = lock(&self.inner.in_flight);
        let mut workers = lock(&self.inner.workers);
        for job in jobs {
            if !in_flight.insert(job.entry_id.clone()) {
                continue;
            }
            metrics::gauge!("chat_mirror_backlog").increment(1.0);
            let room = job.message.message.room.clone();
            self.inner.hand_over(&mut workers, room, Work::Post(Box::new(job)));
        }
    }

    /// A visitor room or pair ended (`entry_id` is its `RoomClosed` queue entry): once the
    /// messages submitted before are posted, its thread is archived and the entry acknowledged.
    pub fn close(&self, entry_id: String, room: String) {
        let mut in_flight = lock(&self.inner.in_flight);
        let mut workers = lock(&self.inner.workers);
        if !in_flight.insert(entry_id.clone()) {
            return;
        }
        metrics::gauge!("chat_mirror_backlog").increment(1.0);
        self.inner.hand_over(&mut workers, room, Work::Close { entry_id });
    }
}

impl Inner {
    /// Send work to the room's worker, starting one when there is none (or it stopped).
    pub(super) fn hand_over(
        self: &Arc<Self>,
        workers: &mut HashMap<String, mpsc::UnboundedSender<Work>>,
        room: String,
        work: Work,
    ) {
        let sender = workers.entry(room.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker::run(self.clone(), room.clone(), rx));
            tx
        });
        if let Err(mpsc::error::SendError(work)) = sender.send(work) {
            // The worker is gone; start a fresh one.
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker::run(self.clone(), room.clone(), rx));
            let _ = tx.send(work);
            workers.insert(room, tx);
        }
    }

    /// Stop the room's worker if nothing more came for it (checked under the lock `submit`
    /// sends under, so no work is lost). Returns whether it stopped.
    pub(super) fn retire(
        &self,
        room: &str,
        rx: &mut mpsc::UnboundedReceiver<Work>,
        queue: &mut VecDeque<Work>,
    ) -> bool {
        let mut workers = lock(&self.workers);
        while let Ok(work) = rx.try_recv() {
            queue.push_back(work);
        }
        if !queue.is_empty() {
            return false;
        }
        workers.remove(room);
        true
    }

    /// The worker is done with these queue entries (posted, given up on, or a room closed):
    /// acknowledge them on the bus and stop holding them.
    pub(super) async fn acknowledge(&self, entry_ids: impl IntoIterator<Item = String>) {
        let ids: Vec<String> = entry_ids.into_iter().collect();
        let queued: Vec<String> = ids.iter().filter(|id| !id.starts_with(LOG_ONLY)).cloned().collect();
        if let Err(e) = self.bus.ack(&queued).await {
            tracing::error!(error = %e, "cannot acknowledge mirrored entries; they will be skipped when redelivered");
        }
        let mut in_flight = lock(&self.in_flight);
        for id in &ids {
            if in_flight.remove(id) {
                metrics::gauge!("chat_mirror_backlog").decrement(1.0);
            }
        }
    }
}

/// A logged message that never reached Discord, as a job with no queue entry to acknowledge.
fn job_of(row: crate::entities::message_log::Model) -> Option<Job> {
    let id = row.id.parse().ok()?;
    let ip = row.ip.parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let message = protocol::MessageView {
        id,
        room: row.room,
        nick: row.nickname,
        text: row.text,
        at: row.sent_at,
        staff: false,
        ..protocol::MessageView::default()
    };
    Some(Job {
        entry_id: format!("{LOG_ONLY}{}", row.id),
        message: LoggedMessage { message, ip, shadow: false, device: row.device_tag },
    })
}
