//! The Discord mirror's bookkeeping: which batch (Discord message) a web message was planned
//! into, so a retry after a crash posts exactly the same batch with the same nonce.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    DiscordBatch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MessageLog::Table)
                    .add_column(string_len_null(MessageLog::DiscordBatch, 26))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("message_log_discord_batch")
                    .table(MessageLog::Table)
                    .col(MessageLog::DiscordBatch)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("message_log_discord_batch").table(MessageLog::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(MessageLog::Table).drop_column(MessageLog::DiscordBatch).to_owned())
            .await
    }
}
