//! Moderator commands: bans, kicks, deletions, rooms. Each is restricted twice: Discord hides it
//! from members without Manage Messages (`default_member_permissions`), and the bot re-checks
//! the member against [`access::TABLE`] with guild-level permissions before acting (never the
//! channel-scoped ones an interaction carries); the author picker re-checks whoever presses it.
//! Every action is written to the audit log and posted to the mod-log channel; every answer is
//! ephemeral and says exactly what happened. Staff never see a raw IP: authors are named by
//! their IP tag, address and network bans by their ban number.

use std::time::Duration;

use poise::serenity_prelude as serenity;
use protocol::{ControlEvent, RoomSlug};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::access::{self, Level};
use super::{Context, Error, events};
use crate::bans::{self, Scope, Target};
use crate::entities::message_log;
use crate::{audit, rooms};

/// Who acts, for the audit log.
fn actor(ctx: Context<'_>) -> String {
    format!("discord:{} ({})", ctx.author().id, ctx.author().name)
}

/// Whether the member running the command reaches [`Level::Admin`] (the admin role or
/// guild-level Manage Server), for the parts of moderator commands that need more.
async fn is_admin(ctx: Context<'_>) -> bool {
    access::level_of_author(ctx).await == Some(Level::Admin)
}

async fn reply(ctx: Context<'_>, text: impl Into<String>) -> Result<(), Error> {
    let text: String = text.into();
    ctx.send(
        poise::CreateReply::default()
            .content(text.chars().take(2000).collect::<String>())
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(())
}

/// Audit log plus mod-log channel.
async fn record(ctx: Context<'_>, action: &str, target: &str, details: &str) -> Result<(), Error> {
    let data = ctx.data();
    let who = actor(ctx);
    audit::record(&data.db, &who, action, target, details).await?;
    if let Some(channel) = data.modlog {
        let body = serde_json::json!({
            "embeds": [{
                "title": format!("{action}: {target}").chars().take(256).collect::<String>(),
                "description": details.chars().take(4000).collect::<String>(),
                "footer": {"text": who.chars().take(200).collect::<String>()},
                "timestamp": chrono::Utc::now().to_rfc3339(),
            }],
            "allowed_mentions": {"parse": []},
        });
        if let Err(e) = data.rest.create_message(channel, &body).await {
            tracing::warn!(error = %e, "cannot post to the mod-log channel");
        }
    }
    Ok(())
}

/// The web authors a mirrored Discord message carries: (nickname, tag, address).
async fn authors_of(ctx: Context<'_>, message: serenity::MessageId) -> Result<Vec<(String, String, String)>, Error> {
    let rows = message_log::Entity::find()
        .filter(message_log::Column::DiscordMessageId.eq(i64::try_from(message.get())?))
        .filter(message_log::Column::Staff.eq(false))
        .all(&ctx.data().db)
        .await?;
    let mut authors: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|r| {
            // The sender's own tag: the first word of `tag` or `tag · /64 nettag`.
            let tag = r.ip_tag.as_deref().and_then(|t| t.split(' ').next()).unwrap_or_default().to_owned();
            (r.nickname, tag, r.ip)
        })
        .collect();
    authors.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    authors.dedup_by(|a, b| a.1 == b.1);
    Ok(authors)
}

