//! One task per WebSocket connection, speaking the contract of DESIGN.md.
//!
//! The task parses and validates every frame and answers errors in place; while it waits for the
//! next frame it writes the connection's outbox (several frames per write under load) and sends
//! keepalive pings. Other tasks reach the socket only through its outbox.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bus::RoomFeed;
use bytes::Bytes;
use protocol::frames::{CLIENT_FRAME_TYPES, CLIENT_ID_MAX, FRAME_MAX_BYTES};
use protocol::input::TextError;
use protocol::{
    ClientFrame, ErrorCode, Limits, LoggedMessage, MessageText, MessageView, Nickname, PresenceEvent, RoomDef,
    RoomKind, RoomSlug, RoomTitle, RouletteMatch, RouletteTicket, ServerFrame,
};
use ulid::Ulid;

use crate::address::Address;
use crate::capacity::Place;
use crate::hub::{ConnHandle, ConnId, Members};
use crate::ratelimit::TokenBucket;
use crate::sockets::Slot;
use crate::state::{IP_LIMITS_IDLE, IpLimits, State};
use crate::websocket::{self, CloseOrder, Event, Outbox, Socket, code};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
/// Strangers one connection's roulette block list keeps (the last ones blocked).
pub(crate) const BLOCKED_MAX: usize = 50;
/// Longest time the closing handshake may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrade the request and run the connection.
pub fn upgrade(
    state: Arc<State>,
    address: Address,
    slot: (Slot, Place),
    req: &mut salvo::Request,
    res: &mut salvo::Response,
) -> Result<(), salvo::http::StatusError> {
    let on_upgrade = websocket::accept(req, res)?;
    // The connection's task is `run` itself, not a wrapper around it: a wrapping future would
    // keep its own copy of the arguments beside run's, in every idle connection's memory.
    tokio::spawn(run(on_upgrade, state, address, slot));
    Ok(())
}

/// The room a connection is in.
struct Joined {
    room: Arc<RoomDef>,
    nick: Nickname,
    holder: String,
}

/// Who this connection is in the roulette (set by `roulette`, kept while connected).
struct RouletteMe {
    nick: Nickname,
    interests: Vec<String>,
    /// Strangers this connection blocked: never paired again.
    blocked: Vec<String>,
    /// The previous stranger: paired again only when nobody else fits.
    last_peer: Option<String>,
}

/// Queued for a stranger.
struct Waiting {
    ticket: RouletteTicket,
    /// Where the gateway that pairs us publishes the match notice.
    inbox: RoomFeed,
    /// When shared interests stop mattering (re-matched then, accepting anyone).
    open_at: Option<tokio::time::Instant>,
}

/// The stranger of the current pair.
struct Stranger {
    id: String,
    nick: String,
    /// When to check that the stranger really arrived (a notice can cross a disconnect).
    check_at: Option<tokio::time::Instant>,
}

struct Conn {
    state: Arc<State>,
    handle: ConnHandle,
    /// The client's exact address and budget factor (its budget key is derived from it).
    address: Address,
    joined: Option<Joined>,
    say_bucket: TokenBucket,
    /// The address's limits as last looked up, and when (see [`address_limits`]).
    ip_limits: Option<(Arc<Mutex<IpLimits>>, Instant)>,
    last_typing: Option<Instant>,
    // Boxed: most connections never use the roulette, and an idle connection's memory is
    // mostly its task, whose size includes these fields.
    roulette: Option<Box<RouletteMe>>,
    waiting: Option<Box<Waiting>>,
    stranger: Option<Box<Stranger>>,
}

/// What woke a connection in the roulette.
enum Wake {
    /// A match notice arrived (`None`: the inbox is gone).
    Notice(Option<Bytes>),
    /// Shared interests stop mattering.
    InterestsExpired,
    /// Time to check that the new stranger really arrived.
    CheckStranger,
}

