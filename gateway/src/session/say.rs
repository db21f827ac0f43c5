//! `say` and `typing`: a message is queued durably for the bot first, then acknowledged;
//! typing indicators are relayed at most once per interval.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocol::frames::CLIENT_ID_MAX;
use protocol::input::TextError;
use protocol::{ErrorCode, LoggedMessage, MessageText, MessageView, ServerFrame};
use ulid::Ulid;

use super::admission::address_limits;
use super::{Conn, encode};

/// Message ids: ULIDs, monotonic within this process so ids sort in sending order.
fn next_id() -> Ulid {
    static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);
    let mut generator = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    generator.get_or_insert_with(ulid::Generator::new).generate().unwrap_or_else(|_| Ulid::new())
}

impl Conn {
    pub(super) async fn say(&mut self, text: &str, client_id: Option<String>) {
        if client_id.as_ref().is_some_and(|c| c.chars().count() > CLIENT_ID_MAX) {
            return self.error(
                ErrorCode::BadFrame,
                format!("client_id is at most {CLIENT_ID_MAX} characters"),
                None,
                None,
            );
        }
        let Some(joined) = &self.joined else {
            return self.error(ErrorCode::NotInRoom, "join a room before sending messages", client_id, None);
        };
        // The definition may have changed since joining.
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        let text = match MessageText::parse(text) {
            Ok(text) => text,
            Err(TextError::Empty) => {
                return self.error(ErrorCode::EmptyMessage, "the message is empty", client_id, None);
            }
            Err(e @ TextError::TooLong(_)) => {
                return self.error(ErrorCode::TooLong, e.to_string(), client_id, None);
            }
        };
        let text = match self.state.filters.apply(text.into_string()) {
            crate::filters::Verdict::Pass(text) => text,
            crate::filters::Verdict::Blocked => {
                return self.error(
                    ErrorCode::Filtered,
                    "your message contains something this chat does not allow",
                    client_id,
                    None,
                );
            }
        };
        if room.locked {
            return self.error(
                ErrorCode::RoomLocked,
                format!("{} is locked by the moderators", room.title),
                client_id,
                None,
            );
        }
        let now = Instant::now();
        if let Err(wait) = self.say_bucket.take(now) {
            return self.error(ErrorCode::RateLimited, "you are sending messages too fast", client_id, Some(wait));
        }
        let ip_limit = address_limits(&mut self.ip_limits, &self.state, &self.address, now)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .say
            .take(now);
        if let Err(wait) = ip_limit {
            return self.error(
                ErrorCode::RateLimited,
                "your address is sending messages too fast",
                client_id,
                Some(wait),
            );
        }
        if room.slowmode_secs > 0 {
            // Kept on the bus per (room, address), with a slot per seat the address holds there:
            // neither leaving and joining again nor more connections or gateways get around it.
            let period = Duration::from_secs(u64::from(room.slowmode_secs));
            match self.state.bus.slowmode(&room.slug, &self.address_tag(), period).await {
                Ok(None) => {}
                Ok(Some(wait)) => {
                    let message =
                        format!("slow mode: one message every {} s per seat in {}", room.slowmode_secs, room.title);
                    return self.error(ErrorCode::Slowmode, message, client_id, Some(wait));
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot check slowmode");
                    return self.error(
                        ErrorCode::Unavailable,
                        "the chat is temporarily unavailable; your message was not sent",
                        client_id,
                        None,
                    );
                }
            }
        }
        let message = MessageView {
            id: next_id(),
            room: room.slug.to_string(),
            nick: joined.nick.to_string(),
            text,
            at: chrono::Utc::now(),
            staff: false,
        };
        // Durable first: once the bot's queue has it, it is accepted; history and fan-out follow.
        let id = message.id;
        let frame = encode(&ServerFrame::Message(message.clone()));
        let logged = LoggedMessage { message, ip: self.address.ip };
        if let Err(e) = self.state.bus.post_message(&room.slug, &logged, frame).await {
            tracing::error!(error = %e, "cannot queue a message");
            return self.error(
                ErrorCode::Unavailable,
                "the chat is temporarily unavailable; your message was not sent",
                client_id,
                None,
            );
        }
        // The next keystroke after sending is news again.
        self.last_typing = None;
        metrics::counter!("chat_messages_in_total").increment(1);
        self.handle.send_frame(&ServerFrame::Ack { id, client_id });
    }

    pub(super) async fn typing(&mut self) {
        let Some(joined) = &self.joined else {
            return self.error(ErrorCode::NotInRoom, "you are not in a room", None, None);
        };
        let now = Instant::now();
        // Relayed at most once per interval: typing indicators need no more (what comes sooner
        // is folded into the one relayed, not refused).
        if self.last_typing.is_some_and(|t| now.duration_since(t) < self.state.config.typing_interval) {
            return;
        }
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        if room.locked {
            // One refusal per interval too, like one relay.
            self.last_typing = Some(now);
            return self.error(
                ErrorCode::RoomLocked,
                format!("{} is locked by the moderators", room.title),
                None,
                None,
            );
        }
        let address_limit = address_limits(&mut self.ip_limits, &self.state, &self.address, now)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .typing
            .take(now);
        if let Err(wait) = address_limit {
            return self.error(ErrorCode::RateLimited, "your address is typing too much", None, Some(wait));
        }
        self.last_typing = Some(now);
        let Some(joined) = &self.joined else { return };
        let frame = ServerFrame::Typing { nick: joined.nick.to_string() };
        if let Err(e) = self.state.bus.publish(&joined.room.slug, encode(&frame)).await {
            tracing::warn!(error = %e, "cannot relay typing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase() {
        let a = next_id();
        let b = next_id();
        assert!(b > a);
    }
}
