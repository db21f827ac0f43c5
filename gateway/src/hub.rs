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
use protocol::{RoomSlug, ServerFrame};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Utf8Bytes;

pub type ConnId = u64;

/// WebSocket close codes used by the gateway.
pub mod close {
    /// Normal closure (kicked, room closed).
    pub const NORMAL: u16 = 1000;
    /// Going away (server shutting down, keepalive missed).
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation (a reader too slow to keep up).
    pub const POLICY: u16 = 1008;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;
    /// Banned: do not reconnect (application code, like HTTP 403).
    pub const BANNED: u16 = 4003;
}

/// An order to close a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrder {
    pub code: u16,
    pub reason: String,
    /// Send what is already queued first (a `kicked` frame, say); false for slow readers.
    pub drain: bool,
}

/// How the rest of the gateway reaches one socket's writer.
#[derive(Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    tx: mpsc::Sender<Utf8Bytes>,
    close: Arc<watch::Sender<Option<CloseOrder>>>,
}

impl ConnHandle {
    pub fn new(id: ConnId, tx: mpsc::Sender<Utf8Bytes>, close: watch::Sender<Option<CloseOrder>>) -> Self {
        Self { id, tx, close: Arc::new(close) }
    }

    /// Queue a frame; a full queue means the reader is too slow, and it is closed.
    pub fn send(&self, frame: Utf8Bytes) {
        match self.tx.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("chat_slow_readers_total").increment(1);
                tracing::info!(conn = self.id, "closing a socket that reads too slowly");
                self.close(close::POLICY, "too slow to keep up", false);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub fn send_frame(&self, frame: &ServerFrame) {
        self.send(Utf8Bytes::from(frame.to_json()));
    }

    /// Ask the writer to close the socket (the first order wins).
    pub fn close(&self, code: u16, reason: &str, drain: bool) {
        self.close.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(CloseOrder { code, reason: reason.to_owned(), drain });
            true
        });
    }
}

struct Member {
    handle: ConnHandle,
    /// The member's nickname key, for kicks.
    key: String,
    /// Frames that arrived while the member was still joining; flushed after `joined`.
    pending: Option<Vec<Utf8Bytes>>,
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

    fn deliver(&self, frame: &Utf8Bytes) {
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
            member.handle.close(close::NORMAL, reason, true);
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
                member.handle.close(close::NORMAL, reason, true);
            }
        }
    }
}

async fn forward(mut feed: RoomFeed, members: Arc<Members>) {
    while let Some(bytes) = feed.recv().await {
        match Utf8Bytes::try_from(bytes) {
            Ok(frame) => members.deliver(&frame),
            Err(e) => tracing::warn!(error = %e, "dropping a room frame that is not UTF-8"),
        }
    }
}
