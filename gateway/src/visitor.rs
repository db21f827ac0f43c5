//! Rooms that live only while people use them: visitor-made rooms (`create`) and roulette
//! pairs. Gateways open them on the bus snapshot (every gateway learns them at once through a
//! control event), tell the bot on the durable queue (so it records them and mirrors them into
//! Discord threads), and close them again: pairs when their last member leaves, visitor rooms
//! once empty for [`GatewayConfig::visitor_room_idle`](crate::GatewayConfig). One gateway at a
//! time sweeps (it holds a short lock on the bus and renews it each round; another takes over
//! within a round of its death), so a room is closed even when the gateway that opened it is
//! gone, without every gateway counting every room's seats.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ControlEvent, InboundEvent, RoomDef, RoomKind, RoomSlug};

use crate::state::State;

/// Characters of the random part of a visitor room's slug: 36^20 ≈ 2^103, unguessable.
const SLUG_RANDOM_LEN: usize = 20;

/// A fresh unguessable slug: `prefix-` and random `[a-z0-9]`.
pub fn random_slug(prefix: &str) -> Option<RoomSlug> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let random: String = (0..SLUG_RANDOM_LEN)
        .map(|_| char::from(ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()]))
        .collect();
    RoomSlug::parse(&format!("{prefix}-{random}")).ok()
}

/// Who owns a visitor room: a keyed hash of the address (the /64 for IPv6, since one host
/// holds a whole /64), never the address itself.
pub fn owner_key(secret: &str, ip: IpAddr) -> String {
    crate::address::AddressKey::of(ip).tag(secret, "room-owner")
}

/// Why a room could not be opened.
pub enum OpenError {
    /// The owner has as many rooms as allowed.
    TooMany,
    Bus(bus::BusError),
}

/// Store a new room on the bus, tell every gateway and the bot.
pub async fn open(state: &State, room: RoomDef) -> Result<Arc<RoomDef>, OpenError> {
    if !state.bus.open_room(&room, state.config.visitor_rooms_per_ip).await.map_err(OpenError::Bus)? {
        return Err(OpenError::TooMany);
    }
    // The bot hears of it before any message of the room (same ordered queue).
    if let Err(e) = state.bus.enqueue(&InboundEvent::RoomOpened { room: room.clone() }).await {
        tracing::error!(error = %e, room = %room.slug, "cannot tell the bot about a new room");
        let _ = state.bus.remove_room(&room.slug).await;
        return Err(OpenError::Bus(e));
    }
    if let Err(e) = state.bus.publish_control(&ControlEvent::RoomUpserted { room: room.clone() }).await {
        tracing::warn!(error = %e, room = %room.slug, "cannot announce a new room; gateways learn it on reload");
    }
    metrics::counter!("chat_rooms_opened_total", "kind" => room.kind.as_str()).increment(1);
    Ok(state.directory.upsert(room))
}

/// Remove a visitor room or pair everywhere. Every gateway may sweep the same room; only the one
/// whose removal took it off the bus announces it and tells the bot, so the bot hears it once.
///
/// A pair ends when it is left empty, so nobody is sent away from it: whoever still listens to
/// it here (or on another gateway, told by `RoomRemoved { ended: true }`) is the stranger on the
/// way in, or one who sat down just after the last one out looked. They hear `stranger_left`
/// (published by whoever left, or after the join grace) and go on with `next`; kicking them ended
/// a live chat and closed their socket.
pub async fn close(state: &State, slug: &RoomSlug, reason: &str) {
    let pair = state.directory.get(slug).is_some_and(|r| r.kind == RoomKind::Roulette) || is_pair_slug(slug);
    let known = match state.bus.remove_room(slug).await {
        Ok(known) => known,
        Err(e) => {
            tracing::warn!(error = %e, room = %slug, "cannot remove an ended room; the next sweep retries");
            return;
        }
    };
    state.directory.remove(slug);
    if !pair {
        state.hub.close_room(slug, reason).await;
    }
    if !known {
        return;
    }
    if let Err(e) = state.bus.publish_control(&ControlEvent::RoomRemoved { slug: slug.clone(), ended: pair }).await {
        tracing::warn!(error = %e, room = %slug, "cannot announce an ended room; gateways drop it on reload");
    }
    if let Err(e) = state.bus.enqueue(&InboundEvent::RoomClosed { slug: slug.clone() }).await {
        tracing::warn!(error = %e, room = %slug, "cannot tell the bot that a room ended");
    }
    metrics::counter!("chat_rooms_closed_total").increment(1);
    tracing::debug!(room = %slug, "room ended");
}

