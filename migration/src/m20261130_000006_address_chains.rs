//! Lookups by IP tag without a per-message index on the tag.
//!
//! The log's `ip_tag` index served the moderators' lookups by tag (ban, show, purge). Every
//! logged message put an entry in it at the end of its sender's run, and with many senders each
//! entry of a batch landed on an index page of its own, which SQLite wrote to its WAL and again
//! at the checkpoint: at 45 000 deliveries/s in the bench, nearly three of every four `pwrite64`
//! calls the one-process default made (see bench/message-log.md).
//!
//! Instead each visitor message names the message logged before it from the same address
//! (`prev_by_ip`), and `visitor_tails` holds each (tag, address) pair's latest message and its
//! time: a tag resolves to addresses through that small table, and a tag's messages are a walk
//! back from its tails by primary key. A logged batch updates one row per sender it holds, and
//! those rows sit many to a page. Existing rows are chained in `(sent_at, id)` order.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MessageLog {
    Table,
    IpTag,
    PrevByIp,
}

#[derive(DeriveIden)]
enum VisitorTails {
    Table,
    IpTag,
    Ip,
    LastId,
    LastAt,
}

const TAG_INDEX: &str = "message_log_ip_tag";

/// Chains the visitor rows already logged (both backends accept `UPDATE … FROM` and window
/// functions). Rows whose address retention erased have no tag and stay out of every chain.
const CHAIN_EXISTING: &str = "UPDATE message_log SET prev_by_ip = chained.prev \
     FROM (SELECT id, LAG(id) OVER (PARTITION BY ip_tag, ip ORDER BY sent_at, id) AS prev \
           FROM message_log WHERE ip_tag IS NOT NULL) AS chained \
     WHERE message_log.id = chained.id AND chained.prev IS NOT NULL";

const TAILS_OF_EXISTING: &str = "INSERT INTO visitor_tails (ip_tag, ip, last_id, last_at) \
     SELECT ip_tag, ip, id, sent_at FROM (SELECT ip_tag, ip, id, sent_at, \
         ROW_NUMBER() OVER (PARTITION BY ip_tag, ip ORDER BY sent_at DESC, id DESC) AS n \
         FROM message_log WHERE ip_tag IS NOT NULL) AS ranked \
     WHERE n = 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MessageLog::Table)
                    .add_column(string_len_null(MessageLog::PrevByIp, 26))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(VisitorTails::Table)
                    .col(string_len(VisitorTails::IpTag, 32))
                    .col(string_len(VisitorTails::Ip, 64))
                    .col(string_len(VisitorTails::LastId, 26))
                    .col(timestamp_with_time_zone(VisitorTails::LastAt))
                    .primary_key(Index::create().col(VisitorTails::IpTag).col(VisitorTails::Ip))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(CHAIN_EXISTING).await?;
        db.execute_unprepared(TAILS_OF_EXISTING).await?;
        manager.drop_index(Index::drop().name(TAG_INDEX).table(MessageLog::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(Index::create().name(TAG_INDEX).table(MessageLog::Table).col(MessageLog::IpTag).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(VisitorTails::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(MessageLog::Table).drop_column(MessageLog::PrevByIp).to_owned()).await
    }
}
