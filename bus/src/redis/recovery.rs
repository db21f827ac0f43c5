//! Recovery after Redis lost its data (a restart without persistence, a flush): found by the
//! bus's generation (`chat:epoch`, a random value set by whichever process finds it missing),
//! which every process reads once a second together with the logged watermark.
//!
//! When the generation is not the one this process knew, the bus lost everything: this process
//! counts a loss (callers watch [`Bus::watch_data_losses`](crate::Bus::watch_data_losses) to
//! put back what they hold: visitor rooms, roulette tickets), re-takes its seats at once (each
//! re-checked against the room's capacity; see `presence`), and queues again every entry it
//! kept (`retained`) that the bot had not logged. Entries queued again carry a mark, so the bot
//! looks for them in its log rather than assuming they are new. The log skips ids it has, so
//! nothing is logged twice.
//!
//! It also warns, at start and after every reconnect, when Redis runs without `appendonly`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::{Notify, watch};

use super::keys::Keys;
use super::retained::{Retained, StreamId};
use super::{lock, unavailable};
use crate::BusError;

/// The generation and the watermark, read (the generation set when missing) in one step.
const EPOCH: &str = include_str!("lua/epoch.lua");
/// Queue events (again) under an expected generation.
pub(super) const ENQUEUE: &str = include_str!("lua/enqueue.lua");
/// Raise the logged watermark.
const WATERMARK: &str = include_str!("lua/watermark.lua");

/// How often the generation and the watermark are read.
pub(super) const POLL: Duration = Duration::from_secs(1);
/// Entries queued again per script call.
const REQUEUE_CHUNK: usize = 200;

/// A fresh candidate generation.
pub(super) fn candidate() -> String {
    ulid::Ulid::new().to_string()
}

pub(super) struct Recovery {
    conn: ConnectionManager,
    keys: Keys,
    retained: Arc<Retained>,
    /// The generation this process knows; `None` before the first read.
    epoch: Mutex<Option<Arc<str>>>,
    /// Losses found so far.
    losses: watch::Sender<u64>,
    /// Wakes the seat refresher for a round at once.
    refresh_now: Arc<Notify>,
    /// One check at a time (the poll, and callers that want a current answer).
    checking: tokio::sync::Mutex<()>,
    /// Whether the last read reached Redis (a reconnect asks about `appendonly` again).
    reachable: AtomicBool,
    read: Script,
    enqueue: Script,
    watermark: Script,
}

impl Recovery {
    pub(super) fn new(conn: ConnectionManager, keys: Keys, retained: Arc<Retained>, refresh_now: Arc<Notify>) -> Self {
        Self {
            conn,
            keys,
            retained,
            epoch: Mutex::new(None),
            losses: watch::channel(0).0,
            refresh_now,
            checking: tokio::sync::Mutex::new(()),
            reachable: AtomicBool::new(false),
            read: Script::new(EPOCH),
            enqueue: Script::new(ENQUEUE),
            watermark: Script::new(WATERMARK),
        }
    }

    pub(super) fn watch(&self) -> watch::Receiver<u64> {
        self.losses.subscribe()
    }

    /// Read the generation and the watermark every [`POLL`] until aborted.
    pub(super) async fn run(self: Arc<Self>) {
        loop {
            tokio::time::sleep(POLL).await;
            if let Err(e) = self.check().await {
                tracing::debug!(error = %e, "cannot read the bus's generation");
            }
        }
    }

    /// Read the generation now: recover if it changed, forget what the bot logged. Returns the
    /// losses found so far.
    pub(super) async fn check(&self) -> Result<u64, BusError> {
        let _one = self.checking.lock().await;
        let read: redis::RedisResult<(String, String)> = self
            .read
            .key(self.keys.epoch())
            .key(self.keys.logged())
            .arg(candidate())
            .invoke_async(&mut self.conn.clone())
            .await;
        let (epoch, logged) = match read {
            Ok(read) => read,
            Err(e) => {
                self.reachable.store(false, Ordering::Relaxed);
                return Err(unavailable(e));
            }
        };
        if !self.reachable.swap(true, Ordering::Relaxed) {
            warn_without_appendonly(&mut self.conn.clone()).await;
        }
        let epoch: Arc<str> = Arc::from(epoch);
        let known = lock(&self.epoch).replace(epoch.clone());
        if known.as_ref().is_some_and(|known| *known != epoch) {
            tracing::warn!(
                "Redis lost its data (restarted without persistence, or flushed): putting back rooms, seats, roulette tickets and the messages the bot had not logged"
            );
            self.losses.send_modify(|n| *n += 1);
            self.refresh_now.notify_one();
        }
        self.requeue(&epoch).await?;
        self.retained.logged(&epoch, StreamId::parse(&logged));
        Ok(*self.losses.borrow())
    }

    /// Queue again, in order, the kept entries queued under another generation than `epoch`.
    async fn requeue(&self, epoch: &Arc<str>) -> Result<(), BusError> {
        let lost = self.retained.lost(epoch);
        if lost.is_empty() {
            return Ok(());
        }
        let mut done = 0;
        for chunk in lost.chunks(REQUEUE_CHUNK) {
            let mut invocation = self.enqueue.key(self.keys.inbound());
            invocation.key(self.keys.epoch()).arg(&**epoch).arg(candidate());
            for kept in chunk {
                invocation.arg(&kept.json);
            }
            let reply: Vec<String> = invocation.invoke_async(&mut self.conn.clone()).await.map_err(unavailable)?;
            let mut reply = reply.into_iter();
            if reply.next().as_deref() != Some(&**epoch) {
                // Lost again meanwhile: the next check starts over under the new generation.
                break;
            }
            for (kept, id) in chunk.iter().zip(reply) {
                self.retained.requeued(kept, epoch, &id);
                done += 1;
            }
        }
        tracing::warn!(entries = done, of = lost.len(), "queued again what the bot had not logged when Redis lost it");
        Ok(())
    }

    /// See [`Bus::mark_logged`](crate::Bus::mark_logged): raise the watermark (true, also when
    /// it is past `id` already), unless the generation is not the one this process knows.
    pub(super) async fn mark_logged(&self, id: &str) -> Result<bool, BusError> {
        let Some(epoch) = lock(&self.epoch).clone() else { return Ok(false) };
        let taken: i64 = self
            .watermark
            .key(self.keys.epoch())
            .key(self.keys.logged())
            .arg(&*epoch)
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(taken == 1)
    }
}

/// Warn when Redis keeps no append-only file: a restart then loses the queue (what gateways
/// still keep is queued again, but nothing else is). CONFIG may be disabled: then say nothing.
async fn warn_without_appendonly(conn: &mut ConnectionManager) {
    let reply: redis::RedisResult<HashMap<String, String>> =
        redis::cmd("CONFIG").arg("GET").arg("appendonly").query_async(conn).await;
    match reply {
        Ok(config) if config.get("appendonly").is_some_and(|v| v == "no") => tracing::warn!(
            "Redis runs without appendonly: a restart loses the queue, rooms and seats (they are put back, and gateways queue again the messages the bot had not logged, within their bounds); run Redis with `appendonly yes`"
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "cannot ask Redis whether appendonly is on (CONFIG may be disabled)"),
    }
}
