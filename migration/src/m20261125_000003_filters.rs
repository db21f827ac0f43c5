//! Word and regex filters managed by moderators (`/filter`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Filters {
    Table,
    Id,
    Pattern,
    IsRegex,
    Action,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Filters::Table)
                    .col(big_pk_auto(Filters::Id))
                    .col(string_len(Filters::Pattern, 200))
                    .col(boolean(Filters::IsRegex).default(false))
                    .col(string_len(Filters::Action, 8))
                    .col(string_len(Filters::CreatedBy, 100))
                    .col(timestamp_with_time_zone(Filters::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Filters::Table).to_owned()).await
    }
}
