//! In-process slowmode: the recent sends of each (room, address).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use protocol::RoomSlug;

/// Recent sends per (room, address) under slowmode. Entries whose every send is older than
/// their period are dropped once the map has doubled since the last purge, so it stays bounded
/// by the pairs that sent within their period.
#[derive(Default)]
pub(super) struct Slowmode {
    sends: HashMap<(RoomSlug, String), (Duration, VecDeque<Instant>)>,
    purge_at: usize,
}

impl Slowmode {
    /// Take one of `slots` sends per `period` for `address` in `room`: `None` when taken, else
    /// how long until one frees.
    pub(super) fn take(&mut self, room: &RoomSlug, address: &str, period: Duration, slots: usize) -> Option<Duration> {
        let now = Instant::now();
        if self.sends.len() >= self.purge_at {
            self.sends.retain(|_, (period, sends)| sends.back().is_some_and(|t| now.duration_since(*t) < *period));
            self.purge_at = (self.sends.len() * 2).max(1024);
        }
        let (kept, sends) =
            self.sends.entry((room.clone(), address.to_owned())).or_insert_with(|| (period, VecDeque::new()));
        *kept = period;
        while sends.front().is_some_and(|t| now.duration_since(*t) >= period) {
            sends.pop_front();
        }
        if sends.len() >= slots {
            // The oldest of the last `slots` sends frees first.
            let oldest = sends.get(sends.len() - slots).copied().unwrap_or(now);
            return Some(period.saturating_sub(now.duration_since(oldest)).max(Duration::from_millis(1)));
        }
        sends.push_back(now);
        while sends.len() > slots {
            sends.pop_front();
        }
        None
    }

    /// Forget every address's sends in a room that is gone for good.
    pub(super) fn forget_room(&mut self, slug: &RoomSlug) {
        self.sends.retain(|(room, _), _| room != slug);
    }
}