/// Ask which author (a select menu of nickname + tag) when a message carries several.
async fn pick_author(
    ctx: Context<'_>,
    authors: Vec<(String, String, String)>,
) -> Result<Option<(String, String, String)>, Error> {
    if authors.len() <= 1 {
        return Ok(authors.into_iter().next());
    }
    let id = format!("pick-{}", ctx.id());
    let options: Vec<serenity::CreateSelectMenuOption> = authors
        .iter()
        .take(25)
        .map(|(nick, tag, _)| serenity::CreateSelectMenuOption::new(format!("{nick} ({tag})"), tag.clone()))
        .collect();
    let menu = serenity::CreateSelectMenu::new(&id, serenity::CreateSelectMenuKind::String { options })
        .placeholder("Which author?");
    ctx.send(
        poise::CreateReply::default()
            .content("This Discord message carries several web authors. Which one?")
            .components(vec![serenity::CreateActionRow::SelectMenu(menu)])
            .ephemeral(true),
    )
    .await?;
    use poise::futures_util::StreamExt;
    let filter_id = id.clone();
    // One collector for the menu's whole life, so no press falls between two of them.
    let mut presses = serenity::ComponentInteractionCollector::new(ctx.serenity_context())
        .filter(move |i| i.data.custom_id == filter_id)
        .timeout(Duration::from_secs(120))
        .stream();
    let choice = loop {
        let Some(choice) = presses.next().await else {
            return Ok(None);
        };
        // Whoever presses is checked again: a menu is no pass for someone else.
        let roles = choice.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
        let cache = ctx.serenity_context().cache.as_ref();
        if access::reaches(cache, ctx.data(), choice.user.id, &roles, Level::Moderator) {
            break choice;
        }
        tracing::warn!(user = %choice.user.id, "a member who is no moderator pressed the author picker");
        let refusal = serenity::CreateInteractionResponseMessage::new()
            .content(format!("You may not use this: it needs {}.", Level::Moderator.describe()))
            .ephemeral(true);
        choice.create_response(ctx, serenity::CreateInteractionResponse::Message(refusal)).await?;
    };
    choice.create_response(ctx, serenity::CreateInteractionResponse::Acknowledge).await?;
    let picked = match &choice.data.kind {
        serenity::ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
        _ => None,
    };
    Ok(picked.and_then(|tag| authors.into_iter().find(|a| a.1 == tag)))
}

/// Ban one web author (by the address behind their tag) and report it.
async fn ban_author_of(
    ctx: Context<'_>,
    author: (String, String, String),
    duration: Option<Duration>,
    scope: Option<Scope>,
    reason: &str,
) -> Result<(), Error> {
    let (nick, tag, ip) = author;
    let ip: std::net::IpAddr = ip.parse().map_err(|_| "the author's address was already erased (retention)")?;
    let network = scope.unwrap_or(Scope::default_for(ip)).network(ip);
    apply_ban(ctx, &[network], Some(&tag), Some(&format!("{nick} (tag {tag})")), duration, reason).await
}

