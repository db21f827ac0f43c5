//! Ban, unban, list bans and kick: `/ban`, `/unban`, `/bans`, `/kick` and the "Ban author"
//! message menu. Staff never see a raw IP: authors are named by their IP tag, address and
//! network bans by their ban number.

use std::time::Duration;

use poise::serenity_prelude as serenity;
use protocol::{ControlEvent, RoomSlug};

use super::authors::{authors_of, pick_author};
use super::rooms::room_names;
use super::{actor, announce, record, reply};
use crate::bans::{self, Scope, Target};
use crate::discord::access::{self, Level};
use crate::discord::{Context, Error};

/// Ban one web author (by the address behind their tag) and report it.
async fn ban_author_of(
    ctx: Context<'_>,
    author: super::authors::Author,
    duration: Option<Duration>,
    scope: Option<Scope>,
    reason: &str,
) -> Result<(), Error> {
    let (nick, tag, ip, device) = author;
    let ip: std::net::IpAddr = ip.parse().map_err(|_| "the author's address was already erased (retention)")?;
    let network = scope.unwrap_or(Scope::default_for(ip)).network(ip);
    let shown = Some(format!("{nick} (tag {tag})"));
    apply_ban(ctx, (vec![network], device.into_iter().collect()), Some(&tag), shown, duration, reason).await
}

/// Ban, announce it in the mod-log channel and tell the moderator.
async fn apply_ban(
    ctx: Context<'_>,
    (networks, devices): (Vec<ipnet::IpNet>, Vec<String>),
    tag: Option<&str>,
    shown: Option<String>,
    duration: Option<Duration>,
    reason: &str,
) -> Result<(), Error> {
    let data = ctx.data();
    let by = actor(ctx);
    let ban = bans::NewBan { networks, tag, shown, reason, by: &by, duration, devices };
    let imposed = bans::impose(&data.db, Some(data.bus.as_ref()), ban).await?;
    announce(ctx, &imposed.case).await;
    let text = format!(
        "Banned {} {} (ban {}, case #{}). Their open connections were closed.",
        imposed.shown,
        imposed.until,
        imposed.numbers(),
        imposed.case.id
    );
    reply(ctx, text).await
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
pub(super) fn message_id(target: &str) -> Option<serenity::MessageId> {
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
    let shown = match &parsed {
        Target::Tag(tag) => Some(format!("tag {tag}")),
        Target::Ip(_) | Target::Network(_) => {
            if !access::author_reaches(ctx, Level::Admin).await {
                let text = format!(
                    "Banning by IP address or network needs {}; use the IP tag instead.",
                    Level::Admin.describe()
                );
                return reply(ctx, text).await;
            }
            // Named by ban number only: the address never reaches Discord or the audit log.
            None
        }
    };
    let networks = bans::resolve(&ctx.data().db, &parsed, scope).await?;
    let devices = bans::devices_for(&ctx.data().db, &parsed).await?;
    apply_ban(ctx, (networks, devices), parsed.tag(), shown, duration, &reason).await
}

/// Lift a ban by its number.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn unban(ctx: Context<'_>, #[description = "The ban's number, from /bans"] id: i64) -> Result<(), Error> {
    let data = ctx.data();
    // Lifting another moderator's ban (or an operator's) is an administrator's call.
    let own = format!("discord:{} ", ctx.author().id);
    let theirs = bans::get(&data.db, id).await?.is_some_and(|b| !b.moderator.starts_with(&own));
    if theirs && !access::author_reaches(ctx, Level::Admin).await {
        let text = format!("Ban #{id} was made by someone else: lifting it needs {}.", Level::Admin.describe());
        return reply(ctx, text).await;
    }
    let revoked = bans::revoke(&data.db, Some(data.bus.as_ref()), id, &actor(ctx)).await?;
    announce(ctx, &revoked.case).await;
    reply(ctx, format!("Lifted ban #{id} (case #{}).", revoked.case.id)).await
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
    let case = record(ctx, "kick", &format!("{found} in {room}"), &reason, "").await?;
    reply(ctx, format!("Kicked {found} from {room} (case #{}).", case.id)).await
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
