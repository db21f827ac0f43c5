//! Device-aware sanctions and ban-evasion alerts.
//!
//! * `bans.device`: the device tag a ban also covers (mutes have had `mutes.device` since
//!   their table was made), so a banned browser is refused from any address.
//! * `cases.device`: the device tag of a case's target, so warnings count per device as well
//!   as per IP tag (`WARN_LADDER`).
//! * `evasion_alerts`: one row per alert message, grouped per case and 10-minute window; the
//!   joins it counts, the distinct (address, device) pairs it lists (JSON; addresses are
//!   erased after `RETENTION_DAYS` with the row), what staff decided, and its Discord message.
//! * `evasion_ignores`: the (case, IP tag, device tag) pairs staff ignored, never alerted again
//!   for that case. Keyed by IP tag, not by address, so nothing here needs erasing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Bans {
    Table,
    Device,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Device,
}

#[derive(DeriveIden)]
enum EvasionAlerts {
    Table,
    Id,
    CaseId,
    Kind,
    SanctionId,
    OpenedAt,
    LastAt,
    Joins,
    Pairs,
    State,
    DecidedBy,
    DecidedAt,
    Dirty,
    DiscordChannelId,
    DiscordMessageId,
}

#[derive(DeriveIden)]
enum EvasionIgnores {
    Table,
    Id,
    CaseId,
    IpTag,
    Device,
    CreatedAt,
}

const ALERTS_CASE: &str = "evasion_alerts_case_opened";
const ALERTS_DIRTY: &str = "evasion_alerts_dirty";
const IGNORES_UNIQUE: &str = "evasion_ignores_pair";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Bans::Table).add_column(string_len_null(Bans::Device, 16)).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Cases::Table).add_column(string_len_null(Cases::Device, 16)).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EvasionAlerts::Table)
                    .col(big_pk_auto(EvasionAlerts::Id))
                    .col(big_integer(EvasionAlerts::CaseId))
                    .col(string_len(EvasionAlerts::Kind, 8))
                    .col(big_integer(EvasionAlerts::SanctionId))
                    .col(timestamp_with_time_zone(EvasionAlerts::OpenedAt))
                    .col(timestamp_with_time_zone(EvasionAlerts::LastAt))
                    .col(big_integer(EvasionAlerts::Joins).default(0))
                    .col(text(EvasionAlerts::Pairs))
                    .col(string_len(EvasionAlerts::State, 16).default("open"))
                    .col(string_len_null(EvasionAlerts::DecidedBy, 100))
                    .col(timestamp_with_time_zone_null(EvasionAlerts::DecidedAt))
                    .col(boolean(EvasionAlerts::Dirty).default(true))
                    .col(big_integer_null(EvasionAlerts::DiscordChannelId))
                    .col(big_integer_null(EvasionAlerts::DiscordMessageId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ALERTS_CASE)
                    .table(EvasionAlerts::Table)
                    .col(EvasionAlerts::CaseId)
                    .col(EvasionAlerts::OpenedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(ALERTS_DIRTY).table(EvasionAlerts::Table).col(EvasionAlerts::Dirty).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EvasionIgnores::Table)
                    .col(big_pk_auto(EvasionIgnores::Id))
                    .col(big_integer(EvasionIgnores::CaseId))
                    .col(string_len(EvasionIgnores::IpTag, 32))
                    .col(string_len(EvasionIgnores::Device, 16).default(""))
                    .col(timestamp_with_time_zone(EvasionIgnores::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(IGNORES_UNIQUE)
                    .table(EvasionIgnores::Table)
                    .col(EvasionIgnores::CaseId)
                    .col(EvasionIgnores::IpTag)
                    .col(EvasionIgnores::Device)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(IGNORES_UNIQUE).table(EvasionIgnores::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(EvasionIgnores::Table).to_owned()).await?;
        for name in [ALERTS_DIRTY, ALERTS_CASE] {
            manager.drop_index(Index::drop().name(name).table(EvasionAlerts::Table).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(EvasionAlerts::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Cases::Table).drop_column(Cases::Device).to_owned()).await?;
        manager.alter_table(Table::alter().table(Bans::Table).drop_column(Bans::Device).to_owned()).await
    }
}
