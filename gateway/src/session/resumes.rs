//! The sessions this gateway holds for resuming, by token: live ones (their socket is open here)
//! and parked ones (the socket dropped; the seat is held for `RESUME_SECS`).
//!
//! The bus keeps each session's state (see [`bus::ResumeState`]); this registry is what the
//! gateway needs beside it: whom to tell when another gateway took a session (its inbox notice
//! closes the old socket or ends the parked wait without freeing the seat), which sessions a
//! kick or a ban revokes, and which tokens to keep alive on the bus while their socket is open,
//! so a gateway that dies lets them lapse (within `PRESENCE_TTL_SECS` + `RESUME_SECS`).
//!
//! On a bus whose tokens no other process takes (the in-process bus, see
//! [`bus::Bus::resumes_shared`]) a live session is not on the bus at all: a client resuming it
//! while its old socket is still open is handed it here ([`Resumes::hand_over`]): the old socket
//! is closed, parks the session on the bus like any dropped socket, and the resumer takes it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bus::Token;
use bytes::Bytes;
use protocol::{RoomDef, RoomSlug};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use crate::hub::ConnHandle;
use crate::state::State;

/// Close code of a socket whose session was resumed on another connection: do not reconnect.
pub(crate) const RESUMED_ELSEWHERE: u16 = 4001;

/// What happened to one session, seen by whoever holds it here (its connection, or its parked
/// wait once the socket dropped).
#[derive(Default)]
pub(crate) struct Flags {
    /// Another connection resumed it: the seat is theirs now.
    taken: AtomicBool,
    /// The resumer is on this gateway and already stopped this process refreshing the seat.
    disowned: AtomicBool,
    /// Kicked, banned (or muted): never resumed, the seat is given back now.
    revoked: AtomicBool,
    /// Wakes a parked wait at once.
    wake: Notify,
}

impl Flags {
    pub fn taken(&self) -> bool {
        self.taken.load(Ordering::SeqCst)
    }

    pub fn disowned(&self) -> bool {
        self.disowned.load(Ordering::SeqCst)
    }

    pub fn revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// Wait until something happens to the session.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// Where a session's socket is.
enum Phase {
    /// Open here.
    Live(ConnHandle),
    /// Dropped; the session is on its way to the bus (put or updated there).
    Parking,
    /// Dropped; the bus holds the session until it is resumed or its window ends.
    Parked,
}

struct Entry {
    /// The room (shared with the connection, so a session costs no copy of its name).
    room: Arc<RoomDef>,
    key: String,
    ip: IpAddr,
    phase: Phase,
    flags: Arc<Flags>,
    /// A resumer on this gateway waiting for the session to reach the bus: told (by dropping
    /// this) once it has, or once the session ended instead.
    handover: Option<oneshot::Sender<()>>,
}

/// The notice one gateway sends another's inbox.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Notice {
    /// The session was resumed elsewhere.
    Taken { token: Token },
}

/// The sessions of this gateway that may be resumed.
pub(crate) struct Resumes {
    /// This gateway's inbox on the bus (one subscription for every session it holds).
    pub inbox: RoomSlug,
    entries: Mutex<HashMap<Token, Entry>>,
    /// Entries whose socket dropped; at most `MAX_CONNECTIONS` (see [`Resumes::park`]).
    parked: AtomicUsize,
}

