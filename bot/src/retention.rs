//! Retention: raw IPs and message texts are erased from `message_log` after their retention
//! periods (`RETENTION_DAYS`, `TEXT_RETENTION_DAYS`), the addresses of bans that ended longer
//! than `RETENTION_DAYS` ago from `bans`, senders whose latest message is past
//! the IPs' period leave `visitor_tails`, and rooms whose latest message is past the texts'
//! period leave `room_tails` (visitor rooms and roulette pairs open by the thousand and close
//! for good; a quiet room's history would be erased texts). The log's rows stay, so ids, rooms,
//! times and Discord mappings remain for the record.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};

use crate::BotError;
use crate::entities::{bans, message_log, room_tails, visitor_tails};

/// What an erased IP reads as.
pub const ERASED_IP: &str = "erased";
/// What an erased text reads as.
pub const ERASED_TEXT: &str = "";

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

/// Erase what is past its retention; returns (IPs erased, texts erased).
pub async fn purge(db: &DatabaseConnection, retention: Retention) -> Result<(u64, u64), BotError> {
    // A period longer than the calendar reaches back keeps everything (no overflow panic).
    let cutoff = |d: Duration| chrono::Duration::from_std(d).ok().and_then(|d| Utc::now().checked_sub_signed(d));
    let (mut ips, mut texts) = (0, 0);
    if let Some(cutoff) = cutoff(retention.ips) {
        ips = message_log::Entity::update_many()
            .col_expr(message_log::Column::Ip, Expr::value(ERASED_IP))
            .col_expr(message_log::Column::IpTag, Expr::value(Option::<String>::None))
            .filter(message_log::Column::SentAt.lt(cutoff))
            .filter(message_log::Column::Ip.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
        // The senders' tails go with their addresses: a tag no longer resolves to an erased one.
        visitor_tails::Entity::delete_many().filter(visitor_tails::Column::LastAt.lt(cutoff)).exec(db).await?;
        // Bans that ended (lifted or expired) longer ago keep their number, tag, reason and
        // times for the record, not the address.
        let ended = Condition::any()
            .add(bans::Column::LiftedAt.lt(cutoff))
            .add(Condition::all().add(bans::Column::LiftedAt.is_null()).add(bans::Column::ExpiresAt.lt(cutoff)));
        let erased_bans = bans::Entity::update_many()
            .col_expr(bans::Column::Network, Expr::value(ERASED_IP))
            .filter(ended)
            .filter(bans::Column::Network.ne(ERASED_IP))
            .exec(db)
            .await?
            .rows_affected;
        ips += erased_bans;
    }
    if let Some(cutoff) = cutoff(retention.texts) {
        texts = message_log::Entity::update_many()
            .col_expr(message_log::Column::Text, Expr::value(ERASED_TEXT))
            .filter(message_log::Column::SentAt.lt(cutoff))
            .filter(message_log::Column::Text.ne(ERASED_TEXT))
            .exec(db)
            .await?
            .rows_affected;
        // Message ids are ULIDs, which sort by the time they were made: the smallest id of the
        // cutoff's millisecond bounds the tails to drop without reading the log.
        let millis = u64::try_from(cutoff.timestamp_millis()).unwrap_or(0);
        let first_kept = ulid::Ulid::from_parts(millis, 0).to_string();
        room_tails::Entity::delete_many().filter(room_tails::Column::LastId.lt(first_kept)).exec(db).await?;
    }
    if ips + texts > 0 {
        tracing::info!(ips, texts, "erased data past its retention");
    }
    Ok((ips, texts))
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
