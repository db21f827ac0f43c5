//! What flows back from Discord into web rooms (and appeals' threads, see [`super::appeals`]),
//! and the channel keeper.

use std::sync::atomic::Ordering;

use chrono::Utc;
use poise::serenity_prelude as serenity;
use protocol::{MessageView, RoomKind, RoomSlug, ServerFrame};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
};
use ulid::Ulid;

use super::{CHANNEL_ROUND, Data, DiscordConfig, Error, Mirror, access, check_permissions, rest::Rest};
use crate::entities::rooms;

/// Staff messages carry no IP; the log marks them so.
pub const STAFF_IP: &str = "discord";

pub async fn handle(ctx: &serenity::Context, event: &serenity::FullEvent, data: &Data) -> Result<(), Error> {
    match event {
        serenity::FullEvent::GuildCreate { guild, .. } if guild.id == data.guild => {
            check_permissions(guild, ctx.cache.current_user().id);
        }
        serenity::FullEvent::Message { new_message } => staff_message(ctx, data, new_message).await?,
        serenity::FullEvent::InteractionCreate { interaction: serenity::Interaction::Component(press) }
            if press.data.custom_id.starts_with(super::reports::render::PREFIX) =>
        {
            super::reports::buttons::press(ctx, data, press).await?;
        }
        serenity::FullEvent::InteractionCreate { interaction } => {
            super::appeals::interaction(ctx, data, interaction).await?;
        }
        serenity::FullEvent::MessageUpdate { event, .. } => {
            if let Some(content) = &event.content {
                staff_edit(data, event.id, content, event.mentions.as_deref().unwrap_or_default()).await?;
            }
        }
        serenity::FullEvent::MessageDelete { deleted_message_id, .. } => {
            deleted(data, &[*deleted_message_id]).await?;
        }
        serenity::FullEvent::MessageDeleteBulk { multiple_deleted_messages_ids, .. } => {
            deleted(data, multiple_deleted_messages_ids).await?;
        }
        serenity::FullEvent::ReactionAdd { add_reaction } => {
            super::reactions::reaction(ctx, data, add_reaction, true).await?;
        }
        serenity::FullEvent::ReactionRemove { removed_reaction } => {
            super::reactions::reaction(ctx, data, removed_reaction, false).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The room a staff room's channel, or a visitor room's or pair's thread, mirrors. A parent
/// channel that visitor rooms fell back to (their `discord_channel_id`) belongs to no one room.
async fn room_for_channel(
    db: &DatabaseConnection,
    channel: serenity::ChannelId,
) -> Result<Option<rooms::Model>, Error> {
    let id = i64::try_from(channel.get())?;
    Ok(rooms::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(rooms::Column::DiscordChannelId.eq(id))
                        .add(rooms::Column::Kind.eq(RoomKind::Staff.as_str())),
                )
                .add(rooms::Column::DiscordThreadId.eq(id)),
        )
        .one(db)
        .await?)
}

/// Discord markup turned into plain text for web users: mentions become names, custom emoji
/// their `:name:`, attachments links; then cleaned as visitors' texts are
/// ([`protocol::input::clean_text`]).
pub(super) fn plain_text(content: &str, mentions: &[serenity::User], attachments: &[serenity::Attachment]) -> String {
    let mut text = content.to_owned();
    for user in mentions {
        let name = user.global_name.clone().unwrap_or_else(|| user.name.clone());
        for form in [format!("<@{}>", user.id), format!("<@!{}>", user.id)] {
            text = text.replace(&form, &format!("@{name}"));
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match tail.find('>') {
            Some(end) => {
                let inner = &tail[1..end];
                let replaced = if let Some(role) = inner.strip_prefix("@&") {
                    role.chars().all(|c| c.is_ascii_digit()).then(|| "@role".to_owned())
                } else if let Some(ch) = inner.strip_prefix('#') {
                    ch.chars().all(|c| c.is_ascii_digit()).then(|| "#channel".to_owned())
                } else {
                    let parts: Vec<&str> = inner.split(':').collect();
                    (parts.len() == 3 && matches!(parts[0], "" | "a")).then(|| format!(":{}:", parts[1]))
                };
                match replaced {
                    Some(r) => out.push_str(&r),
                    None => out.push_str(&tail[..=end]),
                }
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    for a in attachments {
        out.push('\n');
        out.push_str(&a.url);
    }
    protocol::input::clean_text(&out).chars().take(protocol::input::MESSAGE_MAX).collect()
}

/// The reaction a message from someone who may not speak as staff gets.
pub const REFUSED_EMOJI: &str = "⛔";

async fn staff_message(ctx: &serenity::Context, data: &Data, msg: &serenity::Message) -> Result<(), Error> {
    if msg.author.bot || msg.webhook_id.is_some() {
        return Ok(());
    }
    // A reply in an appeal's thread goes to the visitor's page, not to a room.
    if super::appeals::thread_message(ctx, data, msg).await? {
        return Ok(());
    }
    let Some(room) = room_for_channel(&data.db, msg.channel_id).await? else { return Ok(()) };
    // Only moderators speak as staff (guild-level permissions, never the channel's): anyone
    // else's message stays in Discord, marked once with a reaction (a plain message has no
    // ephemeral answer).
    let roles = msg.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
    if !access::reaches(&ctx.cache, data, msg.author.id, &roles, access::Level::Moderator) {
        tracing::info!(
            room = %room.slug,
            user = %msg.author.id,
            "a message from a member who is no moderator was not relayed to the web room"
        );
        metrics::counter!("chat_discord_refused_staff_messages_total").increment(1);
        if let Err(e) = data.rest.add_own_reaction(msg.channel_id.get(), msg.id.get(), REFUSED_EMOJI).await {
            tracing::warn!(error = %e, "cannot mark the refused message with a reaction");
        }
        return Ok(());
    }
    if room.expires_at.is_some() {
        tracing::info!(room = %room.slug, "a staff message in the thread of an ended room reaches nobody");
        return Ok(());
    }
    let text = plain_text(&msg.content, &msg.mentions, &msg.attachments);
    if text.is_empty() {
        if !data.content_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "a staff message arrived without content: enable MESSAGE CONTENT INTENT for the bot in the Discord Developer Portal"
            );
        }
        return Ok(());
    }
    let nick = msg
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| msg.author.global_name.clone())
        .unwrap_or_else(|| msg.author.name.clone());
    let nick: String = nick.chars().filter(|c| !c.is_control()).take(32).collect();
    let reply_to = super::staff_replies::answered(data, msg).await;
    let view = MessageView {
        id: Ulid::new(),
        room: room.slug.clone(),
        nick,
        text,
        at: Utc::now(),
        staff: true,
        reply_to,
        ..MessageView::default()
    };
    let entry = crate::message_log::Entry {
        message: &view,
        ip: STAFF_IP.to_owned(),
        ip_tag: None,
        device_tag: None,
        discord_message_id: Some(i64::try_from(msg.id.get())?),
    };
    data.log.insert(&[entry], crate::message_log::Delivery::First).await?;
    let slug = RoomSlug::parse(&room.slug)?;
    data.bus.record_history(&view).await?;
    data.bus.publish(&slug, ServerFrame::Message(view).to_json().into()).await?;
    Ok(())
}

async fn staff_edit(
    data: &Data,
    id: serenity::MessageId,
    content: &str,
    mentions: &[serenity::User],
) -> Result<(), Error> {
    let discord_id = i64::try_from(id.get())?;
    let Some(row) = data.log.carried_by(discord_id, true).await?.into_iter().next() else {
        return Ok(());
    };
    let text = plain_text(content, mentions, &[]);
    if text.is_empty() || text == row.text {
        return Ok(());
    }
    let (room, web_id) = (row.room.clone(), row.id.clone());
    data.log.edit_staff(row, &text).await?;
    let slug = RoomSlug::parse(&room)?;
    let id: Ulid = web_id.parse()?;
    let at = Utc::now();
    data.bus.edit_history(&slug, id, &text, at).await?;
    data.bus.publish(&slug, ServerFrame::Edited { id, text, at: Some(at) }.to_json().into()).await?;
    Ok(())
}

/// A mirrored Discord message was deleted: every web message it carried disappears. Returns
/// how many web messages were removed (none when they already were).
pub(crate) async fn deleted(data: &Data, ids: &[serenity::MessageId]) -> Result<usize, Error> {
    let discord_ids: Vec<i64> = ids.iter().filter_map(|id| i64::try_from(id.get()).ok()).collect();
    let rows = data.log.delete_carried_by(discord_ids).await?;
    let removed = rows.len();
    for row in rows {
        let slug = RoomSlug::parse(&row.room)?;
        let id: Ulid = row.id.parse()?;
        data.bus.amend_history(&slug, id, None).await?;
        data.bus.publish(&slug, ServerFrame::Deleted { id }.to_json().into()).await?;
    }
    Ok(removed)
}

/// Give every staff room a channel (under the configured category), now and whenever rooms
/// are added; the mirror then picks the channel up.
///
/// At start, and then once every [`PRIVACY_RECHECK_ROUNDS`] rounds while some channel is still
/// readable by @everyone, every channel the bot mirrors into is checked (see
/// [`super::privacy::check_and_fix`]).
pub async fn keep_channels(db: DatabaseConnection, rest: Rest, config: DiscordConfig, mirror: Mirror) {
    let mut round: u64 = 0;
    let mut all_private = false;
    loop {
        if let Err(e) = create_missing_channels(&db, &rest, &config, &mirror).await {
            tracing::warn!(error = %e, "cannot create channels for rooms; retrying shortly");
        }
        if !all_private && round.is_multiple_of(PRIVACY_RECHECK_ROUNDS) {
            match check_privacy(&db, &rest, &config).await {
                Ok(public) => {
                    all_private = public.is_empty();
                    let mut status = super::privacy::STATUS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    *status = public;
                }
                Err(e) => tracing::warn!(error = %e, "cannot check that the room channels are private; retrying"),
            }
        }
        round = round.wrapping_add(1);
        tokio::time::sleep(CHANNEL_ROUND).await;
    }
}

/// While a channel stays public, it is checked again every this many rounds (a minute).
const PRIVACY_RECHECK_ROUNDS: u64 = 12;

/// Check every channel the bot mirrors into (room channels, thread parents, fallbacks) and the
/// mod-log channel; the problems left (channels @everyone can still view).
async fn check_privacy(db: &DatabaseConnection, rest: &Rest, config: &DiscordConfig) -> Result<Vec<String>, Error> {
    let mut channels: Vec<u64> = rooms::Entity::find()
        .filter(rooms::Column::DiscordChannelId.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| r.discord_channel_id.and_then(|c| u64::try_from(c).ok()))
        .collect();
    channels.extend(config.visitor_parent);
    channels.extend(config.roulette_parent);
    // The mod-log channel shows tags, ban numbers and reasons: staff only too.
    channels.extend(config.modlog);
    channels.extend(super::threads::created_parents(db).await?);
    // Reports show tags, reasons and the messages around them: staff only too.
    channels.extend(config.reports);
    channels.extend(super::reports::channel::remembered(db).await?);
    // Appeals show the evidence (tags, messages) and the visitors' texts: staff only too.
    channels.extend(super::appeals::known_channel(db, config).await?);
    channels.sort_unstable();
    channels.dedup();
    let mut public = Vec::new();
    for channel in channels {
        match super::privacy::check_and_fix(rest, config, channel).await {
            Ok(super::privacy::Checked::Public(why)) => public.push(why),
            Ok(_) => {}
            // A channel deleted meanwhile is no leak; the keeper recreates what rooms need.
            Err(super::rest::RestError::Status { status: 404, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(public)
}

async fn create_missing_channels(
    db: &DatabaseConnection,
    rest: &Rest,
    config: &DiscordConfig,
    mirror: &Mirror,
) -> Result<(), Error> {
    let missing = rooms::Entity::find()
        .filter(rooms::Column::Kind.eq(RoomKind::Staff.as_str()))
        .filter(rooms::Column::DiscordChannelId.is_null())
        .all(db)
        .await?;
    for room in missing {
        let channel = super::privacy::create_channel(rest, config, &room.slug, &room.topic).await?;
        tracing::info!(room = %room.slug, channel, "created the room's Discord channel");
        let mut active: rooms::ActiveModel = room.into();
        active.discord_channel_id = Set(Some(i64::try_from(channel)?));
        active.update(db).await?;
        mirror.channels_changed();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discord_markup_becomes_plain_text() {
        let text = plain_text("hi <@&42> see <#77> <:wave:123> <a:dance:9> <not markup> 1 < 2", &[], &[]);
        assert_eq!(text, "hi @role see #channel :wave: :dance: <not markup> 1 < 2");
        assert_eq!(plain_text("nul\u{0} bell\u{7}\nnext\tcol", &[], &[]), "nul bell\nnext\tcol");
    }
}
