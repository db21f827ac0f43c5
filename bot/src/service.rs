//! The bot's running service: room sync and the queue consumer.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bus::{Bus, HISTORY_LEN, QueueEntry};
use protocol::{ControlEvent, InboundEvent, LoggedMessage, RoomDef, RoomKind, RoomSlug};
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};

use crate::discord::{Discord, DiscordConfig, Job, Mirror};
use crate::iptag::IpTagger;
use crate::message_log::{Delivery, MessageLog};
use crate::{BotError, bans, message_log, rooms};

/// How the bot runs; every field has a default suitable for one process.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// How often room definitions are re-read from the database (`ROOM_SYNC_SECS`), so
    /// `chatroulette rooms …` from a shell reaches a running system.
    pub room_sync_interval: Duration,
    /// Consumer name in the queue's consumer group.
    pub consumer: String,
    /// Entries delivered but unacknowledged this long are taken again (a failed write).
    pub reclaim_after: Duration,
    /// `IP_TAG_SECRET`; unset = a secret generated once and kept in the database.
    pub ip_tag_secret: Option<SecretString>,
    /// The Discord bridge; `None` runs headless.
    pub discord: Option<DiscordConfig>,
    /// How long IPs and texts stay in the message log.
    pub retention: crate::retention::Retention,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            room_sync_interval: Duration::from_secs(3),
            consumer: "bot".to_owned(),
            reclaim_after: Duration::from_secs(10),
            ip_tag_secret: None,
            discord: None,
            retention: crate::retention::Retention::default(),
        }
    }
}

/// The bot, built and ready to run.
pub struct Bot {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    config: BotConfig,
    sync: SnapshotSync,
    tagger: IpTagger,
    log: MessageLog,
    discord: Option<Discord>,
}

/// Largest batch taken from the queue at once.
const BATCH: usize = 500;
/// How long a batch that is not full waits for more entries before it is handled. Each batch is
/// one database transaction, and SQLite writes every page a transaction touched to its WAL once
/// per transaction, so under load larger batches write fewer pages per message (at 40 000
/// deliveries/s the server made a fifth fewer `pwrite64` calls with a 10 ms linger than without;
/// at 85 000/s 25 ms and batches of 500 made 31 394–33 859 per 3 s where 10 ms and 200 made
/// 55 660–60 501). The price is this much delay in the log and on Discord, never in delivery
/// to the web room.
const LINGER: Duration = Duration::from_millis(25);

impl Bot {
    /// Seed default rooms on the first start and publish room snapshots (loading each new
    /// room's recent history from the log).
    pub async fn build(config: BotConfig, db: DatabaseConnection, bus: Arc<dyn Bus>) -> Result<Self, BotError> {
        let seeded = rooms::seed_defaults(&db).await?;
        if seeded > 0 {
            tracing::info!(rooms = seeded, "created the default rooms");
        }
        let mut sync = SnapshotSync { db: db.clone(), bus: bus.clone(), synced: None };
        sync.run_once(true).await?;
        let tagger = IpTagger::load(&db, config.ip_tag_secret.as_ref().map(|s| s.expose_secret().as_str())).await?;
        let log = MessageLog::new(db.clone());
        let discord = match config.discord.clone() {
            Some(discord) => Some(
                Discord::new(discord, db.clone(), log.clone(), bus.clone())
                    .map_err(|e| BotError::Invalid(e.to_string()))?,
            ),
            None => {
                tracing::info!("DISCORD_TOKEN is not set: running without Discord (messages are logged, not mirrored)");
                None
            }
        };
        Ok(Self { db, bus, config, sync, tagger, log, discord })
    }