/// Record and announce a ban. `shown` names its target for the mod-log channel, the audit log
/// and the reply; `None` (an address or network given by an administrator) names it by ban
/// number only, so the address stays in `bans` and nowhere else.
async fn apply_ban(
    ctx: Context<'_>,
    networks: &[ipnet::IpNet],
    tag: Option<&str>,
    shown: Option<&str>,
    duration: Option<Duration>,
    reason: &str,
) -> Result<(), Error> {
    let data = ctx.data();
    let made = bans::add(&data.db, networks, tag, reason, &actor(ctx), duration).await?;
    bans::publish_active(&data.db, data.bus.as_ref()).await?;
    let until = duration.map_or_else(|| "until lifted".to_owned(), |d| format!("for {}", humanize(d)));
    let ids: Vec<String> = made.iter().map(|b| format!("#{}", b.id)).collect();
    let shown = match shown {
        Some(shown) => shown.to_owned(),
        None => format!("ban {} (address)", ids.join(", ")),
    };
    let shown = shown.as_str();
    let details =
        format!("{until}; reason: {}; ban {}", if reason.is_empty() { "none" } else { reason }, ids.join(", "));
    record(ctx, "ban", shown, &details).await?;
    reply(ctx, format!("Banned {shown} {until} (ban {}). Their open connections were closed.", ids.join(", "))).await
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// How much a ban covers.
#[derive(Debug, poise::ChoiceParameter)]
pub enum BanScope {
    #[name = "ip"]
    Ip,
    #[name = "subnet"]
    Subnet,
}

impl From<BanScope> for Scope {
    fn from(s: BanScope) -> Self {
        match s {
            BanScope::Ip => Scope::Ip,
            BanScope::Subnet => Scope::Subnet,
        }
    }
}

/// The message id in a message link or a bare id.
fn message_id(target: &str) -> Option<serenity::MessageId> {
    let last = target.trim().rsplit('/').next()?;
    let looks_like_link = target.contains("discord.com/channels/") || target.chars().all(|c| c.is_ascii_digit());
    if !looks_like_link || last.len() < 15 {
        return None;
    }
    last.parse::<u64>().ok().filter(|id| *id > 0).map(serenity::MessageId::new)
}

/// Ban a message's web author (link or id), an IP tag, or (admins) an IP or CIDR.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn ban(
    ctx: Context<'_>,
    #[description = "A mirrored message (link or id), an IP tag, or an IP/CIDR (administrators)"] target: String,
    #[description = "How long, e.g. 30m, 2h, 7d (default: until lifted)"] duration: Option<String>,
    #[description = "ip (the address) or subnet (its /24 or /64)"] scope: Option<BanScope>,
    #[description = "Shown to the banned person"] reason: Option<String>,
) -> Result<(), Error> {
    let duration = duration.as_deref().map(bans::parse_duration).transpose()?;
    let scope = scope.map(Scope::from);
    let reason = reason.unwrap_or_default();
    if let Some(message) = message_id(&target) {
        let authors = authors_of(ctx, message).await?;
        if authors.is_empty() {
            return reply(ctx, "That message is not a mirrored web message.").await;
        }
        let Some(author) = pick_author(ctx, authors).await? else {
            return reply(ctx, "No author chosen; nobody was banned.").await;
        };
        return ban_author_of(ctx, author, duration, scope, &reason).await;
    }
    let parsed = Target::parse(&target)?;
    let (tag, shown) = match &parsed {
        Target::Tag(tag) => (Some(tag.clone()), Some(format!("tag {tag}"))),
        Target::Ip(_) | Target::Network(_) => {
            if !is_admin(ctx).await {
                let text = format!(
                    "Banning by IP address or network needs {}; use the IP tag instead.",
                    Level::Admin.describe()
                );
                return reply(ctx, text).await;
            }
            // Named by ban number only: the address never reaches Discord or the audit log.
            (None, None)
        }
    };
    let networks = bans::resolve(&ctx.data().db, &parsed, scope).await?;
    apply_ban(ctx, &networks, tag.as_deref(), shown.as_deref(), duration, &reason).await
}

/// Lift a ban by its number.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn unban(ctx: Context<'_>, #[description = "The ban's number, from /bans"] id: i64) -> Result<(), Error> {
    let data = ctx.data();
    // Lifting another moderator's ban (or an operator's) is an administrator's call.
    let own = format!("discord:{} ", ctx.author().id);
    let theirs = bans::get(&data.db, id).await?.is_some_and(|b| !b.moderator.starts_with(&own));
    if theirs && !is_admin(ctx).await {
        let text = format!("Ban #{id} was made by someone else: lifting it needs {}.", Level::Admin.describe());
        return reply(ctx, text).await;
    }
    bans::lift(&data.db, id, &actor(ctx)).await?;
    bans::publish_active(&data.db, data.bus.as_ref()).await?;
    record(ctx, "unban", &format!("ban #{id}"), "lifted").await?;
    reply(ctx, format!("Lifted ban #{id}.")).await
}

/// List bans (active ones, or all).
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn bans(
    ctx: Context<'_>,
    #[description = "Include lifted and expired bans"] all: Option<bool>,
) -> Result<(), Error> {
    let list = bans::list(&ctx.data().db, all.unwrap_or(false)).await?;
    if list.is_empty() {
        return reply(ctx, "No bans.").await;
    }
    let lines: Vec<String> = list
        .iter()
        .take(30)
        .map(|b| {
            let what = b.ip_tag.as_ref().map_or_else(|| "an address/network ban".to_owned(), |t| format!("tag {t}"));
            let until =
                b.expires_at.map_or_else(|| "permanent".to_owned(), |e| format!("until <t:{}:f>", e.timestamp()));
            let state = if bans::is_active(b) { "" } else { " (inactive)" };
            format!(
                "#{} {what}, {until}, by {}: {}{state}",
                b.id,
                b.moderator,
                if b.reason.is_empty() { "-" } else { &b.reason }
            )
        })
        .collect();
    reply(ctx, lines.join("\n")).await
}

