//! The mod-log channel (`DISCORD_MODLOG_CHANNEL_ID`): one post per case, titled "Case #N", that
//! is edited whenever the case changes (`/reason`, `/duration`), so the channel always shows
//! what holds. The post is a pure function of the case row ([`embed`]).

use serde_json::{Value, json};

use super::rest::{Posted, Rest};
use crate::cases;
use crate::entities::cases::Model as Case;

/// The case as the mod-log shows it.
pub fn embed(case: &Case) -> Value {
    let mut fields = vec![json!({
        "name": "Reason",
        "value": if case.reason.is_empty() { "none".to_owned() } else { case.reason.chars().take(1000).collect() },
    })];
    match (case.kind.as_str(), case.expires_at) {
        (_, Some(e)) => {
            fields.push(json!({"name": "Expires", "value": format!("<t:{}:f>", e.timestamp()), "inline": true}))
        }
        ("ban" | "mute", None) => fields.push(json!({"name": "Expires", "value": "until lifted", "inline": true})),
        _ => {}
    }
    json!({
        "embeds": [{
            "title": format!("Case #{} · {}: {}", case.id, case.kind, case.target).chars().take(256).collect::<String>(),
            "description": case.details.chars().take(4000).collect::<String>(),
            "fields": fields,
            "footer": {"text": case.actor.chars().take(200).collect::<String>()},
            "timestamp": case.created_at.to_rfc3339(),
        }],
        "allowed_mentions": {"parse": []},
    })
}

/// Post a case to the mod-log channel, if there is one, and remember the post. A failure is
/// logged: the action itself is done and recorded.
pub async fn post(rest: &Rest, db: &sea_orm::DatabaseConnection, channel: Option<u64>, case: &Case) {
    let Some(channel) = channel else { return };
    match rest.create_message(channel, &embed(case)).await {
        Ok(Posted::Ok { id, .. }) => {
            if let Err(e) = cases::set_post(db, case.id, channel, id).await {
                tracing::warn!(error = %e, case = case.id, "cannot remember the mod-log post of a case");
            }
        }
        Ok(other) => tracing::warn!(?other, case = case.id, "the mod-log channel refused a case"),
        Err(e) => tracing::warn!(error = %e, "cannot post to the mod-log channel"),
    }
}

/// Edit a case's mod-log post to match the case; whether there was one to edit.
pub async fn edit(rest: &Rest, case: &Case) -> Result<bool, super::rest::RestError> {
    let (Some(channel), Some(message)) = (case.modlog_channel, case.modlog_message) else {
        return Ok(false);
    };
    let (Ok(channel), Ok(message)) = (u64::try_from(channel), u64::try_from(message)) else {
        return Ok(false);
    };
    match rest.edit_message(channel, message, &embed(case)).await? {
        Posted::Ok { .. } => Ok(true),
        other => {
            tracing::warn!(?other, case = case.id, "the mod-log post of a case could not be edited");
            Ok(false)
        }
    }
}
