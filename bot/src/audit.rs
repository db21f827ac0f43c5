//! The audit log: every moderator and operator action, who did it and to what.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};

use crate::BotError;
use crate::entities::audit_log;

/// Record one action.
pub async fn record(
    db: &DatabaseConnection,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> Result<(), BotError> {
    audit_log::ActiveModel {
        at: Set(Utc::now()),
        actor: Set(actor.chars().take(100).collect()),
        action: Set(action.chars().take(64).collect()),
        target: Set(target.chars().take(200).collect()),
        details: Set(details.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
