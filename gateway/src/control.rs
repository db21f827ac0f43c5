//! The control follower: applies the bot's control events (rooms upserted or removed, bans,
//! filters, mutes, warnings, kicks, report outcomes) to this gateway, and reloads rooms, bans,
//! mutes and filters from the bus snapshot periodically and whenever events were missed. Sockets a new ban covers are closed at once; the
//! members of a room whose lock or slow mode changed get `room_updated`.

use std::sync::Arc;

use bus::ControlMessage;
use protocol::{ControlEvent, PresenceEvent, RoomDef, ServerFrame};

use crate::state::State;

/// Apply control events to this gateway until the task is aborted.
pub async fn follow(state: Arc<State>) {
    let mut refresh = tokio::time::interval(state.config.room_refresh);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut feed = match state.bus.subscribe_control().await {
            Ok(feed) => feed,
            Err(e) => {
                tracing::error!(error = %e, "cannot subscribe to control events; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        // Anything published before the subscription is covered by a fresh snapshot.
        reload(&state).await;
        loop {
            tokio::select! {
                _ = refresh.tick() => reload(&state).await,
                message = feed.recv() => match message {
                    Some(ControlMessage::Event(event)) => apply(&state, event).await,
                    Some(ControlMessage::Resync) => reload(&state).await,
                    None => break,
                },
            }
        }
    }
}

async fn reload(state: &State) {
    // A bus that lost its data gets this gateway's rooms, bans and filters back before the
    // snapshots are read: read first, they would lack them and rooms would be closed and bans
    // lifted here. While the bus cannot say, the last known ones stay in force.
    if !crate::recovery::recover(state).await {
        tracing::debug!("the bus cannot say whether it lost its data; keeping the last known snapshots");
        return;
    }
    match state.bus.filters().await {
        Ok(filters) => state.filters.replace_all(&filters),
        Err(e) => tracing::warn!(error = %e, "cannot reload filters; applying the last known ones"),
    }
    match state.bus.trust_list().await {
        Ok(list) => state.staff_trust.replace(&list),
        Err(e) => tracing::warn!(error = %e, "cannot reload the trust list; applying the last known one"),
    }
    match state.bus.bans().await {
        Ok(bans) => {
            state.bans.replace_all(bans);
            sweep_bans(state);
        }
        Err(e) => tracing::warn!(error = %e, "cannot reload bans; enforcing the last known ones"),
    }
    match state.bus.mutes().await {
        Ok(mutes) => {
            for (net, mute) in state.mutes.replace_all(mutes) {
                tell_mute(state, net, &mute);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot reload mutes; enforcing the last known ones"),
    }
    // Rooms this gateway opens or ends while the snapshot is read are not its to judge.
    let since = state.directory.stamp();
    match state.bus.rooms().await {
        // An empty snapshot while rooms are known most likely means Redis came back without
        // its data: keep serving the last known rooms until the bot republishes them.
        Ok(rooms) if rooms.is_empty() && !state.directory.is_empty() => {
            tracing::warn!("the room snapshot is empty; keeping the last known rooms until the bot republishes");
        }
        Ok(rooms) => {
            let replaced = state.directory.replace_since(rooms, since);
            for slug in replaced.gone {
                // A pair gone from the snapshot ended empty (a deleted one's event sends its
                // members away): whoever still sits in it here arrived after the last one out,
                // and hears `stranger_left` after the join grace rather than being kicked.
                if !crate::visitor::is_pair_slug(&slug) {
                    state.hub.close_room(&slug, "this room was closed").await;
                }
            }
            for room in replaced.changed {
                announce(state, &room).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot reload room definitions; serving the last known ones"),
    }
}

async fn apply(state: &State, event: ControlEvent) {
    match event {
        ControlEvent::RoomUpserted { room } => {
            if let Some(room) = state.directory.update(room) {
                announce(state, &room).await;
            }
        }
        ControlEvent::RoomRemoved { slug, ended } => {
            state.directory.remove(&slug);
            // A pair that ended empty sends nobody away: who listens is arriving (see
            // `visitor::close`). A deleted room (staff, or a pair deleted by staff) does.
            if !ended {
                state.hub.close_room(&slug, "this room was closed").await;
            }
        }
        ControlEvent::BanAdded { ban } => {
            if state.bans.add(ban).is_some() {
                sweep_bans(state);
            }
        }
        ControlEvent::BanLifted { id } => state.bans.remove(id),
        ControlEvent::FiltersChanged { filters } => state.filters.replace_all(&filters),
        ControlEvent::MuteAdded { mute } => {
            if let Some((net, mute)) = state.mutes.add(mute) {
                tell_mute(state, net, &mute);
            }
        }
        ControlEvent::MuteLifted { id } => state.mutes.remove(id),
        ControlEvent::Warned { case, networks, device, reason } => warn(state, case, &networks, device, reason),
        ControlEvent::ReportOutcome { reporter, id, outcome } => report_outcome(state, &reporter, id, outcome),
        ControlEvent::TrustChanged { list } => state.staff_trust.replace(&list),
        ControlEvent::Kick { room, nick, reason } => {
            // Seats are held under the nickname's key (its confusable skeleton).
            let key = protocol::input::nick_key(&nick);
            // Never resumed; a parked session gives its seat back now.
            state.resumes.revoke_member(&room, &key);
            if state.hub.kick(&room, &key, &reason).await {
                let presence = ServerFrame::Presence { event: PresenceEvent::Kick, nick };
                if let Err(e) = state.bus.publish(&room, presence.to_json().into()).await {
                    tracing::warn!(error = %e, "cannot announce a kick");
                }
            }
        }
    }
}

/// Tell this gateway's members of `room` its new lock and slow mode (each gateway tells its own).
async fn announce(state: &State, room: &RoomDef) {
    let frame = ServerFrame::RoomUpdated {
        room: room.slug.to_string(),
        locked: room.locked,
        slowmode_secs: room.slowmode_secs,
    };
    state.hub.tell_room(&room.slug, &frame).await;
}

/// Tell the open sockets a new (or changed) mute covers; a shadow mute is never told.
fn tell_mute(state: &State, net: ipnet::IpNet, mute: &protocol::MuteDef) {
    if mute.shadow || !crate::mutes::in_force(mute) {
        return;
    }
    let frame = crate::mutes::muted_frame(mute);
    let covered = |ip: std::net::IpAddr, device: Option<&crate::device::DeviceTag>| {
        net.contains(&ip.to_canonical()) || crate::mutes::covers_device(mute, device)
    };
    for handle in state.sockets.matching_conn(covered) {
        handle.send_frame(&frame);
    }
}

/// Tell the open sockets of `networks`, or with the device tag `device`, they were warned.
fn warn(state: &State, case: i64, networks: &[String], device: Option<String>, reason: String) {
    let nets: Vec<ipnet::IpNet> = networks.iter().filter_map(|n| n.parse().ok()).collect();
    let frame = ServerFrame::Warned { case, reason };
    let covered = |ip: std::net::IpAddr, tag: Option<&crate::device::DeviceTag>| {
        nets.iter().any(|net| net.contains(&ip.to_canonical()))
            || matches!((device.as_deref(), tag), (Some(d), Some(t)) if d == t.as_str())
    };
    for handle in state.sockets.matching_conn(covered) {
        handle.send_frame(&frame);
    }
}

/// Tell the reporting connection (`gateway:conn`, if it is this gateway's and still open) what
/// the moderators decided; every other gateway ignores the event.
fn report_outcome(state: &State, reporter: &str, id: ulid::Ulid, outcome: protocol::ReportVerdict) {
    let Some((gateway, conn)) = reporter.rsplit_once(':') else { return };
    let Ok(conn) = conn.parse::<crate::hub::ConnId>() else { return };
    if gateway != state.gateway_id {
        return;
    }
    for handle in state.sockets.handles(&[conn]) {
        handle.send_frame(&ServerFrame::ReportOutcome { id, outcome });
    }
}

/// Close every open socket that a ban in force covers (by address or device tag).
fn sweep_bans(state: &State) {
    for (net, ban) in state.bans.networks() {
        let covered = |ip: std::net::IpAddr, device: Option<&crate::device::DeviceTag>| {
            net.contains(&ip.to_canonical()) || crate::bans::covers_device(&ban, device)
        };
        let reason = if ban.reason.is_empty() {
            "You are banned.".to_owned()
        } else {
            format!("You are banned: {}", ban.reason)
        };
        state.resumes.revoke_addresses(|ip| net.contains(&ip.to_canonical()));
        for handle in state.sockets.matching_conn(covered) {
            handle.send_frame(&ServerFrame::Kicked { reason: reason.clone() });
            handle.close(crate::websocket::code::BANNED, "banned", true);
        }
    }
}
