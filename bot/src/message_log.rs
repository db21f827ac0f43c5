//! The message log: the complete record of web messages, with the sender's IP, whatever
//! happens to Discord.

use protocol::{LoggedMessage, MessageView, RoomSlug};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::BotError;
use crate::entities::message_log;
use crate::iptag::IpTagger;

/// Write messages with their senders' IP tags; ids already logged are skipped, so a
/// redelivered queue entry is harmless.
pub async fn record(db: &DatabaseConnection, messages: &[LoggedMessage], tagger: &IpTagger) -> Result<(), BotError> {
    if messages.is_empty() {
        return Ok(());
    }
    let rows = messages.iter().map(|m| message_log::ActiveModel {
        id: Set(m.message.id.to_string()),
        room: Set(m.message.room.clone()),
        nickname: Set(m.message.nick.clone()),
        ip: Set(m.ip.to_string()),
        ip_tag: Set(Some(tagger.describe(m.ip))),
        text: Set(m.message.text.clone()),
        staff: Set(m.message.staff),
        discord_message_id: Set(None),
        discord_batch: Set(None),
        sent_at: Set(m.message.at),
        edited_at: Set(None),
        deleted_at: Set(None),
    });
    message_log::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(message_log::Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The room's last `limit` messages that were not deleted, oldest first.
pub async fn recent(db: &DatabaseConnection, room: &RoomSlug, limit: u64) -> Result<Vec<MessageView>, BotError> {
    let mut rows = message_log::Entity::find()
        .filter(message_log::Column::Room.eq(room.as_str()))
        .filter(message_log::Column::DeletedAt.is_null())
        .order_by_desc(message_log::Column::SentAt)
        .order_by_desc(message_log::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.id.parse().ok()?;
            Some(MessageView {
                id,
                room: row.room,
                nick: row.nickname,
                text: row.text,
                at: row.sent_at,
                staff: row.staff,
            })
        })
        .collect())
}
