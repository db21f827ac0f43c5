//! The mutes this gateway enforces: the bot's snapshot plus control events, matched per
//! address and device tag like bans (`crate::bans`). An expired mute is ignored at once, whatever the bot's
//! sweep has done yet. A plain mute refuses `say`, `create` and `typing` with `muted`; a shadow
//! mute refuses nothing and keeps the visitor's messages to themselves (see `session::say`).

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use ipnet::IpNet;
use protocol::{ErrorCode, Expires, MuteDef, ServerFrame};

use crate::device::DeviceTag;

pub struct MuteList {
    mutes: RwLock<Vec<(IpNet, Arc<MuteDef>)>>,
    /// Per address and device tag: the mute in force (a plain one before a shadow one), if any.
    decisions: moka::sync::Cache<(IpAddr, Option<DeviceTag>), Option<Arc<MuteDef>>>,
}

impl Default for MuteList {
    fn default() -> Self {
        Self {
            mutes: RwLock::default(),
            // Short-lived, so an expiring mute lapses within a second even without an event.
            decisions: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(1)).build(),
        }
    }
}

fn parse(mute: MuteDef) -> Option<(IpNet, Arc<MuteDef>)> {
    match mute.network.parse::<IpNet>() {
        Ok(net) => Some((net, Arc::new(mute))),
        Err(_) => {
            tracing::warn!(network = %mute.network, id = mute.id, "ignoring a mute with an unreadable network");
            None
        }
    }
}

/// Whether a mute still holds now.
pub fn in_force(mute: &MuteDef) -> bool {
    mute.expires.is_none_or(|e| e > Utc::now())
}

impl MuteList {
    /// The mute in force on `ip`, if any: a plain mute wins over a shadow one (the visitor is
    /// then told, and refused).
    #[cfg(test)]
    pub fn check(&self, ip: IpAddr) -> Option<Arc<MuteDef>> {
        self.check_with(ip, None)
    }

    /// [`MuteList::check`] by address or device tag: a mute that names `device` holds from
    /// any address.
    pub fn check_with(&self, ip: IpAddr, device: Option<&DeviceTag>) -> Option<Arc<MuteDef>> {
        let ip = ip.to_canonical();
        let found = self.decisions.get_with((ip, device.copied()), || {
            let mutes = self.mutes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut matching =
                mutes.iter().filter(|(net, mute)| (net.contains(&ip) || covers_device(mute, device)) && in_force(mute));
            let first = matching.next().map(|(_, m)| m.clone());
            match first {
                Some(m) if m.shadow => matching.find(|(_, m)| !m.shadow).map(|(_, m)| m.clone()).or(Some(m)),
                other => other,
            }
        });
        // A cached decision may have expired meanwhile.
        found.filter(|m| in_force(m))
    }

    /// Replace every mute; returns those not known before (to be told, as an event would).
    pub fn replace_all(&self, mutes: Vec<MuteDef>) -> Vec<(IpNet, Arc<MuteDef>)> {
        let parsed: Vec<_> = mutes.into_iter().filter_map(parse).collect();
        let mut current = self.mutes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = parsed.iter().filter(|(_, m)| !current.iter().any(|(_, c)| c == m)).cloned().collect();
        *current = parsed;
        drop(current);
        self.decisions.invalidate_all();
        new
    }

    /// Add (or replace) a mute; returns its network, unless this very mute was already known
    /// (an event repeated by two publishers), so the visitor is told once.
    pub fn add(&self, mute: MuteDef) -> Option<(IpNet, Arc<MuteDef>)> {
        let (net, mute) = parse(mute)?;
        let mut mutes = self.mutes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if mutes.iter().any(|(_, m)| **m == *mute) {
            return None;
        }
        mutes.retain(|(_, m)| m.id != mute.id);
        mutes.push((net, mute.clone()));
        drop(mutes);
        self.decisions.invalidate_all();
        Some((net, mute))
    }

    pub fn remove(&self, id: i64) {
        self.mutes.write().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(_, m)| m.id != id);
        self.decisions.invalidate_all();
    }

    /// Every mute in force (to put back into a bus that lost its data).
    pub fn all(&self) -> Vec<Arc<MuteDef>> {
        self.networks().into_iter().map(|(_, m)| m).collect()
    }

    /// Every mute in force with its network (what `evasion` compares a join with).
    pub fn networks(&self) -> Vec<(IpNet, Arc<MuteDef>)> {
        let mutes = self.mutes.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        mutes.iter().filter(|(_, m)| in_force(m)).cloned().collect()
    }
}

/// Whether `mute` names the device tag `device`.
pub fn covers_device(mute: &MuteDef, device: Option<&DeviceTag>) -> bool {
    matches!((mute.device.as_deref(), device), (Some(d), Some(tag)) if d == tag.as_str())
}

/// The `muted` frame a visitor under a plain mute gets on mute and on every join.
pub fn muted_frame(mute: &MuteDef) -> ServerFrame {
    ServerFrame::Muted { case: Some(mute.case), reason: mute.reason.clone(), expires: mute.expires }
}

/// The `error {code: "muted"}` that refuses what a muted visitor may not do.
pub fn refusal_text(mute: &MuteDef) -> (ErrorCode, String, Expires) {
    let until = mute.expires.map_or_else(|| "until lifted".to_owned(), |e| format!("until {}", e.to_rfc3339()));
    let message = if mute.reason.is_empty() {
        format!("you are muted {until}")
    } else {
        format!("you are muted {until}: {}", mute.reason)
    };
    (ErrorCode::Muted, message, Expires(mute.expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mute(id: i64, network: &str, expires_in: Option<i64>, shadow: bool) -> MuteDef {
        MuteDef {
            id,
            case: id * 10,
            network: network.into(),
            device: None,
            reason: "flood".into(),
            expires: expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s)),
            shadow,
        }
    }

    #[test]
    fn networks_match_expired_mutes_lapse_and_plain_wins_over_shadow() {
        let list = MuteList::default();
        list.replace_all(vec![mute(1, "2001:db8:1:2::/64", None, true), mute(2, "198.51.100.7/32", Some(-1), false)]);
        let shadowed = list.check("2001:db8:1:2::99".parse().unwrap()).unwrap();
        assert!(shadowed.shadow && shadowed.id == 1);
        assert!(list.check("198.51.100.7".parse().unwrap()).is_none(), "expired");
        list.add(mute(3, "2001:db8:1:2::/64", Some(60), false));
        assert_eq!(list.check("2001:db8:1:2::1".parse().unwrap()).map(|m| m.id), Some(3), "plain before shadow");
        list.remove(3);
        list.remove(1);
        assert!(list.check("2001:db8:1:2::1".parse().unwrap()).is_none());
        assert_eq!(list.all().len(), 0);
    }

    #[test]
    fn a_mute_with_a_device_holds_from_any_address() {
        let list = MuteList::default();
        let device = DeviceTag::parse(b"a1b2c3d4e5f6").unwrap();
        list.add(MuteDef { device: Some(device.to_string()), ..mute(5, "198.51.100.7/32", Some(60), false) });
        let far: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(list.check_with(far, Some(&device)).map(|m| m.id), Some(5));
        assert!(list.check_with(far, None).is_none());
        assert!(list.check_with(far, DeviceTag::parse(b"000000000000").as_ref()).is_none());
    }
}
