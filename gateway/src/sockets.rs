//! Every open socket of this gateway by address: for per-address connection limits, and to
//! reach a banned address's sockets at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::hub::{ConnHandle, ConnId};

#[derive(Default)]
pub struct Sockets {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    per_ip: HashMap<IpAddr, usize>,
    open: HashMap<ConnId, (IpAddr, ConnHandle)>,
}

/// A connection slot of one address, held from the upgrade on; dropping it frees the slot
/// (also when the upgrade never completes).
pub struct Slot {
    sockets: Arc<Sockets>,
    ip: IpAddr,
    conn: Option<ConnId>,
}

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a slot for `ip` unless it already has `max` sockets.
    pub fn reserve(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut inner = self.lock();
        let count = inner.per_ip.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot { sockets: self.clone(), ip, conn: None })
    }

    /// The ids of the open sockets.
    pub fn ids(&self) -> Vec<ConnId> {
        self.lock().open.keys().copied().collect()
    }

    /// The sockets of `ids` that are still open.
    pub fn handles(&self, ids: &[ConnId]) -> Vec<ConnHandle> {
        let inner = self.lock();
        ids.iter().filter_map(|id| inner.open.get(id)).map(|(_, handle)| handle.clone()).collect()
    }

    /// Open sockets whose address satisfies `pred`.
    pub fn matching(&self, pred: impl Fn(IpAddr) -> bool) -> Vec<ConnHandle> {
        self.lock().open.values().filter(|(ip, _)| pred(*ip)).map(|(_, h)| h.clone()).collect()
    }
}

impl Slot {
    /// The upgrade completed: the socket is reachable through the registry.
    pub fn register(&mut self, handle: ConnHandle) {
        self.conn = Some(handle.id);
        self.sockets.lock().open.insert(handle.id, (self.ip, handle));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.sockets.lock();
        if let Some(conn) = self.conn {
            inner.open.remove(&conn);
        }
        if let Some(count) = inner.per_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                inner.per_ip.remove(&self.ip);
            }
        }
    }
}
