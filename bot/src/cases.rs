//! Cases: every moderator action (ban, unban, mute, unmute, warn, kick, purge, filter and room
//! changes) gets a number of its own, separate from ban and mute numbers, as Discord moderation
//! bots do. A case keeps what was done, to whom (as staff name it: never an address), by whom,
//! why, until when, and the mod-log post that shows it.
//!
//! [`open`] numbers an action; [`set_reason`] and [`set_duration`] change a case afterwards
//! (the duration only of a ban or a mute, whose expiry changes with it and is published again);
//! the Discord side then edits the case's mod-log post to match (`discord::modlog`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::BotError;
use crate::entities::{bans, cases, mutes};

/// Most cases `list` returns.
pub const LIST_MAX: u64 = 200;

/// A moderator action about to be numbered.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    /// `ban`, `mute`, `warn`, `kick`, `filter_add`, `room_edit`, …
    pub kind: &'a str,
    /// The target as staff see it.
    pub target: &'a str,
    /// What warnings are counted by (see [`subject`]); `None` for actions on no visitor.
    pub subject: Option<String>,
    pub actor: &'a str,
    pub reason: &'a str,
    pub details: &'a str,
    pub expires: Option<DateTime<Utc>>,
}

/// The key warnings of one target are counted by: its IP tag, or else its networks.
pub fn subject(tag: Option<&str>, networks: &[ipnet::IpNet]) -> String {
    match tag {
        Some(tag) => format!("tag:{tag}"),
        None => {
            let mut nets: Vec<String> = networks.iter().map(ToString::to_string).collect();
            nets.sort();
            format!("net:{}", nets.join(",")).chars().take(400).collect()
        }
    }
}

/// Number an action.
pub async fn open(db: &DatabaseConnection, case: NewCase<'_>) -> Result<cases::Model, BotError> {
    let model = cases::ActiveModel {
        kind: Set(case.kind.chars().take(32).collect()),
        target: Set(case.target.chars().take(200).collect()),
        subject: Set(case.subject),
        actor: Set(case.actor.chars().take(100).collect()),
        reason: Set(case.reason.chars().take(500).collect()),
        details: Set(case.details.chars().take(2000).collect()),
        created_at: Set(Utc::now()),
        expires_at: Set(case.expires),
        modlog_channel: Set(None),
        modlog_message: Set(None),
        device: Set(None),
        ..Default::default()
    };
    Ok(model.insert(db).await?)
}

/// One case by its number.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<cases::Model>, BotError> {
    Ok(cases::Entity::find_by_id(id).one(db).await?)
}

async fn must_get(db: &DatabaseConnection, id: i64) -> Result<cases::Model, BotError> {
    get(db, id).await?.ok_or_else(|| BotError::Invalid(format!("there is no case #{id}")))
}

/// The newest cases, at most `limit` (and [`LIST_MAX`]).
pub async fn list(db: &DatabaseConnection, limit: u64) -> Result<Vec<cases::Model>, BotError> {
    Ok(cases::Entity::find().order_by_desc(cases::Column::Id).limit(limit.min(LIST_MAX)).all(db).await?)
}

/// How many warnings `subject`, or the device tag `device`, has had, this one included: a
/// visitor who changes address keeps the warnings of their device.
pub async fn warnings_of(db: &DatabaseConnection, subject: &str, device: Option<&str>) -> Result<u64, BotError> {
    let mut whose = sea_orm::Condition::any().add(cases::Column::Subject.eq(subject));
    if let Some(device) = device {
        whose = whose.add(cases::Column::Device.eq(device));
    }
    Ok(cases::Entity::find().filter(cases::Column::Kind.eq("warn")).filter(whose).count(db).await?)
}

/// Remember the device tag of a case's target (`None` leaves it unknown).
pub async fn set_device(db: &DatabaseConnection, id: i64, device: Option<&str>) -> Result<(), BotError> {
    let Some(device) = device else { return Ok(()) };
    let case = must_get(db, id).await?;
    let mut active: cases::ActiveModel = case.into();
    active.device = Set(Some(device.chars().take(16).collect()));
    active.update(db).await?;
    Ok(())
}

/// Name a case's target and details once the sanction's own numbers are known.
pub async fn amend(db: &DatabaseConnection, id: i64, target: &str, details: &str) -> Result<cases::Model, BotError> {
    let case = must_get(db, id).await?;
    let mut active: cases::ActiveModel = case.into();
    active.target = Set(target.chars().take(200).collect());
    active.details = Set(details.chars().take(2000).collect());
    Ok(active.update(db).await?)
}

