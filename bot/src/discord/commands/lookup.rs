//! Looking people up and taking messages back: `/lookup`, `/purge` and the "Author's recent
//! messages" and "Delete everywhere" message menus.

use poise::serenity_prelude as serenity;
use protocol::RoomSlug;

use super::authors::{authors_of, pick_author};
use super::{record, reply};
use crate::bans::Target;
use crate::discord::{Context, Error, embeds, events};
use crate::entities::message_log;
use crate::rooms;

/// Delete this message here and every web message it carries, for every web user.
#[poise::command(
    context_menu_command = "Delete everywhere",
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES"
)]
pub async fn delete_everywhere(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    let removed = events::deleted(ctx.data(), &[message.id]).await?;
    if let Err(e) = message.delete(ctx).await {
        tracing::warn!(error = %e, "cannot delete the Discord message");
    }
    let target = format!("Discord message {}", message.id);
    record(ctx, "delete", &target, "", &format!("{removed} web messages removed")).await?;
    reply(ctx, format!("Deleted: {removed} web messages removed for everyone.")).await
}

fn tag_of(raw: &str) -> Result<String, Error> {
    match Target::parse(raw)? {
        Target::Tag(tag) => Ok(tag),
        _ => Err("give an IP tag as shown in embed footers (12 characters, or 8 for older ones)".into()),
    }
}

/// Recent messages and rooms of an IP tag.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn lookup(
    ctx: Context<'_>,
    #[description = "An IP tag from an embed footer"] tag: String,
) -> Result<(), Error> {
    let tag = tag_of(&tag)?;
    show_tag(ctx, &tag).await
}

/// Recent messages of this message's web author (asks which when it carries several).
#[poise::command(
    context_menu_command = "Author's recent messages",
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES"
)]
pub async fn author_messages(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    let authors = authors_of(ctx, message.id).await?;
    if authors.is_empty() {
        return reply(ctx, "That message is not a mirrored web message.").await;
    }
    let Some((_, tag, _)) = pick_author(ctx, authors).await? else {
        return reply(ctx, "No author chosen.").await;
    };
    show_tag(ctx, &tag).await
}

async fn show_tag(ctx: Context<'_>, tag: &str) -> Result<(), Error> {
    const SHOWN: usize = 15;
    let mut rows =
        crate::message_log::by_tag(&ctx.data().db, tag, SHOWN as u64, None, crate::message_log::Walk::All).await?;
    rows.truncate(SHOWN);
    if rows.is_empty() {
        return reply(ctx, format!("No messages from tag {tag}.")).await;
    }
    let mut rooms: Vec<&str> = rows.iter().map(|r| r.room.as_str()).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let mut lines = vec![format!("Tag {tag}: rooms {}; latest messages:", rooms.join(", "))];
    for r in rows.iter().rev() {
        let text: String = r.text.chars().take(120).collect();
        let gone = match (r.deleted_at, r.deleted_by.as_deref()) {
            (Some(_), Some(crate::message_log::BY_AUTHOR)) => " (deleted by its author)",
            (Some(_), _) => " (deleted)",
            _ => "",
        };
        // An edited message shows what it first said (every text is in `message_edits`).
        let mut was = String::new();
        if r.edited_at.is_some() && !r.staff {
            let first = ctx.data().log.changes_of(&r.id).await?.into_iter().find_map(|c| c.text_before);
            if let Some(first) = first {
                let first: String = first.chars().take(60).collect();
                was = format!(" (edited; was: {})", embeds::inline(&first));
            }
        }
        lines.push(format!(
            "<t:{}:t> #{} **{}**: {}{was}{gone}",
            r.sent_at.timestamp(),
            r.room,
            embeds::inline(&r.nickname),
            embeds::inline(&text)
        ));
    }
    reply(ctx, lines.join("\n")).await
}

/// The most messages of one sender a purge takes back at once (each is a row update, a history
/// amendment and a web frame); the reply says when a sender reached it, and a moderator runs
/// the command again for more.
const MAX_PURGED: u64 = 10_000;

