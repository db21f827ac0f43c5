//! Dead letters, and the room table read by what is open.
//!
//! `dead_letters` keeps the queue entries the bot gave up on (a write that failed 5 times, e.g.
//! a constraint or a trigger refusing one message), with the error, so the rest of the queue
//! moves on and nothing accepted is silently lost: the event as JSON (`payload`), without the
//! sender's address, which is kept apart (`ip`) so that retention can erase it like the log's.
//!
//! `rooms_expires_at` lets the bot read only the rooms that are open (`expires_at IS NULL`) and
//! find the ended visitor rooms and pairs past retention, and `rooms_kind` the staff rooms the
//! sync publishes, instead of reading the whole table, which gains a row per visitor room and
//! roulette pair.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    EntryId,
    Kind,
    Room,
    MessageId,
    Payload,
    Ip,
    Error,
    Attempts,
    FailedAt,
}

#[derive(DeriveIden)]
enum Rooms {
    Table,
    ExpiresAt,
    Kind,
}

const ROOMS_EXPIRES_AT: &str = "rooms_expires_at";
const ROOMS_KIND: &str = "rooms_kind";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeadLetters::Table)
                    .col(big_pk_auto(DeadLetters::Id))
                    .col(string_len(DeadLetters::EntryId, 64))
                    .col(string_len(DeadLetters::Kind, 16))
                    .col(string_len_null(DeadLetters::Room, 32))
                    .col(string_len_null(DeadLetters::MessageId, 26))
                    .col(text(DeadLetters::Payload))
                    .col(string_len_null(DeadLetters::Ip, 64))
                    .col(text(DeadLetters::Error))
                    .col(integer(DeadLetters::Attempts))
                    .col(timestamp_with_time_zone(DeadLetters::FailedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name(ROOMS_EXPIRES_AT).table(Rooms::Table).col(Rooms::ExpiresAt).to_owned())
            .await?;
        manager.create_index(Index::create().name(ROOMS_KIND).table(Rooms::Table).col(Rooms::Kind).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(ROOMS_KIND).table(Rooms::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(ROOMS_EXPIRES_AT).table(Rooms::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(DeadLetters::Table).to_owned()).await
    }
}
