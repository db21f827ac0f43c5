//! Room sync: room definitions, active bans, mutes and filters published from the database to the
//! bus at start and every few seconds after, with the proof-of-work gate's mode staff set and
//! the deployment key gateways without `IP_TAG_SECRET` take theirs from; appeals at start and
//! after the bus lost its data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, HISTORY_LEN};
use protocol::{ControlEvent, RoomDef, RoomKind, RoomSlug};
use sea_orm::DatabaseConnection;

use crate::{BotError, bans, message_log, rooms};

/// Every this many ticks the room table is compared row by row even when its fingerprint says
/// nothing changed (a row edited by hand, outside the bot and the CLI, is published then).
const FULL_SYNC_EVERY: u32 = 20;

/// Publishes room definitions and active bans from the database to the bus.
pub(super) struct SnapshotSync {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    /// What the last sync that went through saw, so that an unchanged table is not read and
    /// decoded again each tick (on a worker thread the one-process default shares with the
    /// sockets).
    synced: Option<Synced>,
    /// The bus's data losses (Redis restarted empty) the last sync that went through saw; none
    /// before the first.
    losses: Option<u64>,
    /// The deployment key ([`crate::iptag::IpTagger::deployment_key`]), shared with gateways.
    deployment_key: String,
}

/// The room table's fingerprint ([`rooms::fingerprint`]) and how many staff rooms the bus held.
#[derive(PartialEq, Eq)]
struct Synced {
    table: (i64, Option<String>),
    on_bus: usize,
}

impl SnapshotSync {
    pub(super) fn new(db: DatabaseConnection, bus: Arc<dyn Bus>, deployment_key: String) -> Self {
        Self { db, bus, synced: None, losses: None, deployment_key }
    }

    pub(super) async fn run(mut self, every: Duration) {
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
    pub(super) async fn run_once(&mut self, full: bool) -> Result<(), BotError> {
        let published: BTreeMap<RoomSlug, RoomDef> =
            self.bus.rooms().await?.into_iter().map(|def| (def.slug.clone(), def)).collect();
        // Visitor rooms and roulette pairs are the gateways' to publish and remove.
        let published: BTreeMap<RoomSlug, RoomDef> =
            published.into_iter().filter(|(_, def)| def.kind == RoomKind::Staff).collect();
        // Taken before the rows are read: a change in between shows at the next tick.
        let table = rooms::fingerprint(&self.db).await?;
        let seen = Synced { table, on_bus: published.len() };
        // After a loss gateways may have put the staff rooms back before this sync: their
        // history (which the bus lost too) is seeded again whoever published them. So is it at
        // the first sync, since a loss before this bot started is one it never saw.
        let losses = self.bus.data_losses().await?;
        let reseed = self.losses.is_none_or(|seen| losses > seen);
        if full || reseed || self.synced.as_ref() != Some(&seen) {
            let on_bus = self.sync_rooms(&published, reseed).await?;
            if reseed {
                // Appeals the bus lost (visitors' pages read them there) are put back too.
                let appeals = crate::appeals::publish_recent(&self.db, self.bus.as_ref()).await?;
                tracing::info!(appeals, "appeals put on the bus");
            }
            self.synced = Some(Synced { table: seen.table, on_bus });
            self.losses = Some(losses);
        }
        bans::publish_active(&self.db, self.bus.as_ref()).await?;
        crate::mutes::publish_active(&self.db, self.bus.as_ref()).await?;
        self.bus.put_deployment_key(&self.deployment_key).await?;
        crate::shield::publish(&self.db, self.bus.as_ref()).await?;
        crate::trust::publish(&self.db, self.bus.as_ref()).await?;
        crate::filters::publish(&self.db, self.bus.as_ref()).await
    }

    /// Publish the staff rooms that differ from `published` and remove those gone; returns how
    /// many the bus holds then. Forgets the last sync first, so a failure halfway is retried in
    /// full at the next tick.
    async fn sync_rooms(&mut self, published: &BTreeMap<RoomSlug, RoomDef>, reseed: bool) -> Result<usize, BotError> {
        self.synced = None;
        let current: BTreeMap<RoomSlug, RoomDef> = rooms::list_staff(&self.db)
            .await?
            .iter()
            .filter_map(rooms::to_def)
            .filter(|def| def.kind == RoomKind::Staff)
            .map(|def| (def.slug.clone(), def))
            .collect();
        for (slug, def) in &current {
            // Seeding fills only an empty history: a room the bus kept keeps its own.
            if reseed || !published.contains_key(slug) {
                let history = message_log::recent(&self.db, slug, HISTORY_LEN as u64).await?;
                self.bus.seed_history(slug, history).await?;
            }
            if published.get(slug) == Some(def) {
                continue;
            }
            self.bus.put_room(def).await?;
            self.bus.publish_control(&ControlEvent::RoomUpserted { room: def.clone() }).await?;
            tracing::info!(room = %slug, "room published");
        }
        let gone: Vec<RoomSlug> = published.keys().filter(|s| !current.contains_key(*s)).cloned().collect();
        for slug in gone {
            self.bus.remove_room(&slug).await?;
            self.bus.publish_control(&ControlEvent::RoomRemoved { slug: slug.clone(), ended: false }).await?;
            tracing::info!(room = %slug, "room removed");
        }
        Ok(current.len())
    }
}
