//! Bans by address or network, made by moderators (Discord) or operators (`chatroulette bans`)
//! through the same two calls, [`impose`] and [`revoke`]: each records the change, opens its
//! case (`crate::cases`), writes the audit log and publishes the active bans to the bus at once;
//! every gateway refuses and drops matching connections.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use ipnet::IpNet;
use protocol::BanDef;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};

use crate::BotError;
use crate::entities::{bans, cases};

/// How much of the address space a ban covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The address itself (IPv4 /32, IPv6 /128).
    Ip,
    /// Its network: IPv4 /24, IPv6 /64 (what one household or phone usually owns).
    Subnet,
}

impl Scope {
    /// IPv6 bans cover the /64 unless told otherwise; IPv4 bans the address.
    pub fn default_for(ip: IpAddr) -> Self {
        if ip.to_canonical().is_ipv6() { Self::Subnet } else { Self::Ip }
    }

    pub fn network(self, ip: IpAddr) -> IpNet {
        let ip = ip.to_canonical();
        let prefix = match (self, ip) {
            (Self::Ip, IpAddr::V4(_)) => 32,
            (Self::Ip, IpAddr::V6(_)) => 128,
            (Self::Subnet, IpAddr::V4(_)) => 24,
            (Self::Subnet, IpAddr::V6(_)) => 64,
        };
        IpNet::new(ip, prefix).map(|n| n.trunc()).unwrap_or_else(|_| IpNet::from(ip))
    }
}

/// What a ban is aimed at before it is resolved to networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ip(IpAddr),
    Network(IpNet),
    /// An IP tag as shown in embed footers.
    Tag(String),
}

impl Target {
    pub fn parse(raw: &str) -> Result<Self, BotError> {
        let raw = raw.trim();
        if let Ok(ip) = raw.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        if let Ok(net) = raw.parse::<IpNet>() {
            return Ok(Self::Network(net.trunc()));
        }
        // A footer's IPv6 part reads `/64 tag`: the tag alone is taken too.
        let tag = raw.strip_prefix("/64").unwrap_or(raw).trim().to_ascii_lowercase();
        if crate::iptag::is_tag(&tag) {
            return Ok(Self::Tag(tag));
        }
        Err(BotError::Invalid(format!(
            "{raw:?} is not an IP address, a CIDR network or an IP tag (12 characters, or 8 for older ones, as in embed footers)"
        )))
    }
}

impl Target {
    /// The IP tag a ban aimed at a tag keeps (shown in `/bans`); `None` for addresses.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Self::Tag(tag) => Some(tag),
            Self::Ip(_) | Self::Network(_) => None,
        }
    }
}

/// The longest timed ban: ten years (3650 days). Longer is refused with a clear error; a
/// ban meant to last is one without a duration.
pub const MAX_BAN: Duration = Duration::from_secs(3650 * 86_400);

/// `30s`, `15m`, `2h`, `7d`, `1w`: at least one second, at most [`MAX_BAN`], computed with
/// checked arithmetic (`1000000000d` is an error, not an overflow).
pub fn parse_duration(raw: &str) -> Result<Duration, BotError> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let too_long = || {
        BotError::Invalid(format!(
            "{raw:?} is longer than the longest timed ban, 10 years (3650d); leave the duration out for a ban until lifted"
        ))
    };
    let n: u64 = match number.parse() {
        Ok(n) => n,
        // Only digits, yet no u64: far beyond ten years in any unit.
        Err(_) if !number.is_empty() => return Err(too_long()),
        Err(_) => return Err(BotError::Invalid(format!("{raw:?} is not a duration like 30m, 2h or 7d"))),
    };
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" | "" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(BotError::Invalid(format!("{raw:?}: use s, m, h, d or w"))),
    };
    let secs = n.checked_mul(unit_secs).ok_or_else(too_long)?;
    if secs == 0 {
        return Err(BotError::Invalid("a ban lasts at least one second".into()));
    }
    let duration = Duration::from_secs(secs);
    if duration > MAX_BAN {
        return Err(too_long());
    }
    Ok(duration)
}

