//! Ghost rooms: visitor rooms and roulette pairs the database holds open but no bus knows any
//! more. Gateways close the rooms they know (and tell the bot); a room no gateway knows (its
//! gateways died and Redis lost its data, or the one-process default restarted) would stay open
//! in the database forever, listed by `/room list`, its thread never archived. The bot closes
//! those: a room missing from the bus at two looks [`GRACE`] apart, with no loss of the bus's
//! data in between (gateways put back what they know within a second or two of a loss), is
//! closed through the bot's own queue, as a gateway closes one, so its thread is archived
//! after its last messages.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::Bus;
use protocol::{InboundEvent, RoomKind, RoomSlug};
use sea_orm::DatabaseConnection;

use crate::{BotError, rooms};

/// How long a room must be missing from the bus before it is closed.
pub(super) const GRACE: Duration = Duration::from_secs(10);
/// How often the bus and the database are compared.
const EVERY: Duration = Duration::from_secs(2);

pub(super) struct Ghosts {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    /// Open rooms missing from the bus: since when, and the bus's losses then.
    missing: HashMap<String, (Instant, u64)>,
    /// Rooms closed here whose closing the queue has not recorded yet.
    closing: HashSet<String>,
}

impl Ghosts {
    pub(super) fn new(db: DatabaseConnection, bus: Arc<dyn Bus>) -> Self {
        Self { db, bus, missing: HashMap::new(), closing: HashSet::new() }
    }

    pub(super) async fn run(mut self) {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "cannot look for rooms no gateway knows; looking again later");
            }
        }
    }

    /// Compare once; returns the rooms closed.
    pub(super) async fn run_once(&mut self) -> Result<Vec<String>, BotError> {
        let losses = self.bus.data_losses().await?;
        let on_bus: HashSet<String> = self
            .bus
            .rooms()
            .await?
            .into_iter()
            .filter(|room| room.kind != RoomKind::Staff)
            .map(|room| room.slug.to_string())
            .collect();
        let open: Vec<String> = rooms::open_visitor_rooms(&self.db).await?;
        let open_set: HashSet<&String> = open.iter().collect();
        self.closing.retain(|slug| open_set.contains(slug));
        let gone: Vec<String> =
            open.into_iter().filter(|slug| !on_bus.contains(slug) && !self.closing.contains(slug)).collect();
        let gone_set: HashSet<&String> = gone.iter().collect();
        self.missing.retain(|slug, _| gone_set.contains(slug));
        let now = Instant::now();
        let mut closed = Vec::new();
        for slug in gone {
            match self.missing.get(&slug) {
                Some((since, seen)) if *seen == losses && now.duration_since(*since) >= GRACE => {}
                Some((_, seen)) if *seen == losses => continue,
                // New, or the bus lost its data since: gateways may not have put it back yet.
                _ => {
                    self.missing.insert(slug, (now, losses));
                    continue;
                }
            }
            let Ok(room) = RoomSlug::parse(&slug) else { continue };
            self.bus.enqueue(&InboundEvent::RoomClosed { slug: room }).await?;
            tracing::info!(room = %slug, "closing a visitor room or pair that no gateway knows any more");
            self.missing.remove(&slug);
            self.closing.insert(slug.clone());
            closed.push(slug);
        }
        Ok(closed)
    }
}
