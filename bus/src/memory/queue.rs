//! The in-process gateway → bot queue: entries ready for delivery, and entries delivered but not
//! yet acknowledged (with when they were delivered, for reclaiming).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use protocol::InboundEvent;

use crate::{BusError, QueueEntry};

#[derive(Default)]
pub(super) struct Queue {
    next_id: u64,
    ready: VecDeque<QueueEntry>,
    pending: BTreeMap<u64, (QueueEntry, Instant)>,
}

impl Queue {
    pub(super) fn push(&mut self, event: &InboundEvent) {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.ready.push_back(QueueEntry { id, event: event.clone(), requeued: false });
    }

    /// Up to `max` ready entries, now pending; `None` when none is ready.
    pub(super) fn deliver(&mut self, max: usize) -> Result<Option<Vec<QueueEntry>>, BusError> {
        if self.ready.is_empty() {
            return Ok(None);
        }
        let n = max.min(self.ready.len());
        let batch: Vec<QueueEntry> = self.ready.drain(..n).collect();
        let now = Instant::now();
        for entry in &batch {
            let id = parse_entry_id(&entry.id)?;
            self.pending.insert(id, (entry.clone(), now));
        }
        Ok(Some(batch))
    }

    /// Up to `max` entries delivered at least `min_idle` ago, delivered again now.
    pub(super) fn reclaim(&mut self, min_idle: Duration, max: usize) -> Vec<QueueEntry> {
        let now = Instant::now();
        let mut out = Vec::new();
        for (entry, delivered) in self.pending.values_mut() {
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
}

fn parse_entry_id(id: &str) -> Result<u64, BusError> {
    id.parse().map_err(|_| BusError::Codec(format!("not an in-process queue id: {id:?}")))
}
