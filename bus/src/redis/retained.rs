//! What this process queued for the bot and the bot has not logged yet, kept so that a Redis
//! that comes back without its data loses none of it: entries are dropped once the logged
//! watermark passes them (`chat:logged`, set by the bot), and queued again by `recovery` when
//! the bus's generation changed under them.
//!
//! Bounded by count, bytes and age ([`MAX_ENTRIES`], [`MAX_BYTES`], [`MAX_AGE`]): past a bound
//! the oldest entries are dropped, with a warning. They are still in the queue (and with
//! `appendonly yes`, on disk), so nothing is lost unless Redis also loses its data before the
//! bot logs them: only a bot that is that far behind widens the window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lock;

/// Most entries kept (about two minutes of a busy deployment's traffic per gateway).
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Most bytes of event JSON kept.
pub(super) const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Longest an entry is kept: a bot that has not logged it by then is down or stuck, and the
/// queue itself still holds it.
pub(super) const MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// Shortest gap between two warnings about dropped entries.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A queue entry id (`ms-seq`), ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StreamId(u64, u64);

impl StreamId {
    pub(super) fn parse(id: &str) -> Option<Self> {
        let (ms, seq) = id.split_once('-')?;
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }
}

/// One kept entry.
#[derive(Debug, Clone)]
pub(super) struct Kept {
    /// Order of keeping, unique: entries are found again by it.
    seq: u64,
    /// The generation it was queued under, and its id there.
    pub epoch: Arc<str>,
    pub id: StreamId,
    /// The event, as queued.
    pub json: String,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    entries: VecDeque<Kept>,
    bytes: usize,
    next_seq: u64,
    dropped: u64,
    warned: Option<Instant>,
}

impl Inner {
    fn drop_front(&mut self) {
        if let Some(old) = self.entries.pop_front() {
            self.bytes -= old.json.len();
            self.dropped += 1;
        }
    }

    fn warn_dropped(&mut self, why: &str) {
        if self.dropped == 0 || self.warned.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        tracing::warn!(
            dropped = self.dropped,
            why,
            "forgot queued entries the bot has not logged yet: they are lost if Redis also loses its data before the bot logs them"
        );
        metrics::counter!("chat_retained_dropped_total").increment(self.dropped);
        self.dropped = 0;
        self.warned = Some(Instant::now());
    }

    fn gauge(&self) {
        metrics::gauge!("chat_retained_entries").set(self.entries.len() as f64);
    }
}

/// The kept entries, in the order they were queued.
#[derive(Default)]
pub(super) struct Retained {
    inner: Mutex<Inner>,
}

impl Retained {
    /// Keep an entry the queue just took (`id` under `epoch`).
    pub(super) fn keep(&self, epoch: &str, id: &str, json: String) {
        let Some(id) = StreamId::parse(id) else {
            tracing::warn!(id, "not keeping a queue entry with an unexpected id");
            return;
        };
        let mut inner = lock(&self.inner);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.bytes += json.len();
        inner.entries.push_back(Kept { seq, epoch: Arc::from(epoch), id, json, at: Instant::now() });
        while inner.entries.len() > MAX_ENTRIES || inner.bytes > MAX_BYTES {
            inner.drop_front();
        }
        inner.warn_dropped("too many entries waiting for the bot");
        inner.gauge();
    }

    /// The bot logged every entry of `epoch` up to `upto`: forget those, and entries past
    /// [`MAX_AGE`]. How many are still kept.
    pub(super) fn logged(&self, epoch: &str, upto: Option<StreamId>) -> usize {
        let mut inner = lock(&self.inner);
        if let Some(upto) = upto {
            let before = inner.bytes;
            let mut freed = 0;
            inner.entries.retain(|kept| {
                let done = &*kept.epoch == epoch && kept.id <= upto;
                if done {
                    freed += kept.json.len();
                }
                !done
            });
            inner.bytes = before - freed;
        }
        while inner.entries.front().is_some_and(|kept| kept.at.elapsed() > MAX_AGE) {
            inner.drop_front();
        }
        inner.warn_dropped("waiting for the bot for longer than 15 minutes");
        inner.gauge();
        inner.entries.len()
    }

    /// Entries queued under another generation than `epoch` (the bus lost them), oldest first.
    pub(super) fn lost(&self, epoch: &str) -> Vec<Kept> {
        lock(&self.inner).entries.iter().filter(|kept| &*kept.epoch != epoch).cloned().collect()
    }

    /// `kept` was queued again, as `id` under `epoch`.
    pub(super) fn requeued(&self, kept: &Kept, epoch: &Arc<str>, id: &str) {
        let Some(id) = StreamId::parse(id) else { return };
        let mut inner = lock(&self.inner);
        if let Ok(at) = inner.entries.binary_search_by_key(&kept.seq, |k| k.seq) {
            inner.entries[at].epoch = epoch.clone();
            inner.entries[at].id = id;
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        lock(&self.inner).entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_as_redis_does() {
        assert!(StreamId::parse("10-9").unwrap() < StreamId::parse("10-10").unwrap());
        assert!(StreamId::parse("9-99").unwrap() < StreamId::parse("10-0").unwrap());
        assert_eq!(StreamId::parse("x-1"), None);
        assert_eq!(StreamId::parse("12"), None);
    }

    #[test]
    fn entries_go_once_logged_in_their_generation_and_the_rest_is_lost_to_another() {
        let kept = Retained::default();
        kept.keep("a", "1-0", "one".into());
        kept.keep("a", "2-0", "two".into());
        kept.keep("b", "1-5", "three".into());
        // The watermark of generation a covers its entries only.
        assert_eq!(kept.logged("a", StreamId::parse("1-0")), 2);
        assert_eq!(kept.logged("b", StreamId::parse("1-4")), 2);
        let lost: Vec<String> = kept.lost("b").into_iter().map(|k| k.json).collect();
        assert_eq!(lost, vec!["two".to_owned()]);
        let two = kept.lost("b").remove(0);
        kept.requeued(&two, &Arc::from("b"), "7-0");
        assert!(kept.lost("b").is_empty());
        assert_eq!(kept.logged("b", StreamId::parse("7-0")), 0);
    }

    #[test]
    fn the_oldest_go_past_the_count_bound() {
        let kept = Retained::default();
        for i in 0..MAX_ENTRIES + 10 {
            kept.keep("a", &format!("{i}-0"), String::new());
        }
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert_eq!(kept.lost("b")[0].id, StreamId::parse("10-0").unwrap());
    }
}
