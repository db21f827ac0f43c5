//! Every open socket of this gateway by address: for per-address connection limits (counted by
//! address key, so an IPv6 /64 is one address), and to reach a banned address's sockets at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::address::AddressKey;
use crate::device::DeviceTag;
use crate::hub::{ConnHandle, ConnId};

#[derive(Default)]
pub struct Sockets {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    per_ip: HashMap<AddressKey, usize>,
    open: HashMap<ConnId, (IpAddr, Option<DeviceTag>, ConnHandle)>,
}

/// A connection slot of one address, held from the upgrade on; dropping it frees the slot
/// (also when the upgrade never completes).
pub struct Slot {
    sockets: Arc<Sockets>,
    key: AddressKey,
    ip: IpAddr,
    /// The connection's device tag, so a ban or mute aimed at a device reaches its sockets.
    device: Option<DeviceTag>,
    conn: Option<ConnId>,
}

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a slot for `ip` unless its address key already has `max` sockets.
    pub fn reserve(self: &Arc<Self>, ip: IpAddr, key: AddressKey, max: usize) -> Option<Slot> {
        let mut inner = self.lock();
        let count = inner.per_ip.entry(key).or_default();
        if *count >= max {
            if *count == 0 {
                inner.per_ip.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(Slot { sockets: self.clone(), key, ip, device: None, conn: None })
    }

    /// Open sockets (and reserved slots) of `key`.
    #[cfg(test)]
    pub fn count(&self, key: AddressKey) -> usize {
        self.lock().per_ip.get(&key).copied().unwrap_or(0)
    }

    /// The ids of the open sockets.
    pub fn ids(&self) -> Vec<ConnId> {
        self.lock().open.keys().copied().collect()
    }

    /// The sockets of `ids` that are still open.
    pub fn handles(&self, ids: &[ConnId]) -> Vec<ConnHandle> {
        let inner = self.lock();
        ids.iter().filter_map(|id| inner.open.get(id)).map(|(_, _, handle)| handle.clone()).collect()
    }

    /// Open sockets whose address satisfies `pred`.
    pub fn matching(&self, pred: impl Fn(IpAddr) -> bool) -> Vec<ConnHandle> {
        self.matching_conn(|ip, _| pred(ip))
    }

    /// Open sockets whose address and device tag satisfy `pred`.
    pub fn matching_conn(&self, pred: impl Fn(IpAddr, Option<&DeviceTag>) -> bool) -> Vec<ConnHandle> {
        self.lock()
            .open
            .values()
            .filter(|(ip, device, _)| pred(*ip, device.as_ref()))
            .map(|(_, _, h)| h.clone())
            .collect()
    }
}

impl Slot {
    /// The connection's device tag (before [`Slot::register`]).
    pub fn set_device(&mut self, device: Option<DeviceTag>) {
        self.device = device;
    }

    /// The upgrade completed: the socket is reachable through the registry.
    pub fn register(&mut self, handle: ConnHandle) {
        self.conn = Some(handle.id);
        self.sockets.lock().open.insert(handle.id, (self.ip, self.device, handle));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.sockets.lock();
        if let Some(conn) = self.conn {
            inner.open.remove(&conn);
        }
        if let Some(count) = inner.per_ip.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                inner.per_ip.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_64_shares_one_count() {
        let sockets = Arc::new(Sockets::default());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let slot = |s: &str| sockets.reserve(ip(s), AddressKey::of(ip(s)), 2);
        let a = slot("2001:db8:1:2::1").unwrap();
        let b = slot("2001:db8:1:2::2").unwrap();
        assert!(slot("2001:db8:1:2::3").is_none(), "a third address of the same /64");
        let other = slot("2001:db8:1:3::1").unwrap();
        drop(a);
        let c = slot("2001:db8:1:2:ffff::4").unwrap();
        assert_eq!(sockets.count(AddressKey::of(ip("2001:db8:1:2::"))), 2);
        drop((b, c, other));
        assert!(sockets.lock().per_ip.is_empty(), "counts of gone sockets are dropped");
    }
}
