//! Local fan-out: which of this gateway's sockets are in which room.
//!
//! Each room with local members has one bus subscription and one forwarder task; a frame is
//! serialised once (by whoever published it) and the same bytes are queued to every socket. A
//! busy large room gathers its frames for a few milliseconds and queues them as one buffer, so
//! each socket writes them at once (see [`GATHER_PER_MEMBER`]).
//! Nothing on the delivery path awaits while holding a lock: members are kept behind a short
//! std mutex and each socket has a bounded queue; a socket whose queue is full is too slow and is
//! closed with 1008 rather than allowed to grow memory without bound.
//!
//! A visitor's message arrives in its sender envelope (`envelope`): the header is read without
//! parsing the JSON, the message is added to the room's delivery record (`deliveries`), and only
//! the frame after the header is delivered. A frame restricted to the sender's address or device
//! ends the batch it would join and goes, alone, to the members it is for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bus::{Bus, BusError, RoomFeed};
use bytes::{Bytes, BytesMut};
use protocol::{RoomSlug, ServerFrame};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::deliveries::{Delivery, Record};
use crate::envelope::{self, Opened, Sender, Visibility};
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
        self.send_frames(frame, 1);
    }

    /// Queue a buffer of `frames` encoded frames, to be written together.
    fn send_frames(&self, bytes: Bytes, frames: usize) {
        if self.outbox.push_frames(bytes, frames) == Pushed::Full {
            metrics::counter!("chat_slow_readers_total").increment(1);
            tracing::info!(conn = self.id, "closing a socket that reads too slowly");
            self.close(code::POLICY, "too slow to keep up", false);
        }
    }

    pub fn send_frame(&self, frame: &ServerFrame) {
        self.send(websocket::text(frame.to_json().as_bytes()));
    }

    /// How long since the peer last sent anything (a pong counts).
    pub fn silent_for(&self) -> std::time::Duration {
        self.outbox.silent_for()
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
    pending: Option<Vec<(Bytes, usize)>>,
    /// The room's join count when this member joined: frames the forwarder took before that
    /// are not its to see, even when they are delivered after. Also its watermark in the
    /// room's delivery record.
    since: u64,
    /// Its address and device tags: for frames restricted to a sender's, and for reports.
    who: Sender,
}

/// The local members of one room.
#[derive(Default)]
pub struct Members {
    inner: Mutex<HashMap<ConnId, Member>>,
    /// Joins so far; each frame is stamped with it when taken from the feed.
    joins: AtomicU64,
    /// The room's recent message deliveries.
    record: Record,
}

impl Members {
    fn lock(&self) -> MutexGuard<'_, HashMap<ConnId, Member>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue the batch to every member, each getting the frames taken since it joined; how many
    /// members the room has.
    fn deliver(&self, batch: &mut Batch) -> usize {
        let bytes = std::mem::take(&mut batch.bytes).freeze();
        let mut members = self.lock();
        let mut delivered = 0;
        for member in members.values_mut() {
            let Some((offset, frames)) = batch.since(member.since) else { continue };
            let share = if offset == 0 { bytes.clone() } else { bytes.slice(offset..) };
            delivered += frames;
            match &mut member.pending {
                Some(pending) => pending.push((share, frames)),
                None => member.handle.send_frames(share, frames),
            }
        }
        if let Some(tail) = batch.tail.take() {
            // Restricted to the sender's address or device: only those members, after the rest.
            let reaches = |who: &Sender| {
                if tail.device_only { tail.sender.same_device(who) } else { tail.sender.matches(who) }
            };
            for member in members.values_mut().filter(|m| m.since <= tail.joins && reaches(&m.who)) {
                delivered += 1;
                match &mut member.pending {
                    Some(pending) => pending.push((tail.bytes.clone(), 1)),
                    None => member.handle.send(tail.bytes.clone()),
                }
            }
        }
        metrics::counter!("chat_frames_delivered_total").increment(delivered as u64);
        members.len()
    }

    /// The delivery of message `id` to member `conn`, if it received it (among the room's last
    /// [`crate::deliveries::RECORD_MAX`] messages).
    pub fn received(&self, conn: ConnId, id: ulid::Ulid) -> Option<Delivery> {
        let (since, who) = self.lock().get(&conn).map(|m| (m.since, m.who))?;
        self.record.received(id, since, &who)
    }

    /// Message `id` was taken down: a reply to it, or its author's change, is refused from now.
    pub fn note_deleted(&self, id: ulid::Ulid) {
        self.record.delete(id);
    }

