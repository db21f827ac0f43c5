//! Reports: visitors' reports of messages, recorded at once and decided by staff.
//!
//! A gateway queues a [`ReportEvent`]; the consumer [`record`]s it (one row per message and
//! reporting connection, so a redelivered entry records nothing new) before anything else, so a
//! report is kept even without Discord. With Discord on, `crate::discord::reports` posts it to
//! the reports channel with its context and buttons, and moderators decide: [`decide`] closes a
//! report once (the first decision wins) and says who decided. Addresses and device tags are
//! erased after `RETENTION_DAYS`, nicknames and notes after `TEXT_RETENTION_DAYS`
//! (`crate::retention`).
//!
//! * [`auto`]: the count behind the automatic first response (three distinct reporters);
//! * [`respond`]: the reported tag kept, and the automatic shadow mute applied.

pub mod auto;
pub mod respond;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use protocol::{ReportEvent, ReportVerdict};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::BotError;
use crate::entities::reports;

/// Longest nickname kept.
const NICK_MAX: usize = 100;

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nobody decided yet.
    Open,
    /// Closed by a decision: the reported tag was banned or muted, or the report dismissed.
    Decided(ReportVerdict),
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Decided(ReportVerdict::Banned) => "banned",
            Self::Decided(ReportVerdict::Muted) => "muted",
            Self::Decided(ReportVerdict::Dismissed) => "dismissed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "open" => Self::Open,
            "banned" => Self::Decided(ReportVerdict::Banned),
            "muted" => Self::Decided(ReportVerdict::Muted),
            "dismissed" => Self::Decided(ReportVerdict::Dismissed),
            _ => return None,
        })
    }
}

/// Record a report (nothing new when this connection already reported this message); the
/// report's row.
pub async fn record(db: &DatabaseConnection, event: &ReportEvent) -> Result<reports::Model, BotError> {
    let note = event.note.as_ref().map(|n| n.chars().take(protocol::frames::REPORT_NOTE_MAX).collect::<String>());
    let row = reports::ActiveModel {
        message_id: Set(event.message.to_string()),
        room: Set(event.room.to_string()),
        reported_nick: Set(event.nick.chars().take(NICK_MAX).collect()),
        reported_tag: Set(None),
        reason: Set(event.reason.as_str().to_owned()),
        note: Set(note),
        reporter: Set(event.reporter.chars().take(100).collect()),
        reporter_ip: Set(event.reporter_ip.to_canonical().to_string()),
        reporter_device: Set(event.reporter_device.as_ref().map(|d| d.chars().take(64).collect())),
        reporter_since: Set(event.reporter_since),
        created_at: Set(event.at),
        state: Set(State::Open.as_str().to_owned()),
        decided_by: Set(None),
        decided_at: Set(None),
        auto_muted: Set(false),
        discord_channel_id: Set(None),
        discord_message_id: Set(None),
        discord_thread_id: Set(None),
        ..Default::default()
    };
    reports::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([reports::Column::MessageId, reports::Column::Reporter]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    reports::Entity::find()
        .filter(reports::Column::MessageId.eq(event.message.to_string()))
        .filter(reports::Column::Reporter.eq(event.reporter.chars().take(100).collect::<String>()))
        .one(db)
        .await?
        .ok_or_else(|| BotError::Invalid("a recorded report vanished".to_owned()))
}

/// One report by its number.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<reports::Model>, BotError> {
    Ok(reports::Entity::find_by_id(id).one(db).await?)
}

/// Keep the reported sender's tag, once the message was found in the log.
pub async fn set_tag(db: &DatabaseConnection, id: i64, tag: &str) -> Result<(), BotError> {
    reports::Entity::update_many()
        .col_expr(reports::Column::ReportedTag, Expr::value(tag))
        .filter(reports::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Reports made since `since` that are not in Discord yet, oldest first.
pub async fn unposted(
    db: &DatabaseConnection,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<reports::Model>, BotError> {
    Ok(reports::Entity::find()
        .filter(reports::Column::CreatedAt.gte(since))
        .filter(reports::Column::DiscordMessageId.is_null())
        .order_by_asc(reports::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Where the report went in Discord.
pub async fn set_posted(
    db: &DatabaseConnection,
    id: i64,
    channel: u64,
    message: u64,
    thread: Option<u64>,
) -> Result<(), BotError> {
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or_default();
    reports::Entity::update_many()
        .col_expr(reports::Column::DiscordChannelId, Expr::value(as_i64(channel)))
        .col_expr(reports::Column::DiscordMessageId, Expr::value(as_i64(message)))
        .col_expr(reports::Column::DiscordThreadId, Expr::value(thread.map(as_i64)))
        .filter(reports::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Close an open report with `verdict`, decided `by` (with the length of its mute, for a
/// mute): the report as it is now, and whether this call closed it (`false`: someone decided
/// before, and their decision stands).
pub async fn decide(
    db: &DatabaseConnection,
    id: i64,
    verdict: ReportVerdict,
    by: &str,
    mute: Option<std::time::Duration>,
) -> Result<(reports::Model, bool), BotError> {
    let mute_secs = mute.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let changed = reports::Entity::update_many()
        .col_expr(reports::Column::State, Expr::value(State::Decided(verdict).as_str()))
        .col_expr(reports::Column::DecidedBy, Expr::value(by.chars().take(100).collect::<String>()))
        .col_expr(reports::Column::DecidedAt, Expr::value(Utc::now()))
        .col_expr(reports::Column::MuteSecs, Expr::value(mute_secs))
        .filter(reports::Column::Id.eq(id))
        .filter(reports::Column::State.eq(State::Open.as_str()))
        .exec(db)
        .await?
        .rows_affected;
    let report = get(db, id).await?.ok_or_else(|| BotError::Invalid(format!("no report #{id}")))?;
    Ok((report, changed == 1))
}

/// Open a report again (acting on a decision failed).
pub async fn reopen(db: &DatabaseConnection, id: i64) -> Result<(), BotError> {
    reports::Entity::update_many()
        .col_expr(reports::Column::State, Expr::value(State::Open.as_str()))
        .col_expr(reports::Column::DecidedBy, Expr::value(Option::<String>::None))
        .col_expr(reports::Column::DecidedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(reports::Column::MuteSecs, Expr::value(Option::<i64>::None))
        .filter(reports::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The reports against `tag` made since `since`, as the automatic mute counts them.
pub async fn against(db: &DatabaseConnection, tag: &str, since: DateTime<Utc>) -> Result<Vec<auto::Counted>, BotError> {
    let rows = reports::Entity::find()
        .filter(reports::Column::ReportedTag.eq(tag))
        .filter(reports::Column::CreatedAt.gte(since))
        .limit(1000)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let ip: IpAddr = r.reporter_ip.parse().ok()?;
            Some(auto::Counted { ip, device: r.reporter_device, since: r.reporter_since, at: r.created_at })
        })
        .collect())
}

/// The tag a ban or mute aims at, from a log row's described tag (`tag` or `tag · /64 net`).
pub fn own_tag(described: &str) -> &str {
    described.split_whitespace().next().unwrap_or(described)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for state in [
            State::Open,
            State::Decided(ReportVerdict::Banned),
            State::Decided(ReportVerdict::Muted),
            State::Decided(ReportVerdict::Dismissed),
        ] {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("maybe"), None);
        assert_eq!(own_tag("0123456789ab · /64 ba9876543210"), "0123456789ab");
        assert_eq!(own_tag("0123456789ab"), "0123456789ab");
    }
}
