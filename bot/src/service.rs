//! The bot's running service: room sync and the queue consumer.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, HISTORY_LEN, QueueEntry};
use protocol::{ControlEvent, InboundEvent, LoggedMessage, RoomDef, RoomSlug};
use sea_orm::DatabaseConnection;

use crate::{BotError, message_log, rooms};

/// How the bot runs; every field has a default suitable for one process.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// How often room definitions are re-read from the database (`ROOM_SYNC_SECS`), so
    /// `chatroulette rooms …` from a shell reaches a running system.
    pub room_sync_interval: Duration,
    /// Consumer name in the queue's consumer group.
    pub consumer: String,
    /// Entries delivered but unacknowledged this long are taken again (crash or failure).
    pub reclaim_after: Duration,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            room_sync_interval: Duration::from_secs(3),
            consumer: "bot-1".to_owned(),
            reclaim_after: Duration::from_secs(10),
        }
    }
}

/// The bot, built and ready to run.
pub struct Bot {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    config: BotConfig,
    published: BTreeMap<RoomSlug, RoomDef>,
}

/// Largest batch taken from the queue at once.
const BATCH: usize = 200;

impl Bot {
    /// Seed default rooms on the first start, publish room snapshots, load recent history.
    pub async fn build(
        config: BotConfig,
        db: DatabaseConnection,
        bus: Arc<dyn Bus>,
    ) -> Result<Self, BotError> {
        let seeded = rooms::seed_defaults(&db).await?;
        if seeded > 0 {
            tracing::info!(rooms = seeded, "created the default rooms");
        }
        let mut bot = Self {
            db,
            bus,
            config,
            published: BTreeMap::new(),
        };
        // Rooms left in the bus by an earlier run but gone from the database.
        for stale in bot.bus.rooms().await? {
            bot.published.insert(stale.slug.clone(), stale);
        }
        bot.sync_rooms().await?;
        Ok(bot)
    }

    /// Run until `shutdown` resolves.
    pub async fn run_until_stopped(mut self, shutdown: impl Future<Output = ()> + Send) {
        let mut sync = tokio::time::interval(self.config.room_sync_interval);
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reclaim = tokio::time::interval(self.config.reclaim_after / 2);
        reclaim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = sync.tick() => {
                    if let Err(e) = self.sync_rooms().await {
                        tracing::error!(error = %e, "room sync failed; retrying on the next tick");
                    }
                }
                _ = reclaim.tick() => {
                    match self.bus.reclaim(&self.config.consumer, self.config.reclaim_after, BATCH).await {
                        Ok(entries) if !entries.is_empty() => {
                            tracing::warn!(entries = entries.len(), "handling queue entries again that were never acknowledged");
                            self.handle(entries).await;
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "cannot reclaim queue entries"),
                    }
                }
                batch = self.bus.dequeue(&self.config.consumer, BATCH, Duration::from_millis(500)) => {
                    match batch {
                        Ok(entries) => self.handle(entries).await,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the queue; retrying in 1 s");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        }
        self.drain().await;
        tracing::info!("bot stopped");
    }

    /// Log everything still queued before stopping, so a graceful stop of the one-process
    /// default (whose queue lives in memory) loses nothing that gateways accepted.
    async fn drain(&self) {
        let mut drained = 0;
        loop {
            match self
                .bus
                .dequeue(&self.config.consumer, BATCH, Duration::ZERO)
                .await
            {
                Ok(entries) if !entries.is_empty() => {
                    drained += entries.len();
                    self.handle(entries).await;
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot drain the queue at shutdown");
                    break;
                }
            }
        }
        if drained > 0 {
            tracing::info!(
                entries = drained,
                "logged the queue's remaining entries before stopping"
            );
        }
    }

    /// Log a batch, then acknowledge it. On failure nothing is acknowledged: the entries are
    /// reclaimed and tried again, and the log skips ids it already has.
    async fn handle(&self, entries: Vec<QueueEntry>) {
        if entries.is_empty() {
            return;
        }
        let messages: Vec<LoggedMessage> = entries
            .iter()
            .map(|entry| match &entry.event {
                InboundEvent::Message(m) => m.clone(),
            })
            .collect();
        if let Err(e) = message_log::record(&self.db, &messages).await {
            tracing::error!(error = %e, messages = messages.len(), "cannot write the message log; will retry");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
        let ids: Vec<String> = entries.into_iter().map(|e| e.id).collect();
        if let Err(e) = self.bus.ack(&ids).await {
            tracing::error!(error = %e, "cannot acknowledge logged entries; they will be skipped when redelivered");
        }
    }

    /// Publish what changed in the room table since the last sync.
    async fn sync_rooms(&mut self) -> Result<(), BotError> {
        let current: BTreeMap<RoomSlug, RoomDef> = rooms::list(&self.db)
            .await?
            .iter()
            .filter_map(rooms::to_def)
            .map(|def| (def.slug.clone(), def))
            .collect();
        for (slug, def) in &current {
            if self.published.get(slug) == Some(def) {
                continue;
            }
            if !self.published.contains_key(slug) {
                let history = message_log::recent(&self.db, slug, HISTORY_LEN as u64).await?;
                self.bus.seed_history(slug, history).await?;
            }
            self.bus.put_room(def).await?;
            self.bus
                .publish_control(&ControlEvent::RoomUpserted { room: def.clone() })
                .await?;
            tracing::info!(room = %slug, "room published");
        }
        for slug in self.published.keys().filter(|s| !current.contains_key(*s)) {
            self.bus.remove_room(slug).await?;
            self.bus
                .publish_control(&ControlEvent::RoomRemoved { slug: slug.clone() })
                .await?;
            tracing::info!(room = %slug, "room removed");
        }
        self.published = current;
        Ok(())
    }
}
