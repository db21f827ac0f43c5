//! Retention: raw IPs and message texts are erased from `message_log` after their retention
//! periods (`RETENTION_DAYS`, `TEXT_RETENTION_DAYS`). The rows stay, so ids, rooms, times and
//! Discord mappings remain for the record.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::BotError;
use crate::entities::message_log;

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
    let cutoff = |d: Duration| Utc::now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let ips = message_log::Entity::update_many()
        .col_expr(message_log::Column::Ip, Expr::value(ERASED_IP))
        .col_expr(message_log::Column::IpTag, Expr::value(Option::<String>::None))
        .filter(message_log::Column::SentAt.lt(cutoff(retention.ips)))
        .filter(message_log::Column::Ip.ne(ERASED_IP))
        .exec(db)
        .await?
        .rows_affected;
    let texts = message_log::Entity::update_many()
        .col_expr(message_log::Column::Text, Expr::value(ERASED_TEXT))
        .filter(message_log::Column::SentAt.lt(cutoff(retention.texts)))
        .filter(message_log::Column::Text.ne(ERASED_TEXT))
        .exec(db)
        .await?
        .rows_affected;
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