/// Remove someone from a room (they may come back; use /ban to keep them out).
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn kick(
    ctx: Context<'_>,
    #[description = "Room name"]
    #[autocomplete = "room_names"]
    room: String,
    #[description = "Nickname in that room"] nick: String,
    #[description = "Shown to the person"] reason: Option<String>,
) -> Result<(), Error> {
    let data = ctx.data();
    let slug = RoomSlug::parse(&room)?;
    let members = data.bus.members(&slug).await?;
    let key = protocol::input::fold(nick.trim());
    let Some(found) = members.into_iter().find(|m| protocol::input::fold(m) == key) else {
        return reply(ctx, format!("Nobody called {nick} is in {room}.")).await;
    };
    let reason = reason.unwrap_or_else(|| "removed by a moderator".to_owned());
    data.bus.publish_control(&ControlEvent::Kick { room: slug, nick: found.clone(), reason: reason.clone() }).await?;
    record(ctx, "kick", &format!("{found} in {room}"), &reason).await?;
    reply(ctx, format!("Kicked {found} from {room}.")).await
}

/// Ban the web author of this message (asks which one when it carries several).
#[poise::command(
    context_menu_command = "Ban author",
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES"
)]
pub async fn ban_author(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    let authors = authors_of(ctx, message.id).await?;
    if authors.is_empty() {
        return reply(ctx, "That message is not a mirrored web message.").await;
    }
    let Some(author) = pick_author(ctx, authors).await? else {
        return reply(ctx, "No author chosen; nobody was banned.").await;
    };
    ban_author_of(ctx, author, None, None, "").await
}

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
    record(ctx, "delete", &format!("Discord message {}", message.id), &format!("{removed} web messages removed"))
        .await?;
    reply(ctx, format!("Deleted: {removed} web messages removed for everyone.")).await
}

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
    super::commands::list_rooms(ctx).await
}

/// Room names starting with (or containing) what the moderator typed.
async fn room_names(ctx: Context<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    // Checks do not run for autocomplete: names are for moderators only.
    if access::level_of_author(ctx).await.is_none() {
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
        let gone = if r.deleted_at.is_some() { " (deleted)" } else { "" };
        lines.push(format!(
            "<t:{}:t> #{} **{}**: {}{gone}",
            r.sent_at.timestamp(),
            r.room,
            super::embeds::inline(&r.nickname),
            super::embeds::inline(&text)
        ));
    }
    reply(ctx, lines.join("\n")).await
}

/// The most messages of one sender a purge takes back at once (each is a row update, a history
/// amendment and a web frame); the reply says when a sender reached it, and a moderator runs
/// the command again for more.
const MAX_PURGED: u64 = 10_000;

/// Ids marked deleted per statement: a tag logged from several addresses can reach several
/// times [`MAX_PURGED`], past PostgreSQL's 65 535 bind parameters per statement.
const PURGE_CHUNK: usize = 1_000;

