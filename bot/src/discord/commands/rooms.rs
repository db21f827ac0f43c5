//! Room commands: `/room create`, `/room edit`, `/room delete` and `/room list`, and the room
//! name autocomplete the other commands share.

use poise::serenity_prelude as serenity;
use protocol::{ControlEvent, RoomSlug};
use sea_orm::EntityTrait;

use super::{record, reply};
use crate::discord::{Context, Error, access, embeds};
use crate::rooms;

/// Manage chat rooms.
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("room_create", "room_edit", "room_delete", "room_list")
)]
pub async fn room(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Create a room (its Discord channel follows within seconds).
#[poise::command(slash_command, rename = "create", ephemeral)]
async fn room_create(
    ctx: Context<'_>,
    #[description = "Name in URLs: 2-32 of a-z, 0-9, -"] slug: String,
    #[description = "Most people at once"] capacity: u32,
    #[description = "Title shown to visitors"] title: Option<String>,
    #[description = "One-line topic"] topic: Option<String>,
) -> Result<(), Error> {
    let slug = RoomSlug::parse(&slug)?;
    let room = rooms::add(&ctx.data().db, rooms::NewRoom { slug, capacity, title, topic, listed: true }).await?;
    record(ctx, "room_create", &room.slug, &format!("capacity {}", room.capacity)).await?;
    reply(
        ctx,
        format!(
            "Created room {} ({}, capacity {}). Its channel appears within seconds.",
            room.slug, room.title, room.capacity
        ),
    )
    .await
}

/// Change a room: capacity, title, topic, lock, slowmode, listing.
#[poise::command(slash_command, rename = "edit", ephemeral)]
#[allow(clippy::too_many_arguments)]
async fn room_edit(
    ctx: Context<'_>,
    #[description = "Room name"]
    #[autocomplete = "room_names"]
    slug: String,
    #[description = "Most people at once"] capacity: Option<u32>,
    #[description = "Title"] title: Option<String>,
    #[description = "Topic"] topic: Option<String>,
    #[description = "Refuse joins and messages"] locked: Option<bool>,
    #[description = "Seconds between two messages of one person (0 = off)"] slowmode: Option<u32>,
    #[description = "Show in the public room list"] listed: Option<bool>,
) -> Result<(), Error> {
    let slug = RoomSlug::parse(&slug)?;
    let patch = rooms::RoomPatch { capacity, title, topic, listed, locked, slowmode_secs: slowmode };
    let data = ctx.data();
    let live = live_visitor_room(ctx, &slug).await?;
    if matches!(live, Live::Ended) {
        return reply(ctx, format!("{slug} has already ended; there is nothing to change.")).await;
    }
    let room = rooms::edit(&data.db, &slug, patch).await?;
    if let Live::OnBus(mut def) = live {
        // Visitor rooms and pairs live on the bus, not in the bot's room sync: change them there.
        def.capacity = u32::try_from(room.capacity).unwrap_or(def.capacity);
        def.title.clone_from(&room.title);
        def.topic.clone_from(&room.topic);
        def.listed = room.listed;
        def.locked = room.locked;
        def.slowmode_secs = u32::try_from(room.slowmode_secs).unwrap_or(0);
        data.bus.put_room(&def).await?;
        data.bus.publish_control(&ControlEvent::RoomUpserted { room: def }).await?;
    }
    let details = format!(
        "capacity {}, locked {}, slowmode {} s, listed {}",
        room.capacity, room.locked, room.slowmode_secs, room.listed
    );
    record(ctx, "room_edit", &room.slug, &details).await?;
    reply(ctx, format!("Updated {}: {details}. Gateways apply it within seconds.", room.slug)).await
}

/// Delete a room; people in it are sent back to the room list.
#[poise::command(slash_command, rename = "delete", ephemeral)]
async fn room_delete(
    ctx: Context<'_>,
    #[description = "Room name"]
    #[autocomplete = "room_names"]
    slug: String,
) -> Result<(), Error> {
    let slug = RoomSlug::parse(&slug)?;
    let data = ctx.data();
    match live_visitor_room(ctx, &slug).await? {
        Live::Staff => rooms::remove(&data.db, &slug).await?,
        Live::Ended => return reply(ctx, format!("{slug} has already ended.")).await,
        Live::OnBus(_) => {
            // As a gateway ends one: off the bus (members are sent away on every gateway), then
            // the bot's own queue records it closed and archives its thread after its messages.
            if data.bus.remove_room(&slug).await? {
                data.bus.publish_control(&ControlEvent::RoomRemoved { slug: slug.clone() }).await?;
                data.bus.enqueue(&protocol::InboundEvent::RoomClosed { slug: slug.clone() }).await?;
            }
        }
    }
    record(ctx, "room_delete", slug.as_str(), "").await?;
    reply(ctx, format!("Deleted room {slug}.")).await
}

/// What `/room edit` and `/room delete` act on.
enum Live {
    /// A staff room: its row, which the bot's room sync publishes.
    Staff,
    /// A visitor room or roulette pair that is still open: its definition on the bus.
    OnBus(protocol::RoomDef),
    /// A visitor room or pair that has ended.
    Ended,
}

async fn live_visitor_room(ctx: Context<'_>, slug: &RoomSlug) -> Result<Live, Error> {
    let data = ctx.data();
    let Some(row) = crate::entities::rooms::Entity::find_by_id(slug.as_str()).one(&data.db).await? else {
        return Err(crate::BotError::NoSuchRoom(slug.to_string()).into());
    };
    if row.kind == protocol::RoomKind::Staff.as_str() {
        return Ok(Live::Staff);
    }
    let on_bus = data.bus.rooms().await?.into_iter().find(|r| r.slug == *slug);
    Ok(match on_bus {
        Some(def) if row.expires_at.is_none() => Live::OnBus(def),
        _ => Live::Ended,
    })
}

/// List the rooms, how full they are, and where each is mirrored.
#[poise::command(slash_command, rename = "list", ephemeral)]
async fn room_list(ctx: Context<'_>) -> Result<(), Error> {
    let data = ctx.data();
    let rooms = rooms::list_live(&data.db).await?;
    let slugs: Vec<RoomSlug> = rooms.iter().filter_map(|r| RoomSlug::parse(&r.slug).ok()).collect();
    let counts = data.bus.occupancy(&slugs).await.unwrap_or_default();
    let mut lines = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        let members = counts.get(i).copied().unwrap_or(0);
        let place = match (room.discord_thread_id, room.discord_channel_id) {
            (Some(thread), _) => format!("<#{thread}>"),
            (None, Some(channel)) => format!("<#{channel}>"),
            (None, None) => "not mirrored".to_owned(),
        };
        let flags = [(room.locked, " 🔒"), (room.slowmode_secs > 0, " 🐢"), (!room.listed, " (unlisted)")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<String>();
        let title = embeds::inline(&room.title);
        lines.push(format!("`{}` {title} — {members}/{} — {place}{flags}", room.slug, room.capacity));
    }
    let text = if lines.is_empty() { "There are no rooms.".to_owned() } else { lines.join("\n") };
    reply(ctx, text).await
}

/// Room names starting with (or containing) what the moderator typed.
pub(super) async fn room_names(ctx: Context<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    // Checks do not run for autocomplete: names are for moderators only.
    if !access::author_reaches(ctx, access::Level::Moderator).await {
        return serenity::CreateAutocompleteResponse::new();
    }
    let partial = partial.to_lowercase();
    let mut names: Vec<String> = match rooms::list_live(&ctx.data().db).await {
        Ok(rooms) => rooms.into_iter().map(|r| r.slug).filter(|s| s.contains(&partial)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list rooms for autocomplete");
            Vec::new()
        }
    };
    names.sort_by_key(|s| (!s.starts_with(&partial), s.clone()));
    names.truncate(25);
    let choices = names.into_iter().map(|n| serenity::AutocompleteChoice::new(n.clone(), n)).collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
