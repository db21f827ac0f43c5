//! The bans this gateway enforces: the bot's snapshot plus control events, matched per
//! address, and per device tag for a ban that carries one, with a small decision cache (moka)
//! so a flood of connections from one address costs one scan.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use ipnet::IpNet;
use protocol::BanDef;

use crate::device::DeviceTag;

pub struct BanList {
    bans: RwLock<Vec<(IpNet, Arc<BanDef>)>>,
    decisions: moka::sync::Cache<(IpAddr, Option<DeviceTag>), Option<Arc<BanDef>>>,
}

impl Default for BanList {
    fn default() -> Self {
        Self {
            bans: RwLock::default(),
            // Short-lived, so an expiring ban lapses within a second even without an event.
            decisions: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(1)).build(),
        }
    }
}

fn parse(ban: BanDef) -> Option<(IpNet, Arc<BanDef>)> {
    match ban.network.parse::<IpNet>() {
        Ok(net) => Some((net, Arc::new(ban))),
        Err(_) => {
            tracing::warn!(network = %ban.network, id = ban.id, "ignoring a ban with an unreadable network");
            None
        }
    }
}

impl BanList {
    /// The active ban covering `ip`, if any.
    #[cfg(test)]
    pub fn check(&self, ip: IpAddr) -> Option<Arc<BanDef>> {
        self.check_with(ip, None)
    }

    /// The active ban covering `ip` or the device tag `device`, if any; one covering the
    /// address comes first.
    pub fn check_with(&self, ip: IpAddr, device: Option<&DeviceTag>) -> Option<Arc<BanDef>> {
        let ip = ip.to_canonical();
        let found = self.decisions.get_with((ip, device.copied()), || {
            let now = Utc::now();
            let bans = self.bans.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let active = || bans.iter().filter(|(_, ban)| ban.expires.is_none_or(|e| e > now));
            active()
                .find(|(net, _)| net.contains(&ip))
                .or_else(|| active().find(|(_, ban)| covers_device(ban, device)))
                .map(|(_, b)| b.clone())
        });
        // A cached decision may have expired meanwhile.
        found.filter(|b| b.expires.is_none_or(|e| e > Utc::now()))
    }

    pub fn replace_all(&self, bans: Vec<BanDef>) {
        let parsed: Vec<_> = bans.into_iter().filter_map(parse).collect();
        *self.bans.write().unwrap_or_else(std::sync::PoisonError::into_inner) = parsed;
        self.decisions.invalidate_all();
    }

    /// Add (or replace) a ban; returns its network.
    pub fn add(&self, ban: BanDef) -> Option<IpNet> {
        let (net, ban) = parse(ban)?;
        let mut bans = self.bans.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        bans.retain(|(_, b)| b.id != ban.id);
        bans.push((net, ban));
        drop(bans);
        self.decisions.invalidate_all();
        Some(net)
    }

    pub fn remove(&self, id: i64) {
        self.bans.write().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(_, b)| b.id != id);
        self.decisions.invalidate_all();
    }

    /// Networks of every active ban (to sweep open sockets after a reload).
    pub fn networks(&self) -> Vec<(IpNet, Arc<BanDef>)> {
        let now = Utc::now();
        self.bans
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, b)| b.expires.is_none_or(|e| e > now))
            .cloned()
            .collect()
    }
}

/// Whether `ban` names the device tag `device`.
pub fn covers_device(ban: &BanDef, device: Option<&DeviceTag>) -> bool {
    matches!((ban.device.as_deref(), device), (Some(d), Some(tag)) if d == tag.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(id: i64, network: &str, expires_in: Option<i64>) -> BanDef {
        BanDef {
            id,
            network: network.into(),
            reason: "spam".into(),
            expires: expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s)),
            case: None,
            device: None,
        }
    }

    #[test]
    fn networks_match_and_expired_bans_lapse() {
        let list = BanList::default();
        list.replace_all(vec![ban(1, "2001:db8:1:2::/64", None), ban(2, "198.51.100.7/32", Some(-1))]);
        assert_eq!(list.check("2001:db8:1:2::99".parse().unwrap()).map(|b| b.id), Some(1));
        assert!(list.check("2001:db8:1:3::1".parse().unwrap()).is_none());
        assert!(list.check("198.51.100.7".parse().unwrap()).is_none(), "expired");
        list.add(ban(3, "198.51.100.0/24", Some(60)));
        assert_eq!(list.check("::ffff:198.51.100.9".parse().unwrap()).map(|b| b.id), Some(3));
        list.remove(3);
        assert!(list.check("198.51.100.9".parse().unwrap()).is_none());
    }

    #[test]
    fn a_ban_with_a_device_covers_that_device_from_any_address() {
        let list = BanList::default();
        let device = DeviceTag::parse(b"a1b2c3d4e5f6").unwrap();
        let other = DeviceTag::parse(b"000000000000").unwrap();
        list.add(BanDef { device: Some(device.to_string()), ..ban(4, "198.51.100.7/32", Some(60)) });
        let far: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(list.check_with(far, Some(&device)).map(|b| b.id), Some(4));
        assert!(list.check_with(far, Some(&other)).is_none());
        assert!(list.check_with(far, None).is_none());
        assert_eq!(list.check_with("198.51.100.7".parse().unwrap(), Some(&other)).map(|b| b.id), Some(4));
    }
}
