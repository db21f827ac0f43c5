//! Appeals in Discord: one thread per appeal in a private appeals channel, with the case (a ban
//! or a mute), the evidence and the buttons *Lift*, *Shorten* and *Deny*; a moderator's message in the thread
//! reaches the visitor's page as a reply from "Staff" (never their Discord name).
//!
//! The channel is `DISCORD_APPEALS_CHANNEL_ID`, or a text channel named [`CHANNEL_NAME`] under
//! `DISCORD_CATEGORY_ID` (found by name there only), or without a category the one the bot
//! created and remembered; created private (see [`super::privacy`]) when missing. The desk
//! ([`keep_posting`]) posts what the consumer recorded, from the database, so an appeal that
//! arrived while Discord was away is posted once it is back. Only moderators may press the
//! buttons or reply ([`super::access`]); each decision edits the appeal's message to say who
//! decided what.

use std::time::Duration;

use poise::serenity_prelude as serenity;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::{Value, json};

use super::rest::{Posted, Rest, snowflake};
use super::{Data, DiscordConfig, Error, access};
use crate::appeals::{self, Decision};
use crate::entities::{appeals as rows, settings};
use crate::message_log::{Walk, by_tag};

/// Name of the appeals channel when `DISCORD_APPEALS_CHANNEL_ID` is unset.
pub const CHANNEL_NAME: &str = "appeals";
/// Where the id of the appeals channel the bot created is kept (`settings`).
const SETTINGS_KEY: &str = "discord_appeals_channel";
/// How often the desk looks for appeals to post.
const ROUND: Duration = Duration::from_secs(1);
/// The visitor's recent messages shown as evidence.
const EVIDENCE_MESSAGES: u64 = 10;
/// The reaction on a staff reply that went to the visitor's page.
pub const DELIVERED_EMOJI: &str = "📨";

