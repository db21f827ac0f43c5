//! The trust tier for new visitors: each room's `links` setting (`refuse`, `inert`, `allow`;
//! existing rooms get `refuse`, the default), the tags staff trusted (`trusted_tags`: the
//! networks and device tags each stands for, as JSON arrays; removed on `/untrust`, the audit
//! log keeps who did what) and the link domains staff allowed (`allowed_domains`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Rooms {
    Table,
    Links,
}

#[derive(DeriveIden)]
enum TrustedTags {
    Table,
    Id,
    Tag,
    Networks,
    Devices,
    Moderator,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AllowedDomains {
    Table,
    Domain,
    Moderator,
    CreatedAt,
}

const TRUSTED_TAG: &str = "trusted_tags_tag";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Rooms::Table)
                    .add_column(string_len(Rooms::Links, 16).default("refuse"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrustedTags::Table)
                    .col(big_pk_auto(TrustedTags::Id))
                    .col(string_len(TrustedTags::Tag, 64))
                    .col(text(TrustedTags::Networks))
                    .col(text(TrustedTags::Devices))
                    .col(string_len(TrustedTags::Moderator, 100))
                    .col(timestamp_with_time_zone(TrustedTags::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name(TRUSTED_TAG).table(TrustedTags::Table).col(TrustedTags::Tag).unique().to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AllowedDomains::Table)
                    .col(string_len(AllowedDomains::Domain, 253).primary_key())
                    .col(string_len(AllowedDomains::Moderator, 100))
                    .col(timestamp_with_time_zone(AllowedDomains::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AllowedDomains::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(TRUSTED_TAG).table(TrustedTags::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(TrustedTags::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Rooms::Table).drop_column(Rooms::Links).to_owned()).await
    }
}
