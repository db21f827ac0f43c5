//! The gateway's cap on open WebSocket connections (`MAX_CONNECTIONS`), whatever their
//! addresses: past it, upgrades get HTTP 503 `busy`, so no mix of addresses can take every file
//! descriptor the process has (the database, Redis and the listener need some too).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the connections this gateway holds, from the upgrade request on.
#[derive(Debug)]
pub struct Capacity {
    open: AtomicUsize,
    max: usize,
}

/// One connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Place(Arc<Capacity>);

impl Capacity {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { open: AtomicUsize::new(0), max: max.max(1) })
    }

    /// Take a place, unless all are taken.
    pub fn take(self: &Arc<Self>) -> Option<Place> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < self.max).then_some(open + 1))
            .ok()
            .map(|_| Place(self.clone()))
    }

    /// Places taken now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `MAX_CONNECTIONS`' default: 90 % of the process's open-file limit (the soft limit, read from
/// `/proc/self/limits`), or 900 where that cannot be read (90 % of the common default of 1024).
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits").ok().and_then(|limits| {
        limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|soft| soft.parse::<usize>().ok())
    });
    soft.map_or(900, |soft| (soft / 10 * 9).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_and_given_back() {
        let capacity = Capacity::new(2);
        let a = capacity.take().unwrap();
        let _b = capacity.take().unwrap();
        assert!(capacity.take().is_none());
        drop(a);
        assert_eq!(capacity.open(), 1);
        assert!(capacity.take().is_some());
    }

    #[test]
    fn the_default_follows_the_open_file_limit() {
        let max = default_max_connections();
        assert!(max >= 1);
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let soft: usize = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(max, soft / 10 * 9);
    }
}
