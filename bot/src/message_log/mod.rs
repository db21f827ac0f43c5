//! The message log: the complete record of web messages, with the sender's IP, whatever
//! happens to Discord.
//!
//! Each row names the message logged before it in its room (`prev_id`) and `room_tails` holds
//! each room's latest, so a room's history is a walk back by primary key. The log has no
//! per-room index: with many busy rooms such an index put each message of a batch on a page of
//! its own, which SQLite wrote twice (WAL, then checkpoint) — most of what the one-process
//! default wrote per message.
//!
//! The same goes for senders: each visitor message names the message logged before it from the
//! same address (`prev_by_ip`) and `visitor_tails` holds each (tag, address)'s latest, so a
//! moderator's lookup by IP tag reads that small table and walks back, instead of an index on
//! the tag that put each message of a batch on a page of its own too.
//!
//! Plain indexes on `(room, id)` and `(ip_tag, id)` were measured against the chains and cost
//! SQLite, the embedded default, about twice the CPU and six times the bytes written per message
//! (`bench/message-log.md`), so the chains stay. Every read goes through this module (a room's
//! history, the messages around one, lookups by tag), so no caller walks a chain itself.
//!
//! One job per file: `write` chains a batch onto the tails and moves them (`postgres` and
//! `sqlite` each write one to their database), `history` reads a room's history and the
//! messages around one, `tags` looks senders and their messages up by IP tag, `mirror` answers
//! the Discord side (what waits for Discord, batches, Discord messages' web messages), `changes`
//! applies authors' edits and deletions, keeping every earlier text in `message_edits`.

mod changes;
mod history;
mod mirror;
mod postgres;
mod sqlite;
mod tags;
#[cfg(test)]
mod tests;
mod write;

use std::sync::Arc;

use protocol::MessageView;
use sea_orm::DatabaseConnection;

pub use changes::{Applied, BY_AUTHOR};
pub use history::recent;
pub use mirror::SCAN_BATCH;
pub use tags::{Walk, addresses_of, by_tag};

/// A message to log, with what only the log keeps.
#[derive(Debug)]
pub struct Entry<'a> {
    pub message: &'a MessageView,
    pub ip: String,
    pub ip_tag: Option<String>,
    /// The sender's device tag, if its client sent a device token.
    pub device_tag: Option<&'a str>,
    /// Set for staff messages, which are on Discord already.
    pub discord_message_id: Option<i64>,
}

/// Whether a batch may hold messages that are logged already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Read from the queue for the first time, or a staff message: its ids are new (a gateway
    /// queues each message once, under an id of its own).
    First,
    /// Reclaimed from a consumer that never acknowledged it, or the retry of a write that may
    /// have committed after all.
    Again,
}

/// How far back a history walk goes looking for messages that were not deleted.
const MAX_HOPS: u64 = 1_000;

/// The log of one database. Clones share it: writes go one at a time, each chaining its rooms'
/// and senders' messages onto the tails the previous write left, which it remembers (reading
/// rows back through the SQLite driver costs more per row than writing them).
#[derive(Clone)]
pub struct MessageLog {
    db: DatabaseConnection,
    /// The latest logged messages as far as known; the lock makes writes one at a time.
    tails: Arc<tokio::sync::Mutex<write::Known>>,
}

impl MessageLog {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, tails: Arc::default() }
    }
}
