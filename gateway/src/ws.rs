//! One task per WebSocket connection, speaking the contract of DESIGN.md.
//!
//! The reader (this task) parses and validates every frame and answers errors in place; a
//! writer task owns the socket's sink, drains the connection's bounded queue (several frames per
//! flush under load), sends keepalive pings, and carries out close orders.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protocol::frames::{CLIENT_FRAME_TYPES, CLIENT_ID_MAX, FRAME_MAX_BYTES};
use protocol::input::TextError;
use protocol::{
    ClientFrame, ErrorCode, InboundEvent, Limits, LoggedMessage, MessageText, MessageView, Nickname, PresenceEvent,
    RoomDef, RoomSlug, ServerFrame,
};
use salvo::websocket::{Message, WebSocket, WebSocketUpgrade};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{self, Utf8Bytes, protocol::WebSocketConfig};
use ulid::Ulid;

use crate::State;
use crate::hub::{CloseOrder, ConnHandle, ConnId, Members, close};
use crate::ratelimit::TokenBucket;
use crate::sockets::Slot;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
/// Longest time a single write may take before the peer counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrade the request and run the connection.
pub async fn upgrade(
    state: Arc<State>,
    ip: IpAddr,
    slot: Slot,
    req: &mut salvo::Request,
    res: &mut salvo::Response,
) -> Result<(), salvo::http::StatusError> {
    // tungstenite's default 128 KiB read buffer per socket would dominate idle memory.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .max_message_size(Some(FRAME_MAX_BYTES))
        .max_frame_size(Some(FRAME_MAX_BYTES));
    WebSocketUpgrade::with_config(config).upgrade(req, res, move |socket| run(socket, state, ip, slot)).await
}

/// The room a connection is in.
struct Joined {
    room: Arc<RoomDef>,
    nick: Nickname,
    holder: String,
}

struct Conn {
    state: Arc<State>,
    handle: ConnHandle,
    ip: IpAddr,
    joined: Option<Joined>,
    say_bucket: TokenBucket,
    last_say: Option<Instant>,
    last_typing: Option<Instant>,
}

async fn run(socket: WebSocket, state: Arc<State>, ip: IpAddr, mut slot: Slot) {
    let _live = state.live.enter();
    let mut stopping = state.stopping.subscribe();
    let id: ConnId = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel(state.config.outbound_queue);
    let (close_tx, close_rx) = watch::channel(None);
    let handle = ConnHandle::new(id, tx, close_tx);
    // Held until this function returns: the address's slot and the registry entry.
    slot.register(handle.clone());
    let ping_interval = state.config.ping_interval;
    let mut writer = tokio::spawn(write_loop(sink, rx, close_rx, ping_interval));
    handle.send_frame(&ServerFrame::Hello {
        version: protocol::VERSION.to_owned(),
        limits: Limits::new(state.config.say_rate.clone()),
    });
    tracing::debug!(conn = id, %ip, "connected");
    let mut conn = Conn {
        say_bucket: TokenBucket::new(&state.config.say_rate),
        state,
        handle,
        ip,
        joined: None,
        last_say: None,
        last_typing: None,
    };
    let mut last_seen = Instant::now();
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let writer_done = loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                None => break false,
                Some(Ok(message)) => {
                    last_seen = Instant::now();
                    conn.on_message(message).await;
                }
                Some(Err(error)) => {
                    if is_too_big(&error) {
                        conn.handle.close(close::TOO_BIG, "frame larger than 64 KiB", false);
                    }
                    tracing::debug!(conn = id, %error, "read failed");
                    break false;
                }
            },
            _ = keepalive.tick() => {
                if last_seen.elapsed() > 2 * ping_interval {
                    conn.handle.close(close::GOING_AWAY, "missed two pings", false);
                    break false;
                }
            }
            _ = &mut writer => break true,
            () = async { let _ = stopping.wait_for(|stopping| *stopping).await; } => {
                conn.handle.close(close::GOING_AWAY, "server restarting", true);
                break false;
            }
        }
    };
    conn.leave_room().await;
    if !writer_done {
        conn.handle.close(close::NORMAL, "", true);
        drop(conn);
        if tokio::time::timeout(WRITE_TIMEOUT, &mut writer).await.is_err() {
            writer.abort();
        }
    }
    tracing::debug!(conn = id, "disconnected");
}

fn is_too_big(error: &salvo::Error) -> bool {
    matches!(error, salvo::Error::Other(inner)
        if matches!(inner.downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_))))
}