async fn run(on_upgrade: websocket::OnUpgrade, state: Arc<State>, address: Address, (mut slot, _place): (Slot, Place)) {
    let io = match on_upgrade.await {
        Ok(upgraded) => websocket::Io::new(upgraded),
        Err(error) => {
            // The client went away between the request and the 101.
            tracing::debug!(%error, "WebSocket upgrade failed");
            return;
        }
    };
    let _live = state.live.enter();
    let id: ConnId = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let outbox = Arc::new(Outbox::new(state.config.outbound_queue));
    let handle = ConnHandle::new(id, outbox.clone());
    let mut socket = Socket::new(io, FRAME_MAX_BYTES);
    handle.send_frame(&ServerFrame::Hello {
        version: protocol::VERSION.to_owned(),
        limits: Limits::new(state.config.say_rate.clone()),
    });
    // Held until this function returns: the address's slot and the registry entry.
    slot.register(handle.clone());
    // Registered after the gateway began stopping, so not among the sockets it closed.
    if state.stopping.load(Ordering::SeqCst) {
        handle.close(code::GOING_AWAY, crate::state::SERVER_RESTARTING, true);
    }
    tracing::debug!(conn = id, ip = %address.ip, "connected");
    let mut conn = Conn {
        say_bucket: TokenBucket::new(&state.config.say_rate),
        ip_limits: None,
        state,
        handle,
        address,
        joined: None,
        last_typing: None,
        roulette: None,
        waiting: None,
        stranger: None,
    };
    // How the connection ends: the close frame to send, if the socket is still usable.
    let ending: Option<CloseOrder> = loop {
        tokio::select! {
            // Handlers are boxed: their state machines are large and only live while a frame is
            // handled, so an idle connection's task stays small.
            wake = roulette_wake(&mut conn.waiting, conn.stranger.as_deref()) => match wake {
                Wake::Notice(notice) => Box::pin(conn.on_match_notice(notice)).await,
                Wake::InterestsExpired => Box::pin(conn.interests_expired()).await,
                Wake::CheckStranger => Box::pin(conn.check_stranger()).await,
            },
            event = socket.next(&outbox) => match event {
                Event::Text(text) => {
                    Box::pin(conn.on_text(&text)).await;
                    // Let the room's fan-out, which a message just woke on this thread, run
                    // before this socket writes: the sender's own copy then leaves in the same
                    // write as its ack instead of a second one.
                    tokio::task::yield_now().await;
                }
                Event::CloseOrdered(order) => break Some(order),
                Event::Ended(ending) => {
                    tracing::debug!(conn = id, ?ending, "socket ended");
                    break ending.answer();
                }
            },
        }
    };
    Box::pin(conn.leave_room()).await;
    Box::pin(conn.stop_waiting()).await;
    drop(conn);
    match ending {
        Some(order) => {
            if tokio::time::timeout(CLOSE_TIMEOUT, socket.close(&outbox, &order)).await.is_err() {
                tracing::debug!(conn = id, "closing handshake timed out");
            }
        }
        None => outbox.shut(),
    }
    tracing::debug!(conn = id, "disconnected");
}

/// What the roulette waits for; never resolves for a connection outside it. The waiting is
/// boxed, so only connections in the roulette carry its timers and inbox wait.
async fn roulette_wake(waiting: &mut Option<Box<Waiting>>, stranger: Option<&Stranger>) -> Wake {
    let open_at = waiting.as_ref().and_then(|w| w.open_at);
    let check_at = stranger.and_then(|s| s.check_at);
    if waiting.is_none() && check_at.is_none() {
        return std::future::pending().await;
    }
    Box::pin(async move {
        tokio::select! {
            notice = recv_inbox(waiting) => Wake::Notice(notice),
            () = sleep_until(open_at) => Wake::InterestsExpired,
            () = sleep_until(check_at) => Wake::CheckStranger,
        }
    })
    .await
}