    /// Every recorded message member `conn` received, oldest first.
    pub fn received_all(&self, conn: ConnId) -> Vec<Delivery> {
        let Some((since, who)) = self.lock().get(&conn).map(|m| (m.since, m.who)) else { return Vec::new() };
        self.record.received_all(since, &who)
    }

    /// Send `first` (the `joined` frame), then whatever arrived meanwhile, then go live: the
    /// member sees room events strictly after `joined`.
    pub fn activate(&self, conn: ConnId, first: &ServerFrame) {
        let mut members = self.lock();
        if let Some(member) = members.get_mut(&conn) {
            member.handle.send_frame(first);
            for (bytes, frames) in member.pending.take().unwrap_or_default() {
                member.handle.send_frames(bytes, frames);
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
        who: Sender,
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
        {
            let mut members = local.members.lock();
            let since = local.members.joins.fetch_add(1, Ordering::AcqRel) + 1;
            let member = Member { handle, key: key.to_owned(), pending: Some(Vec::new()), since, who };
            members.insert(member.handle.id, member);
        }
        metrics::gauge!("chat_members").increment(1.0);
        Ok(local.members.clone())
    }

    /// The members of `room` here, if it has any.
    pub async fn members(&self, room: &RoomSlug) -> Option<Arc<Members>> {
        self.rooms.lock().await.get(room).map(|local| local.members.clone())
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

    /// Send the connection `conn` out of `room`: `first` (why), then `kicked {reason}`, then
    /// close 1000. True if it was a member here.
    pub async fn send_away(&self, room: &RoomSlug, conn: ConnId, first: &ServerFrame, reason: &str) -> bool {
        let rooms = self.rooms.lock().await;
        let Some(local) = rooms.get(room) else { return false };
        let members = local.members.lock();
        let Some(member) = members.get(&conn) else { return false };
        member.handle.send_frame(first);
        member.handle.send_frame(&ServerFrame::Kicked { reason: reason.to_owned() });
        member.handle.close(code::NORMAL, reason, true);
        true
    }

    /// Send `frame` to every local member of `room`, once serialised.
    pub async fn tell_room(&self, room: &RoomSlug, frame: &ServerFrame) {
        let rooms = self.rooms.lock().await;
        if let Some(local) = rooms.get(room) {
            let bytes = websocket::text(frame.to_json().as_bytes());
            for member in local.members.lock().values_mut() {
                // A member still joining hears of it after its `joined`, like any room event.
                match &mut member.pending {
                    Some(pending) => pending.push((bytes.clone(), 1)),
                    None => member.handle.send(bytes.clone()),
                }
            }
        }
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
    /// Where the room's join count changed while frames were taken, oldest first: (joins when
    /// the frame was taken, its offset in `bytes`, frames before it).
    marks: Vec<(u64, usize, usize)>,
    /// A frame restricted to its sender's address or device, which ends the batch.
    tail: Option<Tail>,
}

/// A restricted frame, encoded, with who may receive it.
struct Tail {
    bytes: Bytes,
    joins: u64,
    sender: Sender,
    /// Only the sender's device, not its address (`Visibility::Device`).
    device_only: bool,
}

impl Batch {
    /// Add a frame just taken from the feed, stamped with the room's joins so far: its envelope
    /// read and recorded, only the frame after it delivered.
    fn add(&mut self, frame: &Bytes, members: &Members) {
        let joins = members.joins.load(Ordering::Acquire);
        let (start, restricted) = match envelope::open(frame) {
            Opened::Plain => {
                crate::changes::note(frame, &members.record);
                (0, None)
            }
            Opened::Enveloped(envelope, body) => {
                if envelope.id.is_some() {
                    members.record.add(&envelope, joins, &crate::changes::message_text(&body));
                }
                let restricted =
                    (envelope.visibility != Visibility::Everyone).then_some((envelope.sender, envelope.visibility));
                (frame.len() - body.len(), restricted)
            }
            Opened::Malformed => {
                tracing::warn!("dropping a room frame with an envelope this gateway cannot read");
                return;
            }
        };
        let json = &frame[start..];
        if std::str::from_utf8(json).is_err() {
            // A text frame that is not UTF-8 would make browsers drop the connection.
            tracing::warn!("dropping a room frame that is not UTF-8");
            return;
        }
        if let Some((sender, visibility)) = restricted {
            let device_only = visibility == Visibility::Device;
            self.tail = Some(Tail { bytes: websocket::text(json), joins, sender, device_only });
            return;
        }
        if self.marks.last().is_none_or(|(seen, _, _)| *seen != joins) {
            self.marks.push((joins, self.bytes.len(), self.frames));
        }
        websocket::append_text(&mut self.bytes, json);
        self.frames += 1;
    }

    fn full(&self) -> bool {
        self.tail.is_some() || self.frames >= BATCH_FRAMES || self.bytes.len() >= BATCH_BYTES
    }

    /// The part a member that joined as join number `since` sees: offset and frame count.
    fn since(&self, since: u64) -> Option<(usize, usize)> {
        self.marks
            .iter()
            .find(|(joins, _, _)| *joins >= since)
            .map(|(_, offset, before)| (*offset, self.frames - before))
    }
}

async fn forward(mut feed: RoomFeed, members: Arc<Members>) {
    // Until when the room gathers: the last delivery plus the gathering time of the room's size
    // then (`None` for rooms too small to gather).
    let mut gather_until: Option<Instant> = None;
    let mut open = true;
    while open {
        let Some(json) = feed.recv().await else { break };
        let mut batch = Batch::default();
        batch.add(&json, &members);
        // Busy (delivered less than a gathering time ago): gather until that time is up. Boxed:
        // its timer and second wait stay out of every quiet room's task.
        if let Some(until) = gather_until.filter(|until| *until > Instant::now()) {
            open = Box::pin(gather(&mut feed, &mut batch, &members, until)).await;
        }
        // Whatever else is already queued goes along, busy or not.
        while !batch.full()
            && let Some(json) = feed.try_recv()
        {
            batch.add(&json, &members);
        }
        if batch.frames > 0 || batch.tail.is_some() {
            gather_until = gather_time(members.deliver(&mut batch)).map(|time| Instant::now() + time);
        }
    }
}

/// Add frames to `batch` until `until` or until it is full; false when the feed ended.
async fn gather(feed: &mut RoomFeed, batch: &mut Batch, members: &Members, until: Instant) -> bool {
    let deadline = tokio::time::sleep_until(until);
    tokio::pin!(deadline);
    while !batch.full() {
        tokio::select! {
            biased;
            json = feed.recv() => match json {
                Some(json) => batch.add(&json, members),
                None => return false,
            },
            () = &mut deadline => break,
        }
    }
    true
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

    /// A member's address tag (from its number) and device tag.
    fn who(id: u64, device: Option<&[u8; 12]>) -> Sender {
        let address = format!("{id:024x}");
        Sender {
            address: envelope::AddressTag::parse(address.as_bytes()).unwrap(),
            device: device.and_then(|d| crate::device::DeviceTag::parse(d)),
        }
    }

    /// Join `count` sockets to `room`; their outboxes, each holding its `joined` frame.
    async fn members(hub: &Hub, bus: &InProcessBus, room: &RoomSlug, count: u64) -> Vec<Arc<Outbox>> {
        let mut outboxes = Vec::new();
        for id in 0..count {
            let outbox = Arc::new(Outbox::new(16));
            let handle = ConnHandle::new(id, outbox.clone());
            let members = hub.join(bus, room, handle, &format!("m{id}"), who(id, None)).await.unwrap();
            members.activate(id, &ServerFrame::Pong {});
            outboxes.push(outbox);
        }
        outboxes
    }

    /// Let the forwarders run (time stands still) until `done`.
    async fn settle(done: impl Fn() -> bool) {
        for _ in 0..100 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the forwarders did not deliver");
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
        settle(|| big_room.iter().chain(&small_room).all(|outbox| outbox.queued().len() == 2)).await;
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

    #[tokio::test(start_paused = true)]
    async fn a_member_joining_while_frames_are_gathered_gets_only_those_taken_after() {
        let bus = InProcessBus::new();
        let hub = Hub::default();
        let room = RoomSlug::parse("big").unwrap();
        let early = members(&hub, &bus, &room, 200).await;
        bus.publish(&room, Bytes::from_static(b"a")).await.unwrap();
        settle(|| early.iter().all(|outbox| outbox.queued().len() == 2)).await;
        // The room is busy now: "b" is taken and held while more are gathered.
        bus.publish(&room, Bytes::from_static(b"b")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let late = Arc::new(Outbox::new(16));
        let members =
            hub.join(&bus, &room, ConnHandle::new(1_000, late.clone()), "late", who(1_000, None)).await.unwrap();
        members.activate(1_000, &ServerFrame::Pong {});
        bus.publish(&room, Bytes::from_static(b"c")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;

        let joined = websocket::text(ServerFrame::Pong {}.to_json().as_bytes());
        assert_eq!(early[0].queued(), vec![joined.clone(), frames(&["a"]), frames(&["b", "c"])]);
        assert_eq!(late.queued(), vec![joined, frames(&["c"])], "b was taken before it joined");
    }
}
