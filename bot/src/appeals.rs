//! Appeals: a banned visitor's request that staff reconsider a case (`POST /api/appeals` on a
//! gateway, which queues it). The bot records each in `appeals`, keeps the bus's copy in step
//! (the visitor's page reads it there: state, staff replies), and decides through the same calls
//! as everything else ([`crate::bans::revoke`], [`crate::mutes::revoke`],
//! [`crate::cases::set_duration`]); the Discord side
//! (`discord::appeals`) posts each appeal to a thread with *Lift*, *Shorten* and *Deny*.
//!
//! The database is the record: after the bus lost its data (or at start) every appeal younger
//! than [`APPEAL_TTL`] is put back ([`publish_recent`]). Retention erases an appeal's address
//! after `RETENTION_DAYS` and the appeal after `TEXT_RETENTION_DAYS` ([`erase_addresses`],
//! [`drop_older`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::appeals::{APPEAL_REPLIES_MAX, APPEAL_TTL, AppealEvent, AppealRecord, AppealReply, AppealState};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::BotError;
use crate::entities::appeals;
use crate::iptag::IpTagger;

/// Appeals put back on the bus at most at once (the newest).
const REPUBLISH_MAX: u64 = 10_000;

/// What staff decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Lift,
    /// The sanction ends this long from now.
    Shorten(Duration),
    Deny,
}

/// Record an appeal from the queue (once: a redelivered one is found by its token).
pub async fn record(
    db: &DatabaseConnection,
    tagger: &IpTagger,
    event: &AppealEvent,
) -> Result<appeals::Model, BotError> {
    if let Some(known) = by_token(db, &event.token).await? {
        return Ok(known);
    }
    let model = appeals::ActiveModel {
        token: Set(event.token.clone()),
        case_no: Set(event.case),
        ban_id: Set(event.ban),
        mute_id: Set(event.mute),
        state: Set(AppealState::Open.as_str().to_owned()),
        text: Set(event.text.chars().take(protocol::appeals::APPEAL_TEXT_MAX).collect()),
        ip: Set(Some(event.ip.to_canonical().to_string())),
        ip_tag: Set(Some(tagger.tag(event.ip))),
        replies: Set("[]".to_owned()),
        expires_at: Set(None),
        decided_by: Set(None),
        decided_at: Set(None),
        created_at: Set(event.at),
        discord_thread_id: Set(None),
        discord_message_id: Set(None),
        ..Default::default()
    };
    Ok(model.insert(db).await?)
}

