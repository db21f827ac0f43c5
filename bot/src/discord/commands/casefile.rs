//! Cases: `/case` shows one, `/reason` and `/duration` change one (the duration only of a ban or
//! a mute, whose expiry changes with it on every gateway); the case's mod-log post is edited to
//! match.

use super::{actor, reply};
use crate::discord::{Context, Error, modlog};
use crate::{bans, cases, mutes};

/// Show a case: what was done, to whom, by whom, why, until when.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn case(ctx: Context<'_>, #[description = "The case number"] number: i64) -> Result<(), Error> {
    let data = ctx.data();
    let Some(case) = cases::get(&data.db, number).await? else {
        return reply(ctx, format!("There is no case #{number}.")).await;
    };
    let mut text = cases::describe(&case);
    let mutes: Vec<String> = mutes::of_case(&data.db, number)
        .await?
        .iter()
        .map(|m| format!("mute #{}{}", m.id, if mutes::is_active(m) { "" } else { " (inactive)" }))
        .collect();
    if !mutes.is_empty() {
        text.push_str(&format!("\n{}", mutes.join(", ")));
    }
    if let (Some(channel), Some(message)) = (case.modlog_channel, case.modlog_message) {
        text.push_str(&format!("\nhttps://discord.com/channels/{}/{channel}/{message}", data.guild));
    }
    reply(ctx, text).await
}

/// Change a case's reason (a ban's or mute's reason changes with it).
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn reason(
    ctx: Context<'_>,
    #[description = "The case number"] number: i64,
    #[description = "The new reason"] text: String,
) -> Result<(), Error> {
    let data = ctx.data();
    let case = cases::set_reason(&data.db, Some(data.bus.as_ref()), number, &text, &actor(ctx)).await?;
    let edited = modlog::edit(&data.rest, &case).await?;
    let post = if edited { " Its mod-log post was edited." } else { "" };
    reply(ctx, format!("Case #{number} now reads: {}.{post}", case.reason)).await
}

/// Change how long a ban's or mute's case lasts, counted from when it was imposed.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn duration(
    ctx: Context<'_>,
    #[description = "The case number"] number: i64,
    #[description = "e.g. 30m, 2h, 7d, or `forever` (until lifted)"] duration: String,
) -> Result<(), Error> {
    let data = ctx.data();
    let duration = match duration.trim() {
        "forever" | "permanent" => None,
        raw => Some(bans::parse_duration(raw)?),
    };
    let case = cases::set_duration(&data.db, Some(data.bus.as_ref()), number, duration, &actor(ctx)).await?;
    let edited = modlog::edit(&data.rest, &case).await?;
    let post = if edited { " Its mod-log post was edited." } else { "" };
    reply(ctx, format!("Case #{number} now lasts {}; every gateway applies it now.{post}", cases::until(&case))).await
}
