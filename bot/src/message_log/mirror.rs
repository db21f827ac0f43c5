//! What the Discord mirror asks of the log: which messages wait for Discord, the batch each
//! was planned into (`discord_batch`, recorded before posting so a retry re-posts exactly it),
//! and what became of it (`discord_message_id`, or [`MessageLog::SKIPPED`]). Only the Discord
//! columns and `id`, `staff`, `sent_at`, `deleted_at` are read here.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::MessageLog;
use crate::entities::message_log;

impl MessageLog {
    /// Marks messages the mirror gave up on (room outran Discord, Discord refused the body, or
    /// the room has no channel to post in), so a restart never posts them late, out of order.
    pub const SKIPPED: &'static str = "skipped";

    /// Web messages sent after `since` that never reached Discord and were not given up on,
    /// oldest first.
    pub async fn unmirrored_since(&self, since: DateTime<Utc>) -> Result<Vec<message_log::Model>, DbErr> {
        message_log::Entity::find()
            .filter(message_log::Column::Staff.eq(false))
            .filter(message_log::Column::DiscordMessageId.is_null())
            .filter(message_log::Column::DeletedAt.is_null())
            .filter(message_log::Column::SentAt.gt(since))
            .filter(
                sea_orm::Condition::any()
                    .add(message_log::Column::DiscordBatch.is_null())
                    .add(message_log::Column::DiscordBatch.ne(Self::SKIPPED)),
            )
            .order_by_asc(message_log::Column::Id)
            .all(&self.db)
            .await
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

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use protocol::{LoggedMessage, MessageView};

    use super::*;
    use crate::iptag::IpTagger;
    use crate::message_log::Delivery;

    #[tokio::test]
    async fn a_batch_is_planned_posted_or_skipped_and_leaves_the_unmirrored() {
        let dir = std::env::temp_dir().join(format!("cr-mirror-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", dir.join("log.db").display())).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let log = MessageLog::new(db);
        // Ids in order, as a gateway makes them.
        let mut ids = ulid::Generator::new();
        let messages: Vec<LoggedMessage> = ["a", "b", "c"]
            .into_iter()
            .map(|text| LoggedMessage {
                message: MessageView {
                    id: ids.generate().unwrap(),
                    room: "lobby".to_owned(),
                    nick: "al".to_owned(),
                    text: text.to_owned(),
                    at: Utc::now(),
                    staff: false,
                },
                ip: IpAddr::from([203, 0, 113, 9]),
            })
            .collect();
        log.record(&messages, &IpTagger::new(b"k"), Delivery::First).await.unwrap();
        let ids: Vec<String> = messages.iter().map(|m| m.message.id.to_string()).collect();
        let since = Utc::now() - chrono::Duration::minutes(1);
        assert_eq!(log.unmirrored_since(since).await.unwrap().len(), 3);

        log.plan_discord_batch(&ids[0], ids[..2].to_vec()).await.unwrap();
        let batch: Vec<String> = log.discord_batch(&ids[0]).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(batch, ids[..2]);
        let unplanned: Vec<String> = log.unplanned(&ids).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(unplanned, ids[2..]);

        log.discord_posted(&ids[0], 42).await.unwrap();
        assert_eq!(log.by_id(&ids[1]).await.unwrap().unwrap().discord_message_id, Some(42));
        assert_eq!(log.unmirrored_since(since).await.unwrap().len(), 1);
        // Skipping marks only what is not in Discord.
        log.discord_skipped(ids.clone()).await.unwrap();
        assert_eq!(log.by_id(&ids[0]).await.unwrap().unwrap().discord_batch.as_deref(), Some(ids[0].as_str()));
        assert_eq!(log.by_id(&ids[2]).await.unwrap().unwrap().discord_batch.as_deref(), Some(MessageLog::SKIPPED));
        assert!(log.unmirrored_since(since).await.unwrap().is_empty());
        std::fs::remove_dir_all(dir).ok();
    }
}
