//! A moderator's Discord reply to a mirrored message reaches the web as a reply to that web
//! message: the `message` frame's `reply_to` names it. A Discord message carrying several web
//! messages (a batch, a coalesced embed) is answered at its last one; a reply to a staff message
//! names that staff message. A reply to anything else, or to a message deleted since, is a plain
//! staff message.

use poise::serenity_prelude as serenity;
use protocol::frames::ReplyRef;

use super::Data;

/// What the staff message `msg` answers on the web, if anything.
pub(crate) async fn answered(data: &Data, msg: &serenity::Message) -> Option<ReplyRef> {
    let referenced = msg.message_reference.as_ref()?.message_id?;
    let discord_id = i64::try_from(referenced.get()).ok()?;
    let mut rows = match data.log.carried_by(discord_id, false).await {
        Ok(rows) if !rows.is_empty() => rows,
        Ok(_) => data.log.carried_by(discord_id, true).await.ok()?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read what a staff reply answers; relayed as a plain message");
            return None;
        }
    };
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let row = rows.into_iter().rev().find(|r| r.deleted_at.is_none())?;
    Some(ReplyRef::of(row.id.parse().ok()?, &row.nickname, &row.text))
}
