//! Room commands: `/room create`, `/room edit`, `/room delete` and `/room list` (`/room links` is
//! in `trust`), and the room name autocomplete the other commands share.

use poise::serenity_prelude as serenity;
use protocol::RoomSlug;

use super::trust::room_links;
use super::{actor, open_case, reply};
use crate::discord::{Context, Error, access, embeds};
use crate::rooms;

/// Manage chat rooms.
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("room_create", "room_edit", "room_delete", "room_list", "room_links")
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
    let new = rooms::NewRoom { slug, capacity, title, topic, listed: true };
    let room = rooms::create(&ctx.data().db, new, &actor(ctx)).await?;
    let case = open_case(ctx, "room_create", &room.slug, "", &format!("capacity {}", room.capacity)).await?;
    reply(
        ctx,
        format!(
            "Created room {} ({}, capacity {}), case #{}. Its channel appears within seconds.",
            room.slug, room.title, room.capacity, case.id
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
    let patch = rooms::RoomPatch { capacity, title, topic, listed, locked, slowmode_secs: slowmode, links: None };
    let data = ctx.data();
    let Some(room) = rooms::change(&data.db, Some(data.bus.as_ref()), &slug, patch, &actor(ctx)).await? else {
        return reply(ctx, format!("{slug} has already ended; there is nothing to change.")).await;
    };
    let details = rooms::describe(&room);
    let case = open_case(ctx, "room_edit", &room.slug, "", &details).await?;
    reply(ctx, format!("Updated {}: {details} (case #{}). Gateways apply it within seconds.", room.slug, case.id)).await
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
    if !rooms::delete(&data.db, Some(data.bus.as_ref()), &slug, &actor(ctx)).await? {
        return reply(ctx, format!("{slug} has already ended.")).await;
    }
    let case = open_case(ctx, "room_delete", slug.as_str(), "", "").await?;
    reply(ctx, format!("Deleted room {slug} (case #{}).", case.id)).await
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
    // Discord shows at most 25 choices.
    let names = match rooms::names_matching(&ctx.data().db, partial, 25).await {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list rooms for autocomplete");
            Vec::new()
        }
    };
    let choices = names.into_iter().map(|n| serenity::AutocompleteChoice::new(n.clone(), n)).collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