/// Remember the mod-log post that shows a case.
pub async fn set_post(db: &DatabaseConnection, id: i64, channel: u64, message: u64) -> Result<(), BotError> {
    let case = must_get(db, id).await?;
    let mut active: cases::ActiveModel = case.into();
    active.modlog_channel = Set(i64::try_from(channel).ok());
    active.modlog_message = Set(i64::try_from(message).ok());
    active.update(db).await?;
    Ok(())
}

/// Change a case's reason, and the reason its bans and mutes show (published again on `bus`).
pub async fn set_reason(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    id: i64,
    reason: &str,
    by: &str,
) -> Result<cases::Model, BotError> {
    let case = must_get(db, id).await?;
    let reason: String = reason.trim().chars().take(500).collect();
    for ban in bans::Entity::find().filter(bans::Column::CaseId.eq(id)).all(db).await? {
        let mut active: bans::ActiveModel = ban.into();
        active.reason = Set(reason.clone());
        active.update(db).await?;
    }
    for mute in mutes::Entity::find().filter(mutes::Column::CaseId.eq(id)).all(db).await? {
        let mut active: mutes::ActiveModel = mute.into();
        active.reason = Set(reason.clone());
        active.update(db).await?;
    }
    let mut active: cases::ActiveModel = case.into();
    active.reason = Set(reason.clone());
    let case = active.update(db).await?;
    republish(db, bus).await?;
    crate::audit::record(db, by, "case_reason", &format!("case #{id}"), &reason).await?;
    Ok(case)
}

/// Change how long a ban's or mute's case lasts, counted from when it was imposed (`None`:
/// until lifted): its bans or mutes get the new expiry, published again on `bus` at once. A
/// duration already over ends the sanction now.
pub async fn set_duration(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    id: i64,
    duration: Option<Duration>,
    by: &str,
) -> Result<cases::Model, BotError> {
    let case = must_get(db, id).await?;
    if case.kind != "ban" && case.kind != "mute" {
        return Err(BotError::Invalid(format!(
            "case #{id} is a {}: only the duration of a ban or a mute can change",
            case.kind
        )));
    }
    let expires = match duration {
        Some(d) => Some(
            case.created_at
                + chrono::Duration::from_std(d).map_err(|_| BotError::Invalid("duration too long".into()))?,
        ),
        None => None,
    };
    if case.kind == "ban" {
        for ban in bans::Entity::find().filter(bans::Column::CaseId.eq(id)).all(db).await? {
            let mut active: bans::ActiveModel = ban.into();
            active.expires_at = Set(expires);
            active.update(db).await?;
        }
    } else {
        for mute in mutes::Entity::find().filter(mutes::Column::CaseId.eq(id)).all(db).await? {
            let mut active: mutes::ActiveModel = mute.into();
            active.expires_at = Set(expires);
            active.update(db).await?;
        }
    }
    let mut active: cases::ActiveModel = case.into();
    active.expires_at = Set(expires);
    let case = active.update(db).await?;
    republish(db, bus).await?;
    let shown = duration.map_or_else(|| "until lifted".to_owned(), |d| format!("for {}", crate::bans::humanize(d)));
    crate::audit::record(db, by, "case_duration", &format!("case #{id}"), &shown).await?;
    Ok(case)
}

/// Publish bans and mutes again after a change (without a bus, the running bot's next sync
/// tick does).
async fn republish(db: &DatabaseConnection, bus: Option<&dyn bus::Bus>) -> Result<(), BotError> {
    if let Some(bus) = bus {
        crate::bans::publish_active(db, bus).await?;
        crate::mutes::publish_active(db, bus).await?;
    }
    Ok(())
}

/// `until 2026-12-03 17:23 UTC`, `until lifted`, or nothing for actions that do not last.
pub fn until(case: &cases::Model) -> String {
    match (case.kind.as_str(), case.expires_at) {
        (_, Some(e)) => format!("until {}", e.format("%Y-%m-%d %H:%M UTC")),
        ("ban" | "mute", None) => "until lifted".to_owned(),
        _ => String::new(),
    }
}

/// One case on a few lines, for `/case` and `chatroulette cases show`.
pub fn describe(case: &cases::Model) -> String {
    let reason = if case.reason.is_empty() { "none" } else { &case.reason };
    let mut text = format!(
        "Case #{} · {}: {}\nby {} at {}",
        case.id,
        case.kind,
        case.target,
        case.actor,
        case.created_at.to_rfc3339()
    );
    let until = until(case);
    if !until.is_empty() {
        text.push_str(&format!("\n{until}"));
    }
    text.push_str(&format!("\nreason: {reason}"));
    if !case.details.is_empty() {
        text.push_str(&format!("\n{}", case.details));
    }
    text
}
