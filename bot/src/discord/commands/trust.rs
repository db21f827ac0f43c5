//! The trust tier's commands (issue 27): `/trust` and `/untrust` a tag, `/links allow|remove|list`
//! for link domains, and `/room links` for a room's setting. The calls are `crate::trust`'s and
//! `crate::rooms`'s, shared with the operator CLI.

use protocol::{LinksPolicy, RoomSlug};

use super::rooms::room_names;
use super::{actor, open_case, reply};
use crate::discord::{Context, Error};
use crate::rooms;

/// What a room does with new visitors' links, as staff choose it.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum LinksChoice {
    #[name = "refuse"]
    Refuse,
    #[name = "inert"]
    Inert,
    #[name = "allow"]
    Allow,
}

impl From<LinksChoice> for LinksPolicy {
    fn from(choice: LinksChoice) -> Self {
        match choice {
            LinksChoice::Refuse => Self::Refuse,
            LinksChoice::Inert => Self::Inert,
            LinksChoice::Allow => Self::Allow,
        }
    }
}

/// What new visitors' links do in a room: refuse them, show them as plain text, or allow them.
///
/// Visitors are new for their first minutes or messages (NEW_VISITOR_MINUTES,
/// NEW_VISITOR_MESSAGES). `refuse` (the default) tells them links are not allowed yet; `inert`
/// delivers the message with its links as plain text; `allow` treats them as anyone. Domains
/// allowed with `/links allow` always pass.
#[poise::command(slash_command, rename = "links", ephemeral)]
pub(super) async fn room_links(
    ctx: Context<'_>,
    #[description = "Room name"]
    #[autocomplete = "room_names"]
    slug: String,
    #[description = "refuse (default), inert (plain text) or allow"] links: LinksChoice,
) -> Result<(), Error> {
    let slug = RoomSlug::parse(&slug)?;
    let patch = rooms::RoomPatch { links: Some(links.into()), ..rooms::RoomPatch::default() };
    let data = ctx.data();
    let Some(room) = rooms::change(&data.db, Some(data.bus.as_ref()), &slug, patch, &actor(ctx)).await? else {
        return reply(ctx, format!("{slug} has already ended; there is nothing to change.")).await;
    };
    let policy = rooms::links_of(&room);
    let case = open_case(ctx, "room_edit", &room.slug, "", &format!("links {policy}")).await?;
    reply(ctx, format!("{}: new visitors' links are now `{policy}` (case #{}).", room.slug, case.id)).await
}

/// Let a visitor skip the trust tier (links, pastes, repeats) on every gateway.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn trust(
    ctx: Context<'_>,
    #[description = "An IP tag from an embed footer, or a device tag"] tag: String,
) -> Result<(), Error> {
    let data = ctx.data();
    let row = crate::trust::trust(&data.db, Some(data.bus.as_ref()), &tag, &actor(ctx)).await?;
    let details = crate::trust::describe(&row);
    open_case(ctx, "trust", &format!("tag {}", row.tag), "", &details).await?;
    reply(ctx, format!("Trusted tag {}: {details}. New-visitor limits no longer apply to it.", row.tag)).await
}

/// Put a trusted tag back under the trust tier's rules.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn untrust(ctx: Context<'_>, #[description = "A tag trusted with /trust"] tag: String) -> Result<(), Error> {
    let data = ctx.data();
    if !crate::trust::untrust(&data.db, Some(data.bus.as_ref()), &tag, &actor(ctx)).await? {
        return reply(ctx, format!("Tag {} was not trusted.", tag.trim())).await;
    }
    open_case(ctx, "untrust", &format!("tag {}", tag.trim().to_ascii_lowercase()), "", "").await?;
    reply(ctx, format!("Tag {} is no longer trusted.", tag.trim())).await
}

/// Link domains new visitors may always post.
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("links_allow", "links_remove", "links_list")
)]
pub async fn links(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Always allow links to a domain (and its subdomains), even from new visitors.
#[poise::command(slash_command, rename = "allow", ephemeral)]
async fn links_allow(
    ctx: Context<'_>,
    #[description = "A domain, e.g. example.org"] domain: String,
) -> Result<(), Error> {
    let data = ctx.data();
    let domain = crate::trust::allow_domain(&data.db, Some(data.bus.as_ref()), &domain, &actor(ctx)).await?;
    open_case(ctx, "links_allow", &domain, "", "").await?;
    reply(ctx, format!("Links to {domain} (and its subdomains) are allowed from everyone.")).await
}

/// Stop always allowing a domain.
#[poise::command(slash_command, rename = "remove", ephemeral)]
async fn links_remove(ctx: Context<'_>, #[description = "An allowed domain"] domain: String) -> Result<(), Error> {
    let data = ctx.data();
    if !crate::trust::remove_domain(&data.db, Some(data.bus.as_ref()), &domain, &actor(ctx)).await? {
        return reply(ctx, format!("{} was not an allowed domain.", domain.trim())).await;
    }
    open_case(ctx, "links_remove", domain.trim(), "", "").await?;
    reply(ctx, format!("{} is no longer always allowed.", domain.trim())).await
}

/// List the allowed link domains and the trusted tags.
#[poise::command(slash_command, rename = "list", ephemeral)]
async fn links_list(ctx: Context<'_>) -> Result<(), Error> {
    let (tags, domains) = crate::trust::list(&ctx.data().db).await?;
    let domains = if domains.is_empty() { "none".to_owned() } else { domains.join(", ") };
    let tags = if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>().join(", ")
    };
    reply(ctx, format!("Allowed link domains: {domains}\nTrusted tags: {tags}")).await
}