pub async fn by_token(db: &DatabaseConnection, token: &str) -> Result<Option<appeals::Model>, BotError> {
    Ok(appeals::Entity::find().filter(appeals::Column::Token.eq(token)).one(db).await?)
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<appeals::Model>, BotError> {
    Ok(appeals::Entity::find_by_id(id).one(db).await?)
}

/// The appeal whose Discord thread is `thread`.
pub async fn by_thread(db: &DatabaseConnection, thread: i64) -> Result<Option<appeals::Model>, BotError> {
    Ok(appeals::Entity::find().filter(appeals::Column::DiscordThreadId.eq(thread)).one(db).await?)
}

/// Appeals not yet posted to Discord, oldest first.
pub async fn unposted(db: &DatabaseConnection, max: u64) -> Result<Vec<appeals::Model>, BotError> {
    Ok(appeals::Entity::find()
        .filter(appeals::Column::DiscordMessageId.is_null())
        .filter(appeals::Column::State.eq(AppealState::Open.as_str()))
        .order_by_asc(appeals::Column::Id)
        .limit(max)
        .all(db)
        .await?)
}

/// Remember where the appeal lives in Discord.
pub async fn posted(
    db: &DatabaseConnection,
    appeal: appeals::Model,
    thread: i64,
    message: Option<i64>,
) -> Result<appeals::Model, BotError> {
    let mut active: appeals::ActiveModel = appeal.into();
    active.discord_thread_id = Set(Some(thread));
    active.discord_message_id = Set(message);
    Ok(active.update(db).await?)
}

/// The staff replies of a row (a row whose JSON cannot be read has none).
pub fn replies(appeal: &appeals::Model) -> Vec<AppealReply> {
    serde_json::from_str(&appeal.replies).unwrap_or_default()
}

pub fn state(appeal: &appeals::Model) -> AppealState {
    AppealState::parse(&appeal.state).unwrap_or(AppealState::Open)
}

/// The bus's (and the visitor's) view of an appeal.
pub fn to_record(appeal: &appeals::Model) -> AppealRecord {
    AppealRecord {
        token: appeal.token.clone(),
        case: appeal.case_no,
        state: state(appeal),
        text: appeal.text.clone(),
        replies: replies(appeal),
        at: appeal.created_at,
        expires: appeal.expires_at,
    }
}

/// Put the appeal as the database has it on the bus.
pub async fn publish(bus: &dyn bus::Bus, appeal: &appeals::Model) -> Result<(), BotError> {
    let left = (appeal.created_at + chrono::Duration::from_std(APPEAL_TTL).unwrap_or_default() - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    // Kept for its TTL after each change, at least a day.
    bus.put_appeal(&to_record(appeal), left.max(Duration::from_secs(86_400))).await?;
    Ok(())
}

/// Put back every appeal younger than [`APPEAL_TTL`] (the newest [`REPUBLISH_MAX`]): at start
/// and after the bus lost its data. Returns how many.
pub async fn publish_recent(db: &DatabaseConnection, bus: &dyn bus::Bus) -> Result<usize, BotError> {
    let since = Utc::now() - chrono::Duration::from_std(APPEAL_TTL).unwrap_or_default();
    let rows = appeals::Entity::find()
        .filter(appeals::Column::CreatedAt.gt(since))
        .order_by_desc(appeals::Column::Id)
        .limit(REPUBLISH_MAX)
        .all(db)
        .await?;
    for row in &rows {
        publish(bus, row).await?;
    }
    Ok(rows.len())
}

/// A staff reply: kept (the newest [`APPEAL_REPLIES_MAX`]) and put on the bus for the visitor.
pub async fn reply(
    db: &DatabaseConnection,
    bus: &dyn bus::Bus,
    appeal: appeals::Model,
    text: &str,
) -> Result<appeals::Model, BotError> {
    let mut list = replies(&appeal);
    list.push(AppealReply { at: Utc::now(), text: text.chars().take(protocol::appeals::APPEAL_TEXT_MAX).collect() });
    if list.len() > APPEAL_REPLIES_MAX {
        list.drain(..list.len() - APPEAL_REPLIES_MAX);
    }
    let json = serde_json::to_string(&list).map_err(|e| BotError::Invalid(e.to_string()))?;
    let mut active: appeals::ActiveModel = appeal.into();
    active.replies = Set(json);
    let updated = active.update(db).await?;
    publish(bus, &updated).await?;
    Ok(updated)
}

/// What a decision did: the appeal as decided, and the cases it opened (*Lift*: an `unban` or
/// `unmute` case per sanction lifted) or changed (*Shorten*: the appealed case), for the mod-log.
#[derive(Debug, Clone)]
pub struct Decided {
    pub appeal: appeals::Model,
    pub opened: Vec<crate::entities::cases::Model>,
    pub changed: Option<crate::entities::cases::Model>,
}

/// Decide an open appeal: lift or shorten its case (through [`crate::bans`], [`crate::mutes`]
/// and [`crate::cases`], published at once), or deny it; recorded, audited and put on the bus.
/// Refused when it was decided already.
pub async fn decide(
    db: &DatabaseConnection,
    bus: &dyn bus::Bus,
    appeal: appeals::Model,
    decision: Decision,
    by: &str,
) -> Result<Decided, BotError> {
    if state(&appeal) != AppealState::Open {
        return Err(BotError::Invalid(format!(
            "this appeal was decided already ({} by {})",
            appeal.state,
            appeal.decided_by.as_deref().unwrap_or("someone")
        )));
    }
    let (mut opened, mut changed) = (Vec::new(), None);
    let (state, expires) = match decision {
        Decision::Lift => {
            opened = lift_case(db, bus, appeal.case_no, by).await?;
            (AppealState::Lifted, None)
        }
        Decision::Shorten(duration) => {
            let case = shorten_case(db, bus, appeal.case_no, duration, by).await?;
            let expires = case.expires_at;
            changed = Some(case);
            (AppealState::Shortened, expires)
        }
        Decision::Deny => (AppealState::Denied, None),
    };
    let case = appeal.case_no;
    let mut active: appeals::ActiveModel = appeal.into();
    active.state = Set(state.as_str().to_owned());
    active.expires_at = Set(expires);
    active.decided_by = Set(Some(by.chars().take(100).collect()));
    active.decided_at = Set(Some(Utc::now()));
    let decided = active.update(db).await?;
    publish(bus, &decided).await?;
    crate::audit::record(db, by, "appeal", &format!("case #{case}"), state.as_str()).await?;
    Ok(Decided { appeal: decided, opened, changed })
}

/// Lift every ban and mute of `case` still in force (one that ended meanwhile is lifted all the
/// same for the visitor); the `unban` and `unmute` cases that opened.
async fn lift_case(
    db: &DatabaseConnection,
    bus: &dyn bus::Bus,
    case: i64,
    by: &str,
) -> Result<Vec<crate::entities::cases::Model>, BotError> {
    let mut opened = Vec::new();
    let bans =
        crate::entities::bans::Entity::find().filter(crate::entities::bans::Column::CaseId.eq(case)).all(db).await?;
    for ban in bans.iter().filter(|b| crate::bans::is_active(b)) {
        opened.push(crate::bans::revoke(db, Some(bus), ban.id, by).await?.case);
    }
    for mute in crate::mutes::of_case(db, case).await?.iter().filter(|m| crate::mutes::is_active(m)) {
        opened.push(crate::mutes::revoke(db, Some(bus), mute.id, by).await?.case);
    }
    Ok(opened)
}

/// Make `case` end `duration` from now (its bans or mutes with it, through
/// [`crate::cases::set_duration`]); refused unless it is in force and that is sooner. The case
/// as changed.
async fn shorten_case(
    db: &DatabaseConnection,
    bus: &dyn bus::Bus,
    case: i64,
    duration: Duration,
    by: &str,
) -> Result<crate::entities::cases::Model, BotError> {
    let Some(record) = crate::cases::get(db, case).await? else {
        return Err(BotError::Invalid(format!("case #{case} is no longer on record")));
    };
    let bans =
        crate::entities::bans::Entity::find().filter(crate::entities::bans::Column::CaseId.eq(case)).all(db).await?;
    let in_force = bans.iter().any(crate::bans::is_active)
        || crate::mutes::of_case(db, case).await?.iter().any(crate::mutes::is_active);
    if !in_force {
        return Err(BotError::Invalid(format!("case #{case} is no longer in force: nothing to shorten")));
    }
    let until =
        Utc::now() + chrono::Duration::from_std(duration).map_err(|_| BotError::Invalid("duration too long".into()))?;
    if let Some(end) = record.expires_at.filter(|end| *end <= until) {
        return Err(BotError::Invalid(format!(
            "case #{case} ends before that already ({})",
            end.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    let total = (until - record.created_at).to_std().map_err(|_| BotError::Invalid("duration too long".into()))?;
    crate::cases::set_duration(db, Some(bus), case, Some(total), by).await
}

/// Retention: erase the addresses of appeals made before `cutoff`; how many.
pub async fn erase_addresses(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, BotError> {
    Ok(appeals::Entity::update_many()
        .col_expr(appeals::Column::Ip, Expr::value(Option::<String>::None))
        .col_expr(appeals::Column::IpTag, Expr::value(Option::<String>::None))
        .filter(appeals::Column::CreatedAt.lt(cutoff))
        .filter(appeals::Column::Ip.is_not_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Retention: drop appeals made before `cutoff` (texts and replies with them); how many.
pub async fn drop_older(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, BotError> {
    Ok(appeals::Entity::delete_many().filter(appeals::Column::CreatedAt.lt(cutoff)).exec(db).await?.rows_affected)
}
