//! Ban-evasion alerts in the mod-log channel (`DISCORD_MODLOG_CHANNEL_ID`): one message per
//! alert (`crate::evasion`: a case's possible evasions within 10 minutes), edited as joins are
//! counted, with the buttons *Extend to this address* and *Ignore*. Staff see IP tags and
//! device tags only, never an address.
//!
//! The poster ([`Alerts::run`]) is one task, woken by the consumer whenever an alert changes;
//! it posts or edits every alert marked dirty, in the urgent class of the global budget (ahead
//! of the mirror's backlog), and at most [`ROUNDS_PER_SECOND`] rounds a second, so a burst of
//! joins costs one edit per alert per round. Only moderators may press the buttons (checked
//! as for commands, [`access::reaches`]); a press edits the message to show who decided what,
//! its buttons gone.

use std::sync::Arc;
use std::time::Duration;

use poise::serenity_prelude as serenity;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use super::access::{self, Level};
use super::embeds::{inline, truncate};
use super::rest::{Posted, Rest};
use super::{Data, Error, unavailable};
use crate::entities::evasion_alerts::Model as Alert;
use crate::evasion::{self, AUTO_ACTOR};

/// `custom_id` prefix of the alert buttons: `evasion:<extend|ignore>:<alert id>`.
pub const PREFIX: &str = "evasion:";
/// Rounds of posting and editing a second at most.
const ROUNDS_PER_SECOND: u32 = 4;
/// When nothing wakes the poster, it looks again this often (alerts left dirty by a failure).
const ROUND: Duration = Duration::from_secs(5);
/// Alerts posted or edited per round at most.
const PER_ROUND: u64 = 10;

/// The alert poster (cheap to clone).
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    /// Urgent: alerts go ahead of the mirror's backlog.
    rest: Rest,
    db: DatabaseConnection,
    modlog: Option<u64>,
    wake: tokio::sync::Notify,
}

impl Alerts {
    pub fn new(rest: &Rest, db: DatabaseConnection, modlog: Option<u64>) -> Self {
        Self { inner: Arc::new(Inner { rest: rest.urgent(), db, modlog, wake: tokio::sync::Notify::new() }) }
    }

    /// An alert changed: show it now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Post and edit alerts as they change, until the task is aborted.
    pub async fn run(self) {
        let Some(channel) = self.inner.modlog else {
            tracing::warn!("DISCORD_MODLOG_CHANNEL_ID is unset: evasion alerts are recorded but not posted");
            return std::future::pending().await;
        };
        let pace = Duration::from_secs(1) / ROUNDS_PER_SECOND;
        loop {
            if let Err(e) = self.inner.round(channel).await {
                tracing::warn!(error = %e, "cannot show evasion alerts in Discord yet; retrying");
            }
            tokio::time::sleep(pace).await;
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(ROUND) => {}
            }
        }
    }
}

impl Inner {
    async fn round(&self, channel: u64) -> Result<(), Error> {
        for alert in evasion::dirty(&self.db, PER_ROUND).await? {
            let case = crate::cases::get(&self.db, alert.case_id).await?;
            let body = message(&alert, case.as_ref());
            let posted = match (alert.discord_channel_id, alert.discord_message_id) {
                (Some(c), Some(m)) => self.rest.edit_message(u64::try_from(c)?, u64::try_from(m)?, &body).await?,
                _ => self.rest.create_message(channel, &body).await?,
            };
            match posted {
                Posted::Ok { id, .. } => {
                    let target = alert.discord_channel_id.and_then(|c| u64::try_from(c).ok()).unwrap_or(channel);
                    evasion::shown(&self.db, &alert, target, id).await?;
                    tracing::info!(alert = alert.id, case = alert.case_id, joins = alert.joins, "evasion alert shown");
                }
                other => return Err(format!("Discord refused an evasion alert: {other:?}").into()),
            }
        }
        Ok(())
    }
}

/// Who decided, as staff read it (a mention, or "automatically").
fn decider(by: &str) -> String {
    if by == AUTO_ACTOR { "automatically (EVASION_AUTO_APPLY)".to_owned() } else { super::reports::render::who(by) }
}

