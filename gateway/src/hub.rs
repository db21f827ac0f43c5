//! Local fan-out: which of this gateway's sockets are in which room.
//!
//! Each room with local members has one bus subscription and one forwarder task; a frame is
//! serialised once (by whoever published it) and the same bytes are queued to every socket. A
//! busy large room gathers its frames for a few milliseconds and queues them as one buffer, so
//! each socket writes them at once (see [`GATHER_PER_MEMBER`]).
//! Nothing on the delivery path awaits while holding a lock: members are kept behind a short
//! std mutex and each socket has a bounded queue; a socket whose queue is full is too slow and is
//! closed with 1008 rather than allowed to grow memory without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bus::{Bus, BusError, RoomFeed};
use bytes::{Bytes, BytesMut};
use protocol::{RoomSlug, ServerFrame};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::websocket::{self, CloseOrder, Outbox, Pushed, code};

pub type ConnId = u64;

/// How the rest of the gateway reaches one socket: frames are queued to its outbox, already
/// encoded as WebSocket frames.
#[derive(Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    outbox: Arc<Outbox>,
}

impl ConnHandle {
    pub fn new(id: ConnId, outbox: Arc<Outbox>) -> Self {
        Self { id, outbox }
    }

    /// Queue an encoded frame; a full queue means the reader is too slow, and it is closed.
    pub fn send(&self, frame: Bytes) {
        if self.outbox.push(frame) == Pushed::Full {
            metrics::counter!("chat_slow_readers_total").increment(1);
            tracing::info!(conn = self.id, "closing a socket that reads too slowly");
            self.close(code::POLICY, "too slow to keep up", false);
        }
    }

    pub fn send_frame(&self, frame: &ServerFrame) {
        self.send(websocket::text(frame.to_json().as_bytes()));
    }

    /// Order the socket closed (the first order wins).
    pub fn close(&self, code: u16, reason: &str, drain: bool) {
        self.outbox.close(CloseOrder { code, reason: reason.to_owned(), drain });
    }
}

struct Member {
    handle: ConnHandle,
    /// The member's nickname key, for kicks.
    key: String,
    /// Frames that arrived while the member was still joining; flushed after `joined`.
    pending: Option<Vec<Bytes>>,
}

/// The local members of one room.
#[derive(Default)]
pub struct Members {
    inner: Mutex<HashMap<ConnId, Member>>,
}

impl Members {
    fn lock(&self) -> MutexGuard<'_, HashMap<ConnId, Member>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Queue `bytes` (`frames` encoded frames) to every member.
    fn deliver(&self, bytes: &Bytes, frames: usize) {
        let mut members = self.lock();
        metrics::counter!("chat_frames_delivered_total").increment((members.len() * frames) as u64);
        for member in members.values_mut() {
            match &mut member.pending {
                Some(pending) => pending.push(bytes.clone()),
                None => member.handle.send(bytes.clone()),
            }
        }
    }

    /// Send `first` (the `joined` frame), then whatever arrived meanwhile, then go live: the
    /// member sees room events strictly after `joined`.
    pub fn activate(&self, conn: ConnId, first: &ServerFrame) {
        let mut members = self.lock();
        if let Some(member) = members.get_mut(&conn) {
            member.handle.send_frame(first);
            for frame in member.pending.take().unwrap_or_default() {
                member.handle.send(frame);
            }
        }
    }
}

struct LocalRoom {
    members: Arc<Members>,
    forwarder: JoinHandle<()>,
}

/// Rooms with members on this gateway.
#[derive(Default)]
pub struct Hub {
    rooms: tokio::sync::Mutex<HashMap<RoomSlug, LocalRoom>>,
}

