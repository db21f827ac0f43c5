//! `reply_to`: the message a `say` answers, which must be one of the same room that this
//! connection can see: among what it received there (the room's delivery record, which knows
//! edits and deletions), else in the room's recent history (what it was shown on joining). The
//! `message` frame then carries `reply_to {id, nick, excerpt}`, the excerpt being the first
//! [`protocol::frames::REPLY_EXCERPT_CHARS`] characters of the original as it reads now.

use protocol::ErrorCode;
use protocol::frames::ReplyRef;
use ulid::Ulid;

use super::Conn;
use super::admission::Refusal;

fn unknown() -> Refusal {
    Refusal::new(ErrorCode::UnknownMessage, "the message you are answering is not in this room (or is gone)")
}

impl Conn {
    /// What a reply to message `id` shows of it, or `unknown_message`.
    pub(super) async fn reply_ref(&self, id: Ulid) -> Result<ReplyRef, Refusal> {
        let Some(joined) = &self.joined else { return Err(unknown()) };
        if let Some(members) = self.state.hub.members(&joined.room.slug).await
            && let Some(delivery) = members.received(self.handle.id, id)
        {
            if delivery.deleted {
                return Err(unknown());
            }
            return Ok(ReplyRef { id, nick: delivery.nick.into(), excerpt: delivery.excerpt.into() });
        }
        let history = self.state.bus.history(&joined.room.slug, None).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the history for a reply");
            Refusal::new(ErrorCode::Unavailable, "the chat is temporarily unavailable; your message was not sent")
        })?;
        let original = history.iter().rev().find(|m| m.id == id).ok_or_else(unknown)?;
        Ok(ReplyRef::of(id, &original.nick, &original.text))
    }
}