/// Delete an IP tag's recent messages everywhere (web rooms and Discord).
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn purge(
    ctx: Context<'_>,
    #[description = "An IP tag from an embed footer"] tag: String,
    #[description = "How far back, in minutes (default 60)"] minutes: Option<u32>,
) -> Result<(), Error> {
    // Thousands of messages take longer than the 3 s Discord gives an answer.
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let tag = tag_of(&tag)?;
    let minutes = minutes.unwrap_or(60).clamp(1, 7 * 24 * 60);
    let since = chrono::Utc::now() - chrono::Duration::minutes(i64::from(minutes));
    // One more than the cap per sender: whether older messages remain.
    let walked =
        crate::message_log::by_tag(&data.db, &tag, MAX_PURGED + 1, Some(since), crate::message_log::Walk::Undeleted)
            .await?;
    let (rows, capped) = within_cap(walked);
    take_back_on_the_web(ctx, &rows).await?;
    let removed_in_discord = delete_carriers(ctx, &rows).await?;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut details = format!(
        "{} web message{} of the last {minutes} min removed; {removed_in_discord} Discord message{} deleted",
        rows.len(),
        plural(rows.len()),
        plural(removed_in_discord)
    );
    if capped {
        details
            .push_str(&format!(" (stopped at {MAX_PURGED} messages per address; older ones remain: run /purge again)"));
    }
    record(ctx, "purge", &format!("tag {tag}"), "", &details).await?;
    reply(ctx, format!("Purged tag {tag}: {details}.")).await
}

/// Mark the rows deleted, then take them out of the rooms' history and off web clients' screens.
async fn take_back_on_the_web(ctx: Context<'_>, rows: &[message_log::Model]) -> Result<(), Error> {
    let data = ctx.data();
    // All or nothing: a row marked deleted but never announced would be passed over by the
    // next purge and stay on web clients' screens.
    data.log.delete(rows.iter().map(|r| r.id.clone())).await?;
    for row in rows {
        let slug = RoomSlug::parse(&row.room)?;
        let id: ulid::Ulid = row.id.parse()?;
        data.bus.amend_history(&slug, id, None).await?;
        data.bus.publish(&slug, protocol::ServerFrame::Deleted { id }.to_json().into()).await?;
    }
    Ok(())
}

/// Delete the Discord messages that carried only purged messages; returns how many went.
async fn delete_carriers(ctx: Context<'_>, rows: &[message_log::Model]) -> Result<usize, Error> {
    let data = ctx.data();
    let mut carriers: Vec<(i64, String)> =
        rows.iter().filter_map(|r| r.discord_message_id.map(|d| (d, r.room.clone()))).collect();
    carriers.sort();
    carriers.dedup();
    if carriers.is_empty() {
        return Ok(0);
    }
    let channels: std::collections::HashMap<String, i64> = rooms::list(&data.db)
        .await?
        .into_iter()
        .filter_map(|r| r.discord_thread_id.or(r.discord_channel_id).map(|c| (r.slug, c)))
        .collect();
    let mut removed: usize = 0;
    for (discord_id, room) in carriers {
        let still_shown = data.log.still_shown(discord_id).await?;
        let Some(&channel) = channels.get(&room).filter(|_| !still_shown) else {
            continue;
        };
        let deleted = ctx
            .http()
            .delete_message(
                serenity::ChannelId::new(u64::try_from(channel)?),
                serenity::MessageId::new(u64::try_from(discord_id)?),
                Some("purged by a moderator"),
            )
            .await;
        match deleted {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(error = %e, "cannot delete a purged message in Discord"),
        }
    }
    Ok(removed)
}

/// The newest [`MAX_PURGED`] of each sender's messages from a walk that took one more (newest
/// first), and whether some sender had more than that.
fn within_cap(walked: Vec<message_log::Model>) -> (Vec<message_log::Model>, bool) {
    let mut per_sender: std::collections::HashMap<(String, Option<String>), u64> = std::collections::HashMap::new();
    let mut capped = false;
    let mut rows = Vec::with_capacity(walked.len());
    for row in walked {
        let n = per_sender.entry((row.ip.clone(), row.ip_tag.clone())).or_default();
        *n += 1;
        if *n > MAX_PURGED {
            capped = true;
        } else {
            rows.push(row);
        }
    }
    (rows, capped)
}