impl Hub {
    /// Add a socket to a room (subscribing to the room on the bus if it is the first one). The
    /// member starts out buffering; call [`Members::activate`] once `joined` is ready.
    pub async fn join(
        &self,
        bus: &dyn Bus,
        room: &RoomSlug,
        handle: ConnHandle,
        key: &str,
    ) -> Result<Arc<Members>, BusError> {
        let mut rooms = self.rooms.lock().await;
        let local = match rooms.get(room) {
            Some(local) => local,
            None => {
                let feed = bus.subscribe_room(room).await?;
                let members = Arc::new(Members::default());
                let forwarder = tokio::spawn(forward(feed, members.clone()));
                metrics::gauge!("chat_rooms_local").increment(1.0);
                rooms.entry(room.clone()).or_insert(LocalRoom { members, forwarder })
            }
        };
        local.members.lock().insert(handle.id, Member { handle, key: key.to_owned(), pending: Some(Vec::new()) });
        metrics::gauge!("chat_members").increment(1.0);
        Ok(local.members.clone())
    }

    /// Remove a socket from a room; the last one out unsubscribes.
    pub async fn leave(&self, room: &RoomSlug, conn: ConnId) {
        let mut rooms = self.rooms.lock().await;
        if let Some(local) = rooms.get(room) {
            let empty = {
                let mut members = local.members.lock();
                if members.remove(&conn).is_some() {
                    metrics::gauge!("chat_members").decrement(1.0);
                }
                members.is_empty()
            };
            if empty && let Some(local) = rooms.remove(room) {
                local.forwarder.abort();
                metrics::gauge!("chat_rooms_local").decrement(1.0);
            }
        }
    }

    /// Remove the local member called `key` from `room`; true if it was here.
    pub async fn kick(&self, room: &RoomSlug, key: &str, reason: &str) -> bool {
        let rooms = self.rooms.lock().await;
        let Some(local) = rooms.get(room) else { return false };
        let kicked = ServerFrame::Kicked { reason: reason.to_owned() };
        let mut found = false;
        for member in local.members.lock().values().filter(|m| m.key == key) {
            member.handle.send_frame(&kicked);
            member.handle.close(code::NORMAL, reason, true);
            found = true;
        }
        found
    }

    /// Send every local member of `room` away (the room was deleted).
    pub async fn close_room(&self, room: &RoomSlug, reason: &str) {
        let rooms = self.rooms.lock().await;
        if let Some(local) = rooms.get(room) {
            let kicked = ServerFrame::Kicked { reason: reason.to_owned() };
            for member in local.members.lock().values() {
                member.handle.send_frame(&kicked);
                member.handle.close(code::NORMAL, reason, true);
            }
        }
    }
}

/// Frames a busy room gathers before it delivers them, each member's share in one write: what
/// bounds a large room's fan-out is the kernel's cost per write, not per byte (one message to a
/// thousand sockets is a thousand writes). After a delivery, a room waits this long per local
/// member, and at most [`GATHER_MAX`], before the next one; a room quiet for longer delivers at
/// once, so only busy large rooms trade a few milliseconds of latency for it.
const GATHER_PER_MEMBER: Duration = Duration::from_micros(10);
const GATHER_MAX: Duration = Duration::from_millis(10);
/// Shorter waits are not worth a timer (tokio's is a millisecond): small rooms never wait.
const GATHER_MIN: Duration = Duration::from_millis(1);
/// Most frames and bytes in one delivery, which bound what one entry of a socket's outbox holds.
const BATCH_FRAMES: usize = 64;
const BATCH_BYTES: usize = 64 * 1024;

/// How long a room with `members` local members gathers frames, if at all.
fn gather_time(members: usize) -> Option<Duration> {
    let time = GATHER_PER_MEMBER.saturating_mul(u32::try_from(members).unwrap_or(u32::MAX)).min(GATHER_MAX);
    (time >= GATHER_MIN).then_some(time)
}

/// Encoded frames for one delivery.
#[derive(Default)]
struct Batch {
    bytes: BytesMut,
    frames: usize,
}

impl Batch {
    fn add(&mut self, json: &[u8]) {
        if std::str::from_utf8(json).is_err() {
            // A text frame that is not UTF-8 would make browsers drop the connection.
            tracing::warn!("dropping a room frame that is not UTF-8");
            return;
        }
        websocket::append_text(&mut self.bytes, json);
        self.frames += 1;
    }

    fn full(&self) -> bool {
        self.frames >= BATCH_FRAMES || self.bytes.len() >= BATCH_BYTES
    }
}

