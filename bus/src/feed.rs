//! Room feeds: the queue between a bus and each of its subscribers to one room.
//!
//! A tokio broadcast channel allocates every slot up front (about 64 bytes each), so even 256
//! frames of slack cost 16 KiB per room whether or not anything is ever sent. Here each
//! subscriber has its own queue that holds only what it has not taken yet (frames are `Bytes`: a queued frame is a reference
//! count, not a copy), and gives its memory back once drained. Like a broadcast, a subscriber
//! that falls more than `depth` frames behind loses the oldest ones and says so in the log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use protocol::RoomSlug;
use tokio::sync::Notify;

/// Frames a room subscriber may fall behind before it skips the oldest, for both buses. Feeds
/// allocate only what is queued, so this is slack, not a reservation.
pub const ROOM_FEED_DEPTH: usize = 4096;

/// Capacity a drained queue may keep; beyond it the allocation is returned.
const KEPT_CAPACITY: usize = 8;

struct Shared {
    queue: Mutex<Queue>,
    /// Woken on every push and on close (a permit is kept when nobody waits).
    ready: Notify,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    /// Frames dropped since the subscriber last looked, because it fell too far behind.
    skipped: u64,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The publishing side of one room's feeds.
pub struct FeedSender {
    room: RoomSlug,
    depth: usize,
    subscribers: Vec<Arc<Shared>>,
}

impl FeedSender {
    /// Feeds of `room` that hold at most `depth` frames not yet taken.
    pub fn new(room: RoomSlug, depth: usize) -> Self {
        Self { room, depth: depth.max(1), subscribers: Vec::new() }
    }

    /// A new subscriber, which sees every frame sent from now on.
    pub fn subscribe(&mut self) -> RoomFeed {
        self.prune();
        let shared = Arc::new(Shared { queue: Mutex::default(), ready: Notify::new() });
        self.subscribers.push(shared.clone());
        RoomFeed { shared, room: self.room.clone() }
    }

    /// Queue `frame` for every subscriber; false when nobody listens any more.
    pub fn send(&mut self, frame: &Bytes) -> bool {
        self.prune();
        for subscriber in &self.subscribers {
            {
                let mut queue = subscriber.lock();
                if queue.frames.len() >= self.depth {
                    queue.frames.pop_front();
                    queue.skipped += 1;
                }
                queue.frames.push_back(frame.clone());
            }
            subscriber.ready.notify_one();
        }
        !self.subscribers.is_empty()
    }

    /// Subscribers still listening.
    pub fn receiver_count(&self) -> usize {
        self.subscribers.iter().filter(|s| Arc::strong_count(s) > 1).count()
    }

    /// Forget subscribers whose feed was dropped (the feed holds the only other reference).
    fn prune(&mut self) {
        self.subscribers.retain(|s| Arc::strong_count(s) > 1);
    }
}

impl Drop for FeedSender {
    fn drop(&mut self) {
        for subscriber in &self.subscribers {
            subscriber.lock().closed = true;
            subscriber.ready.notify_one();
        }
    }
}

/// A gateway's subscription to one room's events (already-serialised server frames).
pub struct RoomFeed {
    shared: Arc<Shared>,
    room: RoomSlug,
}

impl RoomFeed {
    /// Next frame; `None` once the bus side is gone. A subscriber that fell behind skips what
    /// it missed and says so in the log (it is never silent). Cancel-safe: a frame is taken
    /// only when it is returned.
    pub async fn recv(&mut self) -> Option<Bytes> {
        loop {
            match self.take() {
                Taken::Frame(frame) => return Some(frame),
                Taken::Closed => return None,
                Taken::Empty => self.shared.ready.notified().await,
            }
        }
    }

    /// The next frame if one is already queued (never waits). `None` says nothing is queued now;
    /// whether the feed has ended, [`RoomFeed::recv`] tells.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        match self.take() {
            Taken::Frame(frame) => Some(frame),
            Taken::Empty | Taken::Closed => None,
        }
    }

    fn take(&mut self) -> Taken {
        let mut queue = self.shared.lock();
        if queue.skipped > 0 {
            tracing::warn!(room = %self.room, skipped = queue.skipped, "room feed lagged; frames skipped");
            queue.skipped = 0;
        }
        if let Some(frame) = queue.frames.pop_front() {
            if queue.frames.is_empty() && queue.frames.capacity() > KEPT_CAPACITY {
                queue.frames = VecDeque::new();
            }
            return Taken::Frame(frame);
        }
        if queue.closed { Taken::Closed } else { Taken::Empty }
    }
}

enum Taken {
    Frame(Bytes),
    Empty,
    Closed,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn room() -> RoomSlug {
        RoomSlug::parse("lobby").unwrap()
    }

    async fn next(feed: &mut RoomFeed) -> Option<Bytes> {
        tokio::time::timeout(Duration::from_secs(5), feed.recv()).await.expect("recv timed out")
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_frame_in_order() {
        let mut tx = FeedSender::new(room(), 16);
        let mut a = tx.subscribe();
        let mut b = tx.subscribe();
        for i in 0..3u8 {
            assert!(tx.send(&Bytes::from(vec![i])));
        }
        for feed in [&mut a, &mut b] {
            for i in 0..3u8 {
                assert_eq!(next(feed).await, Some(Bytes::from(vec![i])));
            }
        }
    }

    #[tokio::test]
    async fn try_recv_takes_only_what_is_queued() {
        let mut tx = FeedSender::new(room(), 16);
        let mut feed = tx.subscribe();
        assert_eq!(feed.try_recv(), None);
        tx.send(&Bytes::from_static(b"a"));
        tx.send(&Bytes::from_static(b"b"));
        assert_eq!(feed.try_recv(), Some(Bytes::from_static(b"a")));
        assert_eq!(next(&mut feed).await, Some(Bytes::from_static(b"b")));
        assert_eq!(feed.try_recv(), None);
        drop(tx);
        assert_eq!(feed.try_recv(), None);
        assert_eq!(next(&mut feed).await, None);
    }

    #[tokio::test]
    async fn a_waiting_subscriber_is_woken() {
        let mut tx = FeedSender::new(room(), 16);
        let mut feed = tx.subscribe();
        let waiter = tokio::spawn(async move { next(&mut feed).await });
        tokio::task::yield_now().await;
        tx.send(&Bytes::from_static(b"hi"));
        assert_eq!(waiter.await.unwrap(), Some(Bytes::from_static(b"hi")));
    }

    #[tokio::test]
    async fn a_lagging_subscriber_loses_the_oldest_frames() {
        let mut tx = FeedSender::new(room(), 2);
        let mut feed = tx.subscribe();
        for i in 0..5u8 {
            tx.send(&Bytes::from(vec![i]));
        }
        assert_eq!(next(&mut feed).await, Some(Bytes::from(vec![3])));
        assert_eq!(next(&mut feed).await, Some(Bytes::from(vec![4])));
    }

    #[tokio::test]
    async fn dropped_feeds_are_forgotten_and_a_dropped_sender_ends_the_feed() {
        let mut tx = FeedSender::new(room(), 4);
        let gone = tx.subscribe();
        drop(gone);
        assert_eq!(tx.receiver_count(), 0);
        assert!(!tx.send(&Bytes::from_static(b"x")), "nobody listens");
        let mut feed = tx.subscribe();
        assert!(tx.send(&Bytes::from_static(b"last")));
        drop(tx);
        assert_eq!(next(&mut feed).await, Some(Bytes::from_static(b"last")), "queued frames outlive the sender");
        assert_eq!(next(&mut feed).await, None);
    }
}
