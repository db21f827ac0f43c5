//! Ban-evasion alerts, the bot's half: the gateways' [`EvasionEvent`]s (a join tied to an
//! active ban or mute that does not cover its address: same device tag from a new address,
//! same /64 or /24) grouped into one alert per case per [`WINDOW`], and what staff decide.
//!
//! An alert (`evasion_alerts`) counts its joins and lists its distinct (address, device)
//! pairs, at most [`PAIRS_MAX`] (more are counted, not listed), so however many joins a mobile
//! /24 makes, the mod-log gets one message per case per window, edited with the counts
//! (`discord::evasion`). Staff see IP tags and device tags, never an address.
//!
//! * [`record`]: an event into its case's open alert (or a new one); nothing when the
//!   sanction is gone, its case now covers the address, or staff ignored the pair. With
//!   `EVASION_AUTO_APPLY` a device-tag match is extended at once ([`extend`]) and the alert
//!   says so.
//! * [`extend`] (*Extend to this address*): a ban or mute of the same case, reason and expiry
//!   (and shadow flag) for each listed address (its /32 or /64, as `/ban` scopes it) and device.
//! * [`ignore`] (*Ignore*): the listed (IP tag, device tag) pairs are never alerted again for
//!   that case.
//! * [`forget`]: retention (`RETENTION_DAYS`) for alerts' addresses and sanctions' devices.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::{EvasionEvent, EvasionMatch, SanctionKind};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::BotError;
use crate::bans::Scope;
use crate::entities::{bans, evasion_alerts as alerts, evasion_ignores as ignores, mutes};
use crate::iptag::IpTagger;

/// One alert message per case this often at most.
pub const WINDOW: Duration = Duration::from_secs(600);
/// Distinct (address, device) pairs one alert lists.
pub const PAIRS_MAX: usize = 10;
/// Who acts when `EVASION_AUTO_APPLY` does.
pub const AUTO_ACTOR: &str = "auto:evasion";

/// Alert rows and Discord writes are serialised: the consumer and the buttons change alerts.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One (address, device) pair of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The address (erased with the alert after `RETENTION_DAYS`); never shown to staff.
    pub ip: String,
    pub ip_tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// In words: `same device, new /24`.
    pub what: String,
    pub device_match: bool,
    pub joins: i64,
    /// The case covers it now (extended by staff or automatically).
    #[serde(default)]
    pub extended: bool,
    /// Extended by `EVASION_AUTO_APPLY`.
    #[serde(default)]
    pub auto: bool,
}

/// Pairs as the row keeps them (a list of plain fields always serialises).
fn encode(pairs: &[Pair]) -> String {
    serde_json::to_string(pairs).unwrap_or_else(|_| "[]".to_owned())
}

/// The pairs of an alert.
pub fn pairs(alert: &alerts::Model) -> Vec<Pair> {
    serde_json::from_str(&alert.pairs).unwrap_or_default()
}

/// What tied the join to the sanction, in words: `same device, new /24`, `same /64, new device`.
pub fn describe(
    matched: EvasionMatch,
    network: &str,
    ip: IpAddr,
    sanctioned: Option<&str>,
    device: Option<&str>,
) -> String {
    let ip = ip.to_canonical();
    let wide = if ip.is_ipv4() { "/24" } else { "/64" };
    match matched {
        EvasionMatch::Device => {
            let near = network
                .parse::<ipnet::IpNet>()
                .ok()
                .is_some_and(|net| Scope::Subnet.network(ip).contains(&net.network()));
            if near { "same device, new address".to_owned() } else { format!("same device, new {wide}") }
        }
        EvasionMatch::Subnet24 | EvasionMatch::Subnet64 => {
            // Only a sanction that names a device can tell a new one.
            let new_device = sanctioned.is_some() && device.is_some() && device != sanctioned;
            format!("same {wide}, {}", if new_device { "new device" } else { "new address" })
        }
    }
}

/// The sanction an event names, if it is still in force: (case, network, device).
async fn sanction(
    db: &DatabaseConnection,
    event: &EvasionEvent,
) -> Result<Option<(i64, String, Option<String>)>, BotError> {
    Ok(match event.kind {
        SanctionKind::Ban => bans::Entity::find_by_id(event.sanction)
            .one(db)
            .await?
            .filter(crate::bans::is_active)
            .and_then(|b| Some((b.case_id?, b.network, b.device))),
        SanctionKind::Mute => mutes::Entity::find_by_id(event.sanction)
            .one(db)
            .await?
            .filter(crate::mutes::is_active)
            .map(|m| (m.case_id, m.network, m.device)),
    })
}

