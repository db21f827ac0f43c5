//! Edits and deletions of messages by their authors (`edit`, `delete`), kept as evidence.
//!
//! `message_log` keeps each message's current text; every change writes a `message_edits` row
//! first with the text it replaced (`text_before`) and, for an edit, the new one (`text_after`),
//! with the author's address, IP tag and device tag at the time and whether it was made under a
//! shadow mute. So an edit or a deletion never erases what staff may need to read. A deletion by
//! its author marks the log's row (`deleted_at`, `deleted_by` = `author`) instead of removing it.
//!
//! `(message_id, at, kind)` is unique, so a queue entry delivered twice records one change; it
//! also serves reading one message's changes and retention, which walks message ids (ULIDs,
//! which start with their time) like `message_log`'s: the texts are erased after
//! `TEXT_RETENTION_DAYS` and the addresses after `RETENTION_DAYS`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageEdits {
    Table,
    Id,
    MessageId,
    Room,
    Kind,
    TextBefore,
    TextAfter,
    At,
    Ip,
    IpTag,
    DeviceTag,
    Shadow,
}

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    DeletedBy,
}

const UNIQUE: &str = "message_edits_message_at_kind";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MessageEdits::Table)
                    .col(big_pk_auto(MessageEdits::Id))
                    .col(string_len(MessageEdits::MessageId, 26))
                    .col(string_len(MessageEdits::Room, 32))
                    .col(string_len(MessageEdits::Kind, 8))
                    .col(text_null(MessageEdits::TextBefore))
                    .col(text_null(MessageEdits::TextAfter))
                    .col(timestamp_with_time_zone(MessageEdits::At))
                    .col(string_len(MessageEdits::Ip, 64))
                    .col(string_len_null(MessageEdits::IpTag, 32))
                    .col(string_len_null(MessageEdits::DeviceTag, 16))
                    .col(boolean(MessageEdits::Shadow).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(UNIQUE)
                    .table(MessageEdits::Table)
                    .col(MessageEdits::MessageId)
                    .col(MessageEdits::At)
                    .col(MessageEdits::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MessageLog::Table)
                    .add_column(string_len_null(MessageLog::DeletedBy, 8))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(MessageLog::Table).drop_column(MessageLog::DeletedBy).to_owned())
            .await?;
        manager.drop_index(Index::drop().name(UNIQUE).table(MessageEdits::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(MessageEdits::Table).to_owned()).await
    }
}