/// Delete an IP tag's recent messages everywhere (web rooms and Discord).
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn purge(
    ctx: Context<'_>,
    #[description = "An IP tag from an embed footer"] tag: String,
    #[description = "How far back, in minutes (default 60)"] minutes: Option<u32>,
) -> Result<(), Error> {
    use sea_orm::TransactionTrait;
    use sea_orm::sea_query::Expr;
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
    // All or nothing: a row marked deleted but never announced would be passed over by the
    // next purge and stay on web clients' screens.
    let now = chrono::Utc::now();
    let txn = data.db.begin().await?;
    for chunk in rows.chunks(PURGE_CHUNK) {
        message_log::Entity::update_many()
            .col_expr(message_log::Column::DeletedAt, Expr::value(now))
            .filter(message_log::Column::Id.is_in(chunk.iter().map(|r| r.id.clone())))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    for row in &rows {
        let slug = RoomSlug::parse(&row.room)?;
        let id: ulid::Ulid = row.id.parse()?;
        data.bus.amend_history(&slug, id, None).await?;
        data.bus.publish(&slug, protocol::ServerFrame::Deleted { id }.to_json().into()).await?;
    }
    // Discord messages that carried only purged messages go too.
    let mut carriers: Vec<(i64, String)> =
        rows.iter().filter_map(|r| r.discord_message_id.map(|d| (d, r.room.clone()))).collect();
    carriers.sort();
    carriers.dedup();
    let channels: std::collections::HashMap<String, i64> = if carriers.is_empty() {
        std::collections::HashMap::new()
    } else {
        rooms::list(&data.db)
            .await?
            .into_iter()
            .filter_map(|r| r.discord_thread_id.or(r.discord_channel_id).map(|c| (r.slug, c)))
            .collect()
    };
    let mut removed_in_discord: usize = 0;
    for (discord_id, room) in carriers {
        let still_shown = message_log::Entity::find()
            .filter(message_log::Column::DiscordMessageId.eq(discord_id))
            .filter(message_log::Column::DeletedAt.is_null())
            .one(&data.db)
            .await?
            .is_some();
        if let (false, Some(&channel)) = (still_shown, channels.get(&room)) {
            let deleted = ctx
                .http()
                .delete_message(
                    serenity::ChannelId::new(u64::try_from(channel)?),
                    serenity::MessageId::new(u64::try_from(discord_id)?),
                    Some("purged by a moderator"),
                )
                .await;
            match deleted {
                Ok(()) => removed_in_discord += 1,
                Err(e) => tracing::warn!(error = %e, "cannot delete a purged message in Discord"),
            }
        }
    }
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
    record(ctx, "purge", &format!("tag {tag}"), &details).await?;
    reply(ctx, format!("Purged tag {tag}: {details}.")).await
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

/// What a filter does.
#[derive(Debug, poise::ChoiceParameter)]
pub enum FilterMode {
    #[name = "block"]
    Block,
    #[name = "mask"]
    Mask,
}

/// Manage word and regex filters.
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("filter_add", "filter_remove", "filter_list")
)]
pub async fn filter(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Block or mask a word (whole word, any case) or a regular expression.
#[poise::command(slash_command, rename = "add", ephemeral)]
async fn filter_add(
    ctx: Context<'_>,
    #[description = "A word, or a regular expression with regex:true"] pattern: String,
    #[description = "block (refuse the message) or mask (replace with ***)"] action: Option<FilterMode>,
    #[description = "Treat the pattern as a regular expression"] regex: Option<bool>,
) -> Result<(), Error> {
    let data = ctx.data();
    let action = match action.unwrap_or(FilterMode::Block) {
        FilterMode::Block => protocol::FilterAction::Block,
        FilterMode::Mask => protocol::FilterAction::Mask,
    };
    let row =
        crate::filters::add(&data.db, &pattern, regex.unwrap_or(false), action, &actor(ctx), data.max_filters).await?;
    crate::filters::publish(&data.db, data.bus.as_ref()).await?;
    record(ctx, "filter_add", &format!("filter #{}", row.id), &format!("{} {:?}", row.action, row.pattern)).await?;
    reply(
        ctx,
        format!(
            "Filter #{} added: {} `{}`. Every gateway applies it now.",
            row.id,
            row.action,
            row.pattern.replace('`', "'")
        ),
    )
    .await
}

/// Remove a filter by its number.
#[poise::command(slash_command, rename = "remove", ephemeral)]
async fn filter_remove(
    ctx: Context<'_>,
    #[description = "The filter's number, from /filter list"] id: i64,
) -> Result<(), Error> {
    let data = ctx.data();
    crate::filters::remove(&data.db, id).await?;
    crate::filters::publish(&data.db, data.bus.as_ref()).await?;
    record(ctx, "filter_remove", &format!("filter #{id}"), "").await?;
    reply(ctx, format!("Filter #{id} removed.")).await
}

/// List the filters.
#[poise::command(slash_command, rename = "list", ephemeral)]
async fn filter_list(ctx: Context<'_>) -> Result<(), Error> {
    let rows = crate::filters::list(&ctx.data().db).await?;
    if rows.is_empty() {
        return reply(ctx, "No filters.").await;
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|f| {
            format!(
                "#{} {} {} `{}`",
                f.id,
                f.action,
                if f.is_regex { "regex" } else { "word" },
                f.pattern.replace('`', "'")
            )
        })
        .collect();
    reply(ctx, lines.join("\n")).await
}