/// The next match notice while waiting; never resolves otherwise.
async fn recv_inbox(waiting: &mut Option<Box<Waiting>>) -> Option<Bytes> {
    match waiting {
        Some(waiting) => waiting.inbox.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleep until `at`; never resolves for `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Parse a text frame: not JSON or no `type` is `bad_frame`, an unknown `type` is
/// `unknown_type`, a known one with missing or mistyped fields is `bad_frame`.
fn parse_frame(text: &str) -> Result<ClientFrame, (ErrorCode, String)> {
    // Well-formed frames, nearly all of them, are parsed once; only a frame that fails is
    // parsed again, loosely, to say what is wrong with it.
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text) {
        return Ok(frame);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| (ErrorCode::BadFrame, format!("frames are JSON objects with a \"type\" field ({e})")))?;
    let kind = value
        .as_object()
        .ok_or_else(|| (ErrorCode::BadFrame, "frames are JSON objects with a \"type\" field".to_owned()))?
        .get("type")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| (ErrorCode::BadFrame, "the frame has no string \"type\" field".to_owned()))?
        .to_owned();
    if !CLIENT_FRAME_TYPES.contains(&kind.as_str()) {
        let shown: String = kind.chars().take(40).collect();
        return Err((ErrorCode::UnknownType, format!("unknown frame type {shown:?}")));
    }
    serde_json::from_value(value).map_err(|e| (ErrorCode::BadFrame, format!("bad \"{kind}\" frame: {e}")))
}

/// The limits shared by every socket of `address`'s key, through the socket's own copy of them. The
/// gateway's cache is asked again at most every tenth of its idle time: a lookup there cost more
/// than all of a message's other checks together, and an entry in use is looked up again long
/// before it could be dropped as idle, so the sockets of an address keep sharing one.
fn address_limits<'a>(
    cached: &'a mut Option<(Arc<Mutex<IpLimits>>, Instant)>,
    state: &State,
    address: &Address,
    now: Instant,
) -> &'a Mutex<IpLimits> {
    if cached.as_ref().is_some_and(|(_, at)| now.duration_since(*at) >= IP_LIMITS_IDLE / 10) {
        *cached = None;
    }
    &cached.get_or_insert_with(|| (state.ip_limits(address), now)).0
}

/// Add `id` to a block list that keeps the last [`BLOCKED_MAX`] strangers: the list travels
/// with every roulette ticket and every pairing walks it, so it must not grow without bound.
fn remember_block(blocked: &mut Vec<String>, id: &str) {
    if blocked.iter().any(|b| b == id) {
        return;
    }
    if blocked.len() >= BLOCKED_MAX {
        blocked.remove(0);
    }
    blocked.push(id.to_owned());
}

/// Message ids: ULIDs, monotonic within this process so ids sort in sending order.
fn next_id() -> Ulid {
    static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);
    let mut generator = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    generator.get_or_insert_with(ulid::Generator::new).generate().unwrap_or_else(|_| Ulid::new())
}

fn encode(frame: &ServerFrame) -> Bytes {
    Bytes::from(frame.to_json())
}

impl Conn {
    async fn on_text(&mut self, text: &str) {
        match parse_frame(text) {
            Ok(frame) => self.on_frame(frame).await,
            Err((code, text)) => self.error(code, text, None, None),
        }
    }

    fn error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
        client_id: Option<String>,
        retry_after: Option<Duration>,
    ) {
        crate::telemetry::refused(code.as_str());
        self.handle.send_frame(&ServerFrame::Error {
            code,
            message: message.into(),
            client_id,
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
        });
    }

    async fn on_frame(&mut self, frame: ClientFrame) {
        match frame {
            ClientFrame::Join { room, nick, since } => self.join(&room, &nick, since).await,
            ClientFrame::Say { text, client_id } => self.say(&text, client_id).await,
            ClientFrame::Typing {} => self.typing().await,
            ClientFrame::Leave {} => {
                if self.waiting.is_some() {
                    self.stop_waiting().await;
                } else if self.joined.is_none() {
                    self.error(ErrorCode::NotInRoom, "you are not in a room", None, None);
                } else {
                    self.leave_room().await;
                }
            }
            ClientFrame::Ping {} => self.handle.send_frame(&ServerFrame::Pong {}),
            ClientFrame::Roulette { nick, interests } => self.roulette(&nick, &interests).await,
            ClientFrame::Next { block } => self.next(block).await,
            ClientFrame::Create { title, capacity, listed } => self.create(&title, capacity, listed).await,
        }
    }

    /// The tag of this connection's address on the bus: a keyed hash of its budget key, by which
    /// seats and slowmode are counted on every gateway.
    fn address_tag(&self) -> String {
        self.address.key().tag(&self.state.config.owner_secret.0, "address")
    }

    /// This connection's presence holder id, also its roulette ticket id.
    fn holder(&self) -> String {
        format!("{}:{}", self.state.gateway_id, self.handle.id)
    }

    /// Refuse (with `banned`) when a ban covers this address. Sockets are closed when a ban
    /// arrives; this covers the moment in between.
    fn refuse_banned(&self) -> bool {
        let Some(ban) = self.state.bans.check(self.address.ip) else {
            return false;
        };
        let message =
            if ban.reason.is_empty() { "you are banned".to_owned() } else { format!("you are banned: {}", ban.reason) };
        self.error(ErrorCode::Banned, message, None, None);
        true
    }

    /// Take a token from the address's join bucket (joins, roulette, next, create), or refuse.
    fn joins_allowed(&mut self) -> bool {
        let now = Instant::now();
        let join_limit = address_limits(&mut self.ip_limits, &self.state, &self.address, now)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .joins
            .take(now);
        match join_limit {
            Ok(()) => true,
            Err(wait) => {
                self.error(ErrorCode::RateLimited, "too many joins from your address; wait a moment", None, Some(wait));
                false
            }
        }
    }

    async fn join(&mut self, room: &str, nick: &str, since: Option<Ulid>) {
        if self.refuse_banned() {
            return;
        }
        let nick = match Nickname::parse(nick) {
            Ok(nick) => nick,
            Err(e) => return self.error(ErrorCode::InvalidNick, e.to_string(), None, None),
        };
        // Pairs are private: only the matchmaker seats people there.
        let Some(def) = RoomSlug::parse(room)
            .ok()
            .and_then(|slug| self.state.directory.get(&slug))
            .filter(|def| def.kind != RoomKind::Roulette)
        else {
            let shown: String = room.chars().take(40).collect();
            return self.error(ErrorCode::UnknownRoom, format!("there is no room {shown:?}"), None, None);
        };
        if def.locked {
            return self.error(ErrorCode::RoomLocked, format!("{} is locked by the moderators", def.title), None, None);
        }
        if !self.joins_allowed() {
            return;
        }
        self.stop_waiting().await;
        self.stranger = None;
        self.enter(def, nick, since).await;
    }

    /// Take a seat in `def` as `nick` and start receiving its events; the member list on
    /// success (an error frame has been sent otherwise).
    async fn enter(&mut self, def: Arc<RoomDef>, nick: Nickname, since: Option<Ulid>) -> Option<Vec<String>> {
        let holder = self.holder();
        let seat = bus::Seat {
            nick: nick.as_str().to_owned(),
            key: nick.key().to_owned(),
            holder: holder.clone(),
            address: self.address_tag(),
        };
        // A pair seats its two members whatever their addresses.
        let per_address = if def.kind == RoomKind::Roulette {
            def.capacity
        } else {
            self.address.scale(self.state.config.seats_per_address)
        };
        let same_seat = self.joined.as_ref().is_some_and(|j| j.room.slug == def.slug && j.nick.key() == nick.key());
        if !same_seat {
            // Another room, or another name here: leave first, keeping the old seat only if the
            // new one cannot be had would need two seats at once; clients expect a clean switch.
            self.leave_room().await;
        }
        let members = match self.state.bus.claim_seat(&def.slug, &seat, def.capacity, per_address).await {
            Ok(bus::SeatClaim::Granted { members }) => members,
            Ok(bus::SeatClaim::Full) => {
                self.error(
                    ErrorCode::RoomFull,
                    format!("{} is full: it holds {} at most", def.title, def.capacity),
                    None,
                    None,
                );
                return None;
            }
            Ok(bus::SeatClaim::TooManySeats) => {
                self.error(
                    ErrorCode::TooManySeats,
                    format!("your address already holds {per_address} seats in {}", def.title),
                    None,
                    None,
                );
                return None;
            }
            Ok(bus::SeatClaim::NickTaken) => {
                self.error(
                    ErrorCode::NickTaken,
                    format!("Somebody in {} is already called {nick}; pick another nickname", def.title),
                    None,
                    None,
                );
                return None;
            }
            Err(e) => {
                self.unavailable(e);
                return None;
            }
        };
        if same_seat {
            // A repeated join (e.g. to resume with `since`) gets a fresh `joined`, no presence.
            match self.state.bus.history(&def.slug, since).await {
                Ok(history) => self.handle.send_frame(&ServerFrame::Joined {
                    room: def.slug.to_string(),
                    nick: nick.to_string(),
                    members: members.clone(),
                    history,
                }),
                Err(e) => self.unavailable(e),
            }
            return Some(members);
        }
        let local: Arc<Members> =
            match self.state.hub.join(self.state.bus.as_ref(), &def.slug, self.handle.clone(), nick.key()).await {
                Ok(local) => local,
                Err(e) => {
                    self.release(&def.slug, nick.key(), &holder).await;
                    self.unavailable(e);
                    return None;
                }
            };
        let history = match self.state.bus.history(&def.slug, since).await {
            Ok(history) => history,
            Err(e) => {
                self.state.hub.leave(&def.slug, self.handle.id).await;
                self.release(&def.slug, nick.key(), &holder).await;
                self.unavailable(e);
                return None;
            }
        };
        local.activate(
            self.handle.id,
            &ServerFrame::Joined {
                room: def.slug.to_string(),
                nick: nick.to_string(),
                members: members.clone(),
                history,
            },
        );
        // Everyone in the room hears about the arrival, the joiner too (right after `joined`).
        let presence = ServerFrame::Presence { event: PresenceEvent::Join, nick: nick.to_string() };
        if let Err(e) = self.state.bus.publish(&def.slug, encode(&presence)).await {
            tracing::warn!(error = %e, "cannot announce a join");
        }
        self.joined = Some(Joined { room: def, nick, holder });
        Some(members)
    }

    async fn release(&self, room: &RoomSlug, key: &str, holder: &str) {
        if let Err(e) = self.state.bus.release_seat(room, key, holder).await {
            tracing::warn!(error = %e, %room, "cannot release a seat; it lapses with its presence entry");
        }
    }

    /// Leave the current room, if any: free the seat, stop the feed, tell the others.
    async fn leave_room(&mut self) {
        let Some(joined) = self.joined.take() else {
            return;
        };
        let slug = &joined.room.slug;
        self.state.hub.leave(slug, self.handle.id).await;
        self.release(slug, joined.nick.key(), &joined.holder).await;
        let presence = ServerFrame::Presence { event: PresenceEvent::Leave, nick: joined.nick.to_string() };
        // The leaver is no longer subscribed: confirm to it directly.
        self.handle.send_frame(&presence);
        if let Err(e) = self.state.bus.publish(slug, encode(&presence)).await {
            tracing::warn!(error = %e, "cannot announce a leave");
        }
        if joined.room.kind == RoomKind::Roulette {
            self.stranger = None;
            if let Err(e) = self.state.bus.publish(slug, encode(&ServerFrame::StrangerLeft {})).await {
                tracing::warn!(error = %e, "cannot tell the stranger");
            }
            // The last one out ends the pair (the sweeper catches what this misses).
            if self.state.bus.members(slug).await.is_ok_and(|m| m.is_empty()) {
                crate::visitor::close(&self.state, slug, "this chat has ended").await;
            }
        }
    }

    /// Leave the roulette queue, if in it.
    async fn stop_waiting(&mut self) {
        if let Some(waiting) = self.waiting.take()
            && let Err(e) = self.state.bus.roulette_cancel(&waiting.ticket.id).await
        {
            tracing::warn!(error = %e, "cannot leave the roulette queue; the ticket is skipped once this socket is gone");
        }
    }

    async fn roulette(&mut self, nick: &str, interests: &[String]) {
        if self.refuse_banned() {
            return;
        }
        let nick = match Nickname::parse(nick) {
            Ok(nick) => nick,
            Err(e) => return self.error(ErrorCode::InvalidNick, e.to_string(), None, None),
        };
        // Counted before anything else: a frame of thousands of tags costs its count only.
        if interests.len() > protocol::input::INTERESTS_MAX {
            let e = protocol::input::InterestError::TooMany;
            return self.error(ErrorCode::BadFrame, e.to_string(), None, None);
        }
        metrics::counter!("chat_interests_parsed_total").increment(interests.len() as u64);
        let interests = match protocol::input::parse_interests(interests) {
            Ok(interests) => interests,
            Err(e) => return self.error(ErrorCode::BadFrame, e.to_string(), None, None),
        };
        if !self.joins_allowed() {
            return;
        }
        self.leave_room().await;
        self.stop_waiting().await;
        let (blocked, last_peer) = self.roulette.take().map(|r| (r.blocked, r.last_peer)).unwrap_or_default();
        self.roulette = Some(Box::new(RouletteMe { nick, interests, blocked, last_peer }));
        self.queue().await;
    }

    async fn next(&mut self, block: bool) {
        let Some(me) = &mut self.roulette else {
            return self.error(
                ErrorCode::NotInRoom,
                "press Roulette first: next finds you another stranger",
                None,
                None,
            );
        };
        if let Some(stranger) = self.stranger.take() {
            if block {
                remember_block(&mut me.blocked, &stranger.id);
            }
            me.last_peer = Some(stranger.id);
        } else if let Some(waiting) = &self.waiting {
            // Already looking.
            return self.handle.send_frame(&ServerFrame::Waiting { interests: waiting.ticket.interests.clone() });
        }
        if !self.joins_allowed() {
            return;
        }
        self.leave_room().await;
        self.queue().await;
    }

    /// Put this connection's ticket in the queue, or pair it at once.
    async fn queue(&mut self) {
        let Some(me) = &self.roulette else { return };
        let inbox = match RoomSlug::parse(&format!("q-{}", Ulid::new().to_string().to_lowercase())) {
            Ok(inbox) => inbox,
            Err(e) => return tracing::error!(error = %e, "cannot name a roulette inbox"),
        };
        let wait = if me.interests.is_empty() {
            0
        } else {
            i64::try_from(self.state.config.roulette_interest_wait.as_millis()).unwrap_or(i64::MAX)
        };
        let ticket = RouletteTicket {
            id: self.holder(),
            inbox,
            nick: me.nick.to_string(),
            key: me.nick.key().to_owned(),
            interests: me.interests.clone(),
            open_at_ms: now_ms().saturating_add(wait),
            blocked: me.blocked.clone(),
            last_peer: me.last_peer.clone(),
        };
        // Listen before queueing, so a match notice cannot be missed.
        let feed = match self.state.bus.subscribe_room(&ticket.inbox).await {
            Ok(feed) => feed,
            Err(e) => return self.unavailable(e),
        };
        self.match_ticket(ticket, feed, true).await;
    }

    /// Pair `ticket` with a waiting stranger, or wait. Strangers whose connection is gone (a
    /// crashed gateway) are skipped.
    async fn match_ticket(&mut self, ticket: RouletteTicket, inbox: RoomFeed, announce: bool) {
        for _ in 0..8 {
            let now = now_ms();
            let peer = match self.state.bus.roulette_match(&ticket, now).await {
                Ok(peer) => peer,
                Err(e) => return self.unavailable(e),
            };
            let Some(peer) = peer else {
                let open_at = (ticket.open_at_ms > now).then(|| {
                    let ms = u64::try_from(ticket.open_at_ms - now).unwrap_or(0);
                    tokio::time::Instant::now() + Duration::from_millis(ms)
                });
                if announce {
                    self.handle.send_frame(&ServerFrame::Waiting { interests: ticket.interests.clone() });
                }
                self.waiting = Some(Box::new(Waiting { ticket, inbox, open_at }));
                return;
            };
            match self.pair_with(&ticket, &peer).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::debug!(stranger = %peer.id, "skipping a roulette ticket whose connection is gone")
                }
                Err(()) => return,
            }
        }
        self.error(ErrorCode::Unavailable, "no stranger could be reached; try again", None, None);
    }

    /// Open a pair room with `peer` (who waited), take a seat, and tell `peer`'s gateway.
    /// `Ok(false)` when nobody listens on the peer's inbox any more.
    async fn pair_with(&mut self, ticket: &RouletteTicket, peer: &RouletteTicket) -> Result<bool, ()> {
        let Some(slug) = crate::visitor::random_slug("r") else { return Err(()) };
        let common = ticket.common(peer);
        let room = RoomDef {
            title: format!("pair {}", &slug.as_str()[2..10]),
            slug,
            kind: RoomKind::Roulette,
            topic: String::new(),
            capacity: 2,
            listed: false,
            locked: false,
            slowmode_secs: 0,
            owner: None,
        };
        let def = match crate::visitor::open(&self.state, room).await {
            Ok(def) => def,
            Err(crate::visitor::OpenError::Bus(e)) => {
                self.unavailable(e);
                return Err(());
            }
            Err(crate::visitor::OpenError::TooMany) => return Err(()),
        };
        // Seated first, so the stranger finds us there.
        let seat = bus::Seat {
            nick: ticket.nick.clone(),
            key: ticket.key.clone(),
            holder: ticket.id.clone(),
            address: self.address_tag(),
        };
        if let Err(e) = self.state.bus.claim_seat(&def.slug, &seat, 2, 2).await {
            crate::visitor::close(&self.state, &def.slug, "this chat has ended").await;
            self.unavailable(e);
            return Err(());
        }
        let notice = RouletteMatch { room: (*def).clone(), stranger: ticket.clone(), common: common.clone() };
        let payload = match serde_json::to_vec(&notice) {
            Ok(payload) => Bytes::from(payload),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a match notice");
                return Err(());
            }
        };
        match self.state.bus.notify(&peer.inbox, payload).await {
            Ok(true) => {}
            Ok(false) => {
                self.release(&def.slug, &ticket.key, &ticket.id).await;
                crate::visitor::close(&self.state, &def.slug, "this chat has ended").await;
                return Ok(false);
            }
            Err(e) => {
                self.release(&def.slug, &ticket.key, &ticket.id).await;
                crate::visitor::close(&self.state, &def.slug, "this chat has ended").await;
                self.unavailable(e);
                return Err(());
            }
        }
        self.enter_pair(def, peer.id.clone(), peer.nick.clone(), common).await;
        Ok(true)
    }

    /// Tell the client it was matched and seat it in the pair room.
    async fn enter_pair(&mut self, def: Arc<RoomDef>, stranger_id: String, stranger: String, common: Vec<String>) {
        let Some(nick) = self.roulette.as_ref().map(|me| me.nick.clone()) else { return };
        self.handle.send_frame(&ServerFrame::Matched {
            room: def.slug.to_string(),
            stranger: stranger.clone(),
            common,
        });
        metrics::counter!("chat_roulette_matches_total").increment(1);
        let Some(members) = self.enter(def, nick, None).await else { return };
        let key = protocol::input::nick_key(&stranger);
        let present = members.iter().any(|m| protocol::input::nick_key(m) == key);
        if present {
            self.stranger = Some(Box::new(Stranger { id: stranger_id, nick: stranger, check_at: None }));
        } else {
            // Either the stranger is on the way (we paired them) or already gone: look again
            // after the grace period.
            let check_at = tokio::time::Instant::now() + self.state.config.roulette_join_grace;
            self.stranger = Some(Box::new(Stranger { id: stranger_id, nick: stranger, check_at: Some(check_at) }));
        }
    }

    /// A match notice on the inbox: another gateway paired us.
    async fn on_match_notice(&mut self, notice: Option<Bytes>) {
        let Some(bytes) = notice else {
            // The bus dropped the inbox: queue again on a fresh one.
            self.stop_waiting().await;
            return self.queue().await;
        };
        let notice: RouletteMatch = match serde_json::from_slice(&bytes) {
            Ok(notice) => notice,
            Err(e) => return tracing::warn!(error = %e, "ignoring a malformed match notice"),
        };
        // The ticket left the queue with this notice.
        self.waiting = None;
        let def = self.state.directory.upsert(notice.room);
        self.enter_pair(def, notice.stranger.id, notice.stranger.nick, notice.common).await;
    }

    /// Nobody sharing an interest came in time: from now on anyone will do.
    async fn interests_expired(&mut self) {
        let Some(mut waiting) = self.waiting.take() else { return };
        waiting.open_at = None;
        self.match_ticket(waiting.ticket, waiting.inbox, false).await;
    }

    /// The grace period of a new pair is over: is the stranger there?
    async fn check_stranger(&mut self) {
        let (Some(stranger), Some(joined)) = (&mut self.stranger, &self.joined) else { return };
        stranger.check_at = None;
        let key = protocol::input::nick_key(&stranger.nick);
        let present = match self.state.bus.members(&joined.room.slug).await {
            Ok(members) => members.iter().any(|m| protocol::input::nick_key(m) == key),
            Err(_) => true,
        };
        if !present {
            self.handle.send_frame(&ServerFrame::StrangerLeft {});
        }
    }

    async fn create(&mut self, title: &str, capacity: u32, listed: bool) {
        if self.refuse_banned() {
            return;
        }
        let title = match RoomTitle::parse(title) {
            Ok(title) => title,
            Err(e) => return self.error(ErrorCode::BadFrame, e.to_string(), None, None),
        };
        // Titles go through the filters as messages do: shown in room lists and in Discord.
        let title = match self.state.filters.apply(title.as_str().to_owned()) {
            crate::filters::Verdict::Pass(title) => title,
            crate::filters::Verdict::Blocked => {
                let message = "the room title contains something this chat does not allow";
                return self.error(ErrorCode::Filtered, message, None, None);
            }
        };
        let max = self.state.config.visitor_room_max_capacity;
        if !(2..=max).contains(&capacity) {
            return self.error(ErrorCode::BadFrame, format!("capacity must be between 2 and {max}"), None, None);
        }
        if !self.joins_allowed() {
            return;
        }
        let Some(slug) = crate::visitor::random_slug("v") else { return };
        let room = RoomDef {
            slug,
            kind: RoomKind::Visitor,
            title,
            topic: String::new(),
            capacity,
            listed,
            locked: false,
            slowmode_secs: 0,
            owner: Some(crate::visitor::owner_key(&self.state.config.owner_secret.0, self.address.ip)),
        };
        match crate::visitor::open(&self.state, room).await {
            Ok(def) => self.handle.send_frame(&ServerFrame::Created {
                room: def.slug.to_string(),
                invite: format!("/?room={}", def.slug),
            }),
            Err(crate::visitor::OpenError::TooMany) => {
                let per_ip = self.state.config.visitor_rooms_per_ip;
                let idle = self.state.config.visitor_room_idle.as_secs();
                self.error(
                    ErrorCode::TooManyRooms,
                    format!(
                        "your address already has {per_ip} open rooms; a room closes {idle} s after its last member leaves"
                    ),
                    None,
                    None,
                );
            }
            Err(crate::visitor::OpenError::Bus(e)) => self.unavailable(e),
        }
    }

    fn unavailable(&self, error: bus::BusError) {
        tracing::error!(%error, "bus call failed");
        self.error(ErrorCode::Unavailable, "the chat is temporarily unavailable; try again shortly", None, None);
    }

    async fn say(&mut self, text: &str, client_id: Option<String>) {
        if client_id.as_ref().is_some_and(|c| c.chars().count() > CLIENT_ID_MAX) {
            return self.error(
                ErrorCode::BadFrame,
                format!("client_id is at most {CLIENT_ID_MAX} characters"),
                None,
                None,
            );
        }
        let Some(joined) = &self.joined else {
            return self.error(ErrorCode::NotInRoom, "join a room before sending messages", client_id, None);
        };
        // The definition may have changed since joining.
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        let text = match MessageText::parse(text) {
            Ok(text) => text,
            Err(TextError::Empty) => {
                return self.error(ErrorCode::EmptyMessage, "the message is empty", client_id, None);
            }
            Err(e @ TextError::TooLong(_)) => {
                return self.error(ErrorCode::TooLong, e.to_string(), client_id, None);
            }
        };
        let text = match self.state.filters.apply(text.into_string()) {
            crate::filters::Verdict::Pass(text) => text,
            crate::filters::Verdict::Blocked => {
                return self.error(
                    ErrorCode::Filtered,
                    "your message contains something this chat does not allow",
                    client_id,
                    None,
                );
            }
        };
        if room.locked {
            return self.error(
                ErrorCode::RoomLocked,
                format!("{} is locked by the moderators", room.title),
                client_id,
                None,
            );
        }
        let now = Instant::now();
        if let Err(wait) = self.say_bucket.take(now) {
            return self.error(ErrorCode::RateLimited, "you are sending messages too fast", client_id, Some(wait));
        }
        let ip_limit = address_limits(&mut self.ip_limits, &self.state, &self.address, now)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .say
            .take(now);
        if let Err(wait) = ip_limit {
            return self.error(
                ErrorCode::RateLimited,
                "your address is sending messages too fast",
                client_id,
                Some(wait),
            );
        }
        if room.slowmode_secs > 0 {
            // Kept on the bus per (room, address), with a slot per seat the address holds there:
            // neither leaving and joining again nor more connections or gateways get around it.
            let period = Duration::from_secs(u64::from(room.slowmode_secs));
            match self.state.bus.slowmode(&room.slug, &self.address_tag(), period).await {
                Ok(None) => {}
                Ok(Some(wait)) => {
                    let message =
                        format!("slow mode: one message every {} s per seat in {}", room.slowmode_secs, room.title);
                    return self.error(ErrorCode::Slowmode, message, client_id, Some(wait));
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot check slowmode");
                    return self.error(
                        ErrorCode::Unavailable,
                        "the chat is temporarily unavailable; your message was not sent",
                        client_id,
                        None,
                    );
                }
            }
        }
        let message = MessageView {
            id: next_id(),
            room: room.slug.to_string(),
            nick: joined.nick.to_string(),
            text,
            at: chrono::Utc::now(),
            staff: false,
        };
        // Durable first: once the bot's queue has it, it is accepted; history and fan-out follow.
        let id = message.id;
        let frame = encode(&ServerFrame::Message(message.clone()));
        let logged = LoggedMessage { message, ip: self.address.ip };
        if let Err(e) = self.state.bus.post_message(&room.slug, &logged, frame).await {
            tracing::error!(error = %e, "cannot queue a message");
            return self.error(
                ErrorCode::Unavailable,
                "the chat is temporarily unavailable; your message was not sent",
                client_id,
                None,
            );
        }
        // The next keystroke after sending is news again.
        self.last_typing = None;
        metrics::counter!("chat_messages_in_total").increment(1);
        self.handle.send_frame(&ServerFrame::Ack { id, client_id });
    }

    async fn typing(&mut self) {
        let Some(joined) = &self.joined else {
            return self.error(ErrorCode::NotInRoom, "you are not in a room", None, None);
        };
        let now = Instant::now();
        // Relayed at most once per interval: typing indicators need no more (what comes sooner
        // is folded into the one relayed, not refused).
        if self.last_typing.is_some_and(|t| now.duration_since(t) < self.state.config.typing_interval) {
            return;
        }
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        if room.locked {
            // One refusal per interval too, like one relay.
            self.last_typing = Some(now);
            return self.error(
                ErrorCode::RoomLocked,
                format!("{} is locked by the moderators", room.title),
                None,
                None,
            );
        }
        let address_limit = address_limits(&mut self.ip_limits, &self.state, &self.address, now)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .typing
            .take(now);
        if let Err(wait) = address_limit {
            return self.error(ErrorCode::RateLimited, "your address is typing too much", None, Some(wait));
        }
        self.last_typing = Some(now);
        let Some(joined) = &self.joined else { return };
        let frame = ServerFrame::Typing { nick: joined.nick.to_string() };
        if let Err(e) = self.state.bus.publish(&joined.room.slug, encode(&frame)).await {
            tracing::warn!(error = %e, "cannot relay typing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_classified() {
        assert!(matches!(parse_frame(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping {})));
        assert_eq!(parse_frame("nope").unwrap_err().0, ErrorCode::BadFrame);
        assert_eq!(parse_frame("[1]").unwrap_err().0, ErrorCode::BadFrame);
        assert_eq!(parse_frame(r#"{"text":"x"}"#).unwrap_err().0, ErrorCode::BadFrame);
        assert_eq!(parse_frame(r#"{"type":"dance"}"#).unwrap_err().0, ErrorCode::UnknownType);
        let (code, message) = parse_frame(r#"{"type":"join","room":"lobby"}"#).unwrap_err();
        assert_eq!(code, ErrorCode::BadFrame);
        assert!(message.contains("nick"), "{message}");
        assert_eq!(
            parse_frame(r#"{"type":"join","room":"a","nick":"b","since":"x"}"#).unwrap_err().0,
            ErrorCode::BadFrame
        );
    }

    #[test]
    fn the_block_list_keeps_the_last_fifty() {
        let mut blocked = Vec::new();
        for i in 0..120 {
            remember_block(&mut blocked, &format!("s{i}"));
            remember_block(&mut blocked, &format!("s{i}"));
        }
        assert_eq!(blocked.len(), BLOCKED_MAX);
        assert_eq!(blocked.first().map(String::as_str), Some("s70"));
        assert_eq!(blocked.last().map(String::as_str), Some("s119"));
    }

    #[test]
    fn ids_increase() {
        let a = next_id();
        let b = next_id();
        assert!(b > a);
    }
}
