//! The trust tier for new visitors (issue 27, "Trust tier for new visitors").
//!
//! A visitor is new until its device and its address have each been known for
//! `NEW_VISITOR_MINUTES` or sent `NEW_VISITOR_MESSAGES` messages, whichever comes first (either
//! at 0 turns the tier off). Both are tracked on the bus ([`bus::trust`]), so the tier holds on
//! every gateway and across reconnects; behind a `SHARED_ADDRESSES` network only the device
//! counts (a client without a device token is tracked by its address there too). Staff-trusted
//! tags skip the tier ([`StaffTrust`]).
//!
//! What a new visitor may not do, checked by `session::trust` after the filters:
//! - links, by the room's `links` setting: `refuse` → `links_not_yet`; `inert` → delivered with
//!   `links: false` (plain text everywhere, history too); `allow` → as anyone's. Links to
//!   staff-allowed domains are always fine;
//! - long pastes ([`text::is_paste`]) → `paste_not_yet`;
//! - the same text as one of its last [`REPEAT_KEPT`] messages within [`REPEAT_WINDOW`]
//!   → `repeated` ([`Recent`]);
//! - more than half of `SAY_BURST` at once (`session::limits`).
//!
//! * [`text`]: links, pastes and the repeat key.

pub mod text;

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bus::TrustRecord;
use ipnet::IpNet;
use protocol::TrustList;

use crate::config::TrustConfig;

/// Messages of a new visitor remembered for the repeat check.
pub const REPEAT_KEPT: usize = 3;
/// How long a message counts as repeated.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Subjects whose recent messages one gateway remembers at most.
const RECENT_MAX: u64 = 100_000;

/// What staff trusted, as this gateway applies it: devices and networks that skip the tier,
/// and link domains always allowed.
#[derive(Default)]
pub struct StaffTrust {
    inner: RwLock<Compiled>,
}

#[derive(Default)]
struct Compiled {
    devices: HashSet<String>,
    networks: Vec<IpNet>,
    domains: Vec<String>,
}

impl StaffTrust {
    /// Replace the list (from the bus snapshot or a `trust_changed` event).
    pub fn replace(&self, list: &TrustList) {
        let mut compiled = Compiled::default();
        for def in &list.trusted {
            compiled.devices.extend(def.devices.iter().map(|d| d.to_ascii_lowercase()));
            compiled.networks.extend(def.networks.iter().filter_map(|n| n.parse::<IpNet>().ok()));
        }
        compiled.domains = list.domains.iter().filter_map(|d| protocol::trust::parse_domain(d).ok()).collect();
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = compiled;
    }

    /// Whether staff trusted this device or address.
    pub fn trusts(&self, ip: IpAddr, device: Option<&str>) -> bool {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let ip = ip.to_canonical();
        device.is_some_and(|d| inner.devices.contains(d)) || inner.networks.iter().any(|n| n.contains(&ip))
    }

    /// Whether a link to `host` is always allowed.
    pub fn allows_host(&self, host: &str) -> bool {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner.domains.iter().any(|d| text::host_in(host, d))
    }
}

/// Where one connection stands in the tier, as last read from the bus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Standing {
    /// Not read yet.
    #[default]
    Unknown,
    /// New, with its subjects' records.
    New(Vec<TrustRecord>),
    /// Past the tier (or the tier is off): never asked again. Staff trust is asked at every
    /// message instead (it may be withdrawn).
    Past,
}

impl Standing {
    /// The standing the records give now (`now_ms`).
    pub fn of(records: Vec<TrustRecord>, config: &TrustConfig, now_ms: i64) -> Self {
        if !config.enabled() || records.iter().all(|r| !is_new(r, config, now_ms)) {
            Self::Past
        } else {
            Self::New(records)
        }
    }

    /// Whether it is new at `now_ms` (records read a while ago may have aged past the tier).
    pub fn is_new(&self, config: &TrustConfig, now_ms: i64) -> bool {
        match self {
            Self::New(records) => records.iter().any(|r| is_new(r, config, now_ms)),
            Self::Unknown | Self::Past => false,
        }
    }
}

