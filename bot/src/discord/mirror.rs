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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bus::Bus;
use chrono::Utc;
use protocol::{LoggedMessage, RoomKind};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use tokio::sync::mpsc;

use super::embeds;
use super::rest::{Posted, Rest};
use super::threads::{self, Opened, Parents};
use crate::entities::{message_log, rooms};

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
    Post(Job),
    /// The room ended (`RoomClosed`, this queue entry): archive its thread after what came before.
    Close {
        entry_id: String,
    },
}

/// Prefix of jobs that come from the log rather than the queue (nothing to acknowledge).
const LOG_ONLY: &str = "log:";

/// Marks messages the mirror gave up on (room outran Discord, Discord refused the body, or the
/// room has no channel to post in), so a restart never posts them late, out of order.
const SKIPPED: &str = "skipped";

/// How often a staff room's worker looks again for the room's channel while it is being
/// created (the keeper records it right after Discord answers).
const CHANNEL_POLL: Duration = Duration::from_millis(200);

/// Hands jobs to per-room workers.
#[derive(Clone)]
pub struct Mirror {
    inner: Arc<Inner>,
}

struct Inner {
    rest: Rest,
    db: DatabaseConnection,
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
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Mirror {
    pub fn new(rest: Rest, db: DatabaseConnection, bus: Arc<dyn Bus>, config: MirrorConfig, parents: Parents) -> Self {
        let rooms = moka::future::Cache::builder().time_to_live(Duration::from_secs(3)).max_capacity(100_000).build();
        Self {
            inner: Arc::new(Inner {
                rest,
                db,
                bus,
                config,
                rooms,
                parents,
                opened: Mutex::default(),
                workers: Mutex::default(),
                in_flight: Mutex::default(),
                unmapped_warned: Mutex::default(),
            }),
        }
    }

    /// Forget cached channel ids (a room was just given its channel).
    pub fn channels_changed(&self) {
        self.inner.rooms.invalidate_all();
    }

    /// At start: queue again what was logged recently but never reached Discord (the
    /// one-process default keeps its queue in memory, so a restart would otherwise forget it).
    /// These jobs have no queue entry to acknowledge.
    pub async fn resume_unmirrored(&self) -> Result<usize, sea_orm::DbErr> {
        let since = Utc::now() - chrono::Duration::from_std(self.inner.config.max_lag).unwrap_or_default();
        let rows = message_log::Entity::find()
            .filter(message_log::Column::Staff.eq(false))
            .filter(message_log::Column::DiscordMessageId.is_null())
            .filter(message_log::Column::DeletedAt.is_null())
            .filter(message_log::Column::SentAt.gt(since))
            .filter(
                sea_orm::Condition::any()
                    .add(message_log::Column::DiscordBatch.is_null())
                    .add(message_log::Column::DiscordBatch.ne(SKIPPED)),
            )
            .order_by_asc(message_log::Column::Id)
            .all(&self.inner.db)
            .await?;
        let jobs: Vec<Job> = rows
            .into_iter()
            .filter_map(|row| {
                let id = row.id.parse().ok()?;
                let ip = row.ip.parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                let message = protocol::MessageView {
                    id,
                    room: row.room,
                    nick: row.nickname,
                    text: row.text,
                    at: row.sent_at,
                    staff: false,
                };
                Some(Job { entry_id: format!("{LOG_ONLY}{}", row.id), message: LoggedMessage { message, ip } })
            })
            .collect();
        let n = jobs.len();
        if n > 0 {
            tracing::info!(messages = n, "mirroring messages logged before the restart but not yet in Discord");
        }
        self.submit(jobs);
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
            self.inner.hand_over(&mut workers, room, Work::Post(job));
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

/// Where a room's next batch goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Not mirrored (an unknown room).
    Nowhere,
    /// A staff room whose channel is not recorded yet (the channel keeper creates it): its
    /// messages wait for it, in order, rather than being dropped or posted late.
    NoChannel,
    /// The room's channel or thread, or (fallback) the parent with the room's name as `label`.
    Post { channel: u64, label: Option<String>, thread: bool },
    /// Nothing decided yet: ask again after this long.
    Wait(Duration),
}

fn id_of(id: Option<i64>) -> Option<u64> {
    id.and_then(|id| u64::try_from(id).ok())
}

impl Inner {
    /// Send work to the room's worker, starting one when there is none (or it stopped).
    fn hand_over(
        self: &Arc<Self>,
        workers: &mut HashMap<String, mpsc::UnboundedSender<Work>>,
        room: String,
        work: Work,
    ) {
        let sender = workers.entry(room.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(self.clone(), room.clone(), rx));
            tx
        });
        if let Err(mpsc::error::SendError(work)) = sender.send(work) {
            // The worker is gone; start a fresh one.
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(self.clone(), room.clone(), rx));
            let _ = tx.send(work);
            workers.insert(room, tx);
        }
    }

    /// The room's row, cached for a few seconds (`Ok(None)`: no such room). A failed lookup
    /// is not cached.
    async fn room(&self, room: &str) -> Result<Option<rooms::Model>, Arc<sea_orm::DbErr>> {
        let db = self.db.clone();
        let slug = room.to_owned();
        self.rooms
            .try_get_with(room.to_owned(), async move { rooms::Entity::find_by_id(slug.as_str()).one(&db).await })
            .await
    }

    /// Where the room's messages go, starting its thread when it has none yet.
    async fn target_of(&self, room: &str) -> Target {
        let row = match self.room(room).await {
            Ok(Some(row)) => row,
            Ok(None) => return Target::Nowhere,
            Err(e) => {
                tracing::warn!(error = %e, %room, "cannot look up the room's channel; retrying");
                return Target::Wait(Duration::from_secs(1));
            }
        };
        let kind = RoomKind::parse(&row.kind).unwrap_or(RoomKind::Staff);
        if kind == RoomKind::Staff {
            return id_of(row.discord_channel_id).map_or(Target::NoChannel, |channel| Target::Post {
                channel,
                label: None,
                thread: false,
            });
        }
        let label = || Some(threads::fallback_label(kind, &row.slug, &row.title));
        let known = lock(&self.opened).get(room).copied();
        let opened = match known {
            Some(opened) => opened,
            None => match (id_of(row.discord_thread_id), id_of(row.discord_channel_id)) {
                (Some(thread), _) => Opened::Thread(thread),
                (None, Some(parent)) => Opened::Fallback(parent),
                (None, None) => {
                    let opened = self.parents.open(kind, &row.slug, &row.title).await;
                    if !matches!(opened, Opened::Retry(_)) {
                        lock(&self.opened).insert(room.to_owned(), opened);
                        self.remember(room, opened).await;
                    }
                    opened
                }
            },
        };
        match opened {
            Opened::Thread(channel) => Target::Post { channel, label: None, thread: true },
            Opened::Fallback(channel) => Target::Post { channel, label: label(), thread: false },
            Opened::Retry(wait) => Target::Wait(wait),
        }
    }

    /// Record the room's thread (or fallback parent) in `rooms`, so it survives a restart and
    /// staff messages in the thread find their room.
    async fn remember(&self, room: &str, opened: Opened) {
        let (column, value) = match opened {
            Opened::Thread(id) => (rooms::Column::DiscordThreadId, Some(i64::try_from(id).unwrap_or_default())),
            Opened::Fallback(id) => (rooms::Column::DiscordChannelId, Some(i64::try_from(id).unwrap_or_default())),
            Opened::Retry(_) => return,
        };
        self.set_room_column(room, column, value).await;
    }

    async fn set_room_column(&self, room: &str, column: rooms::Column, value: Option<i64>) {
        for attempt in 1..=5u32 {
            let written = rooms::Entity::update_many()
                .col_expr(column, Expr::value(value))
                .filter(rooms::Column::Slug.eq(room))
                .exec(&self.db)
                .await;
            match written {
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, %room, attempt, "cannot record the room's Discord thread");
                    tokio::time::sleep(Duration::from_millis(500) * attempt).await;
                }
            }
        }
        self.rooms.invalidate(room).await;
    }

    /// The room's thread was deleted in Discord: the next batch starts a new one.
    async fn forget_thread(&self, room: &str) {
        lock(&self.opened).remove(room);
        self.set_room_column(room, rooms::Column::DiscordThreadId, None).await;
    }

    /// The room ended: archive and lock its thread (if it ever got one).
    async fn close_room(&self, room: &str) {
        let known = lock(&self.opened).remove(room);
        let thread = match known {
            Some(Opened::Thread(id)) => Some(id),
            Some(_) => None,
            None => match rooms::Entity::find_by_id(room).one(&self.db).await {
                Ok(row) => row.filter(|r| r.kind != RoomKind::Staff.as_str()).and_then(|r| id_of(r.discord_thread_id)),
                Err(e) => {
                    tracing::error!(error = %e, %room, "cannot look up the ended room's thread; leaving it open");
                    None
                }
            },
        };
        lock(&self.unmapped_warned).remove(room);
        self.rooms.invalidate(room).await;
        let Some(thread) = thread else { return };
        let body = json!({"archived": true, "locked": true});
        for attempt in 1..=5u32 {
            match self.rest.modify_channel(thread, &body).await {
                Ok(Posted::Ok { .. }) => {
                    metrics::counter!("chat_discord_requests_total", "outcome" => "ok").increment(1);
                    tracing::info!(%room, thread, "the room ended; its thread is archived");
                    return;
                }
                Ok(Posted::RateLimited { retry_after, .. }) => {
                    metrics::counter!("chat_discord_requests_total", "outcome" => "rate_limited").increment(1);
                    tokio::time::sleep(retry_after).await;
                }
                Ok(Posted::Refused { status, body }) => {
                    metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
                    tracing::error!(%room, thread, status, %body, "Discord refused to archive the ended room's thread");
                    return;
                }
                Err(e) => {
                    metrics::counter!("chat_discord_requests_total", "outcome" => "failed").increment(1);
                    tracing::warn!(%room, thread, attempt, error = %e, "cannot archive the ended room's thread; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        tracing::error!(%room, thread, "gave up archiving the ended room's thread");
    }

    /// Stop the room's worker if nothing more came for it (checked under the lock `submit`
    /// sends under, so no work is lost). Returns whether it stopped.
    fn retire(&self, room: &str, rx: &mut mpsc::UnboundedReceiver<Work>, queue: &mut VecDeque<Work>) -> bool {
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

    async fn ack(&self, jobs: &[Job]) {
        let ids: Vec<String> = jobs.iter().map(|j| j.entry_id.clone()).collect();
        self.ack_ids(&ids).await;
    }

    async fn ack_ids(&self, ids: &[String]) {
        let queued: Vec<String> = ids.iter().filter(|id| !id.starts_with(LOG_ONLY)).cloned().collect();
        if let Err(e) = self.bus.ack(&queued).await {
            tracing::error!(error = %e, "cannot acknowledge mirrored entries; they will be skipped when redelivered");
        }
        let mut in_flight = lock(&self.in_flight);
        for id in ids {
            if in_flight.remove(id) {
                metrics::gauge!("chat_mirror_backlog").decrement(1.0);
            }
        }
    }
}

async fn worker(inner: Arc<Inner>, room: String, mut rx: mpsc::UnboundedReceiver<Work>) {
    let mut incoming: VecDeque<Work> = VecDeque::new();
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut pause_until = tokio::time::Instant::now();
    loop {
        if queue.is_empty() && incoming.is_empty() {
            match rx.recv().await {
                Some(work) => incoming.push_back(work),
                None => return,
            }
        }
        // Messages up to the first close go into the queue; the close waits until they are out.
        while let Some(Work::Post(_)) = incoming.front() {
            if let Some(Work::Post(job)) = incoming.pop_front() {
                queue.push_back(job);
            }
        }
        if queue.is_empty() {
            if let Some(Work::Close { entry_id }) = incoming.pop_front() {
                inner.close_room(&room).await;
                inner.ack_ids(&[entry_id]).await;
                if incoming.is_empty() && inner.retire(&room, &mut rx, &mut incoming) {
                    return;
                }
            }
            continue;
        }
        // Wait out the bucket first: whatever arrives meanwhile joins the next batch.
        tokio::time::sleep_until(pause_until).await;
        while let Ok(work) = rx.try_recv() {
            incoming.push_back(work);
        }
        while let Some(Work::Post(_)) = incoming.front() {
            if let Some(Work::Post(job)) = incoming.pop_front() {
                queue.push_back(job);
            }
        }
        let (channel, label, thread) = match inner.target_of(&room).await {
            Target::Post { channel, label, thread } => (channel, label, thread),
            Target::Wait(wait) => {
                tokio::time::sleep(wait).await;
                continue;
            }
            Target::NoChannel => {
                let lag = queue.front().map_or(Duration::ZERO, |j| {
                    Utc::now().signed_duration_since(j.message.message.at).to_std().unwrap_or_default()
                });
                if lag > inner.config.max_lag {
                    tracing::warn!(%room, messages = queue.len(), "the room's Discord channel did not appear in time; its messages are kept in the log only");
                    let jobs: Vec<Job> = queue.drain(..).collect();
                    give_up(&inner, &jobs).await;
                } else {
                    if lock(&inner.unmapped_warned).insert(room.clone()) {
                        tracing::info!(%room, "the room's Discord channel is not there yet; its messages wait for it");
                    }
                    inner.rooms.invalidate(&room).await;
                    tokio::time::sleep(CHANNEL_POLL).await;
                }
                continue;
            }
            Target::Nowhere => {
                if lock(&inner.unmapped_warned).insert(room.clone()) {
                    tracing::info!(%room, "unknown room; its messages are logged but not mirrored");
                }
                let jobs: Vec<Job> = queue.drain(..).collect();
                give_up(&inner, &jobs).await;
                continue;
            }
        };
        lock(&inner.unmapped_warned).remove(&room);
        if let Some(oldest) = queue.front().map(|j| j.message.message.at) {
            let lag = Utc::now().signed_duration_since(oldest).to_std().unwrap_or_default();
            if lag > inner.config.max_lag {
                let jobs: Vec<Job> = queue.drain(..).collect();
                skip_ahead(&inner, channel, &room, &jobs).await;
                continue;
            }
        }
        match post_next(&inner, channel, label.as_deref(), &mut queue).await {
            Ok(pause) => pause_until = tokio::time::Instant::now() + pause,
            Err(Failed::Wait(wait)) => tokio::time::sleep(wait).await,
            Err(Failed::Gone) if thread => {
                tracing::warn!(%room, thread = channel, "the room's Discord thread is gone; starting a new one");
                inner.forget_thread(&room).await;
            }
            Err(Failed::Gone) => {
                inner.rooms.invalidate_all();
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(Failed::Archived) if thread => {
                // Locked and archived (by a moderator): the bot manages threads, so it reopens it.
                let reopened = inner.rest.modify_channel(channel, &json!({"archived": false})).await;
                tracing::warn!(%room, thread = channel, ok = matches!(reopened, Ok(Posted::Ok { .. })), "reopened the room's archived thread to post in it");
                if !matches!(reopened, Ok(Posted::Ok { .. })) {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
            Err(Failed::Archived) => tokio::time::sleep(Duration::from_secs(5)).await,
        }
    }
}

/// Why a post did not go through (the jobs stay queued).
#[derive(Debug)]
enum Failed {
    /// Try again after this long.
    Wait(Duration),
    /// 404: the channel or thread does not exist (any more).
    Gone,
    /// 400 `50083`: the thread is archived and locked.
    Archived,
}

/// Post the next batch from the front of `queue` (with `label` as every embed's title, for
/// posts outside the room's own channel or thread). Ok(pause before the next post), or why
/// not, with the jobs still queued.
async fn post_next(
    inner: &Inner,
    channel: u64,
    label: Option<&str>,
    queue: &mut VecDeque<Job>,
) -> Result<Duration, Failed> {
    let db_error = |e: sea_orm::DbErr| {
        tracing::error!(error = %e, "mirror cannot read or write the message log; retrying");
        Failed::Wait(Duration::from_secs(1))
    };
    let Some(front) = queue.front() else { return Ok(Duration::ZERO) };
    let front_id = front.message.message.id.to_string();
    let row = message_log::Entity::find_by_id(front_id.as_str()).one(&inner.db).await.map_err(db_error)?;
    let Some(row) = row else {
        // Logged before it was submitted, so this cannot happen unless the row was purged.
        tracing::warn!(id = %front_id, "message to mirror is not in the log; skipping it");
        let job = queue.pop_front().into_iter().collect::<Vec<_>>();
        inner.ack(&job).await;
        return Ok(Duration::ZERO);
    };
    if row.discord_message_id.is_some() || row.discord_batch.as_deref() == Some(SKIPPED) {
        // Already in Discord (the acknowledgement was lost in a crash) or given up on.
        let job = queue.pop_front().into_iter().collect::<Vec<_>>();
        inner.ack(&job).await;
        return Ok(Duration::ZERO);
    }
    let batch_rows = match row.discord_batch.clone() {
        // Planned by an earlier attempt: exactly that batch again.
        Some(batch) => message_log::Entity::find()
            .filter(message_log::Column::DiscordBatch.eq(batch))
            .order_by_asc(message_log::Column::Id)
            .all(&inner.db)
            .await
            .map_err(db_error)?,
        None => {
            let ids: Vec<String> = queue.iter().map(|j| j.message.message.id.to_string()).collect();
            let mut rows = message_log::Entity::find()
                .filter(message_log::Column::Id.is_in(ids.iter().take(500).cloned()))
                .filter(message_log::Column::DiscordMessageId.is_null())
                .filter(message_log::Column::DiscordBatch.is_null())
                .order_by_asc(message_log::Column::Id)
                .all(&inner.db)
                .await
                .map_err(db_error)?;
            // Keep queue order and stop at the first message that is not plannable.
            let mut planned = Vec::new();
            for id in &ids {
                match rows.iter().position(|r| &r.id == id) {
                    Some(pos) => planned.push(rows.remove(pos)),
                    None => break,
                }
            }
            let take = embeds::plan(&planned, label);
            planned.truncate(take);
            let members: Vec<String> = planned.iter().map(|r| r.id.clone()).collect();
            message_log::Entity::update_many()
                .col_expr(message_log::Column::DiscordBatch, Expr::value(front_id.clone()))
                .filter(message_log::Column::Id.is_in(members))
                .exec(&inner.db)
                .await
                .map_err(db_error)?;
            planned
        }
    };
    let Some(first) = batch_rows.first() else { return Err(Failed::Wait(Duration::from_secs(1))) };
    let batch_id = first.id.clone();
    let body = embeds::payload(&batch_rows, &embeds::nonce(&batch_id), label);
    let member_ids: HashSet<&str> = batch_rows.iter().map(|r| r.id.as_str()).collect();
    match inner.rest.create_message(channel, &body).await {
        Ok(Posted::Ok { id: message_id, pacing }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "ok").increment(1);
            metrics::counter!("chat_mirrored_total").increment(batch_rows.len() as u64);
            let discord_id = i64::try_from(message_id).unwrap_or_default();
            message_log::Entity::update_many()
                .col_expr(message_log::Column::DiscordMessageId, Expr::value(discord_id))
                .filter(message_log::Column::DiscordBatch.eq(batch_id))
                .exec(&inner.db)
                .await
                .map_err(db_error)?;
            let done = take_jobs(queue, &member_ids);
            inner.ack(&done).await;
            Ok(pacing.pause())
        }
        Ok(Posted::RateLimited { retry_after, global }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "rate_limited").increment(1);
            tracing::warn!(channel, ?retry_after, global, "Discord rate limit hit; retrying the same batch");
            Err(Failed::Wait(retry_after))
        }
        Ok(Posted::Refused { status: status @ (401 | 403), body }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
            tracing::error!(
                channel,
                status,
                %body,
                "Discord refuses the bot (check DISCORD_TOKEN and the bot's permissions in the channel); retrying in 30 s"
            );
            Err(Failed::Wait(Duration::from_secs(30)))
        }
        Ok(Posted::Refused { status: 404, body }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
            tracing::error!(channel, %body, "the room's Discord channel is gone; messages stay in the log only");
            Err(Failed::Gone)
        }
        Ok(Posted::Refused { status: 400, body }) if body.contains("50083") => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
            tracing::warn!(channel, %body, "the room's Discord thread is archived and locked");
            Err(Failed::Archived)
        }
        Ok(Posted::Refused { status, body }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
            tracing::error!(channel, status, %body, messages = batch_rows.len(), "Discord refused a batch; it is kept in the log only");
            message_log::Entity::update_many()
                .col_expr(message_log::Column::DiscordBatch, Expr::value(SKIPPED))
                .filter(message_log::Column::Id.is_in(member_ids.iter().map(|s| (*s).to_owned())))
                .exec(&inner.db)
                .await
                .map_err(db_error)?;
            let done = take_jobs(queue, &member_ids);
            inner.ack(&done).await;
            Ok(Duration::ZERO)
        }
        Err(e) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "failed").increment(1);
            tracing::warn!(channel, error = %e, "cannot post to Discord; retrying");
            Err(Failed::Wait(Duration::from_secs(2)))
        }
    }
}

/// Messages that will never be mirrored: marked so in the log (a restart must not post them
/// after later ones), then acknowledged.
async fn give_up(inner: &Inner, jobs: &[Job]) {
    metrics::counter!("chat_mirror_skipped_total").increment(jobs.len() as u64);
    let ids: Vec<String> = jobs.iter().map(|j| j.message.message.id.to_string()).collect();
    let marked = message_log::Entity::update_many()
        .col_expr(message_log::Column::DiscordBatch, Expr::value(SKIPPED))
        .filter(message_log::Column::Id.is_in(ids))
        .filter(message_log::Column::DiscordMessageId.is_null())
        .exec(&inner.db)
        .await;
    if let Err(e) = marked {
        tracing::error!(error = %e, "cannot mark unmirrored messages in the log");
    }
    inner.ack(jobs).await;
}

/// Remove the jobs of the given messages from the queue.
fn take_jobs(queue: &mut VecDeque<Job>, ids: &HashSet<&str>) -> Vec<Job> {
    let mut taken = Vec::new();
    queue.retain(|job| {
        if ids.contains(job.message.message.id.to_string().as_str()) {
            taken.push(job.clone());
            false
        } else {
            true
        }
    });
    taken
}

/// The room is further behind than `max_lag`: post one notice naming what is skipped, mark it
/// in the log, and carry on with fresh messages.
async fn skip_ahead(inner: &Inner, channel: u64, room: &str, jobs: &[Job]) {
    let (Some(first), Some(last)) = (jobs.first(), jobs.last()) else { return };
    let (first, last) = (&first.message.message, &last.message.message);
    let text = format!(
        "⚠️ #{room} is ahead of Discord: {} messages from {} to {} UTC (ids {} to {}) were not mirrored here. \
         They are kept in the message log.",
        jobs.len(),
        first.at.format("%H:%M:%S"),
        last.at.format("%H:%M:%S"),
        first.id,
        last.id,
    );
    tracing::warn!(%room, skipped = jobs.len(), from = %first.id, to = %last.id, "mirror lag exceeded; skipping ahead");
    metrics::counter!("chat_mirror_skipped_total").increment(jobs.len() as u64);
    let ids: Vec<String> = jobs.iter().map(|j| j.message.message.id.to_string()).collect();
    let marked = message_log::Entity::update_many()
        .col_expr(message_log::Column::DiscordBatch, Expr::value(SKIPPED))
        .filter(message_log::Column::Id.is_in(ids))
        .filter(message_log::Column::DiscordMessageId.is_null())
        .exec(&inner.db)
        .await;
    if let Err(e) = marked {
        tracing::error!(error = %e, "cannot mark skipped messages in the log");
    }
    let body = json!({
        "content": text,
        "allowed_mentions": {"parse": []},
        "nonce": embeds::nonce(&format!("S{}", first.id)),
        "enforce_nonce": true,
    });
    loop {
        match inner.rest.create_message(channel, &body).await {
            Ok(Posted::RateLimited { retry_after, .. }) => tokio::time::sleep(retry_after).await,
            Ok(Posted::Ok { .. }) => break,
            Ok(Posted::Refused { status, body }) => {
                tracing::error!(status, %body, "Discord refused the lag notice");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot post the lag notice; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    inner.ack(jobs).await;
}
