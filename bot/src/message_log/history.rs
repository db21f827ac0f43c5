//! Reading a room's history: its last messages, and the messages around one.

use protocol::{MessageView, RoomSlug};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::{MAX_HOPS, MessageLog};
use crate::BotError;
use crate::entities::{message_log, room_tails};

impl MessageLog {
    /// The `n` messages before message `id` in `room`, the message itself and the `n` after
    /// it, oldest first, deleted ones included (what staff read back around a report). Empty
    /// when `id` is not a message of `room`.
    ///
    /// The ones before are a walk back from the message; the ones after, a walk back from the
    /// room's tail that stops at the message, or when that is more than `MAX_HOPS` (1 000) messages
    /// away (or the tail is gone with its text), a read forward by primary key.
    pub async fn around(&self, room: &RoomSlug, id: ulid::Ulid, n: u64) -> Result<Vec<message_log::Model>, BotError> {
        let db = &self.db;
        let backend = db.get_database_backend();
        let id = id.to_string();
        let (first, second) = if backend == DbBackend::Postgres { ("$1", "$2") } else { ("?1", "?2") };
        // Hop 0 is the message itself.
        let before = format!(
            "WITH RECURSIVE chain(id, prev_id, hops) AS ( \
                 SELECT id, prev_id, 0 FROM message_log WHERE id = {first} AND room = {second} \
               UNION ALL \
                 SELECT m.id, m.prev_id, c.hops + 1 FROM chain c JOIN message_log m ON m.id = c.prev_id \
                 WHERE c.hops < {n} \
             ) \
             SELECT m.* FROM chain c JOIN message_log m ON m.id = c.id ORDER BY c.hops DESC"
        );
        let values = [id.as_str().into(), room.as_str().into()];
        let mut rows = message_log::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, before, values))
            .all(db)
            .await?;
        if rows.is_empty() || n == 0 {
            return Ok(rows);
        }
        let tail = room_tails::Entity::find_by_id(room.as_str()).one(db).await?.map(|tail| tail.last_id);
        if tail.as_deref() == Some(id.as_str()) {
            return Ok(rows);
        }
        let walked = match tail {
            Some(tail) => {
                // Hop 1 is the tail; the walk stops before it reaches the message.
                let after = format!(
                    "WITH RECURSIVE chain(id, prev_id, hops) AS ( \
                         SELECT id, prev_id, 1 FROM message_log WHERE id = {first} \
                       UNION ALL \
                         SELECT m.id, m.prev_id, c.hops + 1 FROM chain c JOIN message_log m ON m.id = c.prev_id \
                         WHERE c.prev_id <> {second} AND c.hops < {MAX_HOPS} \
                     ) \
                     SELECT m.* FROM chain c JOIN message_log m ON m.id = c.id ORDER BY c.hops DESC"
                );
                let values = [tail.into(), id.as_str().into()];
                let walked = message_log::Entity::find()
                    .from_raw_sql(Statement::from_sql_and_values(backend, after, values))
                    .all(db)
                    .await?;
                // Reached when the oldest message walked is the one right after it.
                walked.first().is_some_and(|row| row.prev_id.as_deref() == Some(id.as_str())).then_some(walked)
            }
            None => None,
        };
        let after = match walked {
            Some(walked) => walked.into_iter().take(usize::try_from(n).unwrap_or(usize::MAX)).collect(),
            None => {
                message_log::Entity::find()
                    .filter(message_log::Column::Id.gt(id.as_str()))
                    .filter(message_log::Column::Room.eq(room.as_str()))
                    .order_by_asc(message_log::Column::Id)
                    .limit(n)
                    .all(db)
                    .await?
            }
        };
        rows.extend(after);
        Ok(rows)
    }
}

/// The room's last `limit` messages that were not deleted, oldest first: a walk back from the
/// room's tail that stops once it has `limit` of them or has gone `MAX_HOPS` (1 000) messages back,
/// deleted ones included. A chain only ever points back to a message logged before, so the
/// walk meets no message twice.
pub async fn recent(db: &DatabaseConnection, room: &RoomSlug, limit: u64) -> Result<Vec<MessageView>, BotError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let param = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "WITH RECURSIVE chain(id, prev_id, kept, hops) AS ( \
             SELECT m.id, m.prev_id, CASE WHEN m.deleted_at IS NULL THEN 1 ELSE 0 END, 1 \
             FROM room_tails t JOIN message_log m ON m.id = t.last_id WHERE t.room = {param} \
           UNION ALL \
             SELECT m.id, m.prev_id, c.kept + CASE WHEN m.deleted_at IS NULL THEN 1 ELSE 0 END, c.hops + 1 \
             FROM chain c JOIN message_log m ON m.id = c.prev_id \
             WHERE c.kept < {limit} AND c.hops < {MAX_HOPS} \
         ) \
         SELECT m.* FROM chain c JOIN message_log m ON m.id = c.id WHERE m.deleted_at IS NULL"
    );
    let mut rows = message_log::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, [room.as_str().into()]))
        .all(db)
        .await?;
    // Chain order is logging order; a room's history is shown in sending order.
    rows.sort_by(|a, b| (a.sent_at, &a.id).cmp(&(b.sent_at, &b.id)));
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
                ..MessageView::default()
            })
        })
        .collect())
}
