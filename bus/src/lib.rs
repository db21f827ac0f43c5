//! The bus between gateways and the bot.
//!
//! One trait, [`Bus`] (here), carries everything a split deployment needs: room fan-out, presence
//! with an atomic capacity check, recent history, the durable gateway → bot queue, control
//! events, and the room and ban snapshots gateways serve from while the bot is away. Both
//! implementations must pass the conformance suite in `tests/it`.
//!
//! * [`memory`]: [`InProcessBus`], with tokio primitives, for the one-process default.
//! * [`redis`]: [`RedisBus`], for split deployment: one file per concern, Lua scripts in
//!   `redis/lua/`, key names in [`redis::keys`].
//! * [`feed`]: [`RoomFeed`], the queue between a bus and each subscriber to one room.
//! * `seats`: [`Seat`], [`SeatClaim`] and the seat rules both buses apply.
//! * appeals: [`Bus::open_appeal`] and the calls after it, bounded by [`APPEALS_MAX`] and a TTL.
//! * [`resume`]: [`ResumeState`], what a dropped socket's session leaves for `RESUME_SECS`, and
//!   its tokens.
//! * [`shield`]: [`ShieldSetting`], what the proof-of-work gates of every gateway share.
//! * [`history`]: [`Viewer`], who may read a history entry (a shadow-muted sender's messages
//!   are kept for that sender's connections only).
//! * [`reactions`]: [`ReactionChange`] and [`MessageReactions`], the rule of reactions on
//!   messages both buses keep.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use protocol::{
    AppealRecord, BanDef, ControlEvent, FilterDef, InboundEvent, LoggedMessage, MessageView, MuteDef, RoomDef,
    RoomSlug, RouletteTicket,
};
use tokio::sync::{broadcast, watch};
use ulid::Ulid;

pub mod feed;
pub mod history;
pub mod memory;
pub mod reactions;
pub mod redis;
pub mod resume;
mod seats;
pub mod shield;

pub use feed::{FeedSender, ROOM_FEED_DEPTH, RoomFeed};
pub use history::Viewer;
pub use memory::InProcessBus;
pub use reactions::{MessageReactions, ReactionChange, ReactionKind, ReactionOutcome};
pub use redis::{RedisBus, RedisConfig};
pub use resume::{ResumeState, RouletteResume, Token};
pub use seats::{LostSeat, Seat, SeatClaim, SeatLoss};
pub use shield::{SHIELD_STEPS, ShieldMode, ShieldSetting};

/// How many recent messages per room are kept for joiners and `since` resume.
pub const HISTORY_LEN: usize = 50;

/// Bus failures. Callers map these to `unavailable` for users; nothing is retried silently.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("malformed bus payload: {0}")]
    Codec(String),
    /// The queue holds `QUEUE_MAX` entries the bot has not handled yet: a message is refused
    /// rather than queued (`unavailable` for its sender); nothing of it was stored or sent.
    #[error("the queue is full ({depth} entries waiting, at most {max})")]
    Overloaded { depth: u64, max: u64 },
}

/// Reports (device, message) the in-process bus remembers at once; beyond it the oldest is
/// forgotten (the per-address report limit keeps honest use far below it).
pub const REPORTED_MAX: usize = 100_000;

/// Appeals a bus keeps at most (an address's appeals are rate limited; this bounds them all).
pub const APPEALS_MAX: usize = 100_000;

/// `QUEUE_MAX`'s default: entries waiting for the bot before messages are refused.
pub const DEFAULT_QUEUE_MAX: u64 = 100_000;

/// The gateway → bot queue's backlog: what waits for the bot (delivered or not, not yet
/// acknowledged) and how long the oldest of it has waited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub depth: u64,
    /// `None` when nothing waits.
    pub oldest_age: Option<Duration>,
}

/// One entry of the gateway → bot queue, delivered until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub id: String,
    pub event: InboundEvent,
    /// Queued again by a gateway after the bus lost its data ([`Bus::watch_data_losses`]): it
    /// may be logged already, though this queue never delivered it before.
    pub requeued: bool,
}

/// The bot's control events as seen by one gateway.
pub struct ControlFeed {
    rx: broadcast::Receiver<ControlMessage>,
}

/// What a control subscriber gets: an event, or notice that some were missed (so the gateway
/// reloads its snapshots rather than trusting a stale view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    Event(ControlEvent),
    Resync,
}

