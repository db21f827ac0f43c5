//! A socket's queue of encoded frames, pushed to by anyone without waiting, where close orders
//! are left too.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Waker};
use std::time::Instant;

use bytes::Bytes;

/// An order to close a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrder {
    pub code: u16,
    pub reason: String,
    /// Send what was queued before the order first (a `kicked` frame, say); false for slow readers.
    pub drain: bool,
}

/// What became of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue was full: the reader is too slow.
    Full,
    /// The socket is closing or gone; the frame was dropped.
    Closed,
}

/// A FIFO of frame buffers that keeps its first one inline. A socket is nearly always handed one
/// buffer at a time, and a queue that allocated for it cost a `malloc` and a `free` for every
/// delivery; an idle socket still holds no allocation.
#[derive(Debug, Default)]
pub(super) struct FrameQueue {
    /// The front buffer; `None` only when `rest` is empty too.
    first: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl FrameQueue {
    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(super) fn push_back(&mut self, bytes: Bytes) {
        if self.first.is_none() {
            self.first = Some(bytes);
        } else {
            self.rest.push_back(bytes);
        }
    }

    pub(super) fn front(&self) -> Option<&Bytes> {
        self.first.as_ref()
    }

    pub(super) fn pop_front(&mut self) -> Option<Bytes> {
        let front = self.first.take();
        self.first = self.rest.pop_front();
        front
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.first.iter().chain(&self.rest)
    }

    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }
}

/// A socket's queue of encoded frames waiting to be written, and when its peer last spoke.
#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<OutboxInner>,
    limit: usize,
    /// When the peer last sent anything (a pong counts), in milliseconds since [`EPOCH`]; read
    /// by the keepalive task.
    last_read: AtomicU64,
}

/// The start of the gateway's millisecond clock for [`Outbox::silent_for`].
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn millis_since_epoch() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
pub(super) struct OutboxInner {
    /// Buffers of one or more encoded frames.
    pub(super) queue: FrameQueue,
    /// How many frames `queue` holds.
    pub(super) frames: usize,
    pub(super) close: Option<CloseOrder>,
    /// Set once a close was ordered or the socket ended: nothing more is queued.
    pub(super) shut: bool,
    pub(super) waker: Option<Waker>,
}

impl OutboxInner {
    /// Have the socket's task woken by the next push or close order.
    pub(super) fn wake_me(&mut self, cx: &Context<'_>) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
    }
}

impl Outbox {
    /// A queue that holds at most `limit` frames not yet handed to the socket.
    pub fn new(limit: usize) -> Self {
        Self { inner: Mutex::default(), limit: limit.max(1), last_read: AtomicU64::new(millis_since_epoch()) }
    }

    /// The peer sent something just now.
    pub(super) fn touch(&self) {
        self.last_read.store(millis_since_epoch(), Ordering::Relaxed);
    }

    /// How long since the peer last sent anything.
    pub fn silent_for(&self) -> std::time::Duration {
        std::time::Duration::from_millis(millis_since_epoch().saturating_sub(self.last_read.load(Ordering::Relaxed)))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, OutboxInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue one encoded frame (never waits).
    #[cfg(test)]
    pub fn push(&self, frame: Bytes) -> Pushed {
        self.push_frames(frame, 1)
    }

    /// Queue a buffer of `frames` encoded frames, written together (never waits). The limit
    /// counts frames, so a reader that lags is dropped after as many messages however they
    /// were grouped; a buffer larger than the limit is still taken when nothing is queued.
    pub fn push_frames(&self, bytes: Bytes, frames: usize) -> Pushed {
        let mut inner = self.lock();
        if inner.shut {
            return Pushed::Closed;
        }
        if !inner.queue.is_empty() && inner.frames + frames > self.limit {
            return Pushed::Full;
        }
        inner.queue.push_back(bytes);
        inner.frames += frames;
        if let Some(waker) = inner.waker.take() {
            drop(inner);
            waker.wake();
        }
        Pushed::Queued
    }

    /// Order the socket closed; the first order wins.
    pub fn close(&self, order: CloseOrder) {
        let mut inner = self.lock();
        if inner.shut {
            return;
        }
        inner.shut = true;
        if !order.drain {
            inner.queue = FrameQueue::default();
            inner.frames = 0;
        }
        inner.close = Some(order);
        if let Some(waker) = inner.waker.take() {
            drop(inner);
            waker.wake();
        }
    }

    /// What is queued, oldest first.
    #[cfg(test)]
    pub fn queued(&self) -> Vec<Bytes> {
        self.lock().queue.iter().cloned().collect()
    }

    /// The socket is finished: drop what is queued and refuse more.
    pub fn shut(&self) {
        let mut inner = self.lock();
        inner.shut = true;
        inner.queue = FrameQueue::default();
        inner.frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::codec::text;

    #[test]
    fn the_outbox_is_bounded_and_a_close_order_stops_it() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.push(text(b"1")), Pushed::Queued);
        assert_eq!(outbox.push(text(b"2")), Pushed::Queued);
        assert_eq!(outbox.push(text(b"3")), Pushed::Full);
        let kick = CloseOrder { code: 1000, reason: "bye".into(), drain: true };
        outbox.close(kick.clone());
        outbox.close(CloseOrder { code: 1008, reason: String::new(), drain: false });
        assert_eq!(outbox.push(text(b"4")), Pushed::Closed);
        let inner = outbox.lock();
        assert_eq!(inner.queue.len(), 2, "a draining order keeps what was queued before it");
        assert_eq!(inner.close, Some(kick), "the first order wins");
    }

    #[test]
    fn a_frame_queue_keeps_its_order_with_the_first_buffer_inline() {
        let mut queue = FrameQueue::default();
        assert!(queue.is_empty() && queue.front().is_none());
        for b in [b"a", b"b", b"c"] {
            queue.push_back(Bytes::from_static(b));
        }
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.iter().map(|b| b[0]).collect::<Vec<_>>(), b"abc");
        assert_eq!(queue.pop_front().as_deref(), Some(&b"a"[..]));
        queue.push_back(Bytes::from_static(b"d"));
        assert_eq!(queue.front().map(|b| b[0]), Some(b'b'));
        let drained: Vec<u8> = std::iter::from_fn(|| queue.pop_front()).map(|b| b[0]).collect();
        assert_eq!(drained, b"bcd");
        assert_eq!((queue.is_empty(), queue.len()), (true, 0));
        queue.push_back(Bytes::from_static(b"e"));
        queue.clear();
        assert!(queue.is_empty() && queue.pop_front().is_none());
    }

    #[test]
    fn the_outbox_limit_counts_frames_not_buffers() {
        let outbox = Outbox::new(4);
        assert_eq!(outbox.push_frames(text(b"1"), 3), Pushed::Queued);
        assert_eq!(outbox.push_frames(text(b"2"), 2), Pushed::Full, "five frames are past four");
        assert_eq!(outbox.push(text(b"3")), Pushed::Queued);
        assert_eq!(outbox.push(text(b"4")), Pushed::Full);
        let empty = Outbox::new(2);
        assert_eq!(empty.push_frames(text(b"big"), 5), Pushed::Queued, "one buffer past the limit still goes");
        assert_eq!(empty.push(text(b"5")), Pushed::Full);
    }
}
