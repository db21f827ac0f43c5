//! `edit` and `delete`: a visitor changes or takes back its own message within
//! `EDIT_WINDOW_SECS` of sending it.
//!
//! Authorship is read from the message id (`author`): the session that sent it, resumed on any
//! gateway, and no other, may change it. Refusals, in order: `not_in_room`; `unknown_message`
//! (no such message in this room for this connection, or taken down already); `not_yours`;
//! `edit_window_over`; then for `edit` every check of `say` on the new text (mute, length,
//! filters, lock, the message buckets, slowmode), for `delete` the mute and the message buckets.
//!
//! Accepted, the change is queued for the bot first (the log keeps every earlier text; the
//! mirror edits or marks the Discord embed), then the room's history is amended and the room
//! gets `edited {id, text, at}` or `deleted {id}`; an `edit` is answered by `ack {id,
//! client_id}` as well. Under a shadow mute the frame goes, in a sender envelope, to the
//! sender's own connections only, and the history changes only for a message kept there for the
//! sender's tabs alone (sent under the shadow mute too).

use std::time::{Duration, Instant};

use protocol::frames::CLIENT_ID_MAX;
use protocol::{ErrorCode, InboundEvent, MessageChange, RoomDef, RoomSlug, ServerFrame};
use ulid::Ulid;

use super::admission::{Admitted, Refusal};
use super::{Conn, encode};
use crate::envelope::{self, Envelope, Visibility};

fn unknown() -> Refusal {
    Refusal::new(ErrorCode::UnknownMessage, "that message is not in this room (or is gone)")
}