/// Whether `slug` names a roulette pair (opened by [`random_slug`] with the prefix `r`): a pair
/// may be ended before this gateway's directory learned it.
pub(crate) fn is_pair_slug(slug: &RoomSlug) -> bool {
    let s = slug.as_str();
    s.len() == 2 + SLUG_RANDOM_LEN && s.starts_with("r-")
}

/// The bus lock of the gateway that sweeps.
pub const SWEEP_LOCK: &str = "sweep";

/// Close visitor rooms empty for longer than their idle time, and pairs left empty (a
/// crashed gateway never closes its own), until the task is aborted.
pub async fn sweep(state: Arc<State>) {
    let idle = state.config.visitor_room_idle;
    let grace = state.config.roulette_join_grace;
    let every = (idle.min(grace) / 2).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut empty_since: HashMap<RoomSlug, Instant> = HashMap::new();
    // The lock outlives a round by half a round, so the sweeper keeps it while it lives.
    let hold = every + every / 2;
    loop {
        tick.tick().await;
        match state.bus.hold_lock(SWEEP_LOCK, &state.gateway_id, hold).await {
            Ok(true) => {}
            Ok(false) => {
                // Another gateway sweeps; what this one saw empty is stale once it takes over.
                empty_since.clear();
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the sweep lock; sweeping later");
                continue;
            }
        }
        let rooms: Vec<Arc<RoomDef>> =
            state.directory.all().into_iter().filter(|r| r.kind != RoomKind::Staff).collect();
        let slugs: Vec<RoomSlug> = rooms.iter().map(|r| r.slug.clone()).collect();
        let counts = match state.bus.occupancy(&slugs).await {
            Ok(counts) => {
                metrics::counter!("chat_seat_counts_total", "for" => "sweep").increment(1);
                counts
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read room occupancy; sweeping later");
                continue;
            }
        };
        let now = Instant::now();
        let open: std::collections::HashSet<&RoomSlug> = slugs.iter().collect();
        empty_since.retain(|slug, _| open.contains(slug));
        for (room, members) in rooms.iter().zip(counts) {
            if members > 0 {
                empty_since.remove(&room.slug);
                continue;
            }
            let since = *empty_since.entry(room.slug.clone()).or_insert(now);
            let limit = if room.kind == RoomKind::Roulette { grace } else { idle };
            if now.duration_since(since) >= limit {
                empty_since.remove(&room.slug);
                close(&state, &room.slug, "this room has ended").await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_and_differ() {
        let a = random_slug("v").unwrap();
        let b = random_slug("v").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
    }

    #[test]
    fn owner_keys_hide_the_address_and_group_an_ipv6_64() {
        let a = owner_key("secret", "203.0.113.7".parse().unwrap());
        assert!(!a.contains("203"));
        assert_eq!(a.len(), 24);
        assert_ne!(a, owner_key("other", "203.0.113.7".parse().unwrap()));
        assert_eq!(
            owner_key("s", "2001:db8:1:2::1".parse().unwrap()),
            owner_key("s", "2001:db8:1:2:ffff::9".parse().unwrap())
        );
        assert_ne!(
            owner_key("s", "2001:db8:1:2::1".parse().unwrap()),
            owner_key("s", "2001:db8:1:3::1".parse().unwrap())
        );
    }
}
