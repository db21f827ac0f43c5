//! Ban-evasion alerts, the gateway's half: a connection that looks like a sanctioned visitor
//! come back is reported to the bot as an [`InboundEvent::Evasion`]; the bot groups them per
//! case and alerts the mod-log (`bot/src/evasion.rs`, `bot/src/discord/evasion.rs`).
//!
//! A join (room join, roulette, resume) is compared with every ban and mute in force that does
//! *not* cover its address: it is a match when its device tag is the sanction's, or (unless the
//! address is one of `SHARED_ADDRESSES`) it comes from the same IPv6 /64 or IPv4 /24 as the
//! sanctioned address. Behind a shared address only a device tag counts: hundreds of
//! strangers share that /24, and an alert on each of them would teach staff to ignore alerts.
//! A ban matched by device tag alone refuses the upgrade itself ([`refused`]) and is reported
//! then.
//!
//! What is sent is bounded three ways: one event per (case, address key, device tag) per
//! [`REPEAT`], at most [`PER_SANCTION`] events per case per minute, and at most
//! [`PER_SECOND`] events per gateway per second; each join reports at most [`PER_JOIN`]
//! sanctions. The caches behind it are bounded (moka). Nothing here refuses anything.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use protocol::frames::RateLimit;
use protocol::{BanDef, EvasionEvent, EvasionMatch, InboundEvent, SanctionKind};

use crate::address::{Address, AddressKey};
use crate::device::DeviceTag;
use crate::ratelimit::TokenBucket;
use crate::state::State;

/// One event per case, address key and device tag this often at most.
pub const REPEAT: Duration = Duration::from_secs(60);
/// Events per case (or ban without a case) per minute at most (a mobile /24 cannot flood the
/// bot).
pub const PER_SANCTION: u32 = 30;
/// Events per gateway per second at most.
pub const PER_SECOND: u32 = 20;
/// Sanctions one join is reported against at most.
pub const PER_JOIN: usize = 3;
/// A connection's address and device are compared with the sanctions this often at most.
const RECHECK: Duration = Duration::from_secs(5);

/// Events of one case in the current minute: when the minute began, and how many.
type Window = Arc<Mutex<(Instant, u32)>>;

/// What this gateway remembers to bound what it sends.
pub struct Limiter {
    /// (case, address key, device) pairs reported within [`REPEAT`].
    sent: moka::sync::Cache<(SanctionKind, i64, AddressKey, Option<DeviceTag>), ()>,
    /// Events per case in the current minute.
    per_sanction: moka::sync::Cache<(SanctionKind, i64), Window>,
    /// (address, device) compared within [`RECHECK`].
    checked: moka::sync::Cache<(IpAddr, Option<DeviceTag>), ()>,
    all: Mutex<TokenBucket>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            sent: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(REPEAT).build(),
            per_sanction: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(120))
                .build(),
            checked: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(RECHECK).build(),
            all: Mutex::new(TokenBucket::new(&RateLimit { burst: PER_SECOND, per_second: f64::from(PER_SECOND) })),
        }
    }
}

impl Limiter {
    /// Whether an event about this pair may go now (and count it).
    fn admit(&self, kind: SanctionKind, id: i64, key: AddressKey, device: Option<DeviceTag>) -> bool {
        let pair = (kind, id, key, device);
        if self.sent.contains_key(&pair) {
            return false;
        }
        let now = Instant::now();
        let window = self.per_sanction.get_with((kind, id), || Arc::new(Mutex::new((now, 0))));
        {
            let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
            if now.duration_since(window.0) >= Duration::from_secs(60) {
                *window = (now, 0);
            }
            if window.1 >= PER_SANCTION {
                return false;
            }
            if self.all.lock().unwrap_or_else(PoisonError::into_inner).take(now).is_err() {
                return false;
            }
            window.1 += 1;
        }
        self.sent.insert(pair, ());
        true
    }
}

/// How a connection at `ip` with `device` relates to a sanction of `net` (naming `sanctioned`
/// device) that does not cover `ip`; `None` when it does not.
pub fn relation(
    net: &IpNet,
    sanctioned: Option<&str>,
    ip: IpAddr,
    device: Option<&DeviceTag>,
    shared: bool,
) -> Option<EvasionMatch> {
    let ip = ip.to_canonical();
    if net.contains(&ip) {
        return None;
    }
    if matches!((sanctioned, device), (Some(s), Some(d)) if s == d.as_str()) {
        return Some(EvasionMatch::Device);
    }
    if shared {
        return None;
    }
    let (prefix, matched) = match ip {
        IpAddr::V4(_) => (24, EvasionMatch::Subnet24),
        IpAddr::V6(_) => (64, EvasionMatch::Subnet64),
    };
    let around = IpNet::new(ip, prefix).ok()?.trunc();
    (net.prefix_len() > prefix && around.contains(&net.network())).then_some(matched)
}

fn is_shared(state: &State, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    state.config.shared_addresses.iter().any(|net| net.contains(&ip))
}

/// A join (room join, roulette, resume): report the sanctions it seems to evade.
pub(crate) fn on_join(state: &State, address: &Address, device: Option<DeviceTag>) {
    if state.limiter_checked(address.ip, device) {
        return;
    }
    let shared = is_shared(state, address.ip);
    let mut found: Vec<(SanctionKind, i64, Option<i64>, EvasionMatch)> = Vec::new();
    for (net, ban) in state.bans.networks() {
        if let Some(m) = relation(&net, ban.device.as_deref(), address.ip, device.as_ref(), shared) {
            found.push((SanctionKind::Ban, ban.id, ban.case, m));
        }
    }
    for (net, mute) in state.mutes.networks() {
        if let Some(m) = relation(&net, mute.device.as_deref(), address.ip, device.as_ref(), shared) {
            found.push((SanctionKind::Mute, mute.id, Some(mute.case), m));
        }
    }
    // Device matches first: they are the surest. One event per case: a case's several bans
    // (an extended one) are one alert.
    found.sort_by_key(|(_, _, _, m)| *m != EvasionMatch::Device);
    let mut seen = Vec::new();
    found.retain(|(kind, id, case, _)| {
        let group = (*kind, case.unwrap_or(-id));
        let new = !seen.contains(&group);
        seen.push(group);
        new
    });
    for (kind, id, case, matched) in found.into_iter().take(PER_JOIN) {
        send(state, address, device, kind, id, case, matched, shared);
    }
}

