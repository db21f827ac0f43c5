//! How long a report's *Mute* muted.
//!
//! `reports.mute_secs` holds the length a moderator chose in the report's *Mute* menu, shown in
//! the edited report; null for reports decided otherwise (or before the choice existed, when
//! *Mute* was always 10 minutes). Instant: a nullable column, no rewrite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reports {
    Table,
    MuteSecs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Reports::Table).add_column(big_integer_null(Reports::MuteSecs)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Reports::Table).drop_column(Reports::MuteSecs).to_owned()).await
    }
}