/// Whether one subject's record is still new: younger than the minutes and under the messages.
pub fn is_new(record: &TrustRecord, config: &TrustConfig, now_ms: i64) -> bool {
    let age_ms = now_ms.saturating_sub(record.first_ms);
    let for_ms = i64::try_from(config.new_visitor_for.as_millis()).unwrap_or(i64::MAX);
    age_ms < for_ms && record.messages < u64::from(config.new_visitor_messages)
}

/// One subject's last messages: their repeat keys and when.
type Kept = Arc<Mutex<VecDeque<(u64, Instant)>>>;

/// Each subject's last messages, on this gateway: bounded, and forgotten once a subject was
/// quiet for the window.
pub struct Recent {
    cache: moka::sync::Cache<String, Kept>,
}

impl Default for Recent {
    fn default() -> Self {
        Self { cache: moka::sync::Cache::builder().max_capacity(RECENT_MAX).time_to_idle(REPEAT_WINDOW).build() }
    }
}

impl Recent {
    /// Whether `key` is among `subject`'s last messages within the window.
    pub fn repeats(&self, subject: &str, key: u64, now: Instant) -> bool {
        self.cache.get(subject).is_some_and(|kept| {
            let kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.iter().any(|(k, at)| *k == key && now.saturating_duration_since(*at) < REPEAT_WINDOW)
        })
    }

    /// Remember a message `subject` sent.
    pub fn remember(&self, subject: &str, key: u64, now: Instant) {
        let kept = self.cache.get_with(subject.to_owned(), || Arc::new(Mutex::new(VecDeque::new())));
        let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.push_back((key, now));
        while kept.len() > REPEAT_KEPT {
            kept.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CONFIG: TrustConfig = TrustConfig { new_visitor_for: Duration::from_secs(600), new_visitor_messages: 5 };

    #[test]
    fn new_until_the_minutes_or_the_messages_whichever_first() {
        let young = TrustRecord { first_ms: 0, messages: 4 };
        assert!(is_new(&young, &CONFIG, 599_999));
        assert!(!is_new(&young, &CONFIG, 600_000), "the minutes passed");
        assert!(!is_new(&TrustRecord { first_ms: 0, messages: 5 }, &CONFIG, 1), "the messages were sent");
        // New while any subject is: an old device at a new address is new.
        let old = TrustRecord { first_ms: -10_000_000, messages: 100 };
        assert_eq!(Standing::of(vec![old, young], &CONFIG, 1), Standing::New(vec![old, young]));
        assert_eq!(Standing::of(vec![old], &CONFIG, 1), Standing::Past);
        let off = TrustConfig { new_visitor_messages: 0, ..CONFIG };
        assert_eq!(Standing::of(vec![young], &off, 1), Standing::Past, "0 turns the tier off");
        assert!(!Standing::New(vec![young]).is_new(&CONFIG, 700_000), "records age");
    }

    #[test]
    fn staff_trust_matches_devices_networks_and_domains() {
        let trust = StaffTrust::default();
        trust.replace(&TrustList {
            trusted: vec![protocol::TrustedDef {
                id: 1,
                tag: "abc".into(),
                networks: vec!["2001:db8:1:2::/64".into(), "bogus".into()],
                devices: vec!["0123456789ab".into()],
            }],
            domains: vec!["example.org".into()],
        });
        assert!(trust.trusts("2001:db8:1:2::9".parse().unwrap(), None));
        assert!(!trust.trusts("2001:db8:1:3::9".parse().unwrap(), None));
        assert!(trust.trusts("203.0.113.1".parse().unwrap(), Some("0123456789ab")));
        assert!(trust.allows_host("www.example.org"));
        assert!(!trust.allows_host("example.org.evil.test"));
    }

    #[test]
    fn repeats_are_the_last_three_within_the_window() {
        let recent = Recent::default();
        let now = Instant::now();
        for key in [1, 2, 3, 4] {
            recent.remember("d:x", key, now);
        }
        assert!(!recent.repeats("d:x", 1, now), "only the last three are kept");
        assert!(recent.repeats("d:x", 4, now));
        assert!(!recent.repeats("d:x", 4, now + REPEAT_WINDOW), "the window passed");
        assert!(!recent.repeats("d:y", 4, now), "per subject");
    }
}
