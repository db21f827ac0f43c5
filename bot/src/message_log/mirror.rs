//! What the Discord side asks of the log.
//!
//! The mirror: which messages wait for Discord, the batch each was planned into
//! (`discord_batch`, recorded before posting so a retry re-posts exactly it), and what became
//! of it (`discord_message_id`, or [`MessageLog::SKIPPED`]). Staff and moderators: the web
//! messages a Discord message carries, staff edits, and deletions from Discord or by `/purge`.
//! Rows are found here only by `id` and the Discord columns (`discord_message_id`,
//! `discord_batch`, `staff`, `sent_at`, `deleted_at`); the start-up scan for what never reached
//! Discord is bounded by id (ULIDs start with their time) and read in pages.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::MessageLog;
use crate::entities::message_log;

/// Rows read per query of the start-up scan.
pub const SCAN_BATCH: u64 = 2_000;

impl MessageLog {
    /// Marks messages the mirror gave up on (room outran Discord, Discord refused the body, or
    /// the room has no channel to post in), so a restart never posts them late, out of order.
    pub const SKIPPED: &'static str = "skipped";

    /// Web messages sent after `since` that never reached Discord and were not given up on,
    /// oldest first.
    pub async fn unmirrored_since(&self, since: DateTime<Utc>) -> Result<Vec<message_log::Model>, DbErr> {
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = self.unmirrored_page(since, after.as_deref(), SCAN_BATCH).await?;
            let full = page.len() as u64 == SCAN_BATCH;
            after = page.last().map(|row| row.id.clone());
            rows.extend(page);
            if !full {
                return Ok(rows);
            }
        }
    }

    /// Up to `limit` of [`Self::unmirrored_since`]'s messages with ids after `after`. Read by
    /// primary key from the smallest id `since` allows (a ULID starts with its millisecond), so
    /// the scan covers the window, not the whole log.
    pub async fn unmirrored_page(
        &self,
        since: DateTime<Utc>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<message_log::Model>, DbErr> {
        let millis = u64::try_from(since.timestamp_millis()).unwrap_or(0);
        let from = ulid::Ulid::from_parts(millis, 0).to_string();
        let mut query = message_log::Entity::find()
            .filter(message_log::Column::Id.gte(from))
            .filter(message_log::Column::Staff.eq(false))
            .filter(message_log::Column::DiscordMessageId.is_null())
            .filter(message_log::Column::DeletedAt.is_null())
            .filter(message_log::Column::SentAt.gt(since))
            .filter(
                sea_orm::Condition::any()
                    .add(message_log::Column::DiscordBatch.is_null())
                    .add(message_log::Column::DiscordBatch.ne(Self::SKIPPED)),
            );
        if let Some(after) = after {
            query = query.filter(message_log::Column::Id.gt(after));
        }
        query.order_by_asc(message_log::Column::Id).limit(limit).all(&self.db).await
    }

    /// One message by id.
    pub async fn by_id(&self, id: &str) -> Result<Option<message_log::Model>, DbErr> {
        message_log::Entity::find_by_id(id).one(&self.db).await
    }

    /// The messages planned into batch `batch`, in order.
    pub async fn discord_batch(&self, batch: &str) -> Result<Vec<message_log::Model>, DbErr> {
        message_log::Entity::find()
            .filter(message_log::Column::DiscordBatch.eq(batch))
            .order_by_asc(message_log::Column::Id)
            .all(&self.db)
            .await
    }

    /// Those of `ids` that are in no batch and not in Discord yet, in id order.
    pub async fn unplanned(&self, ids: &[String]) -> Result<Vec<message_log::Model>, DbErr> {
        message_log::Entity::find()
            .filter(message_log::Column::Id.is_in(ids.iter().cloned()))
            .filter(message_log::Column::DiscordMessageId.is_null())
            .filter(message_log::Column::DiscordBatch.is_null())
            .order_by_asc(message_log::Column::Id)
            .all(&self.db)
            .await
    }

    /// Record `members` as batch `batch` before it is posted.
    pub async fn plan_discord_batch(&self, batch: &str, members: Vec<String>) -> Result<(), DbErr> {
        message_log::Entity::update_many()
            .col_expr(message_log::Column::DiscordBatch, Expr::value(batch))
            .filter(message_log::Column::Id.is_in(members))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Batch `batch` is Discord message `discord_id`.
    pub async fn discord_posted(&self, batch: &str, discord_id: i64) -> Result<(), DbErr> {
        message_log::Entity::update_many()
            .col_expr(message_log::Column::DiscordMessageId, Expr::value(discord_id))
            .filter(message_log::Column::DiscordBatch.eq(batch))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Mark those of `ids` not in Discord as [`Self::SKIPPED`].
    pub async fn discord_skipped(&self, ids: Vec<String>) -> Result<(), DbErr> {
        message_log::Entity::update_many()
            .col_expr(message_log::Column::DiscordBatch, Expr::value(Self::SKIPPED))
            .filter(message_log::Column::Id.is_in(ids))
            .filter(message_log::Column::DiscordMessageId.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// Ids marked deleted per statement: a purge can reach tens of thousands of messages, past
/// PostgreSQL's 65 535 bind parameters per statement.
const DELETE_CHUNK: usize = 1_000;

impl MessageLog {
    /// The web messages (`staff` false) or the staff message (`staff` true) Discord message
    /// `discord_id` carries.
    pub async fn carried_by(&self, discord_id: i64, staff: bool) -> Result<Vec<message_log::Model>, DbErr> {
        message_log::Entity::find()
            .filter(message_log::Column::DiscordMessageId.eq(discord_id))
            .filter(message_log::Column::Staff.eq(staff))
            .all(&self.db)
            .await
    }

    /// Whether Discord message `discord_id` carries a message that is not deleted.
    pub async fn still_shown(&self, discord_id: i64) -> Result<bool, DbErr> {
        let shown = message_log::Entity::find()
            .filter(message_log::Column::DiscordMessageId.eq(discord_id))
            .filter(message_log::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(shown.is_some())
    }

    /// A staff member edited their message in Discord: its new text.
    pub async fn edit_staff(&self, row: message_log::Model, text: &str) -> Result<(), DbErr> {
        let mut active: message_log::ActiveModel = row.into();
        active.text = Set(text.to_owned());
        active.edited_at = Set(Some(Utc::now()));
        active.update(&self.db).await?;
        Ok(())
    }

    /// Discord messages were deleted: mark deleted the messages they carried, and return those
    /// that were not deleted yet.
    pub async fn delete_carried_by(&self, discord_ids: Vec<i64>) -> Result<Vec<message_log::Model>, DbErr> {
        let rows = message_log::Entity::find()
            .filter(message_log::Column::DiscordMessageId.is_in(discord_ids.clone()))
            .filter(message_log::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(rows);
        }
        message_log::Entity::update_many()
            .col_expr(message_log::Column::DeletedAt, Expr::value(Utc::now()))
            .filter(message_log::Column::DiscordMessageId.is_in(discord_ids))
            .exec(&self.db)
            .await?;
        Ok(rows)
    }

    /// Mark these messages deleted, all or none.
    pub async fn delete(&self, ids: impl Iterator<Item = String>) -> Result<(), DbErr> {
        let ids: Vec<String> = ids.collect();
        let now = Utc::now();
        let txn = self.db.begin().await?;
        for chunk in ids.chunks(DELETE_CHUNK) {
            message_log::Entity::update_many()
                .col_expr(message_log::Column::DeletedAt, Expr::value(now))
                .filter(message_log::Column::Id.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await
    }
}
