//! The mirror: every web message, in order per room, into its room's Discord channel.
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bus::Bus;
use chrono::Utc;
use protocol::LoggedMessage;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use tokio::sync::mpsc;

use super::embeds;
use super::rest::{Posted, Rest};
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

/// Prefix of jobs that come from the log rather than the queue (nothing to acknowledge).
const LOG_ONLY: &str = "log:";

/// Marks messages the mirror gave up on (room outran Discord, or Discord refused the body).
const SKIPPED: &str = "skipped";

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
    /// room → its Discord channel (None: not mirrored), re-read every few seconds.
    channels: moka::future::Cache<String, Option<u64>>,
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
    /// Queue entries a worker holds, so a reclaimed copy is not mirrored twice.
    in_flight: Mutex<HashSet<String>>,
    unmapped_warned: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Mirror {
    pub fn new(rest: Rest, db: DatabaseConnection, bus: Arc<dyn Bus>, config: MirrorConfig) -> Self {
        let channels =
            moka::future::Cache::builder().time_to_live(Duration::from_secs(3)).max_capacity(100_000).build();
        Self {
            inner: Arc::new(Inner {
                rest,
                db,
                bus,
                config,
                channels,
                workers: Mutex::default(),
                in_flight: Mutex::default(),
                unmapped_warned: Mutex::default(),
            }),
        }
    }

    /// Forget cached channel ids (a room was just given its channel).
    pub fn channels_changed(&self) {
        self.inner.channels.invalidate_all();
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
            let sender = workers.entry(room.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(worker(self.inner.clone(), room.clone(), rx));
                tx
            });
            if let Err(mpsc::error::SendError(job)) = sender.send(job) {
                // The worker is gone (it only stops with its sender); start a fresh one.
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(worker(self.inner.clone(), room.clone(), rx));
                let _ = tx.send(job);
                workers.insert(room, tx);
            }
        }
    }
}

impl Inner {
    async fn channel_of(&self, room: &str) -> Option<u64> {
        let db = self.db.clone();
        let slug = room.to_owned();
        self.channels
            .get_with(room.to_owned(), async move {
                match rooms::Entity::find_by_id(slug.as_str()).one(&db).await {
                    Ok(Some(row)) => {
                        row.discord_thread_id.or(row.discord_channel_id).and_then(|id| u64::try_from(id).ok())
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, room = %slug, "cannot look up the room's channel");
                        None
                    }
                }
            })
            .await
    }

    async fn ack(&self, jobs: &[Job]) {
        let ids: Vec<String> = jobs.iter().map(|j| j.entry_id.clone()).collect();
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

async fn worker(inner: Arc<Inner>, room: String, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut pause_until = tokio::time::Instant::now();
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(job) => queue.push_back(job),
                None => return,
            }
        }
        // Wait out the bucket first: whatever arrives meanwhile joins the next batch.
        tokio::time::sleep_until(pause_until).await;
        while let Ok(job) = rx.try_recv() {
            queue.push_back(job);
        }
        let Some(channel) = inner.channel_of(&room).await else {
            if lock(&inner.unmapped_warned).insert(room.clone()) {
                tracing::info!(%room, "room has no Discord channel; its messages are logged but not mirrored");
            }
            let jobs: Vec<Job> = queue.drain(..).collect();
            inner.ack(&jobs).await;
            continue;
        };
        if let Some(oldest) = queue.front().map(|j| j.message.message.at) {
            let lag = Utc::now().signed_duration_since(oldest).to_std().unwrap_or_default();
            if lag > inner.config.max_lag {
                let jobs: Vec<Job> = queue.drain(..).collect();
                skip_ahead(&inner, channel, &room, &jobs).await;
                continue;
            }
        }
        match post_next(&inner, channel, &mut queue).await {
            Ok(pause) => pause_until = tokio::time::Instant::now() + pause,
            Err(wait) => {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Post the next batch from the front of `queue`. Ok(pause before the next post), or
/// Err(wait before trying again) with the jobs still queued.
async fn post_next(inner: &Inner, channel: u64, queue: &mut VecDeque<Job>) -> Result<Duration, Duration> {
    let db_error = |e: sea_orm::DbErr| {
        tracing::error!(error = %e, "mirror cannot read or write the message log; retrying");
        Duration::from_secs(1)
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
            let take = embeds::plan(&planned);
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
    let Some(first) = batch_rows.first() else { return Err(Duration::from_secs(1)) };
    let batch_id = first.id.clone();
    let body = embeds::payload(&batch_rows, &embeds::nonce(&batch_id));
    let member_ids: HashSet<&str> = batch_rows.iter().map(|r| r.id.as_str()).collect();
    match inner.rest.create_message(channel, &body).await {
        Ok(Posted::Ok { message_id, pacing }) => {
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
            Err(retry_after)
        }
        Ok(Posted::Refused { status: status @ (401 | 403), body }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
            tracing::error!(
                channel,
                status,
                %body,
                "Discord refuses the bot (check DISCORD_TOKEN and the bot's permissions in the channel); retrying in 30 s"
            );
            Err(Duration::from_secs(30))
        }
        Ok(Posted::Refused { status: 404, body }) => {
            metrics::counter!("chat_discord_requests_total", "outcome" => "refused").increment(1);
            tracing::error!(channel, %body, "the room's Discord channel is gone; messages stay in the log only");
            inner.channels.invalidate_all();
            Err(Duration::from_secs(5))
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
            Err(Duration::from_secs(2))
        }
    }
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
