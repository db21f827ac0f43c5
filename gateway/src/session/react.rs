//! `react`: a visitor toggles one of the offered emoji (`REACTIONS`) on a message of its room.
//!
//! One reaction per emoji per device, or per connection when it sent no device token: the
//! reactor is the device tag (or this connection's holder id). The change is made atomically on
//! the bus ([`bus::Bus::react`]), which also writes the totals into the message's history entry,
//! so joiners see them. The room then gets `reactions {id, counts, staff}` as a plain frame, and
//! the reactor's device (all its tabs, on every gateway) the same with `mine`, in an envelope
//! restricted to that device; a connection without a device gets `mine` directly.
//!
//! Admission refuses, in order: `not_in_room`; `bad_frame` (an emoji not offered); `muted`;
//! `room_locked`; `rate_limited` (the address's reaction bucket, [`REACT_BURST`] then
//! [`REACT_PER_SECOND`], with `retry_after_ms`); `unknown_message` (neither the room's history nor
//! this connection's deliveries know the id). A message with
//! [`bus::reactions::REACTORS_PER_MESSAGE_MAX`] reactors refuses new ones with `unavailable`.
//!
//! A shadow-muted visitor's reactions are toggled in a set of their own that is never counted:
//! nobody else's totals change. Its device (or connection) gets the room's totals with its own
//! reactions added, and `mine`, as if they counted; and whenever a visitor changes the message's
//! totals later, each shadow reactor's device gets them with its own added again, right after
//! the room's frame.

use protocol::frames::{RateLimit, ReactionCounts};
use protocol::{ErrorCode, ServerFrame};
use ulid::Ulid;

use super::Conn;
use super::admission::{Admitted, Refusal, locked};
use crate::address::Address;
use crate::envelope::{self, Envelope, Visibility};

/// Reactions an address may toggle at once (an IPv6 /64 is one address; a shared address gets
/// its factor's worth).
pub(crate) const REACT_BURST: u32 = 20;
/// Reactions an address may toggle per second after the burst.
pub(crate) const REACT_PER_SECOND: f64 = 2.0;

/// The reaction bucket of `address`.
pub(super) fn address_rate(address: &Address) -> RateLimit {
    RateLimit { burst: address.scale(REACT_BURST), per_second: REACT_PER_SECOND * f64::from(address.factor) }
}

impl Conn {
    /// Check a `react` frame: what to toggle, or why not.
    pub(super) async fn admit_react(&mut self, id: Ulid, emoji: String) -> Result<Admitted, Refusal> {
        let Some(joined) = &self.joined else {
            return Err(Refusal::new(ErrorCode::NotInRoom, "join a room before reacting"));
        };
        if !self.state.config.reactions.contains(&emoji) {
            let offered = self.state.config.reactions.join(" ");
            return Err(Refusal::new(ErrorCode::BadFrame, format!("react with one of {offered}")));
        }
        let shadow = self.check_mute()?;
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        if room.locked {
            return Err(locked(&room));
        }
        let now = std::time::Instant::now();
        let taken = self.limits.address(&self.state, &self.address, now).reactions.take(now);
        if let Err(wait) = taken {
            let refusal = Refusal::new(ErrorCode::RateLimited, "your address is reacting too fast; wait a moment");
            return Err(Refusal { retry_after: Some(wait), ..refusal });
        }
        if !self.knows(id).await? {
            return Err(Refusal::new(ErrorCode::UnknownMessage, "that message is not among this room's recent ones"));
        }
        Ok(Admitted::React { id, emoji, shadow })
    }

    /// Is `id` a message of the current room: one this connection received (its deliveries),
    /// or one of the room's history?
    async fn knows(&self, id: Ulid) -> Result<bool, Refusal> {
        let Some(joined) = &self.joined else { return Ok(false) };
        if let Some(members) = self.state.hub.members(&joined.room.slug).await
            && members.received(self.handle.id, id).is_some()
        {
            return Ok(true);
        }
        match self.state.bus.history(&joined.room.slug, None).await {
            Ok(history) => Ok(history.iter().any(|m| m.id == id)),
            Err(e) => {
                tracing::error!(error = %e, "cannot read history for a reaction");
                Err(Refusal::new(ErrorCode::Unavailable, "the chat is temporarily unavailable; try again shortly"))
            }
        }
    }

