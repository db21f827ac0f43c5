//! Reports: one row per report a visitor made of a message (`docs/protocol.md`, "Reports").
//!
//! A report is recorded as soon as the bot reads it from the queue, before anything reaches
//! Discord, and keeps: the reported message, room, nickname and IP tag (the tag read from the
//! message log), the reason and note, the reporting connection with its address and device
//! tag (erased after `RETENTION_DAYS`, like the log's addresses), the state staff decided
//! (`open`, `banned`, `muted`, `dismissed`) and by whom, and where the report went in Discord.
//! The nickname and note are texts: erased after `TEXT_RETENTION_DAYS`.
//!
//! `(message_id, reporter)` is unique, so a queue entry delivered twice records one report.
//! `reports_tag_created` serves the automatic mute's count (reports against one tag in the last
//! minutes) and `reports_created` retention and the poster's scan of reports not yet posted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    MessageId,
    Room,
    ReportedNick,
    ReportedTag,
    Reason,
    Note,
    Reporter,
    ReporterIp,
    ReporterDevice,
    ReporterSince,
    CreatedAt,
    State,
    DecidedBy,
    DecidedAt,
    AutoMuted,
    DiscordChannelId,
    DiscordMessageId,
    DiscordThreadId,
}

const UNIQUE: &str = "reports_message_reporter";
const TAG_CREATED: &str = "reports_tag_created";
const CREATED: &str = "reports_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(big_pk_auto(Reports::Id))
                    .col(string_len(Reports::MessageId, 26))
                    .col(string_len(Reports::Room, 32))
                    .col(string_len(Reports::ReportedNick, 100))
                    .col(string_len_null(Reports::ReportedTag, 32))
                    .col(string_len(Reports::Reason, 16))
                    .col(text_null(Reports::Note))
                    .col(string_len(Reports::Reporter, 100))
                    .col(string_len(Reports::ReporterIp, 64))
                    .col(string_len_null(Reports::ReporterDevice, 64))
                    .col(timestamp_with_time_zone(Reports::ReporterSince))
                    .col(timestamp_with_time_zone(Reports::CreatedAt))
                    .col(string_len(Reports::State, 16).default("open"))
                    .col(string_len_null(Reports::DecidedBy, 100))
                    .col(timestamp_with_time_zone_null(Reports::DecidedAt))
                    .col(boolean(Reports::AutoMuted).default(false))
                    .col(big_integer_null(Reports::DiscordChannelId))
                    .col(big_integer_null(Reports::DiscordMessageId))
                    .col(big_integer_null(Reports::DiscordThreadId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(UNIQUE)
                    .table(Reports::Table)
                    .col(Reports::MessageId)
                    .col(Reports::Reporter)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TAG_CREATED)
                    .table(Reports::Table)
                    .col(Reports::ReportedTag)
                    .col(Reports::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name(CREATED).table(Reports::Table).col(Reports::CreatedAt).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [CREATED, TAG_CREATED, UNIQUE] {
            manager.drop_index(Index::drop().name(name).table(Reports::Table).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(Reports::Table).to_owned()).await
    }
}
