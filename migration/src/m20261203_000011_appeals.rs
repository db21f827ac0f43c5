//! Appeals: a sanctioned visitor's request that staff reconsider a case (`POST /api/appeals`).
//!
//! One row per appeal: its token (the visitor's only key to it), the case and the ban or mute it
//! was in force as, the text, the state and who decided it, the staff replies (JSON, at most
//! 50), and where it lives in Discord (its thread and the message with the buttons). The caller's address is
//! kept apart (`ip`, with its tag) so retention erases it after `RETENTION_DAYS`; the whole row
//! goes after `TEXT_RETENTION_DAYS` (`appeals_created_at`). `appeals_thread` finds the appeal a
//! message in Discord belongs to.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Appeals {
    Table,
    Id,
    Token,
    CaseNo,
    BanId,
    MuteId,
    State,
    Text,
    Ip,
    IpTag,
    Replies,
    ExpiresAt,
    DecidedBy,
    DecidedAt,
    CreatedAt,
    DiscordThreadId,
    DiscordMessageId,
}

const TOKEN: &str = "appeals_token";
const CREATED_AT: &str = "appeals_created_at";
const THREAD: &str = "appeals_thread";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Appeals::Table)
                    .col(big_pk_auto(Appeals::Id))
                    .col(string_len(Appeals::Token, 32))
                    .col(big_integer(Appeals::CaseNo))
                    .col(big_integer_null(Appeals::BanId))
                    .col(big_integer_null(Appeals::MuteId))
                    .col(string_len(Appeals::State, 16))
                    .col(text(Appeals::Text))
                    .col(string_len_null(Appeals::Ip, 64))
                    .col(string_len_null(Appeals::IpTag, 64))
                    .col(text(Appeals::Replies))
                    .col(timestamp_with_time_zone_null(Appeals::ExpiresAt))
                    .col(string_len_null(Appeals::DecidedBy, 100))
                    .col(timestamp_with_time_zone_null(Appeals::DecidedAt))
                    .col(timestamp_with_time_zone(Appeals::CreatedAt))
                    .col(big_integer_null(Appeals::DiscordThreadId))
                    .col(big_integer_null(Appeals::DiscordMessageId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name(TOKEN).table(Appeals::Table).col(Appeals::Token).unique().to_owned())
            .await?;
        manager
            .create_index(Index::create().name(CREATED_AT).table(Appeals::Table).col(Appeals::CreatedAt).to_owned())
            .await?;
        manager
            .create_index(Index::create().name(THREAD).table(Appeals::Table).col(Appeals::DiscordThreadId).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [THREAD, CREATED_AT, TOKEN] {
            manager.drop_index(Index::drop().name(name).table(Appeals::Table).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(Appeals::Table).to_owned()).await
    }
}