/// An upgrade refused by `ban`: reported when the ban caught the device tag, not the address.
pub(crate) fn refused(state: &State, address: &Address, device: Option<&DeviceTag>, ban: &BanDef) {
    let Ok(net) = ban.network.parse::<IpNet>() else { return };
    let shared = is_shared(state, address.ip);
    if let Some(matched) = relation(&net, ban.device.as_deref(), address.ip, device, shared) {
        send(state, address, device.copied(), SanctionKind::Ban, ban.id, ban.case, matched, shared);
    }
}

#[allow(clippy::too_many_arguments)]
fn send(
    state: &State,
    address: &Address,
    device: Option<DeviceTag>,
    kind: SanctionKind,
    id: i64,
    case: Option<i64>,
    matched: EvasionMatch,
    shared: bool,
) {
    // Bounded per case (a case's bans are one sanction to staff); per ban without a case.
    if !state.evasion.admit(kind, case.unwrap_or(-id), address.key(), device) {
        metrics::counter!("chat_evasion_events_total", "outcome" => "limited").increment(1);
        return;
    }
    metrics::counter!("chat_evasion_events_total", "outcome" => "sent").increment(1);
    let event = EvasionEvent {
        kind,
        sanction: id,
        case,
        matched,
        ip: address.ip,
        device: device.map(|d| d.to_string()),
        shared,
        at: chrono::Utc::now(),
    };
    let bus = state.bus.clone();
    tokio::spawn(async move {
        if let Err(e) = bus.enqueue(&InboundEvent::Evasion(event)).await {
            tracing::warn!(error = %e, "cannot queue an evasion alert");
        }
    });
}

impl State {
    /// Whether this address and device were compared with the sanctions within [`RECHECK`]
    /// (and note that they are now).
    fn limiter_checked(&self, ip: IpAddr, device: Option<DeviceTag>) -> bool {
        let key = (ip.to_canonical(), device);
        if self.evasion.checked.contains_key(&key) {
            return true;
        }
        self.evasion.checked.insert(key, ());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn neighbours_and_devices_match_what_the_sanction_does_not_cover() {
        let device = DeviceTag::parse(b"a1b2c3d4e5f6").unwrap();
        let other = DeviceTag::parse(b"000000000000").unwrap();
        let d = Some("a1b2c3d4e5f6");
        // Same device from elsewhere.
        assert_eq!(
            relation(&net("198.51.100.7/32"), d, ip("203.0.113.9"), Some(&device), false),
            Some(EvasionMatch::Device)
        );
        // Covered: no alert (the sanction holds already).
        assert_eq!(relation(&net("198.51.100.7/32"), d, ip("198.51.100.7"), Some(&device), false), None);
        assert_eq!(relation(&net("198.51.100.0/24"), None, ip("198.51.100.9"), None, false), None);
        // The same /24 as a /32 sanction, any device.
        assert_eq!(
            relation(&net("198.51.100.7/32"), d, ip("198.51.100.8"), Some(&other), false),
            Some(EvasionMatch::Subnet24)
        );
        assert_eq!(
            relation(&net("198.51.100.7/32"), None, ip("::ffff:198.51.100.8"), None, false),
            Some(EvasionMatch::Subnet24)
        );
        assert_eq!(relation(&net("198.51.100.7/32"), None, ip("198.51.101.8"), None, false), None);
        // The same /64 as a /128 sanction, a new device.
        assert_eq!(
            relation(&net("2001:db8:1:2::5/128"), d, ip("2001:db8:1:2::9"), Some(&other), false),
            Some(EvasionMatch::Subnet64)
        );
        assert_eq!(relation(&net("2001:db8:1:2::/64"), d, ip("2001:db8:1:2::9"), None, false), None, "covered");
        assert_eq!(relation(&net("2001:db8:1:2::5/128"), None, ip("2001:db8:1:3::9"), None, false), None);
        // Behind a shared address only the device counts.
        assert_eq!(relation(&net("198.51.100.7/32"), d, ip("198.51.100.8"), Some(&other), true), None);
        assert_eq!(
            relation(&net("198.51.100.7/32"), d, ip("198.51.100.8"), Some(&device), true),
            Some(EvasionMatch::Device)
        );
    }

    #[test]
    fn the_limiter_bounds_pairs_sanctions_and_the_gateway() {
        let limiter = Limiter::default();
        let key = AddressKey::of(ip("198.51.100.8"));
        assert!(limiter.admit(SanctionKind::Ban, 1, key, None));
        assert!(!limiter.admit(SanctionKind::Ban, 1, key, None), "the same pair within a minute");
        assert!(limiter.admit(SanctionKind::Mute, 1, key, None), "another sanction");
        // Many addresses against one sanction: at most PER_SANCTION a minute (and PER_SECOND
        // for the whole gateway).
        let admitted = (0..200u8)
            .filter(|i| limiter.admit(SanctionKind::Ban, 2, AddressKey::of(ip(&format!("203.0.113.{i}"))), None))
            .count();
        assert!(admitted <= PER_SECOND as usize && admitted > 0, "{admitted}");
    }
}