/// Whether an active ban or mute of `case` covers `ip` by its network.
async fn case_covers(db: &DatabaseConnection, kind: SanctionKind, case: i64, ip: IpAddr) -> Result<bool, BotError> {
    let ip = ip.to_canonical();
    let covers = |network: &str| network.parse::<ipnet::IpNet>().is_ok_and(|net| net.contains(&ip));
    Ok(match kind {
        SanctionKind::Ban => bans::Entity::find()
            .filter(bans::Column::CaseId.eq(case))
            .all(db)
            .await?
            .iter()
            .any(|b| crate::bans::is_active(b) && covers(&b.network)),
        SanctionKind::Mute => mutes::Entity::find()
            .filter(mutes::Column::CaseId.eq(case))
            .all(db)
            .await?
            .iter()
            .any(|m| crate::mutes::is_active(m) && covers(&m.network)),
    })
}

fn kind_name(kind: SanctionKind) -> &'static str {
    match kind {
        SanctionKind::Ban => "ban",
        SanctionKind::Mute => "mute",
    }
}

/// Record a gateway's event in its case's alert; the alert as it is now, or `None` when the
/// event needs none (see the module doc).
pub async fn record(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    tagger: &IpTagger,
    event: &EvasionEvent,
    auto_apply: bool,
) -> Result<Option<alerts::Model>, BotError> {
    let Some((case, network, sanctioned)) = sanction(db, event).await? else {
        return Ok(None);
    };
    let _one = ONE_AT_A_TIME.lock().await;
    if case_covers(db, event.kind, case, event.ip).await? {
        return Ok(None);
    }
    let ip_tag = tagger.tag(event.ip);
    let device = event.device.clone().filter(|d| d.len() <= 16);
    let ignored = ignores::Entity::find()
        .filter(ignores::Column::CaseId.eq(case))
        .filter(ignores::Column::IpTag.eq(ip_tag.as_str()))
        .filter(ignores::Column::Device.eq(device.clone().unwrap_or_default()))
        .one(db)
        .await?;
    if ignored.is_some() {
        return Ok(None);
    }
    let now = Utc::now();
    let since = now - chrono::Duration::from_std(WINDOW).unwrap_or_default();
    let open = alerts::Entity::find()
        .filter(alerts::Column::CaseId.eq(case))
        .filter(alerts::Column::State.eq("open"))
        .filter(alerts::Column::OpenedAt.gte(since))
        .order_by_desc(alerts::Column::Id)
        .one(db)
        .await?;
    let what = describe(event.matched, &network, event.ip, sanctioned.as_deref(), device.as_deref());
    let pair = Pair {
        ip: event.ip.to_canonical().to_string(),
        ip_tag,
        device,
        what,
        device_match: event.matched == EvasionMatch::Device,
        joins: 1,
        extended: false,
        auto: false,
    };
    let alert = match open {
        Some(alert) => {
            let mut listed = pairs(&alert);
            let full = listed.len() >= PAIRS_MAX;
            match listed.iter_mut().find(|p| p.ip_tag == pair.ip_tag && p.device == pair.device) {
                Some(known) => known.joins += 1,
                None if !full => listed.push(pair),
                None => {}
            }
            let joins = alert.joins + 1;
            let mut active: alerts::ActiveModel = alert.into();
            active.joins = Set(joins);
            active.last_at = Set(now);
            active.pairs = Set(encode(&listed));
            active.dirty = Set(true);
            active.update(db).await?
        }
        None => {
            let row = alerts::ActiveModel {
                case_id: Set(case),
                kind: Set(kind_name(event.kind).to_owned()),
                sanction_id: Set(event.sanction),
                opened_at: Set(now),
                last_at: Set(now),
                joins: Set(1),
                pairs: Set(encode(&[pair])),
                state: Set("open".to_owned()),
                decided_by: Set(None),
                decided_at: Set(None),
                dirty: Set(true),
                discord_channel_id: Set(None),
                discord_message_id: Set(None),
                ..Default::default()
            };
            row.insert(db).await?
        }
    };
    metrics::counter!("chat_evasion_alerts_total", "match" => match event.matched {
        EvasionMatch::Device => "device",
        EvasionMatch::Subnet64 => "subnet64",
        EvasionMatch::Subnet24 => "subnet24",
    })
    .increment(1);
    if auto_apply && event.matched == EvasionMatch::Device {
        let extended = apply(db, bus, alert, AUTO_ACTOR, |p| p.device_match && !p.extended).await?;
        tracing::warn!(case, alert = extended.0.id, "an evasion by device tag was extended automatically");
        return Ok(Some(extended.0));
    }
    Ok(Some(alert))
}