impl Resumes {
    pub fn new() -> Self {
        // `g-` and 20 of [a-z0-9] always make a valid slug.
        let inbox = crate::visitor::random_slug("g").unwrap_or_else(|| panic!("cannot name a gateway inbox"));
        Self { inbox, entries: Mutex::default(), parked: AtomicUsize::new(0) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Token, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A live session of `handle` in `room` as `key`.
    pub fn register(&self, token: Token, room: &Arc<RoomDef>, key: &str, ip: IpAddr, handle: ConnHandle) -> Arc<Flags> {
        let flags = Arc::new(Flags::default());
        let entry = Entry {
            room: room.clone(),
            key: key.to_owned(),
            ip,
            phase: Phase::Live(handle),
            flags: flags.clone(),
            handover: None,
        };
        self.lock().insert(token, entry);
        flags
    }

    /// The session's socket dropped: nothing to close any more, nothing to keep alive. Refused
    /// (false) when `max` sessions are parked already: the map stays bounded however fast
    /// sockets come and go, and the session ends at once instead.
    pub fn park(&self, token: Token, max: usize) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&token) else { return true };
        if !matches!(entry.phase, Phase::Live(_)) {
            return true;
        }
        if self.parked.load(Ordering::SeqCst) >= max {
            return false;
        }
        entry.phase = Phase::Parking;
        self.parked.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// The parked session is on the bus now (or could not be put there): a resumer waiting for
    /// it here may look. Whether one was waiting (the socket was closed for it).
    pub fn on_bus(&self, token: Token) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&token) else { return false };
        if matches!(entry.phase, Phase::Parking) {
            entry.phase = Phase::Parked;
        }
        entry.handover.take().is_some()
    }

    /// A resumer found nothing on the bus for `token`, whose session may still be here on its
    /// way there (a bus no other process takes tokens from puts it only when the socket
    /// drops): close its socket if still open, and wait with the receiver until the session is
    /// on the bus (or ended). `None` when there is nothing to wait for.
    pub fn hand_over(&self, token: Token) -> Option<oneshot::Receiver<()>> {
        let mut entries = self.lock();
        let entry = entries.get_mut(&token)?;
        if entry.flags.revoked() || entry.flags.taken() {
            return None;
        }
        match &entry.phase {
            Phase::Live(handle) => handle.close(RESUMED_ELSEWHERE, "resumed elsewhere", false),
            Phase::Parking => {}
            Phase::Parked => return None,
        }
        let (tx, rx) = oneshot::channel();
        entry.handover = Some(tx);
        Some(rx)
    }

    fn removed(&self, entry: Option<Entry>) -> Option<Entry> {
        if entry.as_ref().is_some_and(|e| !matches!(e.phase, Phase::Live(_))) {
            self.parked.fetch_sub(1, Ordering::SeqCst);
        }
        entry
    }

    pub fn remove(&self, token: Token) {
        let entry = self.lock().remove(&token);
        self.removed(entry);
    }

    /// Tokens whose socket is open here.
    pub fn live_tokens(&self) -> Vec<Token> {
        self.lock().iter().filter(|(_, e)| matches!(e.phase, Phase::Live(_))).map(|(t, _)| *t).collect()
    }

    /// The session `token` was resumed on another connection (`here`: on this gateway, whose
    /// resumer already disowned the seat): close its socket, end its parked wait.
    pub fn taken(&self, token: Token, here: bool) {
        let entry = self.lock().remove(&token);
        let Some(entry) = self.removed(entry) else { return };
        entry.flags.disowned.store(here, Ordering::SeqCst);
        entry.flags.taken.store(true, Ordering::SeqCst);
        entry.flags.wake.notify_one();
        if let Phase::Live(handle) = entry.phase {
            handle.close(RESUMED_ELSEWHERE, "resumed elsewhere", false);
        }
    }

    /// Revoke the sessions matching `pred` (their sockets are being closed, or have been).
    fn revoke_where(&self, pred: impl Fn(&Entry) -> bool) {
        for entry in self.lock().values().filter(|e| pred(e)) {
            entry.flags.revoked.store(true, Ordering::SeqCst);
            entry.flags.wake.notify_one();
        }
    }

    /// Kicked from `room` (and, once it exists, muted): the session called `key` there is
    /// never resumed; a parked one gives its seat back now.
    pub fn revoke_member(&self, room: &RoomSlug, key: &str) {
        self.revoke_where(|e| &e.room.slug == room && e.key == key);
    }

    /// Banned: every session from an address `covered` is revoked.
    pub fn revoke_addresses(&self, covered: impl Fn(IpAddr) -> bool) {
        self.revoke_where(|e| covered(e.ip));
    }

    /// Tell the gateway listening on `inbox` that `token` was resumed elsewhere.
    pub async fn tell_taken(state: &State, inbox: &RoomSlug, token: Token) {
        let notice = Notice::Taken { token };
        let Ok(payload) = serde_json::to_vec(&notice) else { return };
        if let Err(e) = state.bus.notify(inbox, Bytes::from(payload)).await {
            tracing::warn!(error = %e, "cannot tell a gateway that its session was resumed elsewhere");
        }
    }

    fn on_notice(&self, payload: &[u8]) {
        match serde_json::from_slice::<Notice>(payload) {
            Ok(Notice::Taken { token }) => self.taken(token, false),
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed resume notice"),
        }
    }
}

