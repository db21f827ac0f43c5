//! Mutes by address or network (the targets of `/ban`: an IP, a CIDR network or an IP tag,
//! resolved to networks by [`crate::bans::resolve`]), made by moderators (`/mute`, the warning
//! ladder) or operators (`chatroulette mutes`) through [`impose`] and [`revoke`]: each records
//! the change, opens its case, writes the audit log and publishes the active mutes to the bus at
//! once. A muted visitor reads but cannot speak; a shadow-muted one speaks to nobody but
//! themselves, unaware. Expired mutes are withdrawn by the sync tick ([`publish_active`]);
//! gateways ignore an expired mute at once.

use std::time::Duration;

use chrono::Utc;
use ipnet::IpNet;
use protocol::{ControlEvent, MuteDef};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};

use crate::BotError;
use crate::bans::humanize;
use crate::entities::{cases, mutes};

/// A mute as a moderator or an operator asks for it, its target resolved to networks.
#[derive(Debug, Clone)]
pub struct NewMute<'a> {
    pub networks: Vec<IpNet>,
    /// The IP tag it was aimed at, if any.
    pub tag: Option<&'a str>,
    /// How staff name the target; `None` (an address or network) names it by mute number.
    pub shown: Option<String>,
    pub reason: &'a str,
    /// Who mutes (`discord:…`, `cli:…`).
    pub by: &'a str,
    /// `None`: until lifted.
    pub duration: Option<Duration>,
    pub shadow: bool,
    /// Device tags the mute also covers, from any address ([`crate::bans::devices_for`]).
    pub devices: Vec<String>,
}

/// What [`impose`] did.
#[derive(Debug, Clone)]
pub struct Imposed {
    pub mutes: Vec<mutes::Model>,
    pub case: cases::Model,
    /// The target as staff see it.
    pub shown: String,
    /// `for 10 min` or `until lifted`.
    pub until: String,
}

impl Imposed {
    /// `#3, #4`.
    pub fn numbers(&self) -> String {
        self.mutes.iter().map(|m| format!("#{}", m.id)).collect::<Vec<_>>().join(", ")
    }
}

/// What [`revoke`] did.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub mute: mutes::Model,
    /// The `unmute` case it opened.
    pub case: cases::Model,
}

/// Mute: open the case, record the mutes, write the audit log and publish the active mutes on
/// `bus` at once. Without a bus (the operator's shell without `REDIS_URL`) the running bot
/// publishes them on its next sync tick.
pub async fn impose(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    mute: NewMute<'_>,
) -> Result<Imposed, BotError> {
    if mute.networks.is_empty() {
        return Err(BotError::Invalid("nothing to mute: the target resolves to no address".into()));
    }
    let expires = crate::bans::expiry(mute.duration)?;
    let until = mute.duration.map_or_else(|| "until lifted".to_owned(), |d| format!("for {}", humanize(d)));
    let new_case = crate::cases::NewCase {
        kind: "mute",
        target: mute.shown.as_deref().unwrap_or("an address mute"),
        subject: Some(crate::cases::subject(mute.tag, &mute.networks)),
        actor: mute.by,
        reason: mute.reason,
        details: &until,
        expires,
    };
    let case = crate::cases::open(db, new_case).await?;
    crate::cases::set_device(db, case.id, mute.devices.first().map(String::as_str)).await?;
    let made = add(db, &mute, case.id, expires).await?;
    if let Some(bus) = bus {
        publish_active(db, bus).await?;
    }
    let mut imposed = Imposed { mutes: made, case, shown: String::new(), until };
    let numbers = imposed.numbers();
    imposed.shown = mute.shown.unwrap_or_else(|| format!("mute {numbers} (address)"));
    let kind = if mute.shadow { "shadow mute" } else { "mute" };
    let details = format!("{kind} {}; {kind} {numbers}", imposed.until);
    imposed.case = crate::cases::amend(db, imposed.case.id, &imposed.shown, &details).await?;
    let audit = format!("{details}; case #{}", imposed.case.id);
    crate::audit::record(db, mute.by, "mute", &imposed.shown, &audit).await?;
    Ok(imposed)
}