/// Post every recorded appeal that has no Discord message yet, now and every [`ROUND`].
pub async fn keep_posting(db: DatabaseConnection, rest: Rest, config: DiscordConfig) {
    let mut channel: Option<u64> = None;
    loop {
        match appeals::unposted(&db, 10).await {
            Ok(pending) => {
                for appeal in pending {
                    if let Err(e) = post(&db, &rest, &config, &mut channel, appeal).await {
                        tracing::warn!(error = %e, "cannot post an appeal to Discord; retrying shortly");
                        // The channel may be gone: look it up again next time.
                        channel = None;
                        break;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the appeals to post"),
        }
        tokio::time::sleep(ROUND).await;
    }
}

/// The appeals channel: configured, known, found under the category, remembered, or created.
async fn channel(db: &DatabaseConnection, rest: &Rest, config: &DiscordConfig) -> Result<u64, Error> {
    if let Some(id) = config.appeals_channel {
        return Ok(id);
    }
    let remembered = remembered(db).await?;
    let existing = rest.guild_channels(config.guild).await?.into_iter().find_map(|c: Value| {
        let id = snowflake(&c["id"])?;
        let adoptable = match config.category {
            Some(category) => snowflake(&c["parent_id"]) == Some(category) && c["name"] == CHANNEL_NAME,
            None => remembered == Some(id),
        };
        (c["type"].as_u64() == Some(0) && adoptable).then_some(id)
    });
    if let Some(id) = existing {
        return Ok(id);
    }
    let topic = "Appeals of banned visitors: one thread each. Decide with the buttons; what you write in a thread reaches the visitor as \"Staff\".";
    let id = super::privacy::create_channel(rest, config, CHANNEL_NAME, topic).await?;
    tracing::info!(channel = id, "created the appeals channel");
    use sea_orm::sea_query::OnConflict;
    let row = settings::ActiveModel { key: Set(SETTINGS_KEY.to_owned()), value: Set(id.to_string()) };
    settings::Entity::insert(row)
        .on_conflict(OnConflict::column(settings::Column::Key).update_column(settings::Column::Value).to_owned())
        .exec(db)
        .await?;
    Ok(id)
}

async fn remembered(db: &DatabaseConnection) -> Result<Option<u64>, Error> {
    Ok(settings::Entity::find_by_id(SETTINGS_KEY).one(db).await?.and_then(|r| r.value.parse().ok()))
}

/// The appeals channel as far as known without asking Discord (for the privacy check).
pub async fn known_channel(db: &DatabaseConnection, config: &DiscordConfig) -> Result<Option<u64>, Error> {
    Ok(match config.appeals_channel {
        Some(id) => Some(id),
        None => remembered(db).await?,
    })
}

/// Start the appeal's thread (recorded at once, so a failure after it never makes a second)
/// and post the appeal in it.
async fn post(
    db: &DatabaseConnection,
    rest: &Rest,
    config: &DiscordConfig,
    known: &mut Option<u64>,
    appeal: rows::Model,
) -> Result<(), Error> {
    let thread = match appeal.discord_thread_id.and_then(|t| u64::try_from(t).ok()) {
        Some(thread) => thread,
        None => {
            let parent = match *known {
                Some(id) => id,
                None => channel(db, rest, config).await?,
            };
            *known = Some(parent);
            let body = json!({
                "name": format!("appeal · case #{}", appeal.case_no),
                "type": 11,
                "auto_archive_duration": 10080,
            });
            match rest.create_thread(parent, &body).await? {
                Posted::Ok { id, .. } => id,
                Posted::RateLimited { retry_after, .. } => {
                    return Err(format!("starting an appeal's thread is rate limited for {retry_after:?}").into());
                }
                Posted::Refused { status, body } => {
                    return Err(format!("Discord refused the appeal's thread: {status} {body}").into());
                }
            }
        }
    };
    let appeal = appeals::posted(db, appeal, i64::try_from(thread)?, None).await?;
    let body = message(db, &appeal).await?;
    let id = match rest.create_message(thread, &body).await? {
        Posted::Ok { id, .. } => id,
        Posted::RateLimited { retry_after, .. } => {
            return Err(format!("posting an appeal is rate limited for {retry_after:?}").into());
        }
        Posted::Refused { status, body } => return Err(format!("Discord refused the appeal: {status} {body}").into()),
    };
    appeals::posted(db, appeal, i64::try_from(thread)?, Some(i64::try_from(id)?)).await?;
    tracing::info!(case = ?appeal_case(&body), thread, "posted an appeal");
    Ok(())
}

fn appeal_case(body: &Value) -> Option<String> {
    body["embeds"][0]["title"].as_str().map(str::to_owned)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The appeal's message: the case, the visitor's text, the evidence, the buttons.
async fn message(db: &DatabaseConnection, appeal: &rows::Model) -> Result<Value, Error> {
    let mut fields = Vec::new();
    match crate::cases::get(db, appeal.case_no).await? {
        Some(case) => {
            let name = format!("Case #{} · {}", case.id, case.kind);
            fields.push(json!({"name": name, "value": cut(&crate::cases::describe(&case), 1000)}));
        }
        None => fields.push(json!({"name": format!("Case #{}", appeal.case_no), "value": "no longer on record"})),
    }
    if let Some(ban) = match appeal.ban_id {
        Some(id) => crate::bans::get(db, id).await?,
        None => None,
    } {
        let state = if crate::bans::is_active(&ban) { "in force" } else { "no longer in force" };
        fields.push(json!({"name": format!("Ban #{}", ban.id), "value": state, "inline": true}));
        if let Some(tag) = &ban.ip_tag {
            fields.push(json!({"name": "Banned tag", "value": format!("`{tag}`"), "inline": true}));
        }
    }
    if let Some(mute) = match appeal.mute_id {
        Some(id) => crate::entities::mutes::Entity::find_by_id(id).one(db).await?,
        None => None,
    } {
        let state = if crate::mutes::is_active(&mute) { "in force" } else { "no longer in force" };
        fields.push(json!({"name": format!("Mute #{}", mute.id), "value": state, "inline": true}));
        if let Some(tag) = &mute.ip_tag {
            fields.push(json!({"name": "Muted tag", "value": format!("`{tag}`"), "inline": true}));
        }
    }
    if let Some(tag) = &appeal.ip_tag {
        fields.push(json!({"name": "Appellant's tag", "value": format!("`{tag}`"), "inline": true}));
        let recent = by_tag(db, tag, EVIDENCE_MESSAGES, None, Walk::All).await?;
        let mut lines = String::new();
        for m in recent.iter().take(EVIDENCE_MESSAGES as usize) {
            let deleted = if m.deleted_at.is_some() { " (deleted)" } else { "" };
            let line = format!(
                "<t:{}:t> #{} **{}**{deleted}: {}\n",
                m.sent_at.timestamp(),
                m.room,
                cut(&m.nickname, 24).replace('*', "\\*"),
                cut(&m.text.replace('\n', " "), 120)
            );
            if lines.chars().count() + line.chars().count() > 1000 {
                break;
            }
            lines.push_str(&line);
        }
        if lines.is_empty() {
            lines = "no message in the log".to_owned();
        }
        fields.push(json!({"name": "Their last messages", "value": lines}));
    }
    let embed = json!({
        "title": format!("Appeal of case #{}", appeal.case_no),
        "description": cut(&appeal.text, 4000),
        "fields": fields,
        "timestamp": appeal.created_at.to_rfc3339(),
        "footer": {"text": "Write in this thread to answer: the visitor reads it as \"Staff\"."},
    });
    let id = appeal.id;
    Ok(json!({
        "content": format!("Appeal of case #{}: decide with the buttons.", appeal.case_no),
        "embeds": [embed],
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 3, "label": "Lift", "custom_id": format!("appeal:lift:{id}")},
            {"type": 2, "style": 1, "label": "Shorten", "custom_id": format!("appeal:shorten:{id}")},
            {"type": 2, "style": 4, "label": "Deny", "custom_id": format!("appeal:deny:{id}")},
        ]}],
        "allowed_mentions": {"parse": []},
    }))
}

