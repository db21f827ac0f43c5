//! `/shield`: the proof-of-work gate's mode on every gateway (issue 27).

use super::{actor, open_case, reply};
use crate::discord::{Context, Error};

/// The gate's mode, as staff choose it.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum ShieldChoice {
    #[name = "auto"]
    Auto,
    #[name = "on"]
    On,
    #[name = "off"]
    Off,
}

impl From<ShieldChoice> for bus::ShieldMode {
    fn from(choice: ShieldChoice) -> Self {
        match choice {
            ShieldChoice::Auto => Self::Auto,
            ShieldChoice::On => Self::On,
            ShieldChoice::Off => Self::Off,
        }
    }
}

/// Make browsers solve a short proof-of-work before they connect (against bot floods).
///
/// `on` for everyone (during a bot flood), `off` for nobody, or `auto` (on by itself under a
/// flood of joins and for addresses that misbehave, off again when it calms down). Difficulty:
/// a step from 1 (a phone takes well under a second) to 4 (several seconds); without it, it
/// follows the load.
#[poise::command(slash_command, guild_only, ephemeral, default_member_permissions = "MANAGE_MESSAGES")]
pub async fn shield(
    ctx: Context<'_>,
    #[description = "on (everyone solves), off (nobody), or auto (on by itself under a flood)"] mode: ShieldChoice,
    #[description = "Fixed difficulty step, 1 (easy) to 4 (hard); default: follows the load"]
    #[min = 1]
    #[max = 4]
    difficulty: Option<u8>,
) -> Result<(), Error> {
    let data = ctx.data();
    let setting = crate::shield::setting(mode.into(), difficulty)?;
    // `set` writes the audit log; the case (and its mod-log post) is opened here.
    crate::shield::set(&data.db, Some(data.bus.as_ref()), setting, &actor(ctx)).await?;
    let described = crate::shield::describe(&setting);
    open_case(ctx, "shield", setting.mode.as_str(), "", &described).await?;
    reply(ctx, format!("Proof-of-work gate: {described}. Every gateway follows it within a second.")).await
}