/// What [`extend`] did: the alert as it is now, and how many addresses it added.
pub type Extended = (alerts::Model, usize);

/// *Extend to this address*: the case's ban or mute for each listed address and device.
pub async fn extend(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    id: i64,
    by: &str,
) -> Result<Extended, BotError> {
    let _one = ONE_AT_A_TIME.lock().await;
    let alert = open_alert(db, id).await?;
    let (mut alert, added) = apply(db, bus, alert, by, |p| !p.extended).await?;
    let mut active: alerts::ActiveModel = alert.clone().into();
    active.state = Set("extended".to_owned());
    active.decided_by = Set(Some(by.chars().take(100).collect()));
    active.decided_at = Set(Some(Utc::now()));
    active.dirty = Set(false);
    alert = active.update(db).await?;
    Ok((alert, added))
}

/// *Ignore*: the listed pairs are not alerted again for the case.
pub async fn ignore(db: &DatabaseConnection, id: i64, by: &str) -> Result<alerts::Model, BotError> {
    let _one = ONE_AT_A_TIME.lock().await;
    let alert = open_alert(db, id).await?;
    let now = Utc::now();
    for pair in pairs(&alert) {
        let row = ignores::ActiveModel {
            case_id: Set(alert.case_id),
            ip_tag: Set(pair.ip_tag.clone()),
            device: Set(pair.device.clone().unwrap_or_default()),
            created_at: Set(now),
            ..Default::default()
        };
        let unique = [ignores::Column::CaseId, ignores::Column::IpTag, ignores::Column::Device];
        ignores::Entity::insert(row)
            .on_conflict(OnConflict::columns(unique).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    crate::audit::record(
        db,
        by,
        "evasion_ignore",
        &format!("case #{}", alert.case_id),
        &format!("alert #{}", alert.id),
    )
    .await?;
    let mut active: alerts::ActiveModel = alert.into();
    active.state = Set("ignored".to_owned());
    active.decided_by = Set(Some(by.chars().take(100).collect()));
    active.decided_at = Set(Some(now));
    active.dirty = Set(false);
    Ok(active.update(db).await?)
}

async fn open_alert(db: &DatabaseConnection, id: i64) -> Result<alerts::Model, BotError> {
    let alert = get(db, id).await?.ok_or_else(|| BotError::Invalid(format!("there is no evasion alert #{id}")))?;
    if alert.state != "open" {
        return Err(BotError::Invalid(format!("this alert was decided already ({})", alert.state)));
    }
    Ok(alert)
}

/// One alert by its number.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<alerts::Model>, BotError> {
    Ok(alerts::Entity::find_by_id(id).one(db).await?)
}

/// Add the case's sanction for the pairs `which` selects; the alert and how many were added.
async fn apply(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    alert: alerts::Model,
    by: &str,
    which: impl Fn(&Pair) -> bool,
) -> Result<Extended, BotError> {
    let mut listed = pairs(&alert);
    let chosen: Vec<usize> = (0..listed.len()).filter(|i| which(&listed[*i])).collect();
    let auto = by == AUTO_ACTOR;
    let mut added = 0;
    for i in &chosen {
        let pair = &listed[*i];
        let Ok(ip) = pair.ip.parse::<IpAddr>() else { continue };
        let network = Scope::default_for(ip).network(ip);
        let devices: Vec<String> = pair.device.iter().cloned().collect();
        if alert.kind == "ban" {
            let Some(ban) = bans::Entity::find_by_id(alert.sanction_id).one(db).await? else { continue };
            let tag = ban.ip_tag.as_deref();
            crate::bans::add(db, &[network], &devices, tag, &ban.reason, by, ban.expires_at, ban.case_id).await?;
        } else {
            let Some(mute) = mutes::Entity::find_by_id(alert.sanction_id).one(db).await? else { continue };
            let new = crate::mutes::NewMute {
                networks: vec![network],
                tag: mute.ip_tag.as_deref(),
                shown: None,
                reason: &mute.reason,
                by,
                duration: None,
                shadow: mute.shadow,
                devices,
            };
            crate::mutes::add(db, &new, mute.case_id, mute.expires_at).await?;
        }
        added += 1;
    }
    for i in chosen {
        listed[i].extended = true;
        listed[i].auto = auto;
    }
    if added > 0 {
        if let Some(bus) = bus {
            crate::bans::publish_active(db, bus).await?;
            crate::mutes::publish_active(db, bus).await?;
        }
        let target = format!("case #{}", alert.case_id);
        let details = format!("extended to {added} more address(es) after evasion alert #{}", alert.id);
        crate::audit::record(db, by, "evasion_extend", &target, &details).await?;
        // The case says so too (its mod-log post is edited to match by the Discord side).
        if let Some(case) = crate::cases::get(db, alert.case_id).await? {
            let details = format!("{}; {details}", case.details);
            crate::cases::amend(db, case.id, &case.target, &details).await?;
        }
    }
    let mut active: alerts::ActiveModel = alert.into();
    active.pairs = Set(encode(&listed));
    active.dirty = Set(true);
    Ok((active.update(db).await?, added))
}

/// Alerts Discord has not seen as they are now, oldest first, at most `max`.
pub async fn dirty(db: &DatabaseConnection, max: u64) -> Result<Vec<alerts::Model>, BotError> {
    Ok(alerts::Entity::find()
        .filter(alerts::Column::Dirty.eq(true))
        .order_by_asc(alerts::Column::Id)
        .limit(max)
        .all(db)
        .await?)
}

/// Discord shows `shown` (its joins, state and pairs): clear the flag unless it changed since,
/// and remember the message.
pub async fn shown(db: &DatabaseConnection, shown: &alerts::Model, channel: u64, message: u64) -> Result<(), BotError> {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(now) = get(db, shown.id).await? else { return Ok(()) };
    let unchanged = now.joins == shown.joins && now.state == shown.state && now.pairs == shown.pairs;
    let mut active: alerts::ActiveModel = now.into();
    active.discord_channel_id = Set(i64::try_from(channel).ok());
    active.discord_message_id = Set(i64::try_from(message).ok());
    if unchanged {
        active.dirty = Set(false);
    }
    active.update(db).await?;
    Ok(())
}

/// Retention: alerts last seen before `cutoff` go (with their addresses), and the device tags
/// of sanctions that ended before it are erased. Rows changed.
pub async fn forget(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, BotError> {
    let mut changed =
        alerts::Entity::delete_many().filter(alerts::Column::LastAt.lt(cutoff)).exec(db).await?.rows_affected;
    let ended_ban = Condition::any()
        .add(bans::Column::LiftedAt.lt(cutoff))
        .add(Condition::all().add(bans::Column::LiftedAt.is_null()).add(bans::Column::ExpiresAt.lt(cutoff)));
    changed += bans::Entity::update_many()
        .col_expr(bans::Column::Device, sea_orm::sea_query::Expr::value(Option::<String>::None))
        .filter(ended_ban)
        .filter(bans::Column::Device.is_not_null())
        .exec(db)
        .await?
        .rows_affected;
    let ended_mute = Condition::any()
        .add(mutes::Column::LiftedAt.lt(cutoff))
        .add(Condition::all().add(mutes::Column::LiftedAt.is_null()).add(mutes::Column::ExpiresAt.lt(cutoff)));
    changed += mutes::Entity::update_many()
        .col_expr(mutes::Column::Device, sea_orm::sea_query::Expr::value(Option::<String>::None))
        .filter(ended_mute)
        .filter(mutes::Column::Device.is_not_null())
        .exec(db)
        .await?
        .rows_affected;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_worded_for_staff() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let d = Some("a1b2c3d4e5f6");
        assert_eq!(describe(EvasionMatch::Device, "198.51.100.7/32", ip("203.0.113.9"), d, d), "same device, new /24");
        assert_eq!(
            describe(EvasionMatch::Device, "198.51.100.7/32", ip("198.51.100.9"), d, d),
            "same device, new address"
        );
        assert_eq!(describe(EvasionMatch::Device, "2001:db8::/64", ip("2001:db9::1"), d, d), "same device, new /64");
        assert_eq!(
            describe(EvasionMatch::Subnet24, "198.51.100.7/32", ip("198.51.100.9"), d, None),
            "same /24, new address"
        );
        assert_eq!(
            describe(EvasionMatch::Subnet64, "2001:db8::5/128", ip("2001:db8::9"), d, Some("000000000000")),
            "same /64, new device"
        );
    }
}
