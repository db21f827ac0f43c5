//! `say` and `typing`, once admitted: a message is queued durably for the bot first, then
//! acknowledged; a typing indicator is relayed to the room.
//!
//! A shadow-muted sender's message is queued for the bot too (marked, so staff see it), then
//! published on the room in an envelope whose visibility is the sender's (`envelope`): every
//! hub delivers it only to connections of the sender's address key or device (the sender's
//! other tabs too). It is kept in the room's history marked with the sender's tags
//! ([`bus::Bus::record_history_for`]), so the sender's connections see it again after joining
//! or resuming and nobody else ever receives it. Should the publish fail, the sender's own
//! socket still gets its copy.

use std::sync::Arc;

use protocol::frames::ReplyRef;
use protocol::{ErrorCode, LoggedMessage, MessageView, RoomDef, ServerFrame};

use super::author::AuthorKey;
use super::{Conn, encode};
use crate::envelope::{self, Envelope, Visibility};

impl Conn {
    /// The key that signs the message ids of the session with seat holder `holder` (`author`).
    pub(super) fn author(&self, holder: &str) -> AuthorKey {
        AuthorKey::of(secrecy::ExposeSecret::expose_secret(&self.state.config.deployment_key), holder)
    }

    /// `say`, admitted: `text` (filtered) to `room`, acknowledged once the bot's queue has it.
    pub(super) async fn say(
        &mut self,
        room: Arc<RoomDef>,
        text: String,
        client_id: Option<String>,
        shadow: bool,
        reply_to: Option<ReplyRef>,
    ) {
        let Some(joined) = &self.joined else { return };
        // Ids are monotonic within this process, so they sort in sending order, and name their
        // author's session (`author`).
        let message = MessageView {
            id: self.author(&joined.holder).new_id(),
            room: room.slug.to_string(),
            nick: joined.nick.to_string(),
            text,
            at: chrono::Utc::now(),
            staff: false,
            reply_to,
            ..MessageView::default()
        };
        // Durable first: once the bot's queue has it, it is accepted; history and fan-out follow.
        let id = message.id;
        let json = ServerFrame::Message(message.clone()).to_json();
        let device = self.device.map(|d| d.to_string());
        // In its sender envelope: the hubs read who sent it and strip the header (`envelope`).
        let visibility = if shadow { Visibility::Sender } else { Visibility::Everyone };
        let envelope = Envelope { visibility, sender: self.sender(), id: Some(id), nick: &message.nick };
        let frame = envelope::wrap(&envelope, json.as_bytes());
        let view = shadow.then(|| message.clone());
        let logged = LoggedMessage { message, ip: self.address.ip, shadow, device };
        let posted = if let Some(view) = view {
            // Queued, then kept and fanned out for the sender's connections only.
            let queued = self.state.bus.enqueue(&protocol::InboundEvent::Message(logged)).await;
            if queued.is_ok() {
                if let Err(e) = self.state.bus.record_history_for(&view, &self.viewer()).await {
                    tracing::warn!(error = %e, room = %room.slug, "cannot record history");
                }
                if self.state.bus.publish(&room.slug, frame).await.is_err() {
                    self.handle.send(crate::websocket::text(json.as_bytes()));
                }
            }
            queued
        } else {
            self.state.bus.post_message(&room.slug, &logged, frame).await
        };
        if let Err(e) = posted {
            let why = if let bus::BusError::Overloaded { depth, .. } = e {
                // The bot is behind (QUEUE_MAX): refuse rather than queue without bound.
                tracing::warn!(depth, "the queue is full; refusing a message");
                "the chat is overloaded; your message was not sent, please retry in a moment"
            } else {
                tracing::error!(error = %e, "cannot queue a message");
                "the chat is temporarily unavailable; your message was not sent"
            };
            return self.error(ErrorCode::Unavailable, why, client_id, None);
        }
        // The next keystroke after sending is news again.
        self.limits.last_typing = None;
        metrics::counter!("chat_messages_in_total").increment(1);
        self.handle.send_frame(&ServerFrame::Ack { id, client_id });
    }

    /// `typing`, admitted: tell the room.
    pub(super) async fn typing(&mut self) {
        let Some(joined) = &self.joined else { return };
        let frame = ServerFrame::Typing { nick: joined.nick.to_string() };
        if let Err(e) = self.state.bus.publish(&joined.room.slug, encode(&frame)).await {
            tracing::warn!(error = %e, "cannot relay typing");
        }
    }
}
