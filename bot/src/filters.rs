//! Word and regex filters: kept in the database, published to every gateway, which blocks
//! (`filtered`) or masks matching messages.

use chrono::Utc;
use protocol::{ControlEvent, FilterAction, FilterDef};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder};

use crate::BotError;
use crate::entities::filters;

fn action_name(action: FilterAction) -> &'static str {
    match action {
        FilterAction::Block => "block",
        FilterAction::Mask => "mask",
    }
}

/// Add a filter, if it compiles the way every gateway compiles it
/// ([`protocol::filter::compile`]) and fewer than `max` (`MAX_FILTERS`) filters exist.
pub async fn add(
    db: &DatabaseConnection,
    pattern: &str,
    regex: bool,
    action: FilterAction,
    by: &str,
    max: usize,
) -> Result<filters::Model, BotError> {
    let pattern = pattern.trim();
    protocol::filter::compile(pattern, regex).map_err(|e| BotError::Invalid(e.to_string()))?;
    let count = filters::Entity::find().count(db).await?;
    if count >= u64::try_from(max).unwrap_or(u64::MAX) {
        return Err(BotError::Invalid(format!(
            "there are already {count} filters, the most this chat keeps (MAX_FILTERS={max}): \
             remove one with /filter remove first"
        )));
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
        // Filters stored before they were checked this way: the gateways skip them too.
        for (id, error) in protocol::filter::FilterSet::compile(&current).1 {
            tracing::warn!(id, %error, "a stored filter does not compile and is not applied: remove it");
        }
        bus.put_filters(&current).await?;
        bus.publish_control(&ControlEvent::FiltersChanged { filters: current.clone() }).await?;
        tracing::info!(filters = current.len(), "filters published");
    }
    Ok(())
}
