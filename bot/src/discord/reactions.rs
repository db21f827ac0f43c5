//! Moderators' reactions in Discord, shown on the web as staff reactions (issue 29).
//!
//! A reaction added to a Discord message the mirror posted (or a staff message relayed from
//! Discord) applies to the last web message that Discord message carries (several share one
//! under backlog); its removal takes it back. Only moderators count ([`access`], guild-level);
//! the bot's own reactions (the refusal mark) and other bots' are ignored, as is everyone else.
//! Custom Discord emoji are shown by their `:name:`. The change is made on the bus
//! ([`bus::Bus::react`], a staff reactor per Discord user) and the room gets the totals as
//! `reactions {id, counts, staff}` (a shadow-muted visitor's own reactions are not added to it
//! for that visitor, as a gateway does after visitors' changes: the bot does not address devices).
//!
//! Web reactions go the other way only as totals in the room: staff do not see them in Discord
//! (posting each one would spend the channel's REST budget the mirror needs).

use poise::serenity_prelude as serenity;
use protocol::{RoomSlug, ServerFrame};
use ulid::Ulid;

use super::{Data, Error, access};

/// The emoji as the web shows it: Unicode as it is, a custom emoji as `:name:`; `None` for one
/// too long or holding spaces or controls.
fn shown_emoji(emoji: &serenity::ReactionType) -> Option<String> {
    let shown = match emoji {
        serenity::ReactionType::Unicode(e) => e.clone(),
        serenity::ReactionType::Custom { name: Some(name), .. } => format!(":{name}:"),
        _ => return None,
    };
    let fits = !shown.is_empty() && shown.len() <= bus::reactions::EMOJI_BYTES_MAX;
    (fits && !shown.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(shown)
}

/// A reaction added (`added`) or removed in Discord.
pub async fn reaction(ctx: &serenity::Context, data: &Data, r: &serenity::Reaction, added: bool) -> Result<(), Error> {
    let Some(user) = r.user_id else { return Ok(()) };
    if r.guild_id.is_some_and(|g| g != data.guild) || user == ctx.cache.current_user().id {
        return Ok(());
    }
    if added {
        // A removal needs no check: only what a moderator added can be taken back.
        let Some(member) = &r.member else { return Ok(()) };
        if member.user.bot || !access::reaches(&ctx.cache, data, user, &member.roles, access::Level::Moderator) {
            return Ok(());
        }
    }
    let Some(emoji) = shown_emoji(&r.emoji) else {
        tracing::debug!("a staff reaction with an emoji the web cannot show was ignored");
        return Ok(());
    };
    let discord_id = i64::try_from(r.message_id.get())?;
    let mut rows = data.log.carried_by(discord_id, false).await?;
    if rows.is_empty() {
        rows = data.log.carried_by(discord_id, true).await?;
    }
    // The last web message the Discord message carries, unless it was taken down.
    let Some(row) = rows.into_iter().max_by(|a, b| a.id.cmp(&b.id)).filter(|row| row.deleted_at.is_none()) else {
        return Ok(());
    };
    let room = RoomSlug::parse(&row.room)?;
    let id: Ulid = row.id.parse()?;
    let kind = if added { bus::ReactionKind::StaffAdd } else { bus::ReactionKind::StaffRemove };
    let change = bus::ReactionChange { reactor: format!("discord:{user}"), emoji, kind };
    match data.bus.react(&room, id, &change).await? {
        bus::ReactionOutcome::Changed { counts, .. } => {
            metrics::counter!("chat_staff_reactions_total").increment(1);
            let frame = ServerFrame::Reactions { id, reactions: counts, mine: None };
            data.bus.publish(&room, frame.to_json().into()).await?;
        }
        bus::ReactionOutcome::Full => tracing::info!(%room, %id, "a staff reaction was not shown: the message is full"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_shown_plainly_or_refused() {
        assert_eq!(shown_emoji(&serenity::ReactionType::Unicode("👍".into())).as_deref(), Some("👍"));
        let custom = serenity::ReactionType::Custom {
            animated: false,
            id: serenity::EmojiId::new(5),
            name: Some("party".into()),
        };
        assert_eq!(shown_emoji(&custom).as_deref(), Some(":party:"));
        assert_eq!(shown_emoji(&serenity::ReactionType::Unicode("a b".into())), None);
        assert_eq!(shown_emoji(&serenity::ReactionType::Unicode("x".repeat(65))), None);
    }
}
