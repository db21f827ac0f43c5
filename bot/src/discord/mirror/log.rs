//! The mirror's reads and writes of `message_log`: which messages wait for Discord, the batch
//! each was planned into, and what became of it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::message_log;

/// Marks messages the mirror gave up on (room outran Discord, Discord refused the body, or the
/// room has no channel to post in), so a restart never posts them late, out of order.
pub const SKIPPED: &str = "skipped";

/// Web messages sent after `since` that never reached Discord and were not given up on, oldest
/// first.
pub async fn unmirrored_since(db: &DatabaseConnection, since: DateTime<Utc>) -> Result<Vec<message_log::Model>, DbErr> {
    message_log::Entity::find()
        .filter(message_log::Column::Staff.eq(false))
        .filter(message_log::Column::DiscordMessageId.is_null())
        .filter(message_log::Column::DeletedAt.is_null())
        .filter(message_log::Column::SentAt.gt(since))
        .filter(
            sea_orm::Condition::any()
                .add(message_log::Column::DiscordBatch.is_null())
                .add(message_log::Column::DiscordBatch.ne(SKIPPED)),
        )
        .order_by_asc(message_log::Column::Id)
        .all(db)
        .await
}

/// One message by id.
pub async fn get(db: &DatabaseConnection, id: &str) -> Result<Option<message_log::Model>, DbErr> {
    message_log::Entity::find_by_id(id).one(db).await
}

/// The messages planned into batch `batch`, in order.
pub async fn batch(db: &DatabaseConnection, batch: &str) -> Result<Vec<message_log::Model>, DbErr> {
    message_log::Entity::find()
        .filter(message_log::Column::DiscordBatch.eq(batch))
        .order_by_asc(message_log::Column::Id)
        .all(db)
        .await
}

/// Those of `ids` that are in no batch and not in Discord yet, in id order.
pub async fn unplanned(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<message_log::Model>, DbErr> {
    message_log::Entity::find()
        .filter(message_log::Column::Id.is_in(ids.iter().cloned()))
        .filter(message_log::Column::DiscordMessageId.is_null())
        .filter(message_log::Column::DiscordBatch.is_null())
        .order_by_asc(message_log::Column::Id)
        .all(db)
        .await
}

/// Record `members` as batch `batch` before it is posted.
pub async fn plan(db: &DatabaseConnection, batch: &str, members: Vec<String>) -> Result<(), DbErr> {
    message_log::Entity::update_many()
        .col_expr(message_log::Column::DiscordBatch, Expr::value(batch))
        .filter(message_log::Column::Id.is_in(members))
        .exec(db)
        .await?;
    Ok(())
}

/// Batch `batch` is Discord message `discord_id`.
pub async fn posted(db: &DatabaseConnection, batch: &str, discord_id: i64) -> Result<(), DbErr> {
    message_log::Entity::update_many()
        .col_expr(message_log::Column::DiscordMessageId, Expr::value(discord_id))
        .filter(message_log::Column::DiscordBatch.eq(batch))
        .exec(db)
        .await?;
    Ok(())
}

/// Mark those of `ids` not in Discord as [`SKIPPED`].
pub async fn skipped(db: &DatabaseConnection, ids: Vec<String>) -> Result<(), DbErr> {
    message_log::Entity::update_many()
        .col_expr(message_log::Column::DiscordBatch, Expr::value(SKIPPED))
        .filter(message_log::Column::Id.is_in(ids))
        .filter(message_log::Column::DiscordMessageId.is_null())
        .exec(db)
        .await?;
    Ok(())
}
