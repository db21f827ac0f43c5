//! Word and regex filters: kept in the database, published to every gateway, which blocks
//! (`filtered`) or masks matching messages.

use chrono::Utc;
use protocol::{ControlEvent, FilterAction, FilterDef};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};

use crate::BotError;
use crate::entities::filters;

const PATTERN_MAX: usize = 200;

fn action_name(action: FilterAction) -> &'static str {
    match action {
        FilterAction::Block => "block",
        FilterAction::Mask => "mask",
    }
}

/// Add a filter; a regex must compile (the gateways compile it the same way).
pub async fn add(
    db: &DatabaseConnection,
    pattern: &str,
    regex: bool,
    action: FilterAction,
    by: &str,
) -> Result<filters::Model, BotError> {
    let pattern = pattern.trim();
    if pattern.is_empty() || pattern.chars().count() > PATTERN_MAX {
        return Err(BotError::Invalid(format!("a filter is 1 to {PATTERN_MAX} characters")));
    }
    if regex {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| BotError::Invalid(format!("not a valid regular expression: {e}")))?;
    }
    Ok(filters::ActiveModel {
        pattern: Set(pattern.to_owned()),
        is_regex: Set(regex),
        action: Set(action_name(action).to_owned()),
        created_by: Set(by.chars().take(100).collect()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn remove(db: &DatabaseConnection, id: i64) -> Result<(), BotError> {
    if filters::Entity::delete_by_id(id).exec(db).await?.rows_affected == 0 {
        return Err(BotError::Invalid(format!("there is no filter #{id}")));
    }
    Ok(())
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<filters::Model>, BotError> {
    Ok(filters::Entity::find().order_by_asc(filters::Column::Id).all(db).await?)
}

pub fn to_def(row: &filters::Model) -> FilterDef {
    let action = if row.action == "mask" { FilterAction::Mask } else { FilterAction::Block };
    FilterDef { id: row.id, pattern: row.pattern.clone(), regex: row.is_regex, action }
}

/// Publish the list when it differs from what gateways have.
pub async fn publish(db: &DatabaseConnection, bus: &dyn bus::Bus) -> Result<(), BotError> {
    let current: Vec<FilterDef> = list(db).await?.iter().map(to_def).collect();
    if bus.filters().await? != current {
        bus.put_filters(&current).await?;
        bus.publish_control(&ControlEvent::FiltersChanged { filters: current.clone() }).await?;
        tracing::info!(filters = current.len(), "filters published");
    }
    Ok(())
}
