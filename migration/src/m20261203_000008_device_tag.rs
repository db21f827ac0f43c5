//! The sender's device tag in the message log.
//!
//! `message_log.device_tag` holds the keyed hash of the device token the sender's client sent
//! (`docs/protocol.md`, "Device token"), null for staff messages and clients without one.
//! Retention erases it with the address (`RETENTION_DAYS`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    DeviceTag,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MessageLog::Table)
                    .add_column(string_len_null(MessageLog::DeviceTag, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(MessageLog::Table).drop_column(MessageLog::DeviceTag).to_owned()).await
    }
}