/// `appeal:<action>:<id>`.
fn parse_custom_id(custom_id: &str) -> Option<(&str, i64)> {
    let mut parts = custom_id.split(':');
    (parts.next()? == "appeal").then_some(())?;
    let action = parts.next()?;
    let id = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((action, id))
}

/// A press on an appeal's button or the *Shorten* form sent; anything else is not ours.
pub async fn interaction(
    ctx: &serenity::Context,
    data: &Data,
    interaction: &serenity::Interaction,
) -> Result<(), Error> {
    match interaction {
        serenity::Interaction::Component(press) => {
            let Some((action, id)) = parse_custom_id(&press.data.custom_id) else { return Ok(()) };
            let roles = press.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
            if !access::reaches(&ctx.cache, data, press.user.id, &roles, access::Level::Moderator) {
                let text = format!("You may not decide appeals: it needs {}.", access::Level::Moderator.describe());
                return ephemeral(ctx, Responder::Component(press), &text).await;
            }
            let decision = match action {
                "lift" => Decision::Lift,
                "deny" => Decision::Deny,
                "shorten" => {
                    let input = serenity::CreateInputText::new(
                        serenity::InputTextStyle::Short,
                        "Ends this long from now",
                        "duration",
                    )
                    .placeholder("30m, 2h, 1d, 7d")
                    .required(true);
                    let modal = serenity::CreateModal::new(format!("appeal:shorten:{id}"), "Shorten the sanction")
                        .components(vec![serenity::CreateActionRow::InputText(input)]);
                    press.create_response(ctx, serenity::CreateInteractionResponse::Modal(modal)).await?;
                    return Ok(());
                }
                _ => return Ok(()),
            };
            decide(ctx, data, Responder::Component(press), press.user.id, id, decision).await
        }
        serenity::Interaction::Modal(form) => {
            let Some(("shorten", id)) = parse_custom_id(&form.data.custom_id) else { return Ok(()) };
            let roles = form.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
            if !access::reaches(&ctx.cache, data, form.user.id, &roles, access::Level::Moderator) {
                let text = format!("You may not decide appeals: it needs {}.", access::Level::Moderator.describe());
                return ephemeral(ctx, Responder::Modal(form), &text).await;
            }
            let raw = form
                .data
                .components
                .iter()
                .flat_map(|row| &row.components)
                .find_map(|c| match c {
                    serenity::ActionRowComponent::InputText(t) if t.custom_id == "duration" => t.value.clone(),
                    _ => None,
                })
                .unwrap_or_default();
            match crate::bans::parse_duration(&raw) {
                Ok(d) => decide(ctx, data, Responder::Modal(form), form.user.id, id, Decision::Shorten(d)).await,
                Err(e) => ephemeral(ctx, Responder::Modal(form), &e.to_string()).await,
            }
        }
        _ => Ok(()),
    }
}

