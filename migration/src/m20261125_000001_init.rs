//! The first schema: rooms, bans, message log, audit log, settings.
//!
//! Discord ids are snowflakes below 2^63, stored as BIGINT. Addresses are stored as text
//! (`203.0.113.7`, `2001:db8::/64`) so both databases read them the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Rooms {
    Table,
    Slug,
    Kind,
    Title,
    Topic,
    Capacity,
    Listed,
    Locked,
    SlowmodeSecs,
    DiscordChannelId,
    DiscordThreadId,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Bans {
    Table,
    Id,
    Network,
    IpTag,
    Reason,
    Moderator,
    CreatedAt,
    ExpiresAt,
    LiftedAt,
    LiftedBy,
}

#[derive(DeriveIden, Clone)]
enum MessageLog {
    Table,
    Id,
    Room,
    Nickname,
    Ip,
    IpTag,
    Text,
    Staff,
    DiscordMessageId,
    SentAt,
    EditedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Action,
    Target,
    Details,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Rooms::Table)
                    .col(string_len(Rooms::Slug, 32).primary_key())
                    .col(string_len(Rooms::Kind, 16))
                    .col(string_len(Rooms::Title, 100))
                    .col(string_len(Rooms::Topic, 300).default(""))
                    .col(integer(Rooms::Capacity))
                    .col(boolean(Rooms::Listed).default(true))
                    .col(boolean(Rooms::Locked).default(false))
                    .col(integer(Rooms::SlowmodeSecs).default(0))
                    .col(big_integer_null(Rooms::DiscordChannelId))
                    .col(big_integer_null(Rooms::DiscordThreadId))
                    .col(timestamp_with_time_zone(Rooms::CreatedAt))
                    .col(timestamp_with_time_zone(Rooms::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Rooms::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Bans::Table)
                    .col(big_pk_auto(Bans::Id))
                    .col(string_len(Bans::Network, 64))
                    .col(string_len_null(Bans::IpTag, 32))
                    .col(text(Bans::Reason).default(""))
                    .col(string_len(Bans::Moderator, 100))
                    .col(timestamp_with_time_zone(Bans::CreatedAt))
                    .col(timestamp_with_time_zone_null(Bans::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Bans::LiftedAt))
                    .col(string_len_null(Bans::LiftedBy, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("bans_network").table(Bans::Table).col(Bans::Network).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessageLog::Table)
                    .col(string_len(MessageLog::Id, 26).primary_key())
                    .col(string_len(MessageLog::Room, 32))
                    .col(string_len(MessageLog::Nickname, 100))
                    .col(string_len(MessageLog::Ip, 64))
                    .col(string_len_null(MessageLog::IpTag, 32))
                    .col(text(MessageLog::Text))
                    .col(boolean(MessageLog::Staff).default(false))
                    .col(big_integer_null(MessageLog::DiscordMessageId))
                    .col(timestamp_with_time_zone(MessageLog::SentAt))
                    .col(timestamp_with_time_zone_null(MessageLog::EditedAt))
                    .col(timestamp_with_time_zone_null(MessageLog::DeletedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("message_log_room_sent", &[MessageLog::Room, MessageLog::SentAt][..]),
            ("message_log_discord", &[MessageLog::DiscordMessageId][..]),
            ("message_log_ip", &[MessageLog::Ip][..]),
            ("message_log_ip_tag", &[MessageLog::IpTag][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(MessageLog::Table);
            for col in cols {
                index.col(col.clone());
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string_len(AuditLog::Actor, 100))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::Target, 200))
                    .col(text(AuditLog::Details).default(""))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(string_len(Settings::Key, 64).primary_key())
                    .col(text(Settings::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Settings::Table.into_iden(),
            AuditLog::Table.into_iden(),
            MessageLog::Table.into_iden(),
            Bans::Table.into_iden(),
            Rooms::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
