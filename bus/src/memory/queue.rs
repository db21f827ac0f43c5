//! The in-process gateway → bot queue: entries ready for delivery, and entries delivered but not
//! yet acknowledged (with when they were delivered, for reclaiming). Bounded: a message is
//! refused once `max` entries wait (`QUEUE_MAX`); room events, few and small, may fill it up to
//! twice that, so that a room's end is not lost to a burst of messages.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use protocol::InboundEvent;

use crate::{BusError, QueueEntry, QueueStats};

pub(super) struct Queue {
    next_id: u64,
    /// Entries waiting for delivery, with when they were queued.
    ready: VecDeque<(QueueEntry, Instant)>,
    /// Delivered, not yet acknowledged: the entry, when it was delivered, when it was queued.
    pending: BTreeMap<u64, (QueueEntry, Instant, Instant)>,
    /// Most entries waiting before a message is refused.
    max: u64,
}

/// Whether what is pushed is a visitor's message (refused at the limit) or a room event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Message,
    RoomEvent,
}

impl Queue {
    pub(super) fn new(max: u64) -> Self {
        Self { next_id: 0, ready: VecDeque::new(), pending: BTreeMap::new(), max }
    }

    fn depth(&self) -> u64 {
        (self.ready.len() + self.pending.len()) as u64
    }

    pub(super) fn push(&mut self, event: &InboundEvent, kind: Kind) -> Result<(), BusError> {
        let depth = self.depth();
        let limit = match kind {
            Kind::Message => self.max,
            Kind::RoomEvent => self.max.saturating_mul(2),
        };
        if depth >= limit {
            return Err(BusError::Overloaded { depth, max: self.max });
        }
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.ready.push_back((QueueEntry { id, event: event.clone(), requeued: false }, Instant::now()));
        Ok(())
    }

    /// Up to `max` ready entries, now pending; `None` when none is ready.
    pub(super) fn deliver(&mut self, max: usize) -> Result<Option<Vec<QueueEntry>>, BusError> {
        if self.ready.is_empty() {
            return Ok(None);
        }
        let n = max.min(self.ready.len());
        let now = Instant::now();
        let mut batch = Vec::with_capacity(n);
        for (entry, queued) in self.ready.drain(..n) {
            let id = parse_entry_id(&entry.id)?;
            self.pending.insert(id, (entry.clone(), now, queued));
            batch.push(entry);
        }
        Ok(Some(batch))
    }

    /// Up to `max` entries delivered at least `min_idle` ago, delivered again now.
    pub(super) fn reclaim(&mut self, min_idle: Duration, max: usize) -> Vec<QueueEntry> {
        let now = Instant::now();
        let mut out = Vec::new();
        for (entry, delivered, _) in self.pending.values_mut() {
            if out.len() == max {
                break;
            }
            if now.duration_since(*delivered) >= min_idle {
                *delivered = now;
                out.push(entry.clone());
            }
        }
        out
    }

    pub(super) fn ack(&mut self, ids: &[String]) -> Result<(), BusError> {
        for id in ids {
            self.pending.remove(&parse_entry_id(id)?);
        }
        Ok(())
    }

    /// How many entries wait, and for how long the oldest has (ids are given in queue order,
    /// so the oldest is the first pending one, or else the first ready one).
    pub(super) fn stats(&self) -> QueueStats {
        let oldest = self
            .pending
            .values()
            .next()
            .map(|(_, _, queued)| *queued)
            .or_else(|| self.ready.front().map(|(_, queued)| *queued));
        QueueStats { depth: self.depth(), oldest_age: oldest.map(|queued| queued.elapsed()) }
    }
}

fn parse_entry_id(id: &str) -> Result<u64, BusError> {
    id.parse().map_err(|_| BusError::Codec(format!("not an in-process queue id: {id:?}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use protocol::{InboundEvent, RoomSlug};

    use super::*;

    fn closed() -> InboundEvent {
        InboundEvent::RoomClosed { slug: RoomSlug::parse("closed-room").unwrap() }
    }

    #[test]
    fn messages_stop_at_the_limit_and_room_events_at_twice_it() {
        let mut queue = Queue::new(2);
        queue.push(&closed(), Kind::Message).unwrap();
        queue.push(&closed(), Kind::Message).unwrap();
        assert!(matches!(queue.push(&closed(), Kind::Message), Err(BusError::Overloaded { depth: 2, max: 2 })));
        queue.push(&closed(), Kind::RoomEvent).unwrap();
        queue.push(&closed(), Kind::RoomEvent).unwrap();
        assert!(queue.push(&closed(), Kind::RoomEvent).is_err());
        // Delivered but unacknowledged entries still count; acknowledged ones free their place.
        let batch = queue.deliver(10).unwrap().unwrap();
        assert_eq!(queue.stats().depth, 4);
        assert!(queue.stats().oldest_age.is_some());
        queue.ack(&batch.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).unwrap();
        assert_eq!(queue.stats(), QueueStats { depth: 0, oldest_age: None });
        queue.push(&closed(), Kind::Message).unwrap();
    }
}
