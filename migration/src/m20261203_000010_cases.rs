//! Cases and mutes.
//!
//! `cases` numbers every moderator action (ban, unban, mute, unmute, warn, kick, purge, filter
//! and room changes), separately from ban numbers: what it was, at whom, by whom, why, until
//! when, and the mod-log post that shows it (edited when the case changes). `subject` is the
//! target as warnings are counted by (an IP tag, or the networks), indexed for the ladder.
//!
//! `mutes` is shaped like `bans`, with the case it belongs to and whether it is a shadow mute;
//! `bans` gains the case it belongs to (null for bans made before cases existed).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    Kind,
    Target,
    Subject,
    Actor,
    Reason,
    Details,
    CreatedAt,
    ExpiresAt,
    ModlogChannel,
    ModlogMessage,
}

#[derive(DeriveIden)]
enum Mutes {
    Table,
    Id,
    CaseId,
    Network,
    IpTag,
    Device,
    Reason,
    Moderator,
    Shadow,
    CreatedAt,
    ExpiresAt,
    LiftedAt,
    LiftedBy,
}

#[derive(DeriveIden)]
enum Bans {
    Table,
    CaseId,
}

const CASES_SUBJECT: &str = "cases_kind_subject";
const MUTES_CASE: &str = "mutes_case_id";
const BANS_CASE: &str = "bans_case_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .col(big_pk_auto(Cases::Id))
                    .col(string_len(Cases::Kind, 32))
                    .col(string_len(Cases::Target, 200))
                    .col(string_len_null(Cases::Subject, 400))
                    .col(string_len(Cases::Actor, 100))
                    .col(string_len(Cases::Reason, 500))
                    .col(text(Cases::Details))
                    .col(timestamp_with_time_zone(Cases::CreatedAt))
                    .col(timestamp_with_time_zone_null(Cases::ExpiresAt))
                    .col(big_integer_null(Cases::ModlogChannel))
                    .col(big_integer_null(Cases::ModlogMessage))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(CASES_SUBJECT).table(Cases::Table).col(Cases::Kind).col(Cases::Subject).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Mutes::Table)
                    .col(big_pk_auto(Mutes::Id))
                    .col(big_integer(Mutes::CaseId))
                    .col(string_len(Mutes::Network, 64))
                    .col(string_len_null(Mutes::IpTag, 32))
                    .col(string_len_null(Mutes::Device, 16))
                    .col(string_len(Mutes::Reason, 500))
                    .col(string_len(Mutes::Moderator, 100))
                    .col(boolean(Mutes::Shadow))
                    .col(timestamp_with_time_zone(Mutes::CreatedAt))
                    .col(timestamp_with_time_zone_null(Mutes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Mutes::LiftedAt))
                    .col(string_len_null(Mutes::LiftedBy, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name(MUTES_CASE).table(Mutes::Table).col(Mutes::CaseId).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Bans::Table).add_column(big_integer_null(Bans::CaseId)).to_owned())
            .await?;
        manager.create_index(Index::create().name(BANS_CASE).table(Bans::Table).col(Bans::CaseId).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(BANS_CASE).table(Bans::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Bans::Table).drop_column(Bans::CaseId).to_owned()).await?;
        manager.drop_table(Table::drop().table(Mutes::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Cases::Table).to_owned()).await
    }
}
