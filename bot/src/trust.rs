//! The trust tier's staff side (issue 27): tags staff trust (`/trust`, `chatroulette trust`)
//! and link domains they allow (`/links allow`, `chatroulette links allow`), kept in the
//! database and published whole to every gateway ([`publish`]: the bus snapshot and a
//! `trust_changed` control event), like the filters. Moderators and operators go through the
//! same calls, which write the audit log.
//!
//! A trusted tag is an IP tag (embed footers, `/lookup`: it stands for the networks its
//! addresses are in, IPv6 by /64, and the device tags seen with it) or a device tag (itself).
//! Either way it is resolved from the message log when trusted, so a tag nobody wrote from is
//! refused.

use chrono::Utc;
use protocol::trust::{TRUST_LIST_MAX, parse_domain};
use protocol::{ControlEvent, TrustList, TrustedDef};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::BotError;
use crate::bans::{Target, resolve};
use crate::entities::{allowed_domains, message_log, trusted_tags};

/// The gateways' rule of the tier (`NEW_VISITOR_MINUTES`, `NEW_VISITOR_MESSAGES`): a subject is
/// new until either is reached; either at 0 turns the tier off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewVisitorRule {
    pub minutes: u32,
    pub messages: u32,
}

impl Default for NewVisitorRule {
    fn default() -> Self {
        Self { minutes: 10, messages: 5 }
    }
}

impl NewVisitorRule {
    /// Where one subject's record stands, in words (`/lookup`).
    pub fn standing(&self, record: Option<bus::TrustRecord>, now_ms: i64) -> String {
        if self.minutes == 0 || self.messages == 0 {
            return "the trust tier is off".to_owned();
        }
        let Some(r) = record else { return "not seen lately (new when it comes back)".to_owned() };
        let minutes = now_ms.saturating_sub(r.first_ms) / 60_000;
        let end_ms = r.first_ms.saturating_add(i64::from(self.minutes) * 60_000);
        if minutes >= i64::from(self.minutes) || r.messages >= u64::from(self.messages) {
            format!("past the trust tier ({} message(s), first seen <t:{}:R>)", r.messages, r.first_ms / 1000)
        } else {
            format!(
                "**new**: {} of {} messages, the tier ends <t:{}:R> at the latest",
                r.messages,
                self.messages,
                end_ms / 1000
            )
        }
    }
}

/// Device tags kept with a trusted IP tag at most.
const DEVICES_PER_TAG: usize = 20;

/// A tag as staff type it: an IP tag (12 or 8 hex digits, `/64 tag` too) or a device tag.
fn parse_tag(raw: &str) -> Result<String, BotError> {
    match Target::parse(raw) {
        Ok(Target::Tag(tag)) => Ok(tag),
        _ => Err(BotError::Invalid(format!(
            "{:?} is not a tag: give an IP tag as shown in embed footers (12 characters) or a device tag",
            raw.chars().take(40).collect::<String>()
        ))),
    }
}

/// What `tag` stands for: (networks, devices), from the message log.
async fn stands_for(db: &DatabaseConnection, tag: &str) -> Result<(Vec<String>, Vec<String>), BotError> {
    if let Ok(networks) = resolve(db, &Target::Tag(tag.to_owned()), None).await {
        let rows = crate::message_log::by_tag(db, tag, 200, None, crate::message_log::Walk::All).await?;
        let mut devices: Vec<String> = rows.into_iter().filter_map(|r| r.device_tag).collect();
        devices.sort();
        devices.dedup();
        devices.truncate(DEVICES_PER_TAG);
        return Ok((networks.iter().map(ToString::to_string).collect(), devices));
    }
    let seen = message_log::Entity::find()
        .select_only()
        .column(message_log::Column::Id)
        .filter(message_log::Column::DeviceTag.eq(tag))
        .limit(1)
        .into_tuple::<String>()
        .one(db)
        .await?;
    match seen {
        Some(_) => Ok((Vec::new(), vec![tag.to_owned()])),
        None => Err(BotError::Invalid(format!("no message in the log comes from tag {tag}"))),
    }
}

