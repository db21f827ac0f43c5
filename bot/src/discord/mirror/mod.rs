//! The mirror: every web message, in order per room, into its room's Discord channel (staff
//! rooms) or thread (visitor rooms and roulette pairs, see [`super::threads`]).
//!
//! One worker per room keeps that room's order. A worker takes the messages waiting for its
//! room, plans the next Discord message (one embed per web message while the backlog fits one
//! request, several web messages per embed beyond that), records the plan in `message_log`
//! (`discord_batch` = the batch's first message id) *before* posting, and posts with a nonce
//! derived from that id and `enforce_nonce`. A retry, even after a crash, re-posts exactly the
//! recorded batch with the same nonce, so Discord returns the message it already has instead of
//! a duplicate. Queue entries are acknowledged only once Discord accepted their message. The
//! worker paces itself by the rate-limit headers; a room that falls further behind than
//! `max_lag` gets one notice naming the skipped range (the log still has every message).
//!
//! A visitor room's or pair's thread is started when its first batch is about to be posted, so
//! rooms nobody wrote in never get one. When the room ends, its worker archives (and locks)
//! the thread after posting everything queued before, and only then acknowledges the
//! `RoomClosed` entry.
//!
//! * `intake`: what the bot hands the mirror (jobs, room ends, a restart's leftovers), the
//!   per-room workers' channels, and the one place queue entries are acknowledged;
//! * `worker`: one room's loop: gather work, find where it goes, post or wait;
//! * `target`: where a room's messages go (its channel, its thread, started on demand, or a
//!   fallback), and archiving the thread when the room ends;
//! * `post`: plan, post and record one batch; give up on messages, skip ahead of a lag.
//! * `replies`: a reply posted as a Discord reply to its original, and its quoted line;
//! * `change`: an author's edit or deletion, edited into the Discord message that carries it.
//!
//! The mirror reads and writes `message_log` rows only through [`MessageLog`]'s methods.

mod change;
mod intake;
mod post;
mod replies;
mod target;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bus::Bus;
use protocol::LoggedMessage;
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use super::rest::Rest;
use super::threads::{Opened, Parents};
use crate::entities::rooms;
use crate::message_log::MessageLog;

/// A logged message waiting for Discord, with the queue entry to acknowledge after.
#[derive(Debug, Clone)]
pub struct Job {
    pub entry_id: String,
    pub message: LoggedMessage,
}

/// Mirror settings.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// A room whose oldest waiting message is older than this is skipped ahead
    /// (`DISCORD_MAX_LAG_SECS`).
    pub max_lag: Duration,
}

/// What a room's worker is handed: a message to post, or the end of the room.
#[derive(Debug)]
enum Work {
    /// A message to post (boxed: a job is large and closes are rare).
    Post(Box<Job>),
    /// The room ended (`RoomClosed`, this queue entry): archive its thread after what came before.
    Close { entry_id: String },
    /// An author's edit or deletion: the Discord message is edited after what came before.
    Change(Box<change::Change>),
}

/// Hands jobs to per-room workers.
#[derive(Clone)]
pub struct Mirror {
    inner: Arc<Inner>,
}

struct Inner {
    rest: Rest,
    /// Rooms' rows (their channels and threads).
    db: DatabaseConnection,
    log: MessageLog,
    bus: Arc<dyn Bus>,
    config: MirrorConfig,
    /// room → its row (None: unknown room), re-read every few seconds for its channel.
    rooms: moka::future::Cache<String, Option<rooms::Model>>,
    /// Parent channels of the rooms' threads, and thread creation.
    parents: Parents,
    /// room → where its thread (or fallback) went, as soon as Discord answered: a room never
    /// starts two threads, even while the database write or the cache lags.
    opened: Mutex<HashMap<String, Opened>>,
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Work>>>,
    /// Queue entries a worker holds, so a reclaimed copy is not mirrored twice.
    in_flight: Mutex<HashSet<String>>,
    unmapped_warned: Mutex<HashSet<String>>,
    /// Web message id → what it answers, for re-rendering after an edit (`replies`).
    quotes: moka::sync::Cache<String, protocol::frames::ReplyRef>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Mirror {
    pub fn new(
        rest: Rest,
        db: DatabaseConnection,
        log: MessageLog,
        bus: Arc<dyn Bus>,
        config: MirrorConfig,
        parents: Parents,
    ) -> Self {
        let rooms = moka::future::Cache::builder().time_to_live(Duration::from_secs(3)).max_capacity(100_000).build();
        Self {
            inner: Arc::new(Inner {
                rest,
                db,
                log,
                bus,
                config,
                rooms,
                parents,
                opened: Mutex::default(),
                workers: Mutex::default(),
                in_flight: Mutex::default(),
                unmapped_warned: Mutex::default(),
                quotes: moka::sync::Cache::builder()
                    .max_capacity(replies::QUOTES_MAX)
                    .time_to_live(replies::QUOTES_TTL)
                    .build(),
            }),
        }
    }

    /// Forget cached channel ids (a room was just given its channel).
    pub fn channels_changed(&self) {
        self.inner.rooms.invalidate_all();
    }
}
