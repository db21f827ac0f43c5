//! Local fan-out: which of this gateway's sockets are in which room.
//!
//! Each room with local members has one bus subscription and one forwarder task; a frame is
//! serialised once (by whoever published it) and the same bytes are queued to every socket.
//! Nothing on the delivery path awaits while holding a lock: members are kept behind a short
//! std mutex and each socket has a bounded queue; a socket whose queue is full is too slow and is
//! closed with 1008 rather than allowed to grow memory without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bus::{Bus, BusError, RoomFeed};
use bytes::Bytes;
use protocol::{RoomSlug, ServerFrame};
use tokio::task::JoinHandle;

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

    fn deliver(&self, frame: &Bytes) {
        let mut members = self.lock();
        metrics::counter!("chat_frames_delivered_total").increment(members.len() as u64);
        for member in members.values_mut() {
            match &mut member.pending {
                Some(pending) => pending.push(frame.clone()),
                None => member.handle.send(frame.clone()),
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

async fn forward(mut feed: RoomFeed, members: Arc<Members>) {
    // Encoded once for every local member: the same bytes go to each socket.
    while let Some(json) = feed.recv().await {
        if std::str::from_utf8(&json).is_err() {
            // A text frame that is not UTF-8 would make browsers drop the connection.
            tracing::warn!("dropping a room frame that is not UTF-8");
            continue;
        }
        members.deliver(&websocket::text(&json));
    }
}
