//! Mutes and warnings: `/mute`, `/unmute` and `/warn`. Targets are read as `/ban` reads them
//! (`targets`); each action is a case, posted to the mod-log channel.

use super::targets::resolve;
use super::{actor, announce, reply};
use crate::discord::access::{self, Level};
use crate::discord::{Context, Error};
use crate::{bans, mutes, warnings};

/// Mute a web author, an IP tag, or (admins) an IP/CIDR: they read but cannot speak.
///
/// The target is read as `/ban` reads it. A shadow mute is never told: the muted person's
/// messages reach nobody but themselves.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn mute(
    ctx: Context<'_>,
    #[description = "A mirrored message (link or id), an IP tag, or an IP/CIDR (administrators)"] target: String,
    #[description = "How long, e.g. 10m, 2h, 7d (default: until lifted)"] duration: Option<String>,
    #[description = "Shadow mute: they are not told, and only they see their messages"] shadow: Option<bool>,
    #[description = "Shown to the muted person (not for a shadow mute)"] reason: Option<String>,
) -> Result<(), Error> {
    let duration = duration.as_deref().map(bans::parse_duration).transpose()?;
    let shadow = shadow.unwrap_or(false);
    let Some(resolved) = resolve(ctx, &target, "muted").await? else {
        return Ok(());
    };
    let data = ctx.data();
    let by = actor(ctx);
    let reason = reason.unwrap_or_default();
    let mute = mutes::NewMute {
        networks: resolved.networks,
        tag: resolved.tag.as_deref(),
        shown: resolved.shown,
        reason: &reason,
        by: &by,
        duration,
        shadow,
        devices: resolved.devices,
    };
    let imposed = mutes::impose(&data.db, Some(data.bus.as_ref()), mute).await?;
    announce(ctx, &imposed.case).await;
    let what = if shadow { "Shadow-muted" } else { "Muted" };
    let text = format!(
        "{what} {} {} (mute {}, case #{}). Every gateway applies it now.",
        imposed.shown,
        imposed.until,
        imposed.numbers(),
        imposed.case.id
    );
    reply(ctx, text).await
}

/// Lift a mute by its number (from /case or `chatroulette mutes list`).
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn unmute(ctx: Context<'_>, #[description = "The mute's number"] id: i64) -> Result<(), Error> {
    let data = ctx.data();
    // Lifting another moderator's mute (or an operator's) is an administrator's call, as for bans.
    let own = format!("discord:{} ", ctx.author().id);
    let theirs = mutes::list(&data.db, true).await?.iter().any(|m| m.id == id && !m.moderator.starts_with(&own));
    if theirs && !access::author_reaches(ctx, Level::Admin).await {
        let text = format!("Mute #{id} was made by someone else: lifting it needs {}.", Level::Admin.describe());
        return reply(ctx, text).await;
    }
    let revoked = mutes::revoke(&data.db, Some(data.bus.as_ref()), id, &actor(ctx)).await?;
    announce(ctx, &revoked.case).await;
    reply(ctx, format!("Lifted mute #{id} (case #{}).", revoked.case.id)).await
}

/// Warn a web author, an IP tag, or (admins) an IP/CIDR; warnings climb the warning ladder.
///
/// The visitor sees the reason at once; enough warnings apply the ladder's mute or ban
/// (`WARN_LADDER`) by themselves.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn warn(
    ctx: Context<'_>,
    #[description = "A mirrored message (link or id), an IP tag, or an IP/CIDR (administrators)"] target: String,
    #[description = "Shown to the warned person"] reason: String,
) -> Result<(), Error> {
    let Some(resolved) = resolve(ctx, &target, "warned").await? else {
        return Ok(());
    };
    let data = ctx.data();
    let by = actor(ctx);
    let warning = warnings::NewWarning {
        networks: resolved.networks,
        tag: resolved.tag.as_deref(),
        shown: resolved.shown.unwrap_or_else(|| "an address".to_owned()),
        reason: &reason,
        by: &by,
        devices: resolved.devices,
    };
    let warned = warnings::warn(&data.db, Some(data.bus.as_ref()), &data.warn_ladder, warning).await?;
    announce(ctx, &warned.case).await;
    let mut text = format!("Warned {} (case #{}, warning {}).", warned.case.target, warned.case.id, warned.count);
    if let Some(escalation) = &warned.escalation {
        announce(ctx, escalation).await;
        text.push_str(&format!(
            " The warning ladder applied a {} {} (case #{}).",
            escalation.kind,
            crate::cases::until(escalation),
            escalation.id
        ));
    }
    reply(ctx, text).await
}
