//! The report buttons and menu: *Ban tag* bans the reported tag ([`bans::impose`]), the
//! *Mute for…* menu mutes it for the length chosen ([`mutes::impose`], [`render::MUTE_CHOICES`];
//! any other value is refused), *Dismiss* closes the report.
//! A ban or mute opens its case and goes to the mod-log channel like `/ban` and `/mute`. Only moderators may press them, checked as for commands
//! ([`access::reaches`], guild-level permissions, never the channel's); anyone else gets an
//! ephemeral refusal and nothing happens. The first decision wins: it is recorded before it is
//! acted on (and undone if acting fails), the report message is edited to show who decided
//! what with its buttons disabled, and `ControlEvent::ReportOutcome` goes to the reporter's
//! gateway.

use poise::serenity_prelude as serenity;
use protocol::{ControlEvent, ReportVerdict};
use serde_json::{Value, json};

use super::render::{self, Action};
use crate::bans::{self, NewBan, Scope, Target};
use crate::discord::access::{self, Level};
use crate::discord::{Data, Error, unavailable};
use crate::entities::reports as report_rows;
use crate::mutes::{self, NewMute};
use crate::reports;

/// Answer a press on a report button (`custom_id` starting with [`render::PREFIX`]).
pub async fn press(ctx: &serenity::Context, data: &Data, press: &serenity::ComponentInteraction) -> Result<(), Error> {
    let Some((action, id)) = Action::parse(&press.data.custom_id) else { return Ok(()) };
    let (interaction, token) = (press.id.get(), press.token.as_str());
    let roles = press.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
    if !access::reaches(&ctx.cache, data, press.user.id, &roles, Level::Moderator) {
        tracing::info!(user = %press.user.id, report = id, "refused a report button to a member who may not moderate");
        let text = format!("Only moderators may act on reports: it needs {}.", Level::Moderator.describe());
        return ephemeral(data, interaction, token, &text).await;
    }
    if unavailable::check(&data.db).await.is_err() {
        return ephemeral(data, interaction, token, unavailable::ANSWER).await;
    }
    // The menu's choice: one of the lengths it offers, nothing else.
    let length = match (&press.data.kind, action) {
        (serenity::ComponentInteractionDataKind::StringSelect { values }, Action::Mute) => {
            match render::mute_choice(values) {
                Some(length) => Some(length),
                None => return ephemeral(data, interaction, token, "Choose a length from the menu.").await,
            }
        }
        (_, Action::Mute) => return ephemeral(data, interaction, token, "Choose a length from the menu.").await,
        _ => None,
    };
    let by = format!("discord:{} ({})", press.user.id, press.user.name);
    let verdict = match action {
        Action::Ban => ReportVerdict::Banned,
        Action::Mute => ReportVerdict::Muted,
        Action::Dismiss => ReportVerdict::Dismissed,
    };
    let (report, closed) = reports::decide(&data.db, id, verdict, &by, length).await?;
    if closed {
        let acted = match action {
            Action::Ban => ban(data, &report, &by).await,
            Action::Mute => mute(data, &report, &by, length.unwrap_or(render::DEFAULT_MUTE)).await,
            Action::Dismiss => {
                crate::audit::record(&data.db, &by, "dismiss report", &format!("report #{id}"), &report.reason)
                    .await
                    .map_err(Error::from)
            }
        };
        if let Err(e) = acted {
            tracing::error!(report = id, error = %e, "a report decision failed; the report is open again");
            reports::reopen(&data.db, id).await?;
            return ephemeral(data, interaction, token, &format!("That failed, the report stays open: {e}")).await;
        }
        tracing::info!(report = id, state = %report.state, by = %by, "report decided");
        let outcome = ControlEvent::ReportOutcome {
            reporter: report.reporter.clone(),
            id: report.message_id.parse()?,
            outcome: verdict,
        };
        if let Err(e) = data.bus.publish_control(&outcome).await {
            tracing::warn!(report = id, error = %e, "cannot tell the reporter the outcome");
        }
    }
    // Decided now or before: the message shows the decision that stands.
    let row = data.log.by_id(&report.message_id).await?;
    let reporter_tag = super::reporter_tag(&data.tagger, &report.reporter_ip);
    let body = render::message(&render::Reported { report: &report, row: row.as_ref(), reporter_tag: &reporter_tag });
    let response = json!({"type": 7, "data": {
        "embeds": body["embeds"], "components": body["components"], "allowed_mentions": {"parse": []},
    }});
    data.rest.interaction_callback(interaction, token, &response).await?;
    Ok(())
}

/// The reported sender as a sanction targets them: the tag, and the reported message's address
/// (its /24 or /64 as `/ban` would), or, once retention erased it, every address of the tag;
/// and the reported message's device tag (else the tag's devices).
async fn target(data: &Data, report: &report_rows::Model) -> Result<(String, Vec<ipnet::IpNet>, Vec<String>), Error> {
    let tag = report.reported_tag.clone().ok_or("the reported message has no tag (staff, or not in the log)")?;
    let row = data.log.by_id(&report.message_id).await?;
    let device = row.as_ref().and_then(|r| r.device_tag.clone());
    let networks = match row.and_then(|r| r.ip.parse::<std::net::IpAddr>().ok()) {
        Some(ip) => vec![Scope::default_for(ip).network(ip)],
        None => bans::resolve(&data.db, &Target::Tag(tag.clone()), None).await?,
    };
    let devices = match device {
        Some(device) => vec![device],
        None => bans::devices_for(&data.db, &Target::Tag(tag.clone())).await?,
    };
    Ok((tag, networks, devices))
}

fn reason_of(report: &report_rows::Model) -> String {
    format!("report #{}: {}", report.id, report.reason.replace('_', " "))
}

/// Ban the reported sender until lifted.
async fn ban(data: &Data, report: &report_rows::Model, by: &str) -> Result<(), Error> {
    let (tag, networks, devices) = target(data, report).await?;
    let reason = reason_of(report);
    let shown = format!("{} (tag {tag})", report.reported_nick);
    let ban = NewBan { networks, tag: Some(&tag), shown: Some(shown), reason: &reason, by, duration: None, devices };
    let imposed = bans::impose(&data.db, Some(data.bus.as_ref()), ban).await?;
    crate::discord::modlog::post(&data.rest, &data.db, data.modlog, &imposed.case).await;
    Ok(())
}

/// Mute the reported sender for `length` (a plain mute: they are told).
async fn mute(data: &Data, report: &report_rows::Model, by: &str, length: std::time::Duration) -> Result<(), Error> {
    let (tag, networks, devices) = target(data, report).await?;
    let reason = reason_of(report);
    let shown = format!("{} (tag {tag})", report.reported_nick);
    let mute = NewMute {
        devices,
        networks,
        tag: Some(&tag),
        shown: Some(shown),
        reason: &reason,
        by,
        duration: Some(length),
        shadow: false,
    };
    let imposed = mutes::impose(&data.db, Some(data.bus.as_ref()), mute).await?;
    crate::discord::modlog::post(&data.rest, &data.db, data.modlog, &imposed.case).await;
    Ok(())
}

/// An answer only the presser sees.
async fn ephemeral(data: &Data, interaction: u64, token: &str, text: &str) -> Result<(), Error> {
    let body: Value = json!({"type": 4, "data": {
        "content": text.chars().take(2000).collect::<String>(), "flags": 64, "allowed_mentions": {"parse": []},
    }});
    data.rest.interaction_callback(interaction, token, &body).await?;
    Ok(())
}