async fn write_loop<S>(
    mut sink: S,
    mut rx: mpsc::Receiver<Utf8Bytes>,
    mut close_rx: watch::Receiver<Option<CloseOrder>>,
    ping_interval: Duration,
) where
    S: futures_util::Sink<Message, Error = salvo::Error> + Unpin,
{
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    loop {
        let result = tokio::select! {
            biased;
            changed = close_rx.changed() => {
                let order = if changed.is_ok() { close_rx.borrow().clone() } else { None };
                let order = order.unwrap_or(CloseOrder { code: close::NORMAL, reason: String::new(), drain: true });
                if order.drain {
                    while let Ok(frame) = rx.try_recv() {
                        if sink.feed(Message::text(frame)).await.is_err() {
                            return;
                        }
                    }
                }
                let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::close_with(order.code, order.reason))).await;
                return;
            }
            frame = rx.recv() => match frame {
                None => return,
                Some(frame) => write_batch(&mut sink, &mut rx, frame).await,
            },
            _ = ping.tick() => tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::ping(Bytes::new()))).await,
        };
        if !matches!(result, Ok(Ok(()))) {
            return;
        }
    }
}

/// Write `first` and everything else already queued, then flush once.
async fn write_batch<S>(
    sink: &mut S,
    rx: &mut mpsc::Receiver<Utf8Bytes>,
    first: Utf8Bytes,
) -> Result<Result<(), salvo::Error>, tokio::time::error::Elapsed>
where
    S: futures_util::Sink<Message, Error = salvo::Error> + Unpin,
{
    tokio::time::timeout(WRITE_TIMEOUT, async {
        sink.feed(Message::text(first)).await?;
        let mut batched = 1;
        while batched < 64 {
            match rx.try_recv() {
                Ok(frame) => sink.feed(Message::text(frame)).await?,
                Err(_) => break,
            }
            batched += 1;
        }
        sink.flush().await
    })
    .await
}