/// The networks a target stands for: a tag is looked up among the logged senders.
pub async fn resolve(db: &DatabaseConnection, target: &Target, scope: Option<Scope>) -> Result<Vec<IpNet>, BotError> {
    let ips: Vec<IpAddr> = match target {
        Target::Network(net) => return Ok(vec![*net]),
        Target::Ip(ip) => vec![*ip],
        Target::Tag(tag) => {
            let rows = crate::message_log::addresses_of(db, tag).await?;
            let mut ips: Vec<IpAddr> = rows.iter().filter_map(|ip| ip.parse().ok()).collect();
            ips.sort();
            ips.dedup();
            if ips.is_empty() {
                return Err(BotError::Invalid(format!("no message in the log comes from tag {tag}")));
            }
            ips
        }
    };
    let mut nets: Vec<IpNet> = ips.into_iter().map(|ip| scope.unwrap_or(Scope::default_for(ip)).network(ip)).collect();
    nets.sort();
    nets.dedup();
    Ok(nets)
}

/// Device tags a sanction aimed at `target` also covers: for an IP tag, the device of each of
/// its senders' latest logged messages (at most [`DEVICES_MAX`]); none for an address.
pub async fn devices_for(db: &DatabaseConnection, target: &Target) -> Result<Vec<String>, BotError> {
    match target {
        Target::Tag(tag) => crate::message_log::devices_of(db, tag, DEVICES_MAX).await,
        Target::Ip(_) | Target::Network(_) => Ok(Vec::new()),
    }
}

/// Device tags one sanction names at most.
pub const DEVICES_MAX: usize = 5;

/// The (network, device) rows a sanction of `networks` and `devices` is stored as: every
/// network once, each device on one row (a row matches by its network *or* its device), extra
/// devices on rows repeating the first network.
pub fn rows(networks: &[IpNet], devices: &[String]) -> Vec<(IpNet, Option<String>)> {
    let mut devices: Vec<&String> = devices.iter().take(DEVICES_MAX).collect();
    devices.sort();
    devices.dedup();
    let mut out: Vec<(IpNet, Option<String>)> =
        networks.iter().enumerate().map(|(i, net)| (*net, devices.get(i).map(|d| (*d).clone()))).collect();
    if let Some(first) = networks.first() {
        out.extend(devices.iter().skip(networks.len()).map(|d| (*first, Some((*d).clone()))));
    }
    out
}

/// Record bans of `networks` (and `devices`, see [`rows`]).
#[allow(clippy::too_many_arguments)]
pub async fn add(
    db: &DatabaseConnection,
    networks: &[IpNet],
    devices: &[String],
    tag: Option<&str>,
    reason: &str,
    moderator: &str,
    expires: Option<chrono::DateTime<Utc>>,
    case: Option<i64>,
) -> Result<Vec<bans::Model>, BotError> {
    let now = Utc::now();
    let mut out = Vec::new();
    for (net, device) in rows(networks, devices) {
        let model = bans::ActiveModel {
            network: Set(net.to_string()),
            device: Set(device),
            ip_tag: Set(tag.map(str::to_owned)),
            reason: Set(reason.chars().take(500).collect()),
            moderator: Set(moderator.chars().take(100).collect()),
            created_at: Set(now),
            expires_at: Set(expires),
            lifted_at: Set(None),
            lifted_by: Set(None),
            case_id: Set(case),
            ..Default::default()
        };
        out.push(model.insert(db).await?);
    }
    Ok(out)
}

/// A ban as a moderator or an operator asks for it, its target resolved to networks.
#[derive(Debug, Clone)]
pub struct NewBan<'a> {
    pub networks: Vec<IpNet>,
    /// The IP tag it was aimed at, if any.
    pub tag: Option<&'a str>,
    /// How the audit log and staff name the target; `None` (an address or network) names it by
    /// ban number only, so the address stays in `bans` and nowhere else.
    pub shown: Option<String>,
    pub reason: &'a str,
    /// Who bans, for the ban and the audit log (`discord:…`, `cli:…`).
    pub by: &'a str,
    /// `None`: until lifted.
    pub duration: Option<Duration>,
    /// Device tags the ban also covers, from any address ([`devices_for`]).
    pub devices: Vec<String>,
}

/// What [`impose`] did, worded for the audit log, the mod-log channel and replies.
#[derive(Debug, Clone)]
pub struct Imposed {
    pub bans: Vec<bans::Model>,
    /// The case the ban opened.
    pub case: cases::Model,
    /// The target as the audit log names it.
    pub shown: String,
    /// `for 2 h` or `until lifted`.
    pub until: String,
    /// The audit log's details: how long, why, and the ban numbers.
    pub details: String,
}

