//! Room history without a per-room index on the log.
//!
//! The log's `(room, sent_at)` index served one query: a room's last messages, read when a
//! room is published. Every logged message put an entry in it next to its room's latest, and
//! with many busy rooms each entry of a batch landed on an index page of its own, which
//! SQLite then wrote to its WAL, checkpointed, read back and wrote again: most of what the
//! one-process default wrote to disk per message (see bench/message-log.md).
//!
//! Instead each message names the message logged before it in its room (`prev_id`), and
//! `room_tails` holds each room's latest message: a room's history is a walk back from its
//! tail by primary key, and a logged batch updates one small row per room it touched.
//! Existing rows are chained in `(sent_at, id)` order.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    Room,
    SentAt,
    PrevId,
}

#[derive(DeriveIden)]
enum RoomTails {
    Table,
    Room,
    LastId,
}

const ROOM_INDEX: &str = "message_log_room_sent";

/// Chains the rows already logged (both backends accept `UPDATE … FROM` and window functions).
const CHAIN_EXISTING: &str = "UPDATE message_log SET prev_id = chained.prev \
     FROM (SELECT id, LAG(id) OVER (PARTITION BY room ORDER BY sent_at, id) AS prev FROM message_log) AS chained \
     WHERE message_log.id = chained.id AND chained.prev IS NOT NULL";

const TAILS_OF_EXISTING: &str = "INSERT INTO room_tails (room, last_id) \
     SELECT room, id FROM (SELECT room, id, \
         ROW_NUMBER() OVER (PARTITION BY room ORDER BY sent_at DESC, id DESC) AS n FROM message_log) AS ranked \
     WHERE n = 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(MessageLog::Table).add_column(string_len_null(MessageLog::PrevId, 26)).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoomTails::Table)
                    .col(string_len(RoomTails::Room, 32).primary_key())
                    .col(string_len(RoomTails::LastId, 26))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(CHAIN_EXISTING).await?;
        db.execute_unprepared(TAILS_OF_EXISTING).await?;
        manager.drop_index(Index::drop().name(ROOM_INDEX).table(MessageLog::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(ROOM_INDEX)
                    .table(MessageLog::Table)
                    .col(MessageLog::Room)
                    .col(MessageLog::SentAt)
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(RoomTails::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(MessageLog::Table).drop_column(MessageLog::PrevId).to_owned()).await
    }
}
