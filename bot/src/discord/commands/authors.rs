//! Which web authors a mirrored Discord message carries, and the menu that asks a moderator to
//! pick one when there are several.

use std::time::Duration;

use poise::serenity_prelude as serenity;

use crate::discord::access::{self, Level};
use crate::discord::{Context, Error};

/// One web author of a mirrored message: nickname, IP tag, address, device tag (if any).
pub(super) type Author = (String, String, String, Option<String>);

/// The web authors a mirrored Discord message carries.
pub(super) async fn authors_of(ctx: Context<'_>, message: serenity::MessageId) -> Result<Vec<Author>, Error> {
    let rows = ctx.data().log.carried_by(i64::try_from(message.get())?, false).await?;
    let mut authors: Vec<Author> = rows
        .into_iter()
        .map(|r| {
            // The sender's own tag: the first word of `tag` or `tag · /64 nettag`.
            let tag = r.ip_tag.as_deref().and_then(|t| t.split(' ').next()).unwrap_or_default().to_owned();
            (r.nickname, tag, r.ip, r.device_tag)
        })
        .collect();
    authors.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    authors.dedup_by(|a, b| a.1 == b.1);
    Ok(authors)
}

/// Ask which author (a select menu of nickname + tag) when a message carries several.
pub(super) async fn pick_author(ctx: Context<'_>, authors: Vec<Author>) -> Result<Option<Author>, Error> {
    if authors.len() <= 1 {
        return Ok(authors.into_iter().next());
    }
    let id = format!("pick-{}", ctx.id());
    let options: Vec<serenity::CreateSelectMenuOption> = authors
        .iter()
        .take(25)
        .map(|(nick, tag, _, _)| serenity::CreateSelectMenuOption::new(format!("{nick} ({tag})"), tag.clone()))
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
