//! Pairing: a roulette ticket is matched with a waiting stranger on the bus, or queued to wait.
//! The gateway that pairs opens the pair room, takes its seat, and tells the stranger's gateway
//! through the stranger's inbox.

use std::sync::Arc;
use std::time::Duration;

use bus::RoomFeed;
use bytes::Bytes;
use protocol::{ErrorCode, RoomDef, RoomKind, RoomSlug, RouletteMatch, RouletteTicket, ServerFrame};
use ulid::Ulid;

use super::Conn;
use super::roulette::{Stranger, Waiting};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// When the pairing rule next changes for a waiting `ticket` (ms since the epoch): its shared
/// interests stop mattering, or the hold on its last stranger ends.
fn next_change(ticket: &RouletteTicket, now: i64) -> Option<i64> {
    let open = (!ticket.interests.is_empty() && ticket.open_at_ms > now).then_some(ticket.open_at_ms);
    let again = (ticket.last_peer.is_some() && ticket.again_at_ms > now).then_some(ticket.again_at_ms);
    open.into_iter().chain(again).min()
}

impl Conn {
    /// Put this connection's ticket in the queue, or pair it at once.
    pub(super) async fn queue(&mut self) {
        let Some(me) = &self.roulette else { return };
        let inbox = match RoomSlug::parse(&format!("q-{}", Ulid::new().to_string().to_lowercase())) {
            Ok(inbox) => inbox,
            Err(e) => return tracing::error!(error = %e, "cannot name a roulette inbox"),
        };
        let wait = if me.interests.is_empty() {
            0
        } else {
            i64::try_from(self.state.config.roulette_interest_wait.as_millis()).unwrap_or(i64::MAX)
        };
        let ticket = RouletteTicket {
            id: self.holder(),
            inbox,
            nick: me.nick.to_string(),
            key: me.nick.key().to_owned(),
            interests: me.interests.clone(),
            open_at_ms: now_ms().saturating_add(wait),
            blocked: me.blocked.clone(),
            last_peer: me.last_peer.clone(),
            again_at_ms: me.again_at_ms,
        };
        // Listen before queueing, so a match notice cannot be missed.
        let feed = match self.state.bus.subscribe_room(&ticket.inbox).await {
            Ok(feed) => feed,
            Err(e) => return self.unavailable(e),
        };
        self.match_ticket(ticket, feed, true).await;
    }

