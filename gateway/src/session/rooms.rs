//! `join` and `leave`: taking a seat in a room (claimed on the bus, so capacity and seats per
//! address hold across gateways), joining the local fan-out, history, presence; and giving the
//! seat back.

use std::sync::Arc;

use protocol::{Nickname, PresenceEvent, RoomDef, RoomKind, RoomSlug, ServerFrame};
use ulid::Ulid;

use super::{Conn, Joined, admission, encode};
use crate::hub::Members;

impl Conn {
    /// `join`, admitted: out of the roulette, into `room`.
    pub(super) async fn join(&mut self, room: Arc<RoomDef>, nick: Nickname, since: Option<Ulid>) {
        self.stop_waiting().await;
        self.stranger = None;
        self.enter(room, nick, since, None).await;
    }

    /// Take a seat in `def` as `nick` and start receiving its events; the member list on
    /// success (an error frame has been sent otherwise).
    pub(super) async fn enter(
        &mut self,
        def: Arc<RoomDef>,
        nick: Nickname,
        since: Option<Ulid>,
        pair: Option<(&str, &str)>,
    ) -> Option<Vec<String>> {
        let holder = self.holder();
        let seat = bus::Seat {
            nick: nick.as_str().to_owned(),
            key: nick.key().to_owned(),
            holder: holder.clone(),
            address: self.address_tag(),
        };
        let per_address = self.seats_per_address(&def);
        let same_seat = self.joined.as_ref().is_some_and(|j| j.room.slug == def.slug && j.nick.key() == nick.key());
        if !same_seat {
            // Another room, or another name here: leave first, keeping the old seat only if the
            // new one cannot be had would need two seats at once; clients expect a clean switch.
            self.leave_room().await;
        }
        // Listen to the room before taking the seat: whoever takes a seat after ours announces
        // it after we listen, so the member list of `joined` plus the presence that follows it
        // misses nobody (the other order lost a member who arrived in between).
        let local: Option<Arc<Members>> = if same_seat {
            None
        } else {
            match self
                .state
                .hub
                .join(self.state.bus.as_ref(), &def.slug, self.handle.clone(), nick.key(), self.sender())
                .await
            {
                Ok(local) => Some(local),
                Err(e) => {
                    self.unavailable(e);
                    return None;
                }
            }
        };
        let claim = match self.state.bus.claim_seat(&def.slug, &seat, def.capacity, per_address).await {
            Ok(claim) => claim,
            Err(e) => {
                self.stop_listening(&def.slug, local.is_some()).await;
                self.unavailable(e);
                return None;
            }
        };
        let members = match admission::seat(claim, &def, &nick, per_address) {
            Ok(members) => members,
            Err(refusal) => {
                self.stop_listening(&def.slug, local.is_some()).await;
                self.refuse(refusal);
                return None;
            }
        };
        let Some(local) = local else {
            // A repeated join (e.g. to resume with `since`) gets a fresh `joined`, no presence.
            match self.state.bus.history_for(&def.slug, since, Some(&self.viewer())).await {
                Ok(history) => self.handle.send_frame(&ServerFrame::Joined {
                    room: def.slug.to_string(),
                    nick: nick.to_string(),
                    members: members.clone(),
                    history,
                    locked: def.locked,
                    slowmode_secs: def.slowmode_secs,
                    resume: self.current_resume(),
                }),
                Err(e) => self.unavailable(e),
            }
            self.tell_mute();
            return Some(members);
        };
        let history = match self.state.bus.history_for(&def.slug, since, Some(&self.viewer())).await {
            Ok(history) => history,
            Err(e) => {
                self.state.hub.leave(&def.slug, self.handle.id).await;
                self.release(&def.slug, nick.key(), &holder).await;
                self.unavailable(e);
                return None;
            }
        };
        let resume = self.issue_resume(&def, &nick, &holder, pair).await;
        local.activate(
            self.handle.id,
            &ServerFrame::Joined {
                room: def.slug.to_string(),
                nick: nick.to_string(),
                members: members.clone(),
                history,
                locked: def.locked,
                slowmode_secs: def.slowmode_secs,
                resume,
            },
        );
        self.tell_mute();
        // Everyone in the room hears about the arrival, the joiner too (right after `joined`).
        let presence = ServerFrame::Presence { event: PresenceEvent::Join, nick: nick.to_string() };
        if let Err(e) = self.state.bus.publish(&def.slug, encode(&presence)).await {
            tracing::warn!(error = %e, "cannot announce a join");
        }
        self.joined = Some(Joined { room: def, nick, holder });
        self.trust_arrive().await;
        Some(members)
    }

    /// Stop listening to a room whose seat was not had (`listening`: whether `enter` started).
    async fn stop_listening(&self, room: &RoomSlug, listening: bool) {
        if listening {
            self.state.hub.leave(room, self.handle.id).await;
        }
    }

    pub(super) async fn release(&self, room: &RoomSlug, key: &str, holder: &str) {
        if let Err(e) = self.state.bus.release_seat(room, key, holder).await {
            tracing::warn!(error = %e, %room, "cannot release a seat; it lapses with its presence entry");
        }
    }

    /// Leave the current room, if any: free the seat, stop the feed, tell the others.
    pub(super) async fn leave_room(&mut self) {
        self.forget_resume().await;
        let Some(joined) = self.joined.take() else {
            return;
        };
        // The roulette partner stays reportable for a while after the pair.
        self.keep_last_pair(&joined).await;
        let slug = &joined.room.slug;
        self.state.hub.leave(slug, self.handle.id).await;
        self.release(slug, joined.nick.key(), &joined.holder).await;
        let presence = ServerFrame::Presence { event: PresenceEvent::Leave, nick: joined.nick.to_string() };
        // The leaver is no longer subscribed: confirm to it directly.
        self.handle.send_frame(&presence);
        if let Err(e) = self.state.bus.publish(slug, encode(&presence)).await {
            tracing::warn!(error = %e, "cannot announce a leave");
        }
        if joined.room.kind == RoomKind::Roulette {
            self.stranger = None;
            if let Err(e) = self.state.bus.publish(slug, encode(&ServerFrame::StrangerLeft {})).await {
                tracing::warn!(error = %e, "cannot tell the stranger");
            }
            // The last one out ends the pair (the sweeper catches what this misses).
            if self.state.bus.members(slug).await.is_ok_and(|m| m.is_empty()) {
                crate::visitor::close(&self.state, slug, "this chat has ended").await;
            }
        }
    }
}