impl Imposed {
    /// `#3, #4`.
    pub fn numbers(&self) -> String {
        self.bans.iter().map(|b| format!("#{}", b.id)).collect::<Vec<_>>().join(", ")
    }
}

/// Ban: record the bans, write the audit log, and publish the active bans on `bus` at once (so
/// every gateway closes matching connections now). Without a bus (the operator's shell without
/// `REDIS_URL`) the running bot publishes them on its next sync tick.
pub async fn impose(db: &DatabaseConnection, bus: Option<&dyn bus::Bus>, ban: NewBan<'_>) -> Result<Imposed, BotError> {
    let expires = expiry(ban.duration)?;
    let until = ban.duration.map_or_else(|| "until lifted".to_owned(), |d| format!("for {}", humanize(d)));
    // The case first, so the bans carry its number when they are published.
    let subject = crate::cases::subject(ban.tag, &ban.networks);
    let new_case = crate::cases::NewCase {
        kind: "ban",
        target: ban.shown.as_deref().unwrap_or("an address ban"),
        subject: Some(subject),
        actor: ban.by,
        reason: ban.reason,
        details: &until,
        expires,
    };
    let case = crate::cases::open(db, new_case).await?;
    crate::cases::set_device(db, case.id, ban.devices.first().map(String::as_str)).await?;
    let made = add(db, &ban.networks, &ban.devices, ban.tag, ban.reason, ban.by, expires, Some(case.id)).await?;
    if let Some(bus) = bus {
        publish_active(db, bus).await?;
    }
    let mut imposed = Imposed { bans: made, case, shown: String::new(), until, details: String::new() };
    let numbers = imposed.numbers();
    imposed.shown = ban.shown.unwrap_or_else(|| format!("ban {numbers} (address)"));
    let reason = if ban.reason.is_empty() { "none" } else { ban.reason };
    imposed.details = format!("{}; reason: {reason}; ban {numbers}", imposed.until);
    let details = format!("{}; ban {numbers}", imposed.until);
    imposed.case = crate::cases::amend(db, imposed.case.id, &imposed.shown, &details).await?;
    crate::audit::record(db, ban.by, "ban", &imposed.shown, &format!("{}; case #{}", imposed.details, imposed.case.id))
        .await?;
    Ok(imposed)
}

/// When a sanction of `duration` imposed now ends (`None`: until lifted).
pub fn expiry(duration: Option<Duration>) -> Result<Option<chrono::DateTime<Utc>>, BotError> {
    duration
        .map(|d| {
            chrono::Duration::from_std(d)
                .map(|d| Utc::now() + d)
                .map_err(|_| BotError::Invalid("duration too long".into()))
        })
        .transpose()
}

/// What [`revoke`] did.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub ban: bans::Model,
    /// The `unban` case it opened.
    pub case: cases::Model,
}

/// Lift a ban, write the audit log and withdraw it from `bus` at once (see [`impose`]).
pub async fn revoke(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    id: i64,
    by: &str,
) -> Result<Revoked, BotError> {
    let lifted = lift(db, id, by).await?;
    if let Some(bus) = bus {
        publish_active(db, bus).await?;
    }
    let target = lifted.ip_tag.as_ref().map_or_else(|| format!("ban #{id}"), |t| format!("ban #{id} (tag {t})"));
    let details = lifted.case_id.map_or_else(|| "lifted".to_owned(), |c| format!("lifted; it was case #{c}"));
    let new_case = crate::cases::NewCase {
        kind: "unban",
        target: &target,
        subject: None,
        actor: by,
        reason: "",
        details: &details,
        expires: None,
    };
    let case = crate::cases::open(db, new_case).await?;
    crate::audit::record(db, by, "unban", &format!("ban #{id}"), &format!("lifted; case #{}", case.id)).await?;
    Ok(Revoked { ban: lifted, case })
}

/// `2 h`, `7 d`, `90 s`: a duration in its largest whole unit.
pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// One ban by its number.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<bans::Model>, BotError> {
    Ok(bans::Entity::find_by_id(id).one(db).await?)
}

/// Lift a ban early.
pub async fn lift(db: &DatabaseConnection, id: i64, by: &str) -> Result<bans::Model, BotError> {
    let Some(ban) = bans::Entity::find_by_id(id).one(db).await? else {
        return Err(BotError::Invalid(format!("there is no ban #{id}")));
    };
    if !is_active(&ban) {
        return Err(BotError::Invalid(format!("ban #{id} is no longer active")));
    }
    let mut active: bans::ActiveModel = ban.into();
    active.lifted_at = Set(Some(Utc::now()));
    active.lifted_by = Set(Some(by.chars().take(100).collect()));
    Ok(active.update(db).await?)
}

