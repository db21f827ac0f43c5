//! The queue consumer: every entry gateways enqueued (messages, rooms opened and closed, appeals) is
//! recorded in the database, then acknowledged or handed to the mirror, in queue order.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bus::{Bus, QueueEntry};
use protocol::{InboundEvent, LoggedMessage};
use sea_orm::DatabaseConnection;

use super::BotConfig;
use crate::discord::{Job, Mirror, Reports};
use crate::iptag::IpTagger;
use crate::message_log::{Delivery, MessageLog};
use crate::retry::{Policy, retry};
use crate::{BotError, dead_letters, rooms};

/// Largest batch taken from the queue at once.
pub(super) const BATCH: usize = 500;
/// How long a batch that is not full waits for more entries before it is handled. Each batch is
/// one database transaction, and SQLite writes every page a transaction touched to its WAL once
/// per transaction, so under load larger batches write fewer pages per message. The price is
/// this much delay in the log and on Discord, never in delivery to the web room.
const LINGER: Duration = Duration::from_millis(25);
/// A write of the queue's entries: [`Policy::QUEUE`]'s waits, [`dead_letters::ATTEMPTS`] times;
/// then an entry that still fails alone is a dead letter.
const DEAD_LETTER_POLICY: Policy = Policy { attempts: dead_letters::ATTEMPTS, ..Policy::QUEUE };

/// A queue entry and the message it carries.
type Pair = (QueueEntry, LoggedMessage);

pub(super) struct Consumer {
    pub(super) db: DatabaseConnection,
    pub(super) log: MessageLog,
    pub(super) bus: Arc<dyn Bus>,
    pub(super) config: BotConfig,
    pub(super) tagger: IpTagger,
    pub(super) mirror: Option<Mirror>,
    /// Woken when a report is recorded (`None`: headless, reports are recorded only).
    pub(super) reports: Option<Reports>,
    /// Set once the bot stops: a failing database write is then given up on after a few
    /// attempts instead of retried until it works.
    pub(super) stopping: AtomicBool,
    /// Set when a batch was given up on while stopping: draining newer entries would then put
    /// them ahead of it, so they are left for the next start too.
    pub(super) gave_up: AtomicBool,
}