/// Listen on this gateway's inbox and, when other processes may take its tokens, keep its live
/// sessions alive on the bus, until aborted.
pub(crate) async fn run(state: Arc<State>) {
    let keep_every = (state.config.presence_ttl / 3).max(std::time::Duration::from_millis(100));
    let live_ttl = state.config.presence_ttl + state.config.resume;
    let shared = state.bus.resumes_shared();
    let mut keep = tokio::time::interval(keep_every);
    keep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut inbox = match state.bus.subscribe_room(&state.resumes.inbox).await {
            Ok(inbox) => inbox,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for resume notices; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                _ = keep.tick(), if shared => {
                    let tokens = state.resumes.live_tokens();
                    if !tokens.is_empty() && let Err(e) = state.bus.keep_resumes(&tokens, live_ttl).await {
                        tracing::warn!(error = %e, "cannot keep sessions resumable");
                    }
                }
                notice = inbox.recv() => match notice {
                    Some(payload) => state.resumes.on_notice(&payload),
                    None => break,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::{Outbox, Pushed};

    fn handle(id: u64) -> ConnHandle {
        ConnHandle::new(id, Arc::new(Outbox::new(8)))
    }

    fn lobby() -> Arc<RoomDef> {
        Arc::new(RoomDef {
            slug: RoomSlug::parse("lobby").unwrap(),
            kind: protocol::RoomKind::Staff,
            title: "Lobby".into(),
            topic: String::new(),
            capacity: 10,
            listed: true,
            locked: false,
            slowmode_secs: 0,
            owner: None,
            links: protocol::LinksPolicy::default(),
        })
    }

    #[test]
    fn parked_sessions_are_bounded_and_a_taken_one_is_flagged() {
        let resumes = Resumes::new();
        let room = lobby();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let (a, b) = (Token::new(), Token::new());
        let flags = resumes.register(a, &room, "ann", ip, handle(1));
        resumes.register(b, &room, "ben", ip, handle(2));
        assert_eq!(resumes.live_tokens().len(), 2);
        assert!(resumes.park(a, 1));
        assert!(resumes.park(a, 1), "parking again changes nothing");
        assert!(!resumes.park(b, 1), "one parked session at most");
        assert_eq!(resumes.live_tokens(), [b]);
        resumes.taken(a, false);
        assert!(flags.taken() && !flags.disowned());
        assert!(resumes.park(b, 1), "the taken one no longer counts");
        resumes.revoke_member(&room.slug, "ben");
        resumes.remove(b);
        assert_eq!(resumes.parked.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_live_session_is_handed_over_once_it_reached_the_bus() {
        let resumes = Resumes::new();
        let room = lobby();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let (live, gone, kicked) = (Token::new(), Token::new(), Token::new());
        let outbox = Arc::new(Outbox::new(8));
        resumes.register(live, &room, "ann", ip, ConnHandle::new(1, outbox.clone()));
        resumes.register(gone, &room, "ben", ip, handle(2));
        resumes.register(kicked, &room, "cy", ip, handle(3));
        assert!(resumes.hand_over(Token::new()).is_none(), "unknown here");
        // Live: its socket is told to close, and the resumer waits until the bus holds it.
        let mut waiting = resumes.hand_over(live).unwrap();
        assert!(matches!(outbox.push(Bytes::new()), Pushed::Closed), "the old socket is closed");
        assert!(waiting.try_recv().is_err_and(|e| e == oneshot::error::TryRecvError::Empty));
        assert!(resumes.park(live, 10));
        assert!(waiting.try_recv().is_err_and(|e| e == oneshot::error::TryRecvError::Empty), "still on its way");
        assert!(resumes.on_bus(live), "a resumer was waiting");
        assert!(waiting.await.is_err(), "told: look on the bus");
        assert!(!resumes.on_bus(live), "nobody waits any more");
        assert!(resumes.hand_over(live).is_none(), "on the bus already: nothing to wait for");
        // A session that ends instead of reaching the bus tells the resumer too.
        let waiting = resumes.hand_over(gone).unwrap();
        resumes.remove(gone);
        assert!(waiting.await.is_err());
        // A revoked session is never handed over.
        resumes.revoke_member(&room.slug, "cy");
        assert!(resumes.hand_over(kicked).is_none());
    }
}