/// Trust `raw` (an IP or device tag): it skips the trust tier on every gateway at once (with a
/// bus; without one, the running bot publishes it at its next sync). Trusting a tag again
/// refreshes what it stands for.
pub async fn trust(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    raw: &str,
    by: &str,
) -> Result<trusted_tags::Model, BotError> {
    let tag = parse_tag(raw)?;
    let (networks, devices) = stands_for(db, &tag).await?;
    let existing = trusted_tags::Entity::find().filter(trusted_tags::Column::Tag.eq(&tag)).one(db).await?;
    if existing.is_none() && trusted_tags::Entity::find().count(db).await? >= TRUST_LIST_MAX as u64 {
        return Err(BotError::Invalid(format!("at most {TRUST_LIST_MAX} tags can be trusted; untrust some first")));
    }
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned());
    let model = match existing {
        Some(row) => {
            let mut model: trusted_tags::ActiveModel = row.into();
            model.networks = Set(json(&networks));
            model.devices = Set(json(&devices));
            model.update(db).await?
        }
        None => {
            trusted_tags::ActiveModel {
                tag: Set(tag.clone()),
                networks: Set(json(&networks)),
                devices: Set(json(&devices)),
                moderator: Set(by.chars().take(100).collect()),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    };
    let details = format!("{} network(s), {} device(s)", networks.len(), devices.len());
    crate::audit::record(db, by, "trust", &format!("tag {tag}"), &details).await?;
    publish_now(db, bus).await?;
    Ok(model)
}

/// Stop trusting `raw`; whether it was trusted.
pub async fn untrust(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    raw: &str,
    by: &str,
) -> Result<bool, BotError> {
    let tag = parse_tag(raw)?;
    let gone = trusted_tags::Entity::delete_many().filter(trusted_tags::Column::Tag.eq(&tag)).exec(db).await?;
    if gone.rows_affected == 0 {
        return Ok(false);
    }
    crate::audit::record(db, by, "untrust", &format!("tag {tag}"), "").await?;
    publish_now(db, bus).await?;
    Ok(true)
}

/// What a trusted tag stands for, in words.
pub fn describe(row: &trusted_tags::Model) -> String {
    let count = |raw: &str| serde_json::from_str::<Vec<String>>(raw).map(|v| v.len()).unwrap_or(0);
    format!("{} network(s), {} device(s)", count(&row.networks), count(&row.devices))
}

/// Whether `tag` is trusted (for `/lookup`).
pub async fn is_trusted(db: &DatabaseConnection, tag: &str) -> Result<Option<trusted_tags::Model>, BotError> {
    Ok(trusted_tags::Entity::find().filter(trusted_tags::Column::Tag.eq(tag)).one(db).await?)
}

/// Always allow links to `raw` (a domain, with its subdomains); returns it normalised.
pub async fn allow_domain(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    raw: &str,
    by: &str,
) -> Result<String, BotError> {
    let domain = parse_domain(raw).map_err(BotError::Invalid)?;
    if allowed_domains::Entity::find_by_id(&domain).one(db).await?.is_none() {
        if allowed_domains::Entity::find().count(db).await? >= TRUST_LIST_MAX as u64 {
            return Err(BotError::Invalid(format!("at most {TRUST_LIST_MAX} domains can be allowed")));
        }
        allowed_domains::ActiveModel {
            domain: Set(domain.clone()),
            moderator: Set(by.chars().take(100).collect()),
            created_at: Set(Utc::now()),
        }
        .insert(db)
        .await?;
    }
    crate::audit::record(db, by, "links_allow", &domain, "").await?;
    publish_now(db, bus).await?;
    Ok(domain)
}

/// Stop allowing `raw`; whether it was allowed.
pub async fn remove_domain(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    raw: &str,
    by: &str,
) -> Result<bool, BotError> {
    let domain = parse_domain(raw).map_err(BotError::Invalid)?;
    let gone = allowed_domains::Entity::delete_by_id(&domain).exec(db).await?;
    if gone.rows_affected == 0 {
        return Ok(false);
    }
    crate::audit::record(db, by, "links_remove", &domain, "").await?;
    publish_now(db, bus).await?;
    Ok(true)
}

/// The trusted tags and allowed domains, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<(Vec<trusted_tags::Model>, Vec<String>), BotError> {
    let tags = trusted_tags::Entity::find().order_by_asc(trusted_tags::Column::Id).all(db).await?;
    let domains = allowed_domains::Entity::find()
        .order_by_asc(allowed_domains::Column::Domain)
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect();
    Ok((tags, domains))
}

/// The list gateways apply.
pub async fn current(db: &DatabaseConnection) -> Result<TrustList, BotError> {
    let (tags, domains) = list(db).await?;
    let parse = |raw: &str| serde_json::from_str::<Vec<String>>(raw).unwrap_or_default();
    let trusted = tags
        .into_iter()
        .map(|t| TrustedDef { id: t.id, networks: parse(&t.networks), devices: parse(&t.devices), tag: t.tag })
        .collect();
    Ok(TrustList { trusted, domains })
}

/// Put the list on the bus when it differs from what the bus has, and tell every gateway (at
/// every sync: a change from the operator's shell reaches the running process this way, and a
/// bus that lost its data has the list back).
pub async fn publish(db: &DatabaseConnection, bus: &dyn bus::Bus) -> Result<(), BotError> {
    let list = current(db).await?;
    if bus.trust_list().await? == list {
        return Ok(());
    }
    bus.put_trust_list(&list).await?;
    bus.publish_control(&ControlEvent::TrustChanged { list }).await?;
    Ok(())
}

/// Publish a change at once, when there is a bus to publish on.
async fn publish_now(db: &DatabaseConnection, bus: Option<&dyn bus::Bus>) -> Result<(), BotError> {
    match bus {
        Some(bus) => publish(db, bus).await,
        None => Ok(()),
    }
}