impl Consumer {
    /// Let a batch that is not full gather what arrives within [`LINGER`] (a read that does not
    /// block; entries keep their queue order).
    pub(super) async fn top_up(&self, mut entries: Vec<QueueEntry>) -> Vec<QueueEntry> {
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
    pub(super) async fn reclaim(&self, min_idle: Duration) {
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
    /// and the log skips ids it already has. After [`dead_letters::ATTEMPTS`] failures the
    /// messages are written one by one and those that fail alone go to `dead_letters`
    /// (acknowledged, so the queue moves on); while even that fails, the batch is retried.
    ///
    /// Per room, gateways enqueue `RoomOpened` before the room's first message and
    /// `RoomClosed` after its last; that order holds here: rooms opened in the batch are
    /// recorded first, then its messages are logged (and handed to the mirror), then rooms
    /// closed in it are handled, the mirror archiving their threads after their messages.
    pub(super) async fn handle(&self, entries: Vec<QueueEntry>, delivery: Delivery) {
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
        let dead = loop {
            if self.write_batch(&messages, delivery).await.is_ok() {
                break HashSet::new();
            }
            if self.stopping.load(Ordering::Relaxed) {
                // Left unacknowledged: reclaimed at the next start.
                self.gave_up.store(true, Ordering::Relaxed);
                return;
            }
            match self.isolate(&entries, &messages).await {
                Ok(dead) => break dead,
                // The database refuses the dead letter too (down, disk full): nothing is lost by
                // waiting, and the queue's limit pushes back on senders meanwhile.
                Err(e) => {
                    tracing::error!(error = %e, "cannot keep a failing entry in dead_letters; retrying the batch");
                    tokio::time::sleep(Policy::QUEUE.max_backoff).await;
                }
            }
        };
        let (dead, logged): (Vec<Pair>, Vec<Pair>) =
            entries.into_iter().zip(messages).partition(|(entry, _)| dead.contains(&entry.id));
        if !dead.is_empty() {
            let ids: Vec<String> = dead.into_iter().map(|(e, _)| e.id).collect();
            if let Err(e) = self.bus.ack(&ids).await {
                tracing::error!(error = %e, "cannot acknowledge dead letters; they will be tried again");
            }
        }
        metrics::counter!("chat_messages_logged_total").increment(logged.len() as u64);
        if let Some(mirror) = &self.mirror {
            let jobs = logged.into_iter().map(|(e, message)| Job { entry_id: e.id, message }).collect();
            mirror.submit(jobs);
            return;
        }
        let ids: Vec<String> = logged.into_iter().map(|(e, _)| e.id).collect();
        if let Err(e) = self.bus.ack(&ids).await {
            tracing::error!(error = %e, "cannot acknowledge logged entries; they will be skipped when redelivered");
        }
    }

    /// Write a batch to the log, trying [`dead_letters::ATTEMPTS`] times.
    async fn write_batch(&self, messages: &[LoggedMessage], delivery: Delivery) -> Result<(), BotError> {
        let mut attempt = 0u32;
        retry(DEAD_LETTER_POLICY, "writing the message log", || {
            // A write that failed may have committed all the same: its retries count as
            // redelivered.
            let delivery = if attempt == 0 { delivery } else { Delivery::Again };
            attempt += 1;
            async move {
                let written = self.log.record(messages, &self.tagger, delivery).await;
                if let Err(e) = &written {
                    tracing::error!(error = %e, messages = messages.len(), attempt, "cannot write the message log");
                    metrics::counter!("chat_log_failures_total").increment(1);
                }
                written
            }
        })
        .await
    }

    /// A batch failed [`dead_letters::ATTEMPTS`] times: write its messages one at a time, and
    /// keep each that fails twice more alone in `dead_letters`. Returns the entries kept there;
    /// an error when one could not be kept (nothing of the batch is acknowledged then).
    async fn isolate(&self, entries: &[QueueEntry], messages: &[LoggedMessage]) -> Result<HashSet<String>, BotError> {
        let mut dead = HashSet::new();
        for (entry, message) in entries.iter().zip(messages) {
            let alone = std::slice::from_ref(message);
            if self.log.record(alone, &self.tagger, Delivery::Again).await.is_ok() {
                continue;
            }
            // Once more before giving up on it: a database that just came back is no reason.
            if let Err(e) = self.log.record(alone, &self.tagger, Delivery::Again).await {
                dead_letters::record(&self.db, entry, &e.to_string(), dead_letters::ATTEMPTS + 2).await?;
                dead.insert(entry.id.clone());
            }
        }
        Ok(dead)
    }

    /// Visitor rooms and roulette pairs opened or closed by gateways, and reports: recorded in the database,
    /// then acknowledged; with Discord on, a closed room goes through the mirror (which archives
    /// its thread after the room's last messages, then acknowledges). Left unacknowledged (and
    /// retried) when the database fails.
    async fn handle_room_events(&self, entries: Vec<QueueEntry>) {
        let mut done = Vec::with_capacity(entries.len());
        for entry in entries {
            let result = match &entry.event {
                // Retried in place: the room's messages come next and need its row; one that
                // fails every attempt is a dead letter (its messages are logged all the same).
                InboundEvent::RoomOpened { room } => {
                    let recorded = retry(DEAD_LETTER_POLICY, "recording an opened room", || async {
                        rooms::record_opened(&self.db, room)
                            .await
                            .inspect_err(|e| tracing::error!(error = %e, "cannot record an opened room"))
                    })
                    .await;
                    match recorded {
                        Ok(()) => Ok(()),
                        Err(e) if self.stopping.load(Ordering::Relaxed) => {
                            self.gave_up.store(true, Ordering::Relaxed);
                            Err(e)
                        }
                        Err(e) => dead_letters::record(&self.db, &entry, &e.to_string(), dead_letters::ATTEMPTS)
                            .await
                            .map_err(BotError::from),
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
                // Logged (every earlier text kept), then the mirror edits or marks the Discord
                // message after the room's messages before it, and acknowledges.
                InboundEvent::MessageEdited(change) | InboundEvent::MessageDeleted(change) => {
                    match self.log.change(change, &self.tagger).await {
                        Ok(applied) => match &self.mirror {
                            Some(mirror) if applied.new => {
                                mirror.change(entry.id.clone(), change.clone(), applied);
                                continue;
                            }
                            _ => Ok(()),
                        },
                        Err(e) => Err(e.into()),
                    }
                }
                // Recorded, then put on the bus as the database has it; the Discord side posts
                // it. The bus already holds the gateway's `open` copy, so a failed put waits.
                // Retried in place, a dead letter after that (as reports are).
                InboundEvent::Appeal(appeal) => {
                    let recorded = retry(DEAD_LETTER_POLICY, "recording an appeal", || async {
                        crate::appeals::record(&self.db, &self.tagger, appeal)
                            .await
                            .inspect_err(|e| tracing::error!(error = %e, "cannot record an appeal"))
                    })
                    .await;
                    match recorded {
                        Ok(row) => {
                            if let Err(e) = crate::appeals::publish(self.bus.as_ref(), &row).await {
                                tracing::warn!(error = %e, "cannot put an appeal on the bus; the next sync after a loss will");
                            }
                            Ok(())
                        }
                        Err(e) if self.stopping.load(Ordering::Relaxed) => {
                            self.gave_up.store(true, Ordering::Relaxed);
                            Err(e)
                        }
                        Err(e) => dead_letters::record(&self.db, &entry, &e.to_string(), dead_letters::ATTEMPTS)
                            .await
                            .map_err(BotError::from),
                    }
                }
                // Recorded at once (the report is kept even without Discord), then posted by
                // the report poster; retried in place, a dead letter after that.
                InboundEvent::Report(report) => {
                    let recorded = retry(DEAD_LETTER_POLICY, "recording a report", || async {
                        crate::reports::record(&self.db, report)
                            .await
                            .inspect_err(|e| tracing::error!(error = %e, "cannot record a report"))
                    })
                    .await;
                    match recorded {
                        Ok(row) => {
                            tracing::info!(
                                report = row.id,
                                room = %row.room,
                                message = %row.message_id,
                                reason = %row.reason,
                                "report recorded"
                            );
                            metrics::counter!("chat_reports_total").increment(1);
                            self.respond(row).await;
                            if let Some(reports) = &self.reports {
                                reports.wake();
                            }
                            Ok(())
                        }
                        Err(e) if self.stopping.load(Ordering::Relaxed) => {
                            self.gave_up.store(true, Ordering::Relaxed);
                            Err(e)
                        }
                        Err(e) => dead_letters::record(&self.db, &entry, &e.to_string(), dead_letters::ATTEMPTS)
                            .await
                            .map_err(BotError::from),
                    }
                }
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

    /// A recorded report whose message is in the log: keep its tag and apply the automatic
    /// first response (a report whose message is not logged yet gets both from the poster).
    /// A failure is logged: the report itself is recorded.
    async fn respond(&self, report: crate::entities::reports::Model) {
        let row = match self.log.by_id(&report.message_id).await {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(report = report.id, error = %e, "cannot read a reported message");
                return;
            }
        };
        let id = report.id;
        let attached =
            crate::reports::respond::attach(&self.db, Some(self.bus.as_ref()), report, &row, self.config.auto_mute)
                .await;
        if let Err(e) = attached {
            tracing::error!(report = id, error = %e, "cannot apply the automatic response to a report");
        }
    }

    /// Log everything still queued before stopping, so a graceful stop of the one-process
    /// default (whose queue lives in memory) loses nothing that gateways accepted.
    pub(super) async fn drain(&self) {
        let mut drained = 0;
        loop {
            if self.gave_up.load(Ordering::Relaxed) {
                tracing::warn!("a batch could not be logged; what is still queued is handled at the next start");
                break;
            }
            match self.bus.dequeue(&self.config.consumer, BATCH, Duration::ZERO).await {
                Ok(entries) if !entries.is_empty() => {
                    drained += entries.len();
                    let delivery = super::first_delivery(&entries);
                    self.handle(entries, delivery).await;
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