impl ControlFeed {
    pub fn new(rx: broadcast::Receiver<ControlMessage>) -> Self {
        Self { rx }
    }

    /// Next control message; `None` once the bus side is gone.
    pub async fn recv(&mut self) -> Option<ControlMessage> {
        match self.rx.recv().await {
            Ok(message) => Some(message),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(ControlMessage::Resync),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Everything gateways and the bot say to each other.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Is the bus reachable? Drives `/readyz`.
    async fn ping(&self) -> Result<(), BusError>;

    // ---- room fan-out -------------------------------------------------------------------
    /// Deliver a serialised server frame to every subscriber of `room`, on every gateway.
    async fn publish(&self, room: &RoomSlug, frame: Bytes) -> Result<(), BusError>;
    /// Subscribe this process to `room`'s frames; dropping the feed unsubscribes.
    async fn subscribe_room(&self, room: &RoomSlug) -> Result<RoomFeed, BusError>;

    // ---- presence -----------------------------------------------------------------------
    /// Take a seat in `room` if it has fewer than `capacity` members, nobody holds the same
    /// nickname key, and the seat's address holds fewer than `per_address` seats there. Atomic:
    /// concurrent claims never overfill a room nor give an address more seats, whichever gateways
    /// they come through. Claiming again with the same holder and key is granted (idempotent).
    async fn claim_seat(
        &self,
        room: &RoomSlug,
        seat: &Seat,
        capacity: u32,
        per_address: u32,
    ) -> Result<SeatClaim, BusError>;
    /// Give the seat back; a no-op unless `holder` still holds `key` in `room`.
    async fn release_seat(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError>;
    /// Nicknames currently in `room`.
    async fn members(&self, room: &RoomSlug) -> Result<Vec<String>, BusError>;
    /// Member counts, in the order of `rooms` (one round trip, however many rooms).
    async fn occupancy(&self, rooms: &[RoomSlug]) -> Result<Vec<u32>, BusError>;
    /// Slowmode of `room` for one address (a seat's `address` tag): it may send as many messages
    /// per `period` as it holds seats in the room (at least one). Takes a slot and returns
    /// `None`, or returns how long until a slot frees. Kept per (room, address) across every
    /// gateway and for a `period` after the last message, so leaving and joining again, or
    /// another connection, never resets it.
    async fn slowmode(&self, room: &RoomSlug, address: &str, period: Duration) -> Result<Option<Duration>, BusError>;

    // ---- history ------------------------------------------------------------------------
    /// Remember a message as one of the room's last [`HISTORY_LEN`].
    async fn record_history(&self, message: &MessageView) -> Result<(), BusError>;
    /// Remember a message that only `only`'s connections may read (a shadow-muted sender's:
    /// the same address key or the same device), as one of the room's last [`HISTORY_LEN`].
    async fn record_history_for(&self, message: &MessageView, only: &Viewer) -> Result<(), BusError>;
    /// The room's recent messages as everyone sees them, oldest first; with `since`, only
    /// those after it (all of them when `since` is no longer in the window, so a client never
    /// misses any).
    async fn history(&self, room: &RoomSlug, since: Option<Ulid>) -> Result<Vec<MessageView>, BusError> {
        self.history_for(room, since, None).await
    }
    /// [`Bus::history`] as `viewer` reads it: with the messages only it may read
    /// ([`Bus::record_history_for`]); `None` reads what everyone does.
    async fn history_for(
        &self,
        room: &RoomSlug,
        since: Option<Ulid>,
        viewer: Option<&Viewer>,
    ) -> Result<Vec<MessageView>, BusError>;
    /// Change a message in the room's history: new text (a staff edit), or `None` to remove it
    /// (deleted by a moderator), so joiners never see what was taken down.
    async fn amend_history(&self, room: &RoomSlug, id: Ulid, text: Option<&str>) -> Result<(), BusError>;
    /// Give a message of the room's history a new text and its `edited` time (its author's
    /// `edit`, or a staff edit in Discord), so joiners see it as edited; a no-op for an id the
    /// history does not hold.
    async fn edit_history(
        &self,
        room: &RoomSlug,
        id: Ulid,
        text: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BusError>;
    /// Fill an empty history (at start, from the message log). Ignored when it has entries.
    async fn seed_history(&self, room: &RoomSlug, messages: Vec<MessageView>) -> Result<(), BusError>;

    // ---- reactions (issue 29; `reactions`) -----------------------------------------------------
    /// Apply one reaction change to message `id` of `room`, atomically across gateways, and
    /// (unless it is a shadow toggle) write the room's new totals into the message's entry in the
    /// room's history when it is still there. Kept for [`reactions::REACTIONS_TTL`] after the
    /// message's last change.
    async fn react(&self, room: &RoomSlug, id: Ulid, change: &ReactionChange) -> Result<ReactionOutcome, BusError>;

    // ---- durable queue gateway → bot --------------------------------------------------------
    /// Append an event; once this returns Ok, the event is the bot's to handle.
    async fn enqueue(&self, event: &InboundEvent) -> Result<(), BusError>;
    /// Accept a visitor's message: queue it for the bot, then remember it in `room`'s history
    /// and fan `frame` (its serialised frame) out to the room. An error means the queue did not take
    /// it and nothing else happened (the message was not sent); once queued the message is
    /// accepted, so a failed history or fan-out step after it is logged here, not returned.
    async fn post_message(&self, room: &RoomSlug, message: &LoggedMessage, frame: Bytes) -> Result<(), BusError> {
        self.enqueue(&InboundEvent::Message(message.clone())).await?;
        if let Err(e) = self.record_history(&message.message).await {
            tracing::warn!(error = %e, %room, "cannot record history");
        }
        if let Err(e) = self.publish(room, frame).await {
            tracing::error!(error = %e, %room, "cannot fan a message out");
        }
        Ok(())
    }
    /// Up to `max` new entries for `consumer`, waiting at most `wait` for the first.
    async fn dequeue(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<QueueEntry>, BusError>;
    /// Entries delivered but not acknowledged for at least `min_idle` (a crashed or failed
    /// consumer), handed to `consumer` again.
    async fn reclaim(&self, consumer: &str, min_idle: Duration, max: usize) -> Result<Vec<QueueEntry>, BusError>;
    /// Mark entries handled; they are never delivered again.
    async fn ack(&self, ids: &[String]) -> Result<(), BusError>;

    // ---- control events bot → gateways ---------------------------------------------------
    async fn publish_control(&self, event: &ControlEvent) -> Result<(), BusError>;
    async fn subscribe_control(&self) -> Result<ControlFeed, BusError>;

    // ---- snapshots the bot maintains and gateways read -------------------------------------
    async fn put_room(&self, room: &RoomDef) -> Result<(), BusError>;
    /// Remove a room from the snapshot; true if it was there. A visitor room's or pair's
    /// history, presence and owner entry go with it (a staff room keeps its history).
    async fn remove_room(&self, slug: &RoomSlug) -> Result<bool, BusError>;
    async fn rooms(&self) -> Result<Vec<RoomDef>, BusError>;
    async fn put_ban(&self, ban: &BanDef) -> Result<(), BusError>;
    async fn remove_ban(&self, id: i64) -> Result<(), BusError>;
    async fn bans(&self) -> Result<Vec<BanDef>, BusError>;
    async fn put_mute(&self, mute: &MuteDef) -> Result<(), BusError>;
    async fn remove_mute(&self, id: i64) -> Result<(), BusError>;
    async fn mutes(&self) -> Result<Vec<MuteDef>, BusError>;
    /// Replace the filter list.
    async fn put_filters(&self, filters: &[FilterDef]) -> Result<(), BusError>;
    async fn filters(&self) -> Result<Vec<FilterDef>, BusError>;

    // ---- roulette and visitor rooms ---------------------------------------------------------
    /// Pair `ticket` with the best waiting ticket by [`protocol::events::best_match`], which is
    /// taken out of the queue and returned; when nobody fits, queue `ticket` (replacing an
    /// earlier entry with its id, keeping its place). Atomic across gateways: no ticket is
    /// handed to two matchers.
    async fn roulette_match(&self, ticket: &RouletteTicket, now_ms: i64) -> Result<Option<RouletteTicket>, BusError>;
    /// Take a ticket out of the queue (cancelled, disconnected); a no-op when it is not there.
    async fn roulette_cancel(&self, id: &str) -> Result<(), BusError>;
    /// How many tickets wait in the roulette queue now, across gateways.
    async fn roulette_waiting(&self) -> Result<u64, BusError>;
    /// Publish `payload` to the subscribers of `inbox`; false when nobody listens there (the
    /// connection that waited on it is gone).
    async fn notify(&self, inbox: &RoomSlug, payload: Bytes) -> Result<bool, BusError>;
    /// Store a visitor room in the snapshot unless its owner already has `max_per_owner` rooms
    /// there. Atomic across gateways; returns whether it was stored.
    async fn open_room(&self, room: &RoomDef, max_per_owner: u32) -> Result<bool, BusError>;
    /// Take or keep the lock `name` for `holder` for `ttl` (renewed by calling again); false
    /// while another holder has it. For work one gateway at a time should do.
    async fn hold_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError>;

    // ---- who is here: online counts across gateways ---------------------------------------
    /// Report that `gateway` has `sockets` open, valid for `ttl` (a gateway reports again well
    /// before it ends; one that stops reporting, a dead one, drops out of [`Bus::online`] once
    /// it has). A zero `ttl` withdraws the report (a gateway stopping).
    async fn report_online(&self, gateway: &str, sockets: u64, ttl: Duration) -> Result<(), BusError>;
    /// People connected now: the sum of the reports still valid, across gateways.
    async fn online(&self) -> Result<u64, BusError>;
    /// How many tickets wait in the roulette queue, not counting the ids in `except` (the
    /// asker, and the stranger it is held apart from).
    async fn roulette_waiting_except(&self, except: &[&str]) -> Result<u64, BusError>;

    // ---- resume (issue 25): a session kept for RESUME_SECS after its socket dropped ----------
    /// Whether another process may take a token this one put (Redis: any gateway). Then a
    /// gateway puts each session on the bus as it issues the token and keeps it alive there
    /// while the socket is open, so that a gateway the client reconnects to finds it (and closes
    /// the old socket). Otherwise (the in-process bus: one process) a gateway puts a session only
    /// when its socket drops, and hands a live one over itself, which spares every idle
    /// connection a state on the bus.
    fn resumes_shared(&self) -> bool;
    /// Store `state` under `token` for `ttl` (replacing what the token named). The bus never
    /// extends it by itself: the process holding the session calls [`Bus::keep_resumes`].
    async fn put_resume(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<(), BusError>;
    /// Replace the state `token` names and give it `ttl` from now, only if it is still there
    /// (not taken nor revoked); whether it was.
    async fn update_resume(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<bool, BusError>;
    /// Give each of `tokens` that is still there `ttl` from now (the live sessions of one
    /// process, so a process that dies lets them lapse). One round trip per chunk of tokens.
    async fn keep_resumes(&self, tokens: &[Token], ttl: Duration) -> Result<(), BusError>;
    /// Take the state `token` names: atomic and single-use across every gateway (`None` when
    /// unknown, expired, taken or revoked).
    async fn take_resume(&self, token: Token) -> Result<Option<ResumeState>, BusError>;
    /// Forget `token` (kick, ban, mute, a deliberate leave); whether it was there.
    async fn revoke_resume(&self, token: Token) -> Result<bool, BusError>;
    /// Stop keeping `holder`'s seat in `room` alive from this process without freeing it:
    /// another process resumed the session and holds the seat now.
    async fn disown_seat(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError>;

    // ---- queue backlog (QUEUE_MAX) -----------------------------------------------------------
    /// The queue's backlog now, for `/metrics` and the readiness report. [`Bus::post_message`]
    /// refuses a message with [`BusError::Overloaded`] once the depth reaches the bus's
    /// `QUEUE_MAX`.
    async fn queue_stats(&self) -> Result<QueueStats, BusError>;

    // ---- appeals (`POST /api/appeals`): the gateway opens, the bot decides and replies ---------
    /// Store a new appeal (state open) for `ttl`, unless its case has an open appeal already:
    /// atomic across gateways, so one case never has two. False (nothing stored) when it has.
    /// The in-process bus keeps at most [`APPEALS_MAX`] (`Unavailable` beyond); on Redis the
    /// TTL and the per-address limit bound them.
    async fn open_appeal(&self, appeal: &AppealRecord, ttl: Duration) -> Result<bool, BusError>;
    /// Store an appeal as the bot knows it (its state, staff replies) for `ttl` from now: an
    /// open one is its case's open appeal, a decided one frees its case for a new appeal.
    async fn put_appeal(&self, appeal: &AppealRecord, ttl: Duration) -> Result<(), BusError>;
    /// The appeal `token` names, if the bus has it.
    async fn appeal(&self, token: &str) -> Result<Option<AppealRecord>, BusError>;
    /// Forget an appeal (one the queue did not take) and free its case.
    async fn remove_appeal(&self, appeal: &AppealRecord) -> Result<(), BusError>;
    // ---- reports: what each device reported, on every gateway --------------------------------
    /// Claim the report of message `id` by device `device` for `ttl`: true the first time,
    /// false while that device's earlier report of it counts (made on any gateway). Atomic
    /// across gateways; bounded (claims lapse after `ttl`; the in-process bus keeps at most
    /// [`REPORTED_MAX`]).
    async fn claim_report(&self, device: &str, id: Ulid, ttl: Duration) -> Result<bool, BusError>;
    /// Give a claim back: the report it was made for was refused or not queued after all.
    async fn release_report(&self, device: &str, id: Ulid) -> Result<(), BusError>;

    // ---- the proof-of-work gate (issue 27; `shield`) -----------------------------------------
    /// Spend a challenge solution, named by its signature, for `ttl` (what is left of the
    /// challenge's life): true the first time, false when it was spent already, on any gateway.
    /// Atomic across gateways; bounded (entries lapse with their challenge).
    async fn spend_challenge(&self, signature: &str, ttl: Duration) -> Result<bool, BusError>;
    /// Report `gateway`'s join rate (upgrades per second, its recent average), valid for `ttl`,
    /// as [`Bus::report_online`] reports sockets.
    async fn report_joins(&self, gateway: &str, per_second: u64, ttl: Duration) -> Result<(), BusError>;
    /// The join rate of the deployment: the sum of the reports still valid.
    async fn join_rate(&self) -> Result<u64, BusError>;
    /// Store the gate's mode as staff set it.
    async fn put_shield(&self, setting: &ShieldSetting) -> Result<(), BusError>;
    /// The gate's mode as staff set it; `None` when nobody did (each gateway's `SHIELD_MODE`).
    async fn shield(&self) -> Result<Option<ShieldSetting>, BusError>;
    /// Store the deployment key (derived from the bot's secret), for gateways that were given
    /// no `IP_TAG_SECRET`.
    async fn put_deployment_key(&self, key: &str) -> Result<(), BusError>;
    /// The deployment key the bot stored, if any.
    async fn deployment_key(&self) -> Result<Option<String>, BusError>;

    // ---- recovery after the bus lost its data (Redis restarted empty, or flushed) -----------
    // The Redis bus finds a loss by its generation key (`bus/src/redis/recovery.rs`); the
    // in-process bus never loses its data apart from the process, so the defaults are its.
    /// How many times this process found the bus without its data, looking now: a caller about
    /// to trust the bus's view (a room snapshot) learns of a loss before it acts on it.
    async fn data_losses(&self) -> Result<u64, BusError> {
        Ok(0)
    }
    /// Changes each time the bus is found without its data (to [`Bus::data_losses`]); holders
    /// of what the bus lost then put it back (visitor rooms and pairs, roulette tickets). The
    /// in-process bus's never changes (its `changed` fails at once: wait on it only while it
    /// succeeds).
    fn watch_data_losses(&self) -> watch::Receiver<u64> {
        watch::channel(0).1
    }
    /// Put back a visitor room or pair the bus lost (with its owner's entry, without the limit
    /// of [`Bus::open_room`]: it was open already); false when the bus has it.
    async fn restore_room(&self, room: &RoomDef) -> Result<bool, BusError> {
        if self.rooms().await?.iter().any(|r| r.slug == room.slug) {
            return Ok(false);
        }
        self.put_room(room).await?;
        Ok(true)
    }
    /// Seats of this process that vanished from the bus and could not be taken back (the room
    /// filled up meanwhile, or the nickname was taken); their holders have no seat any more.
    fn lost_seats(&self) -> broadcast::Receiver<LostSeat> {
        broadcast::channel(1).1
    }
    /// The bot logged every queue entry up to `id` (in queue order): processes may forget what
    /// they kept of those entries to queue again after a loss. False when the bus's generation
    /// is not the one this process knows (it lost its data and this process has not seen it
    /// yet): offer it again a little later.
    async fn mark_logged(&self, _id: &str) -> Result<bool, BusError> {
        Ok(true)
    }
}
