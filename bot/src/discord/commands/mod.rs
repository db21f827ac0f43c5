//! Slash commands and message menus, by topic. Each command's doc comment is the help text
//! moderators see. Each is restricted twice: Discord hides it from members without Manage
//! Messages (`default_member_permissions`), and the bot re-checks the member against
//! [`super::access::TABLE`] with guild-level permissions before acting (never the
//! channel-scoped ones an interaction carries); the author picker re-checks whoever presses it.
//! Every action is written to the audit log and posted to the mod-log channel; every answer is
//! ephemeral and says exactly what happened.
//!
//! * `rooms`: `/room create|edit|delete|list` and the room name autocomplete;
//! * `bans`: `/ban`, `/unban`, `/bans`, `/kick` and the "Ban author" menu;
//! * `lookup`: `/lookup`, `/purge`, "Author's recent messages" and "Delete everywhere";
//! * `filters`: `/filter add|remove|list`;
//! * `sanctions`: `/mute`, `/unmute` and `/warn`, aimed through `targets` as `/ban` aims;
//! * `casefile`: `/case`, `/reason` and `/duration`: every action above is a numbered case;
//! * `shield`: `/shield on|off|auto [difficulty]`, the proof-of-work gate;
//! * `trust`: `/trust`, `/untrust`, `/links allow|remove|list` and `/room links`, the trust tier
//!   for new visitors;
//! * `authors`: the web authors a mirrored message carries, and the picker among them.

mod authors;
mod bans;
mod casefile;
mod filters;
mod lookup;
mod rooms;
mod sanctions;
mod shield;
mod targets;
mod trust;

use poise::serenity_prelude as serenity;

use super::{Context, Data, Error};
use crate::{audit, cases};

/// Every command and menu, as registered in the guild.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        rooms::room(),
        bans::ban(),
        bans::unban(),
        bans::bans(),
        bans::kick(),
        lookup::lookup(),
        lookup::purge(),
        filters::filter(),
        sanctions::mute(),
        sanctions::unmute(),
        sanctions::warn(),
        casefile::case(),
        casefile::reason(),
        casefile::duration(),
        shield::shield(),
        trust::trust(),
        trust::untrust(),
        trust::links(),
        bans::ban_author(),
        lookup::author_messages(),
        lookup::delete_everywhere(),
    ]
}

/// Who acts, for the audit log.
pub(super) fn actor(ctx: Context<'_>) -> String {
    format!("discord:{} ({})", ctx.author().id, ctx.author().name)
}

/// An ephemeral answer, cut to Discord's 2 000 characters, that mentions nobody.
pub(super) async fn reply(ctx: Context<'_>, text: impl Into<String>) -> Result<(), Error> {
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

/// Audit log, a case, and its post in the mod-log channel; returns the case.
pub(super) async fn record(
    ctx: Context<'_>,
    action: &str,
    target: &str,
    reason: &str,
    details: &str,
) -> Result<crate::entities::cases::Model, Error> {
    let case = open_case(ctx, action, target, reason, details).await?;
    let details =
        if details.is_empty() { format!("case #{}", case.id) } else { format!("{details}; case #{}", case.id) };
    audit::record(&ctx.data().db, &actor(ctx), action, target, &details).await?;
    Ok(case)
}

/// Open the case of an action the shared functions already wrote to the audit log (room
/// changes), and post it to the mod-log channel.
pub(super) async fn open_case(
    ctx: Context<'_>,
    action: &str,
    target: &str,
    reason: &str,
    details: &str,
) -> Result<crate::entities::cases::Model, Error> {
    let by = actor(ctx);
    let new = cases::NewCase { kind: action, target, subject: None, actor: &by, reason, details, expires: None };
    let case = cases::open(&ctx.data().db, new).await?;
    announce(ctx, &case).await;
    Ok(case)
}

/// Post a case to the mod-log channel, if there is one (bans and mutes open their own cases).
pub(super) async fn announce(ctx: Context<'_>, case: &crate::entities::cases::Model) {
    let data = ctx.data();
    super::modlog::post(&data.rest, &data.db, data.modlog, case).await;
}

#[cfg(test)]
mod tests {
    use super::all;
    use crate::discord::access::{Level, TABLE, needed};
    use crate::discord::{Data, Error};

    #[test]
    fn every_command_menu_and_subcommand_is_in_the_table() {
        fn walk(command: &poise::Command<Data, Error>, out: &mut Vec<String>) {
            out.push(command.qualified_name.to_string());
            for sub in &command.subcommands {
                walk(sub, out);
            }
        }
        let mut commands = all();
        poise::framework::set_qualified_names(&mut commands);
        let mut names = Vec::new();
        for command in &commands {
            walk(command, &mut names);
        }
        for name in &names {
            assert!(TABLE.iter().any(|(n, _)| n == name), "{name} is missing from the permission table");
        }
        for (name, _) in TABLE {
            assert!(names.iter().any(|n| n == name), "{name} in the table is no command");
        }
        assert_eq!(needed("room delete"), Level::Admin);
        assert_eq!(needed("filter add"), Level::Admin);
        assert_eq!(needed("kick"), Level::Moderator);
        assert_eq!(needed("some future command"), Level::Admin);
    }
}