    /// Who reacts: the device, or this connection without one.
    fn reactor(&self) -> String {
        match self.device {
            Some(device) => format!("d:{device}"),
            None => format!("c:{}", self.holder()),
        }
    }

    /// `react`, admitted: toggle it on the bus, then tell the room and the reactor.
    pub(super) async fn react(&mut self, id: Ulid, emoji: String, shadow: bool) {
        let Some(joined) = &self.joined else { return };
        let room = joined.room.slug.clone();
        let (reactor, kind) = match shadow {
            false => (self.reactor(), bus::ReactionKind::Toggle),
            true => (format!("~{}", self.reactor()), bus::ReactionKind::ShadowToggle),
        };
        let change = bus::ReactionChange { reactor, emoji, kind };
        let (mut counts, mine, shadows) = match self.state.bus.react(&room, id, &change).await {
            Ok(bus::ReactionOutcome::Changed { counts, mine, shadow }) => (counts, mine, shadow),
            Ok(bus::ReactionOutcome::Full) => {
                let message = "that message has as many reactions as it can hold";
                return self.error(ErrorCode::Unavailable, message, None, None);
            }
            Err(e) => return self.unavailable(e),
        };
        metrics::counter!("chat_reactions_total").increment(1);
        if shadow {
            add_own(&mut counts, &mine);
        } else {
            let public = ServerFrame::Reactions { id, reactions: counts.clone(), mine: None };
            if let Err(e) = self.state.bus.publish(&room, super::encode(&public)).await {
                tracing::warn!(error = %e, "cannot publish reactions");
            }
            self.keep_shadows_seeing_their_own(&room, id, &counts, shadows).await;
        }
        let own = ServerFrame::Reactions { id, reactions: counts, mine: Some(mine) };
        let json = own.to_json();
        if self.device.is_none() {
            return self.handle.send(crate::websocket::text(json.as_bytes()));
        }
        // Every tab of this device, on every gateway (this one included), through the hub.
        let envelope = Envelope { visibility: Visibility::Device, sender: self.sender(), id: None, nick: "" };
        if let Err(e) = self.state.bus.publish(&room, envelope::wrap(&envelope, json.as_bytes())).await {
            tracing::warn!(error = %e, "cannot publish one's own reactions");
            self.handle.send(crate::websocket::text(json.as_bytes()));
        }
    }
}

impl Conn {
    /// After a change others see, each shadow-muted reactor of the message with a device gets
    /// the new totals with its own reactions added, right after the room's frame: its view
    /// never drops to what others see, which would give the shadow mute away.
    async fn keep_shadows_seeing_their_own(
        &self,
        room: &protocol::RoomSlug,
        id: Ulid,
        counts: &ReactionCounts,
        shadows: Vec<(String, Vec<String>)>,
    ) {
        for (reactor, mine) in shadows {
            let Some(device) = reactor.strip_prefix("~d:").and_then(|t| crate::device::DeviceTag::parse(t.as_bytes()))
            else {
                continue;
            };
            let mut view = counts.clone();
            add_own(&mut view, &mine);
            let json = ServerFrame::Reactions { id, reactions: view, mine: Some(mine) }.to_json();
            let sender = crate::envelope::Sender { address: crate::envelope::AddressTag::zero(), device: Some(device) };
            let envelope = Envelope { visibility: Visibility::Device, sender, id: None, nick: "" };
            if let Err(e) = self.state.bus.publish(room, envelope::wrap(&envelope, json.as_bytes())).await {
                tracing::warn!(error = %e, "cannot publish a shadow reactor's reactions");
            }
        }
    }
}

/// A shadow-muted reactor's view: the room's totals with its own (uncounted) reactions added.
fn add_own(counts: &mut ReactionCounts, mine: &[String]) {
    for emoji in mine {
        *counts.counts.entry(emoji.clone()).or_insert(0) += 1;
    }
}