    /// Pair `ticket` with a waiting stranger, or wait. Strangers whose connection is gone (a
    /// crashed gateway) are skipped.
    pub(super) async fn match_ticket(&mut self, ticket: RouletteTicket, inbox: RoomFeed, announce: bool) {
        for _ in 0..8 {
            let now = now_ms();
            let peer = match self.state.bus.roulette_match(&ticket, now).await {
                Ok(peer) => peer,
                Err(e) => return self.unavailable(e),
            };
            let Some(peer) = peer else {
                let open_at = next_change(&ticket, now).map(|at| {
                    let ms = u64::try_from(at - now).unwrap_or(0);
                    tokio::time::Instant::now() + Duration::from_millis(ms)
                });
                if announce {
                    // Who else looks: not us, nor the stranger we are held apart from.
                    let mut except = vec![ticket.id.as_str()];
                    if let Some(peer) = ticket.last_peer.as_deref().filter(|_| ticket.again_at_ms > now) {
                        except.push(peer);
                    }
                    let looking = self.state.bus.roulette_waiting_except(&except).await.ok();
                    let online = crate::online::online(&self.state).await;
                    self.handle.send_frame(&ServerFrame::Waiting {
                        interests: ticket.interests.clone(),
                        looking,
                        online,
                    });
                }
                let requeue = self.state.recovery.requeue();
                self.waiting = Some(Box::new(Waiting { ticket, inbox, open_at, requeue }));
                return;
            };
            match self.pair_with(&ticket, &peer).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::debug!(stranger = %peer.id, "skipping a roulette ticket whose connection is gone")
                }
                Err(()) => return,
            }
        }
        self.error(ErrorCode::Unavailable, "no stranger could be reached; try again", None, None);
    }

    /// Open a pair room with `peer` (who waited), take a seat, and tell `peer`'s gateway.
    /// `Ok(false)` when nobody listens on the peer's inbox any more.
    pub(super) async fn pair_with(&mut self, ticket: &RouletteTicket, peer: &RouletteTicket) -> Result<bool, ()> {
        let Some(slug) = crate::visitor::random_slug("r") else { return Err(()) };
        let common = ticket.common(peer);
        let room = RoomDef {
            title: format!("pair {}", &slug.as_str()[2..10]),
            slug,
            kind: RoomKind::Roulette,
            topic: String::new(),
            capacity: 2,
            listed: false,
            locked: false,
            slowmode_secs: 0,
            owner: None,
            links: protocol::LinksPolicy::default(),
        };
        let def = match crate::visitor::open(&self.state, room).await {
            Ok(def) => def,
            Err(crate::visitor::OpenError::Bus(e)) => {
                self.unavailable(e);
                return Err(());
            }
            Err(crate::visitor::OpenError::TooMany) => return Err(()),
        };
        // Seated first, so the stranger finds us there.
        let seat = bus::Seat {
            nick: ticket.nick.clone(),
            key: ticket.key.clone(),
            holder: ticket.id.clone(),
            address: self.address_tag(),
        };
        if let Err(e) = self.state.bus.claim_seat(&def.slug, &seat, 2, 2).await {
            crate::visitor::close(&self.state, &def.slug, "this chat has ended").await;
            self.unavailable(e);
            return Err(());
        }
        let notice = RouletteMatch { room: (*def).clone(), stranger: ticket.clone(), common: common.clone() };
        let payload = match serde_json::to_vec(&notice) {
            Ok(payload) => Bytes::from(payload),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a match notice");
                return Err(());
            }
        };
        match self.state.bus.notify(&peer.inbox, payload).await {
            Ok(true) => {}
            Ok(false) => {
                self.release(&def.slug, &ticket.key, &ticket.id).await;
                crate::visitor::close(&self.state, &def.slug, "this chat has ended").await;
                return Ok(false);
            }
            Err(e) => {
                self.release(&def.slug, &ticket.key, &ticket.id).await;
                crate::visitor::close(&self.state, &def.slug, "this chat has ended").await;
                self.unavailable(e);
                return Err(());
            }
        }
        self.enter_pair(def, peer.id.clone(), peer.nick.clone(), common).await;
        Ok(true)
    }

    /// Tell the client it was matched and seat it in the pair room.
    pub(super) async fn enter_pair(
        &mut self,
        def: Arc<RoomDef>,
        stranger_id: String,
        stranger: String,
        common: Vec<String>,
    ) {
        let Some(nick) = self.roulette.as_ref().map(|me| me.nick.clone()) else { return };
        let resume = self.reserve_resume().await;
        self.handle.send_frame(&ServerFrame::Matched {
            room: def.slug.to_string(),
            stranger: stranger.clone(),
            common,
            resume,
        });
        metrics::counter!("chat_roulette_matches_total").increment(1);
        let Some(members) = self.enter(def, nick, None, Some((&stranger_id, &stranger))).await else { return };
        let key = protocol::input::nick_key(&stranger);
        let present = members.iter().any(|m| protocol::input::nick_key(m) == key);
        if present {
            self.stranger = Some(Box::new(Stranger { id: stranger_id, nick: stranger, check_at: None }));
        } else {
            // Either the stranger is on the way (we paired them) or already gone: look again
            // after the grace period.
            let check_at = tokio::time::Instant::now() + self.state.config.roulette_join_grace;
            self.stranger = Some(Box::new(Stranger { id: stranger_id, nick: stranger, check_at: Some(check_at) }));
        }
    }
}