impl Conn {
    /// Check that message `id` is this session's, in its room, and still within the window.
    async fn own_message(&self, id: Ulid) -> Result<(), Refusal> {
        let Some(joined) = &self.joined else {
            return Err(Refusal::new(ErrorCode::NotInRoom, "join a room before changing messages"));
        };
        let members = self.state.hub.members(&joined.room.slug).await;
        let delivery = members.as_ref().and_then(|m| m.received(self.handle.id, id));
        if !self.author(&joined.holder).wrote(id) {
            // Someone else's message this connection can see, or none at all.
            let seen = match &delivery {
                Some(d) => !d.deleted,
                None => self.in_history(&joined.room.slug, id).await?,
            };
            return Err(if seen {
                Refusal::new(ErrorCode::NotYours, "you can only change your own messages")
            } else {
                unknown()
            });
        }
        if delivery.is_some_and(|d| d.deleted) {
            return Err(unknown());
        }
        let window = self.state.config.edit_window;
        let sent = Duration::from_millis(id.timestamp_ms());
        let now = Duration::from_millis(u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0));
        if now.saturating_sub(sent) > window {
            let secs = window.as_secs();
            let message = format!("messages can be changed for {secs} s after sending; this one is older");
            return Err(Refusal::new(ErrorCode::EditWindowOver, message));
        }
        Ok(())
    }

    async fn in_history(&self, room: &RoomSlug, id: Ulid) -> Result<bool, Refusal> {
        match self.state.bus.history(room, None).await {
            Ok(history) => Ok(history.iter().any(|m| m.id == id)),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the history");
                Err(Refusal::new(ErrorCode::Unavailable, "the chat is temporarily unavailable; try again shortly"))
            }
        }
    }

    /// Check an `edit` frame: the message, then the new text as `say` checks a message.
    pub(super) async fn admit_edit(
        &mut self,
        id: Ulid,
        text: &str,
        client_id: Option<String>,
    ) -> Result<Admitted, Refusal> {
        if client_id.as_ref().is_some_and(|c| c.chars().count() > CLIENT_ID_MAX) {
            return Err(Refusal::new(ErrorCode::BadFrame, format!("client_id is at most {CLIENT_ID_MAX} characters")));
        }
        self.own_message(id).await.map_err(|r| r.of_message(client_id.clone()))?;
        // The same checks as a new message: whatever `say` refuses, an edit may not bring in.
        match self.admit_say(text, client_id).await? {
            Admitted::Say { room, text, client_id, shadow, .. } => {
                Ok(Admitted::Edit { id, room, text, client_id, shadow })
            }
            _ => Err(Refusal::new(ErrorCode::BadFrame, "not an edit")),
        }
    }

    /// Check a `delete` frame: the message, the mute, the message buckets.
    pub(super) async fn admit_delete(&mut self, id: Ulid) -> Result<Admitted, Refusal> {
        self.own_message(id).await?;
        let shadow = self.check_mute()?;
        let now = Instant::now();
        if let Err(wait) = self.limits.take_say(now) {
            return Err(Refusal::new(ErrorCode::RateLimited, "you are changing messages too fast").retry_after(wait));
        }
        let address_limit = self.limits.address(&self.state, &self.address, now).say.take(now);
        if let Err(wait) = address_limit {
            let refusal = Refusal::new(ErrorCode::RateLimited, "your address is changing messages too fast");
            return Err(refusal.retry_after(wait));
        }
        let Some(joined) = &self.joined else { return Err(unknown()) };
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        Ok(Admitted::Delete { id, room, shadow })
    }

    /// What the bot is told of a change of message `id` in `room`.
    fn change(&self, id: Ulid, room: &RoomDef, text: Option<String>, shadow: bool) -> Option<MessageChange> {
        let joined = self.joined.as_ref()?;
        Some(MessageChange {
            id,
            room: room.slug.to_string(),
            nick: joined.nick.to_string(),
            text,
            at: chrono::Utc::now(),
            ip: self.address.ip,
            shadow,
            device: self.device.map(|d| d.to_string()),
        })
    }

    /// `edit`, admitted: queued for the bot, then the history and the room.
    pub(super) async fn edit(
        &mut self,
        id: Ulid,
        room: &RoomDef,
        text: String,
        client_id: Option<String>,
        shadow: bool,
    ) {
        let Some(change) = self.change(id, room, Some(text.clone()), shadow) else { return };
        let at = change.at;
        if let Err(e) = self.state.bus.enqueue(&InboundEvent::MessageEdited(change)).await {
            tracing::error!(error = %e, "cannot queue an edit");
            let message = "the chat is temporarily unavailable; your edit was not saved";
            return self.error(ErrorCode::Unavailable, message, client_id, None);
        }
        if self.history_follows(&room.slug, id, shadow).await
            && let Err(e) = self.state.bus.edit_history(&room.slug, id, &text, at).await
        {
            tracing::warn!(error = %e, "cannot amend the history");
        }
        self.tell_change(room, &ServerFrame::Edited { id, text, at: Some(at) }, shadow).await;
        metrics::counter!("chat_messages_edited_total").increment(1);
        self.handle.send_frame(&ServerFrame::Ack { id, client_id });
    }

    /// `delete`, admitted: queued for the bot, then out of the history and the room.
    pub(super) async fn delete(&mut self, id: Ulid, room: &RoomDef, shadow: bool) {
        let Some(change) = self.change(id, room, None, shadow) else { return };
        if let Err(e) = self.state.bus.enqueue(&InboundEvent::MessageDeleted(change)).await {
            tracing::error!(error = %e, "cannot queue a deletion");
            let message = "the chat is temporarily unavailable; your message was not deleted";
            return self.error(ErrorCode::Unavailable, message, None, None);
        }
        if self.history_follows(&room.slug, id, shadow).await
            && let Err(e) = self.state.bus.amend_history(&room.slug, id, None).await
        {
            tracing::warn!(error = %e, "cannot amend the history");
        }
        // Gone at once for this connection's next frames, before the room's copy comes back.
        if let Some(members) = self.state.hub.members(&room.slug).await {
            members.note_deleted(id);
        }
        self.tell_change(room, &ServerFrame::Deleted { id }, shadow).await;
        metrics::counter!("chat_messages_deleted_total").increment(1);
    }

    /// Whether the room's history takes this change: always, but under a shadow mute only for a
    /// message kept for the author's tabs alone (one everyone sees stays as everyone saw it).
    async fn history_follows(&self, room: &RoomSlug, id: Ulid, shadow: bool) -> bool {
        if !shadow {
            return true;
        }
        match self.state.bus.history(room, None).await {
            Ok(public) => !public.iter().any(|m| m.id == id),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the history; a shadow change leaves it alone");
                false
            }
        }
    }

    /// Send a change to the room, or under a shadow mute to the sender's connections only.
    async fn tell_change(&self, room: &RoomDef, frame: &ServerFrame, shadow: bool) {
        let json = frame.to_json();
        let published = if shadow {
            let nick = self.joined.as_ref().map(|j| j.nick.to_string()).unwrap_or_default();
            let envelope = Envelope { visibility: Visibility::Sender, sender: self.sender(), id: None, nick: &nick };
            self.state.bus.publish(&room.slug, envelope::wrap(&envelope, json.as_bytes())).await
        } else {
            self.state.bus.publish(&room.slug, encode(frame)).await
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, "cannot tell the room of a change");
            self.handle.send(crate::websocket::text(json.as_bytes()));
        }
    }
}
