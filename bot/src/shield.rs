//! The proof-of-work gate's mode as staff set it (`/shield`, `chatroulette shield`): kept in
//! the `settings` table (so it survives restarts and reaches a running one-process chat from
//! the shell), published to the bus at once when one is at hand and again at every sync, and
//! followed by every gateway within a second. The gates themselves are the gateways'
//! (`gateway::shield`).

use bus::{Bus, SHIELD_STEPS, ShieldMode, ShieldSetting};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use crate::BotError;
use crate::entities::settings;

/// The `settings` row that holds it (JSON).
const KEY: &str = "shield";

/// The setting staff made last; `None` when nobody did (each gateway's `SHIELD_MODE`).
pub async fn get(db: &DatabaseConnection) -> Result<Option<ShieldSetting>, BotError> {
    let Some(row) = settings::Entity::find_by_id(KEY).one(db).await? else {
        return Ok(None);
    };
    match serde_json::from_str(&row.value) {
        Ok(setting) => Ok(Some(setting)),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable shield setting in the database");
            Ok(None)
        }
    }
}

/// A setting from staff's words: `mode` and an optional difficulty step (1 to 4).
pub fn setting(mode: ShieldMode, difficulty: Option<u8>) -> Result<ShieldSetting, BotError> {
    if let Some(d) = difficulty
        && !(1..=SHIELD_STEPS).contains(&d)
    {
        return Err(BotError::Invalid(format!("the difficulty is a step from 1 to {SHIELD_STEPS}, not {d}")));
    }
    Ok(ShieldSetting { mode, difficulty })
}

/// Store `setting`, record who did it, and publish it on `bus` when one is given (without one,
/// the running process publishes it at its next sync).
pub async fn set(
    db: &DatabaseConnection,
    bus: Option<&dyn Bus>,
    setting: ShieldSetting,
    actor: &str,
) -> Result<(), BotError> {
    let value = serde_json::to_string(&setting).map_err(|e| BotError::Invalid(e.to_string()))?;
    settings::Entity::insert(settings::ActiveModel { key: Set(KEY.to_owned()), value: Set(value) })
        .on_conflict(OnConflict::column(settings::Column::Key).update_column(settings::Column::Value).to_owned())
        .exec(db)
        .await?;
    crate::audit::record(db, actor, "shield", setting.mode.as_str(), &describe(&setting)).await?;
    if let Some(bus) = bus {
        bus.put_shield(&setting).await?;
    }
    Ok(())
}

/// Publish the stored setting (at every sync, so a bus that lost its data has it back).
pub async fn publish(db: &DatabaseConnection, bus: &dyn Bus) -> Result<(), BotError> {
    if let Some(setting) = get(db).await? {
        bus.put_shield(&setting).await?;
    }
    Ok(())
}

/// `on, difficulty 2` / `auto, difficulty following the load`.
pub fn describe(setting: &ShieldSetting) -> String {
    match setting.difficulty {
        Some(d) => format!("{}, difficulty step {d} of {SHIELD_STEPS}", setting.mode),
        None => format!("{}, difficulty following the load", setting.mode),
    }
}
