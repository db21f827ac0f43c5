//! A leaner message log: every logged message used to update six indexes, and on the
//! one-process default (SQLite) those index pages were most of what the log wrote.
//!
//! - `message_log_ip` goes: no query looks messages up by raw IP (bans resolve tags through
//!   `ip_tag`; retention filters on `sent_at`).
//! - `message_log_discord` and `message_log_discord_batch` become partial indexes over the rows
//!   that have a value. Both columns are NULL when a message is logged and only set once it is
//!   mirrored, so an insert no longer touches them, while the lookups by Discord message or
//!   batch (`= value`, `IN (…)`) still use them on SQLite and PostgreSQL alike.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum MessageLog {
    Table,
    Ip,
    DiscordMessageId,
    DiscordBatch,
}

const DISCORD: &str = "message_log_discord";
const DISCORD_BATCH: &str = "message_log_discord_batch";
const IP: &str = "message_log_ip";

fn index(name: &str, col: MessageLog, partial: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(MessageLog::Table).col(col);
    if partial {
        index.and_where(Expr::col(col).is_not_null());
    }
    index.to_owned()
}

fn dropped(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(MessageLog::Table).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(dropped(IP)).await?;
        manager.drop_index(dropped(DISCORD)).await?;
        manager.create_index(index(DISCORD, MessageLog::DiscordMessageId, true)).await?;
        manager.drop_index(dropped(DISCORD_BATCH)).await?;
        manager.create_index(index(DISCORD_BATCH, MessageLog::DiscordBatch, true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(dropped(DISCORD_BATCH)).await?;
        manager.create_index(index(DISCORD_BATCH, MessageLog::DiscordBatch, false)).await?;
        manager.drop_index(dropped(DISCORD)).await?;
        manager.create_index(index(DISCORD, MessageLog::DiscordMessageId, false)).await?;
        manager.create_index(index(IP, MessageLog::Ip, false)).await
    }
}