/// The interaction being answered.
#[derive(Clone, Copy)]
enum Responder<'a> {
    Component(&'a serenity::ComponentInteraction),
    Modal(&'a serenity::ModalInteraction),
}

async fn respond(
    ctx: &serenity::Context,
    to: Responder<'_>,
    response: serenity::CreateInteractionResponse,
) -> Result<(), Error> {
    match to {
        Responder::Component(press) => press.create_response(ctx, response).await?,
        Responder::Modal(form) => form.create_response(ctx, response).await?,
    }
    Ok(())
}

async fn ephemeral(ctx: &serenity::Context, to: Responder<'_>, text: &str) -> Result<(), Error> {
    let message = serenity::CreateInteractionResponseMessage::new()
        .content(cut(text, 2000))
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    respond(ctx, to, serenity::CreateInteractionResponse::Message(message)).await
}

/// Decide, then edit the appeal's message to say who decided what (its buttons gone).
async fn decide(
    ctx: &serenity::Context,
    data: &Data,
    to: Responder<'_>,
    user: serenity::UserId,
    id: i64,
    decision: Decision,
) -> Result<(), Error> {
    let Some(appeal) = appeals::get(&data.db, id).await? else {
        return ephemeral(ctx, to, "This appeal is no longer on record.").await;
    };
    let case = appeal.case_no;
    let by = format!("discord:{user}");
    let done = match appeals::decide(&data.db, data.bus.as_ref(), appeal, decision, &by).await {
        Ok(done) => done,
        Err(crate::BotError::Invalid(why)) => return ephemeral(ctx, to, &why).await,
        Err(e) => return Err(e.into()),
    };
    // The mod-log shows it as `/unban` and `/duration` would.
    for case in &done.opened {
        super::modlog::post(&data.rest, &data.db, data.modlog, case).await;
    }
    if let Some(case) = &done.changed
        && let Err(e) = super::modlog::edit(&data.rest, case).await
    {
        tracing::warn!(error = %e, case = case.id, "cannot edit the mod-log post of a shortened case");
    }
    let decided = done.appeal;
    let what = match decision {
        Decision::Lift => "**Lifted**: the case's ban or mute is lifted.".to_owned(),
        Decision::Shorten(_) => match decided.expires_at {
            Some(end) => format!("**Shortened**: it now ends <t:{}:f>.", end.timestamp()),
            None => "**Shortened**.".to_owned(),
        },
        Decision::Deny => "**Denied**: the case stays as it was.".to_owned(),
    };
    let text = format!("Appeal of case #{case}: {what} Decided by <@{user}>.");
    let update = serenity::CreateInteractionResponseMessage::new()
        .content(text)
        .components(vec![])
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    respond(ctx, to, serenity::CreateInteractionResponse::UpdateMessage(update)).await
}

/// A message in an appeal's thread: a moderator's reaches the visitor's page as "Staff"
/// (marked delivered), anyone else's stays in Discord (marked refused). False when the channel
/// is no appeal's thread.
pub async fn thread_message(ctx: &serenity::Context, data: &Data, msg: &serenity::Message) -> Result<bool, Error> {
    let Some(appeal) = appeals::by_thread(&data.db, i64::try_from(msg.channel_id.get())?).await? else {
        return Ok(false);
    };
    let roles = msg.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
    let (channel, id) = (msg.channel_id.get(), msg.id.get());
    if !access::reaches(&ctx.cache, data, msg.author.id, &roles, access::Level::Moderator) {
        tracing::info!(user = %msg.author.id, "a message in an appeal's thread from a member who is no moderator was not sent to the visitor");
        if let Err(e) = data.rest.add_own_reaction(channel, id, super::events::REFUSED_EMOJI).await {
            tracing::warn!(error = %e, "cannot mark the refused message with a reaction");
        }
        return Ok(true);
    }
    let text = super::events::plain_text(&msg.content, &msg.mentions, &msg.attachments);
    if text.is_empty() {
        return Ok(true);
    }
    appeals::reply(&data.db, data.bus.as_ref(), appeal, &text).await?;
    if let Err(e) = data.rest.add_own_reaction(channel, id, DELIVERED_EMOJI).await {
        tracing::warn!(error = %e, "cannot mark the delivered reply with a reaction");
    }
    Ok(true)
}

/// Run the desk ([`keep_posting`]) as a watched background task.
pub fn spawn(db: DatabaseConnection, rest: Rest, config: DiscordConfig) -> tokio::task::JoinHandle<()> {
    crate::health::spawn("appeals desk", keep_posting(db, rest, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_name_an_action_and_an_appeal() {
        assert_eq!(parse_custom_id("appeal:lift:12"), Some(("lift", 12)));
        assert_eq!(parse_custom_id("appeal:shorten:7"), Some(("shorten", 7)));
        assert_eq!(parse_custom_id("report:ban:7"), None);
        assert_eq!(parse_custom_id("appeal:lift:x"), None);
        assert_eq!(parse_custom_id("appeal:lift:1:2"), None);
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
