//! Counters and latency histograms shared by every generator connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

const SHARDS: usize = 16;
/// Highest latency recorded, µs (60 s); higher values are clamped to it.
const MAX_US: u64 = 60_000_000;

/// Buckets of the stall timeline: 100 ms each, 100 s in all (a window is far shorter).
const TIMELINE: usize = 1000;

/// A latency histogram in µs, sharded so connections on different threads rarely contend, and
/// optionally the worst latency per 100 ms of sending time, which shows when a stall began.
pub struct Latencies {
    shards: Vec<Mutex<Histogram<u64>>>,
    /// Per bucket: the decisecond (Unix time / 100 ms) it holds, and its worst latency in µs.
    /// Empty unless asked for: every delivery would otherwise write these shared counters.
    timeline: Vec<(AtomicU64, AtomicU64)>,
}

impl Latencies {
    /// `timeline`: also keep the per-100 ms worst latencies that [`Latencies::stalls`] reads.
    pub fn new(timeline: bool) -> Result<Self> {
        let shards = (0..SHARDS)
            .map(|_| Histogram::new_with_bounds(1, MAX_US, 3).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .context("cannot create a histogram")?;
        let buckets = if timeline { TIMELINE } else { 0 };
        let timeline = (0..buckets).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect();
        Ok(Self { shards, timeline })
    }

    fn shard(&self, key: usize) -> MutexGuard<'_, Histogram<u64>> {
        self.shards[key % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Record one latency (µs) from connection `key` of a payload sent at `sent_nanos` (Unix).
    pub fn record(&self, key: usize, micros: u64, sent_nanos: u64) {
        self.shard(key).saturating_record(micros.clamp(1, MAX_US));
        if self.timeline.is_empty() {
            return;
        }
        let decisecond = sent_nanos / 100_000_000;
        let (at, worst) = &self.timeline[(decisecond % TIMELINE as u64) as usize];
        // Racy when a bucket is reused, which only blurs a diagnostic.
        if at.swap(decisecond, Ordering::Relaxed) != decisecond {
            worst.store(0, Ordering::Relaxed);
        }
        worst.fetch_max(micros, Ordering::Relaxed);
    }

    /// The 100 ms sending intervals since the last reset whose worst latency passed
    /// `threshold_us`: (Unix time in ms, worst µs), oldest first.
    pub fn stalls(&self, threshold_us: u64) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = self
            .timeline
            .iter()
            .map(|(at, worst)| (at.load(Ordering::Relaxed) * 100, worst.load(Ordering::Relaxed)))
            .filter(|&(at, worst)| at > 0 && worst > threshold_us)
            .collect();
        out.sort_unstable();
        out
    }

    /// Forget everything recorded so far (start of a measuring window).
    pub fn reset(&self) {
        for i in 0..SHARDS {
            self.shard(i).reset();
        }
        for (at, worst) in &self.timeline {
            at.store(0, Ordering::Relaxed);
            worst.store(0, Ordering::Relaxed);
        }
    }

    /// Everything recorded since the last reset.
    pub fn summary(&self) -> Summary {
        let mut total = self.shard(0).clone();
        for i in 1..SHARDS {
            // Same bounds everywhere: adding cannot fail; if it did, that shard is left out.
            let _ = total.add(&*self.shard(i));
        }
        Summary::of(&total)
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Counters every connection updates.
#[derive(Default)]
pub struct Counters {
    /// Bench messages sent (`say`).
    pub sent: AtomicU64,
    /// Deliveries expected: each sent message times the members of its room.
    pub expected: AtomicU64,
    /// Bench messages received (deliveries).
    pub received: AtomicU64,
    /// Sequence numbers skipped (a receiver saw seq n+k after n, k > 1).
    pub gaps: AtomicU64,
    /// Sequence numbers seen again or out of order.
    pub reordered: AtomicU64,
    /// Sends the token bucket dropped because the generator fell behind its own schedule.
    pub generator_skips: AtomicU64,
    /// `error` frames received.
    pub error_frames: AtomicU64,
    /// Connections the server closed or that failed while the scenario ran.
    pub disconnects: AtomicU64,
}

/// A plain copy of [`Counters`].
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
    pub gaps: u64,
    pub reordered: u64,
    pub generator_skips: u64,
    pub error_frames: u64,
    pub disconnects: u64,
}

impl Counters {
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            sent: get(&self.sent),
            expected: get(&self.expected),
            received: get(&self.received),
            gaps: get(&self.gaps),
            reordered: get(&self.reordered),
            generator_skips: get(&self.generator_skips),
            error_frames: get(&self.error_frames),
            disconnects: get(&self.disconnects),
        }
    }
}

/// Add one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let l = Latencies::new(false).unwrap();
        for i in 1..=1000 {
            l.record(i, i as u64 * 10, 1_000_000_000);
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 5.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 10.0).abs() < 0.1, "{s:?}");
        l.reset();
        assert_eq!(l.summary().count, 0);
    }
}
