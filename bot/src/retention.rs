//! Retention: raw IPs (with their IP and device tags) and message texts are erased from
//! `message_log` after their retention periods (`RETENTION_DAYS`, `TEXT_RETENTION_DAYS`), the
//! addresses of bans and mutes that ended longer than `RETENTION_DAYS` ago from `bans` and
//! `mutes` (and of dead letters kept longer, and the networks older cases aimed at an address are
//! counted by), senders whose latest
//! message is past the IPs' period leave `visitor_tails`, and rooms whose latest message is past
//! the texts' period leave `room_tails` (visitor rooms and roulette pairs open by the thousand and
//! close for good; a quiet room's history would be erased texts). Visitor rooms and pairs that
//! ended longer than the texts' period ago leave `rooms`. Reports lose their reporter's address
//! and device tag after the IPs' period, their nickname and note after the texts'; appeals lose
//! their addresses after the IPs' period and leave `appeals` after the texts'. Authors' edits
//! and deletions (`message_edits`) lose their addresses after the IPs' period and go after the
//! texts' (by their message's id, like the log's rows). The log's rows stay, so ids, rooms,
//! times and Discord mappings remain for the record.
//!
//! The log has no index on `sent_at`: its rows are found by primary key instead. A message id is
//! a ULID, which starts with the millisecond it was made, so every row older than a cut-off has
//! an id below the smallest ULID of the cut-off's millisecond. Each pass walks the ids from where
//! the last one stopped (kept in `settings`) up to that bound, [`BATCH`] rows per transaction,
//! so an hourly pass reads about an hour of the log and never holds SQLite's write lock for
//! long.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use crate::BotError;
use crate::entities::{
    bans, cases, dead_letters, message_edits, message_log, mutes, reports, room_tails, rooms, settings, visitor_tails,
};

/// What an erased IP reads as.
pub const ERASED_IP: &str = "erased";
/// What an erased text reads as.
pub const ERASED_TEXT: &str = "";
/// Rows changed per transaction.
pub const BATCH: u64 = 2_000;

/// `settings` keys: the id below which every row's address, or text, is erased.
const IPS_DONE: &str = "retention_ips_erased_below";
const TEXTS_DONE: &str = "retention_texts_erased_below";

/// How long things are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub ips: Duration,
    pub texts: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self { ips: Duration::from_secs(30 * 86_400), texts: Duration::from_secs(365 * 86_400) }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Addresses erased (log rows, bans, dead letters).
    pub ips: u64,
    /// Texts erased.
    pub texts: u64,
    /// Ended visitor rooms and pairs dropped.
    pub rooms: u64,
    /// Transactions that changed the log.
    pub transactions: u64,
    /// The most log rows one of them changed.
    pub largest: u64,
}

/// Erase what is past its retention; returns (IPs erased, texts erased).
pub async fn purge(db: &DatabaseConnection, retention: Retention) -> Result<(u64, u64), BotError> {
    let purged = purge_in_batches(db, retention, BATCH).await?;
    Ok((purged.ips, purged.texts))
}

