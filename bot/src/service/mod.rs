//! The bot's running service: start-up, then room sync and the queue consumer until stopped.
//!
//! * `consumer`: the durable queue's entries recorded, then acknowledged or mirrored;
//! * `sync`: room definitions, bans, filters, the shield's mode and the deployment key published
//!   from the database to the bus;
//! * `ghosts`: visitor rooms and pairs open in the database that no bus knows, closed.
//!
//! After each batch it has handled, the bot raises the logged watermark
//! ([`Bus::mark_logged`]), by which gateways forget what they kept to queue again should Redis
//! lose its data; a batch holding entries queued again is logged as a redelivery (the log looks
//! for ids it has).

mod consumer;
mod ghosts;
mod sync;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bus::Bus;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};

use self::consumer::{BATCH, Consumer};
use self::sync::SnapshotSync;
use crate::discord::{Discord, DiscordConfig};
use crate::iptag::IpTagger;
use crate::message_log::{Delivery, MessageLog};
use crate::{BotError, rooms};

/// How a batch read from the queue for the first time is logged: as new, unless it holds
/// entries a gateway queued again after Redis lost its data, which may be logged already.
fn first_delivery(entries: &[bus::QueueEntry]) -> Delivery {
    if entries.iter().any(|entry| entry.requeued) { Delivery::Again } else { Delivery::First }
}

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
    /// `AUTO_MUTE_SECS`: how long the automatic shadow mute of a reported tag lasts.
    pub auto_mute: Duration,
    /// `EVASION_AUTO_APPLY`: extend a sanction to a new address by itself on a device-tag
    /// match (`crate::evasion`).
    pub evasion_auto_apply: bool,
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
            auto_mute: Duration::from_secs(1800),
            evasion_auto_apply: false,
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

impl Bot {
    /// Seed default rooms on the first start and publish room snapshots (loading each new
    /// room's recent history from the log).
    pub async fn build(config: BotConfig, db: DatabaseConnection, bus: Arc<dyn Bus>) -> Result<Self, BotError> {
        // Counted before anything serves the readiness report.
        let dead_letters = crate::dead_letters::count(&db).await?;
        if dead_letters > 0 {
            tracing::warn!(dead_letters, "queue entries could not be logged and are kept in the dead_letters table");
        }
        let seeded = rooms::seed_defaults(&db).await?;
        if seeded > 0 {
            tracing::info!(rooms = seeded, "created the default rooms");
        }
        let tagger = IpTagger::load(&db, config.ip_tag_secret.as_ref().map(|s| s.expose_secret().as_str())).await?;
        let mut sync = SnapshotSync::new(db.clone(), bus.clone(), tagger.deployment_key());
        sync.run_once(true).await?;
        let log = MessageLog::new(db.clone());
        let discord = match config.discord.clone() {
            Some(discord) => Some(
                Discord::new(discord, db.clone(), log.clone(), bus.clone(), tagger.clone(), config.auto_mute)
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
        let ghosts = crate::health::spawn("ghost rooms", ghosts::Ghosts::new(db.clone(), bus.clone()).run());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mirror = discord.as_ref().map(|d| d.mirror.clone());
        let reports = discord.as_ref().map(|d| d.reports.clone());
        let alerts = discord.as_ref().map(|d| d.alerts.clone());
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
            reports,
            alerts,
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
        // The last entry logged whose watermark Redis has not taken yet (the bus had not yet
        // seen a loss that the queue had): offered again after every read until it is taken.
        let mut unmarked: Option<String> = None;
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
                            let last = entries.last().map(|entry| entry.id.clone());
                            let delivery = first_delivery(&entries);
                            let handled = consumer.handle(entries, delivery);
                            tokio::pin!(handled);
                            tokio::select! {
                                () = &mut shutdown => {
                                    consumer.stopping.store(true, Ordering::Relaxed);
                                    handled.await;
                                    break;
                                }
                                () = &mut handled => {}
                            }
                            if last.is_some() && !consumer.gave_up.load(Ordering::Relaxed) {
                                unmarked = last;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot read the queue; retrying in 1 s");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
            if let Some(id) = &unmarked {
                match consumer.bus.mark_logged(id).await {
                    Ok(true) => unmarked = None,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot raise the logged watermark; gateways keep what they queued a little longer")
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
        ghosts.abort();
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
