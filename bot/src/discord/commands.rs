//! Slash commands. Each command's doc comment is the help text moderators see.

use poise::serenity_prelude as serenity;

use super::{Context, Data, Error};

pub fn all() -> Vec<poise::Command<Data, Error>> {
    use super::moderation as m;
    vec![
        m::room(),
        m::ban(),
        m::unban(),
        m::bans(),
        m::kick(),
        m::lookup(),
        m::purge(),
        m::filter(),
        m::ban_author(),
        m::author_messages(),
        m::delete_everywhere(),
    ]
}

/// The rooms, how full they are, and where each one is mirrored (`/room list`).
pub async fn list_rooms(ctx: Context<'_>) -> Result<(), Error> {
    let data = ctx.data();
    let rooms = crate::rooms::list_live(&data.db).await?;
    let slugs: Vec<protocol::RoomSlug> = rooms.iter().filter_map(|r| protocol::RoomSlug::parse(&r.slug).ok()).collect();
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
        let title = super::embeds::inline(&room.title);
        lines.push(format!("`{}` {title} — {members}/{} — {place}{flags}", room.slug, room.capacity));
    }
    let text = if lines.is_empty() { "There are no rooms.".to_owned() } else { lines.join("\n") };
    ctx.send(
        poise::CreateReply::default()
            .content(text.chars().take(2000).collect::<String>())
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(())
}

/// The one place errors of commands and events end up: logged, and told to the moderator.
pub async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        poise::FrameworkError::Setup { error, .. } => tracing::error!(%error, "Discord setup failed"),
        poise::FrameworkError::Command { error, ctx, .. } => {
            tracing::error!(command = %ctx.command().name, %error, "command failed");
            let _ =
                ctx.send(poise::CreateReply::default().content(format!("That failed: {error}")).ephemeral(true)).await;
        }
        poise::FrameworkError::CommandCheckFailed { ctx, error, .. } => {
            if let Some(error) = error {
                tracing::error!(%error, "permission check failed");
            }
            let needed = super::access::needed(&ctx.command().qualified_name);
            tracing::info!(
                command = %ctx.command().qualified_name,
                user = %ctx.author().id,
                "refused a command to a member without the permission it needs"
            );
            let text = format!("You may not use this command: it needs {}.", needed.describe());
            let _ = ctx.send(poise::CreateReply::default().content(text).ephemeral(true)).await;
        }
        poise::FrameworkError::EventHandler { error, event, .. } => {
            tracing::error!(event = %event.snake_case_name(), %error, "Discord event handling failed");
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::error!(error = %e, "error while handling an error");
            }
        }
    }
}