/// Record the mute rows of `mute` in `case` (its networks and devices, see
/// [`crate::bans::rows`]).
pub async fn add(
    db: &DatabaseConnection,
    mute: &NewMute<'_>,
    case: i64,
    expires: Option<chrono::DateTime<Utc>>,
) -> Result<Vec<mutes::Model>, BotError> {
    let now = Utc::now();
    let mut made = Vec::new();
    for (net, device) in crate::bans::rows(&mute.networks, &mute.devices) {
        let model = mutes::ActiveModel {
            case_id: Set(case),
            network: Set(net.to_string()),
            ip_tag: Set(mute.tag.map(str::to_owned)),
            device: Set(device),
            reason: Set(mute.reason.chars().take(500).collect()),
            moderator: Set(mute.by.chars().take(100).collect()),
            shadow: Set(mute.shadow),
            created_at: Set(now),
            expires_at: Set(expires),
            lifted_at: Set(None),
            lifted_by: Set(None),
            ..Default::default()
        };
        made.push(model.insert(db).await?);
    }
    Ok(made)
}

/// Lift a mute, open its `unmute` case, write the audit log and withdraw it from `bus` at once.
pub async fn revoke(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    id: i64,
    by: &str,
) -> Result<Revoked, BotError> {
    let Some(mute) = mutes::Entity::find_by_id(id).one(db).await? else {
        return Err(BotError::Invalid(format!("there is no mute #{id}")));
    };
    if !is_active(&mute) {
        return Err(BotError::Invalid(format!("mute #{id} is no longer active")));
    }
    let mut active: mutes::ActiveModel = mute.into();
    active.lifted_at = Set(Some(Utc::now()));
    active.lifted_by = Set(Some(by.chars().take(100).collect()));
    let mute = active.update(db).await?;
    if let Some(bus) = bus {
        publish_active(db, bus).await?;
    }
    let target = mute.ip_tag.as_ref().map_or_else(|| format!("mute #{id}"), |t| format!("mute #{id} (tag {t})"));
    let details = format!("lifted; it was case #{}", mute.case_id);
    let new_case = crate::cases::NewCase {
        kind: "unmute",
        target: &target,
        subject: None,
        actor: by,
        reason: "",
        details: &details,
        expires: None,
    };
    let case = crate::cases::open(db, new_case).await?;
    crate::audit::record(db, by, "unmute", &format!("mute #{id}"), &format!("lifted; case #{}", case.id)).await?;
    Ok(Revoked { mute, case })
}

pub fn is_active(mute: &mutes::Model) -> bool {
    mute.lifted_at.is_none() && mute.expires_at.is_none_or(|e| e > Utc::now())
}

/// Mutes, newest first; only active ones unless `all`.
pub async fn list(db: &DatabaseConnection, all: bool) -> Result<Vec<mutes::Model>, BotError> {
    let rows = mutes::Entity::find().order_by_desc(mutes::Column::Id).all(db).await?;
    Ok(rows.into_iter().filter(|m| all || is_active(m)).collect())
}

/// The bans' and mutes' numbers of a case, for `/case`.
pub async fn of_case(db: &DatabaseConnection, case: i64) -> Result<Vec<mutes::Model>, BotError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(mutes::Entity::find().filter(mutes::Column::CaseId.eq(case)).all(db).await?)
}

/// Bring the bus in line with the database: publish new and changed mutes, withdraw lifted and
/// expired ones. Called after every change and on every sync tick.
pub async fn publish_active(db: &DatabaseConnection, bus: &dyn bus::Bus) -> Result<(), BotError> {
    use std::collections::BTreeMap;
    let on_bus: BTreeMap<i64, MuteDef> = bus.mutes().await?.into_iter().map(|m| (m.id, m)).collect();
    let active: BTreeMap<i64, MuteDef> = list(db, false).await?.iter().map(|m| (m.id, to_def(m))).collect();
    for (id, mute) in &active {
        if on_bus.get(id) != Some(mute) {
            bus.put_mute(mute).await?;
            bus.publish_control(&ControlEvent::MuteAdded { mute: mute.clone() }).await?;
            tracing::info!(mute = id, "mute published");
        }
    }
    for id in on_bus.keys().filter(|id| !active.contains_key(*id)) {
        bus.remove_mute(*id).await?;
        bus.publish_control(&ControlEvent::MuteLifted { id: *id }).await?;
        tracing::info!(mute = id, "mute lifted or expired");
    }
    Ok(())
}

/// The bus view of a mute.
pub fn to_def(mute: &mutes::Model) -> MuteDef {
    MuteDef {
        id: mute.id,
        case: mute.case_id,
        network: mute.network.clone(),
        device: mute.device.clone(),
        reason: mute.reason.clone(),
        expires: mute.expires_at,
        shadow: mute.shadow,
    }
}