pub fn is_active(ban: &bans::Model) -> bool {
    ban.lifted_at.is_none() && ban.expires_at.is_none_or(|e| e > Utc::now())
}

/// Bans, newest first; only active ones unless `all`.
pub async fn list(db: &DatabaseConnection, all: bool) -> Result<Vec<bans::Model>, BotError> {
    let rows = bans::Entity::find().order_by_desc(bans::Column::Id).all(db).await?;
    Ok(rows.into_iter().filter(|b| all || is_active(b)).collect())
}

/// Bring the bus in line with the database: publish new bans, withdraw lifted and expired
/// ones. Called after every change and on every sync tick.
pub async fn publish_active(db: &DatabaseConnection, bus: &dyn bus::Bus) -> Result<(), BotError> {
    use std::collections::BTreeMap;
    let on_bus: BTreeMap<i64, BanDef> = bus.bans().await?.into_iter().map(|b| (b.id, b)).collect();
    let active: BTreeMap<i64, BanDef> = list(db, false).await?.iter().map(|b| (b.id, to_def(b))).collect();
    for (id, ban) in &active {
        if on_bus.get(id) != Some(ban) {
            bus.put_ban(ban).await?;
            bus.publish_control(&protocol::ControlEvent::BanAdded { ban: ban.clone() }).await?;
            tracing::info!(ban = id, "ban published");
        }
    }
    for id in on_bus.keys().filter(|id| !active.contains_key(*id)) {
        bus.remove_ban(*id).await?;
        bus.publish_control(&protocol::ControlEvent::BanLifted { id: *id }).await?;
        tracing::info!(ban = id, "ban lifted or expired");
    }
    Ok(())
}

/// The bus view of a ban.
pub fn to_def(ban: &bans::Model) -> BanDef {
    BanDef {
        id: ban.id,
        network: ban.network.clone(),
        reason: ban.reason.clone(),
        expires: ban.expires_at,
        case: ban.case_id,
        device: ban.device.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_scopes() {
        assert_eq!(Target::parse("203.0.113.7").unwrap(), Target::Ip("203.0.113.7".parse().unwrap()));
        assert_eq!(Target::parse("203.0.113.7/24").unwrap(), Target::Network("203.0.113.0/24".parse().unwrap()));
        assert_eq!(Target::parse("ABCD1234").unwrap(), Target::Tag("abcd1234".into()));
        assert_eq!(Target::parse("abcdef012345").unwrap(), Target::Tag("abcdef012345".into()));
        assert_eq!(Target::parse("/64 abcdef012345").unwrap(), Target::Tag("abcdef012345".into()));
        assert!(Target::parse("abcdef01234").is_err());
        assert!(Target::parse("lobby").is_err());
        let v6: IpAddr = "2001:db8:1:2::9".parse().unwrap();
        assert_eq!(Scope::default_for(v6).network(v6).to_string(), "2001:db8:1:2::/64");
        let v4: IpAddr = "198.51.100.20".parse().unwrap();
        assert_eq!(Scope::default_for(v4).network(v4).to_string(), "198.51.100.20/32");
        assert_eq!(Scope::Subnet.network(v4).to_string(), "198.51.100.0/24");
    }

    #[test]
    fn devices_ride_on_the_network_rows() {
        let a: IpNet = "198.51.100.7/32".parse().unwrap();
        let b: IpNet = "2001:db8::/64".parse().unwrap();
        let d = |s: &str| s.to_owned();
        assert_eq!(rows(&[a, b], &[]), vec![(a, None), (b, None)]);
        assert_eq!(rows(&[a, b], &[d("x")]), vec![(a, Some(d("x"))), (b, None)]);
        assert_eq!(rows(&[a], &[d("y"), d("x"), d("x")]), vec![(a, Some(d("x"))), (a, Some(d("y")))]);
        assert!(rows(&[], &[d("x")]).is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
        // Ten years at most, without overflow however large the number.
        assert_eq!(parse_duration("3650d").unwrap(), MAX_BAN);
        for raw in ["3651d", "1000000000d", "99999999999999999999w", "30000000000000000s"] {
            let error = parse_duration(raw).unwrap_err().to_string();
            assert!(error.contains("10 years"), "{raw}: {error}");
        }
    }
}