/// Parse a text frame: not JSON or no `type` is `bad_frame`, an unknown `type` is
/// `unknown_type`, a known one with missing or mistyped fields is `bad_frame`.
fn parse_frame(text: &str) -> Result<ClientFrame, (ErrorCode, String)> {
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
    async fn on_message(&mut self, message: Message) {
        if message.is_text() {
            match message.as_str() {
                Ok(text) => match parse_frame(text) {
                    Ok(frame) => self.on_frame(frame).await,
                    Err((code, text)) => self.error(code, text, None, None),
                },
                Err(_) => self.error(ErrorCode::BadFrame, "text frames must be UTF-8", None, None),
            }
        } else if message.is_binary() {
            self.error(ErrorCode::BadFrame, "binary frames are not accepted; send JSON text", None, None);
        }
        // Ping, pong and close are handled by the WebSocket layer.
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
                if self.joined.is_none() {
                    self.error(ErrorCode::NotInRoom, "you are not in a room", None, None);
                } else {
                    self.leave_room().await;
                }
            }
            ClientFrame::Ping {} => self.handle.send_frame(&ServerFrame::Pong {}),
        }
    }

    async fn join(&mut self, room: &str, nick: &str, since: Option<Ulid>) {
        let nick = match Nickname::parse(nick) {
            Ok(nick) => nick,
            Err(e) => return self.error(ErrorCode::InvalidNick, e.to_string(), None, None),
        };
        let Some(def) = RoomSlug::parse(room).ok().and_then(|slug| self.state.directory.get(&slug)) else {
            let shown: String = room.chars().take(40).collect();
            return self.error(ErrorCode::UnknownRoom, format!("there is no room {shown:?}"), None, None);
        };
        if def.locked {
            return self.error(ErrorCode::RoomLocked, format!("{} is locked by the moderators", def.title), None, None);
        }
        let join_limit = {
            let limits = self.state.ip_limits(self.ip);
            let mut limits = limits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            limits.joins.take(Instant::now())
        };
        if let Err(wait) = join_limit {
            return self.error(
                ErrorCode::RateLimited,
                "too many joins from your address; wait a moment",
                None,
                Some(wait),
            );
        }
        let holder = format!("{}:{}", self.state.gateway_id, self.handle.id);
        let seat = bus::Seat { nick: nick.as_str().to_owned(), key: nick.key().to_owned(), holder: holder.clone() };
        let same_seat = self.joined.as_ref().is_some_and(|j| j.room.slug == def.slug && j.nick.key() == nick.key());
        if !same_seat {
            // Another room, or another name here: leave first, keeping the old seat only if the
            // new one cannot be had would need two seats at once; clients expect a clean switch.
            self.leave_room().await;
        }
        let members = match self.state.bus.claim_seat(&def.slug, &seat, def.capacity).await {
            Ok(bus::SeatClaim::Granted { members }) => members,
            Ok(bus::SeatClaim::Full) => {
                return self.error(
                    ErrorCode::RoomFull,
                    format!("{} is full: it holds {} at most", def.title, def.capacity),
                    None,
                    None,
                );
            }
            Ok(bus::SeatClaim::NickTaken) => {
                return self.error(
                    ErrorCode::NickTaken,
                    format!("Somebody in {} is already called {nick}; pick another nickname", def.title),
                    None,
                    None,
                );
            }
            Err(e) => return self.unavailable(e),
        };
        if same_seat {
            // A repeated join (e.g. to resume with `since`) gets a fresh `joined`, no presence.
            match self.state.bus.history(&def.slug, since).await {
                Ok(history) => self.handle.send_frame(&ServerFrame::Joined {
                    room: def.slug.to_string(),
                    nick: nick.to_string(),
                    members,
                    history,
                }),
                Err(e) => self.unavailable(e),
            }
            return;
        }
        let local: Arc<Members> =
            match self.state.hub.join(self.state.bus.as_ref(), &def.slug, self.handle.clone(), nick.key()).await {
                Ok(local) => local,
                Err(e) => {
                    self.release(&def.slug, nick.key(), &holder).await;
                    return self.unavailable(e);
                }
            };
        let history = match self.state.bus.history(&def.slug, since).await {
            Ok(history) => history,
            Err(e) => {
                self.state.hub.leave(&def.slug, self.handle.id).await;
                self.release(&def.slug, nick.key(), &holder).await;
                return self.unavailable(e);
            }
        };
        local.activate(
            self.handle.id,
            &ServerFrame::Joined { room: def.slug.to_string(), nick: nick.to_string(), members, history },
        );
        // Everyone in the room hears about the arrival, the joiner too (right after `joined`).
        let presence = ServerFrame::Presence { event: PresenceEvent::Join, nick: nick.to_string() };
        if let Err(e) = self.state.bus.publish(&def.slug, encode(&presence)).await {
            tracing::warn!(error = %e, "cannot announce a join");
        }
        self.last_say = None;
        self.joined = Some(Joined { room: def, nick, holder });
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
        let text = match self.state.filters.apply(text.as_str()) {
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
        if room.slowmode_secs > 0 {
            let gap = Duration::from_secs(u64::from(room.slowmode_secs));
            if let Some(wait) = self.last_say.and_then(|last| gap.checked_sub(now.duration_since(last))) {
                let message = format!("slow mode: one message every {} s in {}", room.slowmode_secs, room.title);
                return self.error(ErrorCode::Slowmode, message, client_id, Some(wait));
            }
        }
        if let Err(wait) = self.say_bucket.take(now) {
            return self.error(ErrorCode::RateLimited, "you are sending messages too fast", client_id, Some(wait));
        }
        let ip_limit = {
            let limits = self.state.ip_limits(self.ip);
            let mut limits = limits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            limits.say.take(now)
        };
        if let Err(wait) = ip_limit {
            return self.error(
                ErrorCode::RateLimited,
                "your address is sending messages too fast",
                client_id,
                Some(wait),
            );
        }
        let message = MessageView {
            id: next_id(),
            room: room.slug.to_string(),
            nick: joined.nick.to_string(),
            text,
            at: chrono::Utc::now(),
            staff: false,
        };
        // Durable first: once the bot's queue has it, it is accepted.
        let event = InboundEvent::Message(LoggedMessage { message: message.clone(), ip: self.ip });
        if let Err(e) = self.state.bus.enqueue(&event).await {
            tracing::error!(error = %e, "cannot queue a message");
            return self.error(
                ErrorCode::Unavailable,
                "the chat is temporarily unavailable; your message was not sent",
                client_id,
                None,
            );
        }
        self.last_say = Some(now);
        // The next keystroke after sending is news again.
        self.last_typing = None;
        if let Err(e) = self.state.bus.record_history(&message).await {
            tracing::warn!(error = %e, "cannot record history");
        }
        let id = message.id;
        if let Err(e) = self.state.bus.publish(&room.slug, encode(&ServerFrame::Message(message))).await {
            tracing::error!(error = %e, "cannot fan a message out");
        }
        metrics::counter!("chat_messages_in_total").increment(1);
        self.handle.send_frame(&ServerFrame::Ack { id, client_id });
    }

    async fn typing(&mut self) {
        let Some(joined) = &self.joined else {
            return self.error(ErrorCode::NotInRoom, "you are not in a room", None, None);
        };
        let now = Instant::now();
        // Relayed at most once per interval: typing indicators need no more.
        if self.last_typing.is_some_and(|t| now.duration_since(t) < self.state.config.typing_interval) {
            return;
        }
        self.last_typing = Some(now);
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
    fn ids_increase() {
        let a = next_id();
        let b = next_id();
        assert!(b > a);
    }
}