async fn forward(mut feed: RoomFeed, members: Arc<Members>) {
    let mut last_delivery: Option<Instant> = None;
    let mut open = true;
    while open {
        let mut batch = Batch::default();
        match feed.recv().await {
            Some(json) => batch.add(&json),
            None => break,
        }
        // Busy (delivered less than a gathering time ago): gather until that time is up.
        let until = last_delivery.zip(gather_time(members.len())).map(|(last, time)| last + time);
        if let Some(until) = until.filter(|until| *until > Instant::now()) {
            let deadline = tokio::time::sleep_until(until);
            tokio::pin!(deadline);
            while !batch.full() {
                tokio::select! {
                    biased;
                    json = feed.recv() => match json {
                        Some(json) => batch.add(&json),
                        None => {
                            open = false;
                            break;
                        }
                    },
                    () = &mut deadline => break,
                }
            }
        }
        // Whatever else is already queued goes along, busy or not.
        while !batch.full()
            && let Some(json) = feed.try_recv()
        {
            batch.add(&json);
        }
        if batch.frames > 0 {
            members.deliver(&batch.bytes.freeze(), batch.frames);
            last_delivery = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use bus::InProcessBus;

    use super::*;

    #[test]
    fn only_large_rooms_gather() {
        assert_eq!(gather_time(10), None);
        assert_eq!(gather_time(99), None);
        assert_eq!(gather_time(100), Some(Duration::from_millis(1)));
        assert_eq!(gather_time(500), Some(Duration::from_millis(5)));
        assert_eq!(gather_time(1_000), Some(GATHER_MAX));
        assert_eq!(gather_time(usize::MAX), Some(GATHER_MAX));
    }

    /// Join `count` sockets to `room`; their outboxes, each holding its `joined` frame.
    async fn members(hub: &Hub, bus: &InProcessBus, room: &RoomSlug, count: u64) -> Vec<Arc<Outbox>> {
        let mut outboxes = Vec::new();
        for id in 0..count {
            let outbox = Arc::new(Outbox::new(16));
            let handle = ConnHandle::new(id, outbox.clone());
            let members = hub.join(bus, room, handle, &format!("m{id}")).await.unwrap();
            members.activate(id, &ServerFrame::Pong {});
            outboxes.push(outbox);
        }
        outboxes
    }

    fn frames(texts: &[&str]) -> Bytes {
        let mut out = BytesMut::new();
        for text in texts {
            websocket::append_text(&mut out, text.as_bytes());
        }
        out.freeze()
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_large_room_delivers_gathered_frames_in_one_buffer_and_a_small_one_at_once() {
        let bus = InProcessBus::new();
        let hub = Hub::default();
        let big = RoomSlug::parse("big").unwrap();
        let small = RoomSlug::parse("small").unwrap();
        let big_room = members(&hub, &bus, &big, 200).await;
        let small_room = members(&hub, &bus, &small, 10).await;

        // Quiet: the first frame goes at once, in both rooms.
        bus.publish(&big, Bytes::from_static(b"a")).await.unwrap();
        bus.publish(&small, Bytes::from_static(b"a")).await.unwrap();
        for _ in 0..100 {
            if big_room.iter().chain(&small_room).all(|outbox| outbox.queued().len() == 2) {
                break;
            }
            tokio::task::yield_now().await;
        }
        // Busy: the big room gathers for 2 ms after a delivery; the small one never waits.
        bus.publish(&big, Bytes::from_static(b"b")).await.unwrap();
        bus.publish(&small, Bytes::from_static(b"b")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        bus.publish(&big, Bytes::from_static(b"c")).await.unwrap();
        bus.publish(&small, Bytes::from_static(b"c")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;

        let joined = websocket::text(ServerFrame::Pong {}.to_json().as_bytes());
        for outbox in &big_room {
            assert_eq!(outbox.queued(), vec![joined.clone(), frames(&["a"]), frames(&["b", "c"])]);
        }
        for outbox in &small_room {
            assert_eq!(outbox.queued(), vec![joined.clone(), frames(&["a"]), frames(&["b"]), frames(&["c"])]);
        }
    }
}