/// The alert message: the summary line, one line per (IP tag, device tag) pair, the case, and
/// the buttons while nobody decided.
pub fn message(alert: &Alert, case: Option<&crate::entities::cases::Model>) -> Value {
    let pairs = evasion::pairs(alert);
    let first = pairs.first().map_or("a join", |p| p.what.as_str());
    let more = if pairs.len() > 1 { format!(" (and {} more)", pairs.len() - 1) } else { String::new() };
    let content = format!("possible evasion of case #{}: {first}{more}", alert.case_id);
    let lines: Vec<String> = pairs
        .iter()
        .map(|p| {
            let device = p.device.as_deref().map_or_else(|| "no device tag".to_owned(), |d| format!("device `{d}`"));
            let joins = if p.joins == 1 { "1 join".to_owned() } else { format!("{} joins", p.joins) };
            let state = match (p.extended, p.auto) {
                (true, true) => " · **extended automatically**",
                (true, false) => " · extended",
                _ => "",
            };
            format!("IP tag `{}` · {device} · {} · {joins}{state}", p.ip_tag, p.what)
        })
        .collect();
    let mut fields = vec![
        json!({"name": "Joins", "value": alert.joins.to_string(), "inline": true}),
        json!({"name": "Since", "value": format!("<t:{}:R>", alert.opened_at.timestamp()), "inline": true}),
    ];
    if let Some(case) = case {
        let reason = if case.reason.is_empty() { "none" } else { case.reason.as_str() };
        let value = format!(
            "{} of {} · {}\nreason: {}",
            case.kind,
            inline(&case.target),
            crate::cases::until(case),
            inline(reason)
        );
        fields.push(json!({"name": format!("Case #{}", case.id), "value": truncate(&value, 1000)}));
    }
    let autos = pairs.iter().filter(|p| p.auto).count();
    if autos > 0 {
        let value = format!(
            "EVASION_AUTO_APPLY extended the {} to {autos} device match(es) by itself; undo with /unban or /unmute.",
            alert.kind
        );
        fields.push(json!({"name": "Applied automatically", "value": value}));
    }
    let by = alert.decided_by.as_deref().map(decider);
    let decision = match (alert.state.as_str(), by) {
        ("extended", Some(by)) => {
            Some(format!("**Extended** to these addresses by {by}: the case's {} covers them now.", alert.kind))
        }
        ("ignored", Some(by)) => {
            Some(format!("**Ignored** by {by}: these pairs are not alerted again for case #{}.", alert.case_id))
        }
        _ => None,
    };
    if let Some(decision) = &decision {
        fields.push(json!({"name": "Decision", "value": decision}));
    }
    let components = if decision.is_some() {
        json!([])
    } else {
        json!([{"type": 1, "components": [
            {"type": 2, "style": 4, "label": "Extend to this address", "custom_id": format!("{PREFIX}extend:{}", alert.id)},
            {"type": 2, "style": 2, "label": "Ignore", "custom_id": format!("{PREFIX}ignore:{}", alert.id)},
        ]}])
    };
    json!({
        "content": truncate(&content, 2000),
        "embeds": [{
            "title": format!("Possible evasion of case #{}", alert.case_id),
            "description": truncate(&lines.join("\n"), 4000),
            "fields": fields,
            "footer": {"text": "Extend adds the case's sanction for the listed addresses and devices; Ignore silences these pairs for this case."},
            "timestamp": alert.last_at.to_rfc3339(),
        }],
        "components": components,
        "allowed_mentions": {"parse": []},
    })
}

/// `evasion:extend:12` → ("extend", 12).
fn parse(custom_id: &str) -> Option<(&str, i64)> {
    let rest = custom_id.strip_prefix(PREFIX)?;
    let (action, id) = rest.split_once(':')?;
    matches!(action, "extend" | "ignore").then_some(())?;
    Some((action, id.parse().ok()?))
}

/// A press on an alert's button (`custom_id` starting with [`PREFIX`]).
pub async fn press(ctx: &serenity::Context, data: &Data, press: &serenity::ComponentInteraction) -> Result<(), Error> {
    let Some((action, id)) = parse(&press.data.custom_id) else { return Ok(()) };
    let (interaction, token) = (press.id.get(), press.token.as_str());
    let roles = press.member.as_ref().map(|m| m.roles.clone()).unwrap_or_default();
    if !access::reaches(&ctx.cache, data, press.user.id, &roles, Level::Moderator) {
        tracing::info!(user = %press.user.id, alert = id, "refused an evasion alert button to a member who may not moderate");
        let text = format!("Only moderators may act on evasion alerts: it needs {}.", Level::Moderator.describe());
        return ephemeral(data, interaction, token, &text).await;
    }
    if unavailable::check(&data.db).await.is_err() {
        return ephemeral(data, interaction, token, unavailable::ANSWER).await;
    }
    let by = format!("discord:{} ({})", press.user.id, press.user.name);
    let decided = match action {
        "extend" => evasion::extend(&data.db, Some(data.bus.as_ref()), id, &by).await.map(|(alert, _)| alert),
        _ => evasion::ignore(&data.db, id, &by).await,
    };
    let alert = match decided {
        Ok(alert) => alert,
        Err(crate::BotError::Invalid(why)) => return ephemeral(data, interaction, token, &why).await,
        Err(e) => return Err(e.into()),
    };
    tracing::info!(alert = id, case = alert.case_id, state = %alert.state, by = %by, "evasion alert decided");
    let case = crate::cases::get(&data.db, alert.case_id).await?;
    let body = message(&alert, case.as_ref());
    let response = json!({"type": 7, "data": {
        "content": body["content"], "embeds": body["embeds"], "components": body["components"],
        "allowed_mentions": {"parse": []},
    }});
    data.rest.interaction_callback(interaction, token, &response).await?;
    // After the answer (due within 3 s): the case's own mod-log post says it was extended.
    if let Some(case) = case.as_ref().filter(|_| action == "extend")
        && let Err(e) = super::modlog::edit(&data.rest, case).await
    {
        tracing::warn!(error = %e, case = case.id, "cannot edit the mod-log post of an extended case");
    }
    Ok(())
}

/// An answer only the presser sees.
async fn ephemeral(data: &Data, interaction: u64, token: &str, text: &str) -> Result<(), Error> {
    let body = json!({"type": 4, "data": {
        "content": truncate(text, 2000), "flags": 64, "allowed_mentions": {"parse": []},
    }});
    data.rest.interaction_callback(interaction, token, &body).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_name_an_action_and_an_alert() {
        assert_eq!(parse("evasion:extend:12"), Some(("extend", 12)));
        assert_eq!(parse("evasion:ignore:3"), Some(("ignore", 3)));
        assert_eq!(parse("evasion:ban:3"), None);
        assert_eq!(parse("report:ban:3"), None);
        assert_eq!(parse("evasion:extend:x"), None);
    }
}