/// [`purge`], changing at most `batch` log rows per transaction.
pub async fn purge_in_batches(db: &DatabaseConnection, retention: Retention, batch: u64) -> Result<Purged, BotError> {
    // A period longer than the calendar reaches back keeps everything (no overflow panic).
    let cutoff = |d: Duration| chrono::Duration::from_std(d).ok().and_then(|d| Utc::now().checked_sub_signed(d));
    let batch = batch.max(1);
    let mut purged = Purged::default();
    if let Some(cutoff) = cutoff(retention.ips) {
        let erase = Erase { done_key: IPS_DONE, column: message_log::Column::Ip, erased: ERASED_IP, also_tag: true };
        purged.ips = erase.run(db, first_id_at(cutoff), batch, &mut purged).await?;
        // The senders' tails go with their addresses: a tag no longer resolves to an erased one.
        visitor_tails::Entity::delete_many().filter(visitor_tails::Column::LastAt.lt(cutoff)).exec(db).await?;
        // Bans that ended (lifted or expired) longer ago keep their number, tag, reason and
        // times for the record, not the address.
        let ended = Condition::any()
            .add(bans::Column::LiftedAt.lt(cutoff))
            .add(Condition::all().add(bans::Column::LiftedAt.is_null()).add(bans::Column::ExpiresAt.lt(cutoff)));
        purged.ips += bans::Entity::update_many()
            .col_expr(bans::Column::Network, Expr::value(ERASED_IP))
            .filter(ended)
            .filter(bans::Column::Network.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
        let ended = Condition::any()
            .add(mutes::Column::LiftedAt.lt(cutoff))
            .add(Condition::all().add(mutes::Column::LiftedAt.is_null()).add(mutes::Column::ExpiresAt.lt(cutoff)));
        purged.ips += mutes::Entity::update_many()
            .col_expr(mutes::Column::Network, Expr::value(ERASED_IP))
            .filter(ended)
            .filter(mutes::Column::Network.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
        // A case aimed at an address is counted (by the warning ladder) by its networks.
        purged.ips += cases::Entity::update_many()
            .col_expr(cases::Column::Subject, Expr::value(Option::<String>::None))
            .filter(cases::Column::CreatedAt.lt(cutoff))
            .filter(cases::Column::Subject.starts_with("net:"))
            .exec(db)
            .await?
            .rows_affected;
        purged.ips += dead_letters::Entity::update_many()
            .col_expr(dead_letters::Column::Ip, Expr::value(ERASED_IP))
            .filter(dead_letters::Column::FailedAt.lt(cutoff))
            .filter(dead_letters::Column::Ip.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
        purged.ips += reports::Entity::update_many()
            .col_expr(reports::Column::ReporterIp, Expr::value(ERASED_IP))
            .col_expr(reports::Column::ReporterDevice, Expr::value(Option::<String>::None))
            .filter(reports::Column::CreatedAt.lt(cutoff))
            .filter(reports::Column::ReporterIp.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
        purged.ips += crate::appeals::erase_addresses(db, cutoff).await?;
        // Authors' changes lose their addresses with their messages'.
        purged.ips += message_edits::Entity::update_many()
            .col_expr(message_edits::Column::Ip, Expr::value(ERASED_IP))
            .col_expr(message_edits::Column::IpTag, Expr::value(Option::<String>::None))
            .col_expr(message_edits::Column::DeviceTag, Expr::value(Option::<String>::None))
            .filter(message_edits::Column::MessageId.lt(first_id_at(cutoff)))
            .filter(message_edits::Column::Ip.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
    }
    if let Some(cutoff) = cutoff(retention.texts) {
        let first_kept = first_id_at(cutoff);
        let erase =
            Erase { done_key: TEXTS_DONE, column: message_log::Column::Text, erased: ERASED_TEXT, also_tag: false };
        purged.texts = erase.run(db, first_kept.clone(), batch, &mut purged).await?;
        purged.texts += reports::Entity::update_many()
            .col_expr(reports::Column::ReportedNick, Expr::value(ERASED_TEXT))
            .col_expr(reports::Column::Note, Expr::value(Option::<String>::None))
            .filter(reports::Column::CreatedAt.lt(cutoff))
            .filter(
                Condition::any()
                    .add(reports::Column::ReportedNick.ne(ERASED_TEXT))
                    .add(reports::Column::Note.is_not_null()),
            )
            .exec(db)
            .await?
            .rows_affected;
        // The earlier texts of edited and deleted messages go with their messages' texts (the
        // log's row keeps when it was edited or deleted).
        purged.texts += message_edits::Entity::delete_many()
            .filter(message_edits::Column::MessageId.lt(first_kept.as_str()))
            .exec(db)
            .await?
            .rows_affected;
        room_tails::Entity::delete_many().filter(room_tails::Column::LastId.lt(first_kept)).exec(db).await?;
        purged.rooms = drop_ended_rooms(db, cutoff, batch).await?;
        purged.texts += crate::appeals::drop_older(db, cutoff).await?;
    }
    if purged.ips + purged.texts + purged.rooms > 0 {
        tracing::info!(
            ips = purged.ips,
            texts = purged.texts,
            rooms = purged.rooms,
            transactions = purged.transactions,
            "erased data past its retention"
        );
    }
    Ok(purged)
}

/// The smallest ULID of `at`'s millisecond: every message made before `at` has a smaller id.
fn first_id_at(at: DateTime<Utc>) -> String {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(millis, 0).to_string()
}

/// One column of the log erased below a bound, batch by batch.
struct Erase {
    /// Where the last pass stopped.
    done_key: &'static str,
    column: message_log::Column,
    erased: &'static str,
    /// Erase the IP and device tags too (with the address).
    also_tag: bool,
}

impl Erase {
    /// Erase `column` in every row with an id below `bound`, from where the last pass stopped;
    /// returns the rows changed.
    async fn run(
        &self,
        db: &DatabaseConnection,
        bound: String,
        batch: u64,
        purged: &mut Purged,
    ) -> Result<u64, BotError> {
        let mut from = settings::Entity::find_by_id(self.done_key).one(db).await?.map(|s| s.value);
        let mut erased = 0;
        loop {
            if from.as_deref().is_some_and(|from| from >= bound.as_str()) {
                return Ok(erased);
            }
            // The batch's ids, read by primary key outside the write transaction.
            let mut next = message_log::Entity::find()
                .select_only()
                .column(message_log::Column::Id)
                .filter(message_log::Column::Id.lt(bound.as_str()))
                .order_by_asc(message_log::Column::Id)
                .limit(batch);
            if let Some(from) = &from {
                next = next.filter(message_log::Column::Id.gt(from.as_str()));
            }
            let ids: Vec<String> = next.into_tuple().all(db).await?;
            let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
                return Ok(erased);
            };
            let txn = db.begin().await?;
            let mut update = message_log::Entity::update_many().col_expr(self.column, Expr::value(self.erased));
            if self.also_tag {
                // The device tag follows the address's retention too.
                update = update
                    .col_expr(message_log::Column::IpTag, Expr::value(Option::<String>::None))
                    .col_expr(message_log::Column::DeviceTag, Expr::value(Option::<String>::None));
            }
            let changed = update
                .filter(message_log::Column::Id.gte(first.as_str()))
                .filter(message_log::Column::Id.lte(last.as_str()))
                .filter(self.column.ne(self.erased))
                .exec(&txn)
                .await?
                .rows_affected;
            settings::Entity::insert(settings::ActiveModel {
                key: Set(self.done_key.to_owned()),
                value: Set(last.clone()),
            })
            .on_conflict(OnConflict::column(settings::Column::Key).update_column(settings::Column::Value).to_owned())
            .exec(&txn)
            .await?;
            txn.commit().await?;
            erased += changed;
            purged.transactions += 1;
            purged.largest = purged.largest.max(changed);
            if (ids.len() as u64) < batch {
                return Ok(erased);
            }
            from = Some(last.clone());
        }
    }
}

/// Drop visitor rooms and pairs that ended before `cutoff`, `batch` at a time.
async fn drop_ended_rooms(db: &DatabaseConnection, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, BotError> {
    let mut dropped = 0;
    loop {
        let slugs: Vec<String> = rooms::Entity::find()
            .select_only()
            .column(rooms::Column::Slug)
            .filter(rooms::Column::ExpiresAt.lt(cutoff))
            .filter(rooms::Column::Kind.ne(protocol::RoomKind::Staff.as_str()))
            .limit(batch)
            .into_tuple()
            .all(db)
            .await?;
        if slugs.is_empty() {
            return Ok(dropped);
        }
        let n = slugs.len() as u64;
        dropped += rooms::Entity::delete_many().filter(rooms::Column::Slug.is_in(slugs)).exec(db).await?.rows_affected;
        if n < batch {
            return Ok(dropped);
        }
    }
}

/// Purge once an hour (and at start).
pub async fn run(db: DatabaseConnection, retention: Retention) {
    loop {
        if let Err(e) = purge(&db, retention).await {
            tracing::error!(error = %e, "retention purge failed; retrying in an hour");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