    /// Run until `shutdown` resolves, then log what is still queued and stop.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) {
        let Self { db, bus, config, sync, tagger, log, discord } = self;
        let sync = crate::health::spawn("room sync", sync.run(config.room_sync_interval));
        let retention = crate::health::spawn("retention", crate::retention::run(db.clone(), config.retention));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mirror = discord.as_ref().map(|d| d.mirror.clone());
        let discord = discord.map(|discord| {
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) = discord.run(stopped).await {
                    tracing::error!(error = %e, "the Discord connection ended; mirroring goes on over REST");
                }
            })
        });
        let consumer = Consumer {
            db,
            log,
            bus,
            config,
            tagger,
            mirror,
            stopping: AtomicBool::new(false),
            gave_up: AtomicBool::new(false),
        };
        if let Some(mirror) = &consumer.mirror
            && let Err(e) = mirror.resume_unmirrored().await
        {
            tracing::error!(error = %e, "cannot look for messages that never reached Discord");
        }
        // Whatever an earlier bot took but never acknowledged (a crash) comes first.
        consumer.reclaim(Duration::ZERO).await;
        let mut last_reclaim = Instant::now();
        tokio::pin!(shutdown);
        loop {
            // The read is never cancelled by a timer: only shutdown interrupts it, and what a
            // cancelled read took is reclaimed at the next start.
            tokio::select! {
                () = &mut shutdown => break,
                batch = consumer.bus.dequeue(&consumer.config.consumer, BATCH, Duration::from_millis(500)) => {
                    match batch {
                        // A batch is handled whole before the next is read (per-room order),
                        // retrying a failing database write in place; a shutdown meanwhile
                        // makes it give up after a few more attempts.
                        Ok(entries) => {
                            let entries = consumer.top_up(entries).await;
                            let handled = consumer.handle(entries, Delivery::First);
                            tokio::pin!(handled);
                            tokio::select! {
                                () = &mut shutdown => {
                                    consumer.stopping.store(true, Ordering::Relaxed);
                                    handled.await;
                                    break;
                                }
                                () = &mut handled => {}
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the queue; retrying in 1 s");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
            if last_reclaim.elapsed() >= consumer.config.reclaim_after / 2 {
                consumer.reclaim(consumer.config.reclaim_after).await;
                last_reclaim = Instant::now();
            }
        }
        sync.abort();
        retention.abort();
        consumer.stopping.store(true, Ordering::Relaxed);
        consumer.drain().await;
        if let Some(mirror) = &consumer.mirror {
            mirror.flush(Duration::from_secs(5)).await;
        }
        stop_tx.send_replace(true);
        if let Some(discord) = discord
            && tokio::time::timeout(Duration::from_secs(5), discord).await.is_err()
        {
            tracing::warn!("the Discord connection did not close in time");
        }
        tracing::info!("bot stopped");
    }
}

struct Consumer {
    db: DatabaseConnection,
    log: MessageLog,
    bus: Arc<dyn Bus>,
    config: BotConfig,
    tagger: IpTagger,
    mirror: Option<Mirror>,
    /// Set once the bot stops: a failing database write is then given up on after a few
    /// attempts instead of retried until it works.
    stopping: AtomicBool,
    /// Set when a batch was given up on while stopping: draining newer entries would then put
    /// them ahead of it, so they are left for the next start too.
    gave_up: AtomicBool,
}

impl Consumer {
    /// Let a batch that is not full gather what arrives within [`LINGER`] (a read that does not
    /// block; entries keep their queue order).
    async fn top_up(&self, mut entries: Vec<QueueEntry>) -> Vec<QueueEntry> {
        if entries.is_empty() || entries.len() >= BATCH {
            return entries;
        }
        tokio::time::sleep(LINGER).await;
        match self.bus.dequeue(&self.config.consumer, BATCH - entries.len(), Duration::ZERO).await {
            Ok(more) => entries.extend(more),
            // What the first read took is handled now; the next read tries the queue again.
            Err(e) => tracing::warn!(error = %e, "cannot top up a queue batch"),
        }
        entries
    }

    /// Handle entries delivered at least `min_idle` ago and never acknowledged.
    async fn reclaim(&self, min_idle: Duration) {
        loop {
            match self.bus.reclaim(&self.config.consumer, min_idle, BATCH).await {
                Ok(entries) if entries.is_empty() => return,
                Ok(entries) => {
                    tracing::warn!(entries = entries.len(), "handling queue entries that were never acknowledged");
                    let full = entries.len() == BATCH;
                    self.handle(entries, Delivery::Again).await;
                    if !full {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot reclaim queue entries");
                    return;
                }
            }
        }
    }

    /// Log a batch, then acknowledge it, or with Discord on, hand it to the mirror, which
    /// acknowledges once Discord has it. A failing log write is retried in place, so no later
    /// batch overtakes this one (per-room order); nothing is acknowledged before it succeeded,
    /// and the log skips ids it already has.
    ///
    /// Per room, gateways enqueue `RoomOpened` before the room's first message and
    /// `RoomClosed` after its last; that order holds here: rooms opened in the batch are
    /// recorded first, then its messages are logged (and handed to the mirror), then rooms
    /// closed in it are handled, the mirror archiving their threads after their messages.
    async fn handle(&self, entries: Vec<QueueEntry>, delivery: Delivery) {
        if entries.is_empty() {
            return;
        }
        let (opened, rest): (Vec<QueueEntry>, Vec<QueueEntry>) =
            entries.into_iter().partition(|entry| matches!(entry.event, InboundEvent::RoomOpened { .. }));
        let (entries, closed): (Vec<QueueEntry>, Vec<QueueEntry>) =
            rest.into_iter().partition(|entry| matches!(entry.event, InboundEvent::Message(_)));
        if !opened.is_empty() {
            self.handle_room_events(opened).await;
        }
        self.handle_messages(entries, delivery).await;
        if !closed.is_empty() {
            self.handle_room_events(closed).await;
        }
    }

    async fn handle_messages(&self, entries: Vec<QueueEntry>, delivery: Delivery) {
        if entries.is_empty() {
            return;
        }
        let messages: Vec<LoggedMessage> = entries
            .iter()
            .filter_map(|entry| match &entry.event {
                InboundEvent::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        let mut attempt = 0u32;
        // A write that failed may have committed all the same: its retries count as redelivered.
        while let Err(e) =
            self.log.record(&messages, &self.tagger, if attempt == 0 { delivery } else { Delivery::Again }).await
        {
            attempt += 1;
            tracing::error!(error = %e, messages = messages.len(), attempt, "cannot write the message log; retrying");
            metrics::counter!("chat_log_failures_total").increment(1);
            if self.stopping.load(Ordering::Relaxed) && attempt >= 3 {
                // Left unacknowledged: reclaimed at the next start.
                self.gave_up.store(true, Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(Duration::from_millis(250) * attempt.min(8)).await;
        }
        metrics::counter!("chat_messages_logged_total").increment(messages.len() as u64);
        if let Some(mirror) = &self.mirror {
            let jobs = entries.into_iter().zip(messages).map(|(e, message)| Job { entry_id: e.id, message }).collect();
            mirror.submit(jobs);
            return;
        }
        let ids: Vec<String> = entries.into_iter().map(|e| e.id).collect();
        if let Err(e) = self.bus.ack(&ids).await {
            tracing::error!(error = %e, "cannot acknowledge logged entries; they will be skipped when redelivered");
        }
    }

    /// Visitor rooms and roulette pairs opened or closed by gateways: recorded in the database,
    /// then acknowledged; with Discord on, a closed room goes through the mirror (which archives
    /// its thread after the room's last messages, then acknowledges). Left unacknowledged (and
    /// retried) when the database fails.
    async fn handle_room_events(&self, entries: Vec<QueueEntry>) {
        let mut done = Vec::with_capacity(entries.len());
        for entry in entries {
            let result = match &entry.event {
                // Retried in place: the room's messages come next and need its row.
                InboundEvent::RoomOpened { room } => {
                    let mut attempt = 0u32;
                    loop {
                        match rooms::record_opened(&self.db, room).await {
                            Err(e) if !self.stopping.load(Ordering::Relaxed) || attempt < 3 => {
                                attempt += 1;
                                tracing::error!(error = %e, attempt, "cannot record an opened room; retrying");
                                tokio::time::sleep(Duration::from_millis(250) * attempt.min(8)).await;
                            }
                            Err(e) => {
                                self.gave_up.store(true, Ordering::Relaxed);
                                break Err(e);
                            }
                            Ok(()) => break Ok(()),
                        }
                    }
                }
                InboundEvent::RoomClosed { slug } => match (rooms::record_closed(&self.db, slug).await, &self.mirror) {
                    (Ok(_), Some(mirror)) => {
                        mirror.close(entry.id.clone(), slug.to_string());
                        continue;
                    }
                    (result, _) => result.map(|_| ()),
                },
                InboundEvent::Message(_) => Ok(()),
            };
            match result {
                Ok(()) => done.push(entry.id),
                Err(e) => tracing::error!(error = %e, "cannot record a room event; will retry"),
            }
        }
        if let Err(e) = self.bus.ack(&done).await {
            tracing::error!(error = %e, "cannot acknowledge room events");
        }
    }

    /// Log everything still queued before stopping, so a graceful stop of the one-process
    /// default (whose queue lives in memory) loses nothing that gateways accepted.
    async fn drain(&self) {
        let mut drained = 0;
        loop {
            if self.gave_up.load(Ordering::Relaxed) {
                tracing::warn!("a batch could not be logged; what is still queued is handled at the next start");
                break;
            }
            match self.bus.dequeue(&self.config.consumer, BATCH, Duration::ZERO).await {
                Ok(entries) if !entries.is_empty() => {
                    drained += entries.len();
                    self.handle(entries, Delivery::First).await;
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot drain the queue at shutdown");
                    break;
                }
            }
        }
        if drained > 0 {
            tracing::info!(entries = drained, "logged the queue's remaining entries before stopping");
        }
    }
}

/// Every this many ticks the room table is compared row by row even when its fingerprint says
/// nothing changed (a row edited by hand, outside the bot and the CLI, is published then).
const FULL_SYNC_EVERY: u32 = 20;

/// Publishes room definitions and active bans from the database to the bus.
struct SnapshotSync {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    /// What the last sync that went through saw. Reading and decoding every room each tick
    /// cost about 23 M instructions per tick with a thousand rooms (callgrind), in one poll of a
    /// worker thread that the one-process default shares with the sockets.
    synced: Option<Synced>,
}

/// The room table's fingerprint ([`rooms::fingerprint`]) and how many staff rooms the bus held.
#[derive(PartialEq, Eq)]
struct Synced {
    table: (i64, Option<String>),
    on_bus: usize,
}

impl SnapshotSync {
    async fn run(mut self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is now; start-up has just synced in full.
        let mut ticks: u32 = 1;
        loop {
            tick.tick().await;
            let full = ticks.is_multiple_of(FULL_SYNC_EVERY);
            ticks = ticks.wrapping_add(1);
            if let Err(e) = self.run_once(full).await {
                tracing::error!(error = %e, "room sync failed; retrying on the next tick");
            }
        }
    }

    /// Publish what changed in the room table since the last sync. What the bus holds is
    /// re-read each time, so a bus that lost its data (Redis restarted empty) is refilled. The
    /// rows themselves are compared only when the table's fingerprint or the bus's count
    /// changed, or when `full` says so.
    async fn run_once(&mut self, full: bool) -> Result<(), BotError> {
        let published: BTreeMap<RoomSlug, RoomDef> =
            self.bus.rooms().await?.into_iter().map(|def| (def.slug.clone(), def)).collect();
        // Visitor rooms and roulette pairs are the gateways' to publish and remove.
        let published: BTreeMap<RoomSlug, RoomDef> =
            published.into_iter().filter(|(_, def)| def.kind == RoomKind::Staff).collect();
        // Taken before the rows are read: a change in between shows at the next tick.
        let table = rooms::fingerprint(&self.db).await?;
        let seen = Synced { table, on_bus: published.len() };
        if full || self.synced.as_ref() != Some(&seen) {
            let on_bus = self.sync_rooms(&published).await?;
            self.synced = Some(Synced { table: seen.table, on_bus });
        }
        bans::publish_active(&self.db, self.bus.as_ref()).await?;
        crate::filters::publish(&self.db, self.bus.as_ref()).await
    }

    /// Publish the staff rooms that differ from `published` and remove those gone; returns how
    /// many the bus holds then. Forgets the last sync first, so a failure halfway is retried in
    /// full at the next tick.
    async fn sync_rooms(&mut self, published: &BTreeMap<RoomSlug, RoomDef>) -> Result<usize, BotError> {
        self.synced = None;
        let current: BTreeMap<RoomSlug, RoomDef> = rooms::list(&self.db)
            .await?
            .iter()
            .filter_map(rooms::to_def)
            .filter(|def| def.kind == RoomKind::Staff)
            .map(|def| (def.slug.clone(), def))
            .collect();
        for (slug, def) in &current {
            if published.get(slug) == Some(def) {
                continue;
            }
            if !published.contains_key(slug) {
                let history = message_log::recent(&self.db, slug, HISTORY_LEN as u64).await?;
                self.bus.seed_history(slug, history).await?;
            }
            self.bus.put_room(def).await?;
            self.bus.publish_control(&ControlEvent::RoomUpserted { room: def.clone() }).await?;
            tracing::info!(room = %slug, "room published");
        }
        let gone: Vec<RoomSlug> = published.keys().filter(|s| !current.contains_key(*s)).cloned().collect();
        for slug in gone {
            self.bus.remove_room(&slug).await?;
            self.bus.publish_control(&ControlEvent::RoomRemoved { slug: slug.clone() }).await?;
            tracing::info!(room = %slug, "room removed");
        }
        Ok(current.len())
    }
}
