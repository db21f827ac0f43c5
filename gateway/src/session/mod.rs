//! One task per WebSocket connection, speaking the chat contract of `docs/protocol.md`.
//!
//! The task parses and validates every frame and answers errors in place; while it waits for the
//! next frame it writes the connection's outbox (several frames per write under load). Other
//! tasks reach the socket only through its outbox.
//!
//! Every frame goes the same way: parsed (`frame`), admitted (`admission`: all the checks that
//! may refuse it, in one place), then acted on by the handler of its kind.
//!
//! * `frame`: parsing a text frame, and telling `bad_frame` from `unknown_type`.
//! * `admission`: the checks every frame passes, and the refusals they answer with (their order
//!   is pinned by `admission_tests`).
//! * `limits`: the rate-limit buckets admission takes from: the socket's, and its address's.
//! * `rooms`: `join` and `leave`: seats, presence, history.
//! * `say`: `say` and `typing`; `reply`: the message a `say` answers (`reply_to`).
//! * `edit`: `edit` and `delete` of one's own message within `EDIT_WINDOW_SECS`; `author`:
//!   message ids that name their author's session (what `edit` and `delete` are checked by).
//! * `roulette`: `roulette` and `next`, and what wakes a connection waiting in the roulette.
//! * `matchmaker`: queueing a roulette ticket and pairing it with a waiting stranger.
//! * `visitor_rooms`: `create`.
//! * `report`: `report`: checked against the delivery record, queued for the bot; the last
//!   roulette partner kept reportable for 10 minutes.
//! * `react`: `react`: a reaction toggled on the bus, the totals published to the room.
//! * `resume`: `resume`, and the tokens issued and revoked as a connection enters and leaves
//!   rooms; `park`: a dropped socket's session held for `RESUME_SECS`; `resumes`: this gateway's
//!   resumable sessions, its inbox for notices from other gateways.

mod admission;
mod author;
mod edit;
mod frame;
mod limits;
mod matchmaker;
mod park;
mod react;
mod reply;
mod report;
mod resume;
pub(crate) mod resumes;
mod rooms;
mod roulette;
mod say;
mod visitor_rooms;

#[cfg(test)]
mod admission_tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use protocol::frames::FRAME_MAX_BYTES;
use protocol::{ClientFrame, ErrorCode, Limits, Nickname, RoomDef, ServerFrame};
use secrecy::ExposeSecret;

use crate::address::Address;
use crate::capacity::Place;
use crate::device::DeviceTag;
use crate::envelope::{AddressTag, Sender};
use crate::hub::{ConnHandle, ConnId};
use crate::sockets::Slot;
use crate::state::State;
use crate::websocket::{self, CloseOrder, Event, Outbox, Socket};
use admission::{Admitted, Refusal};
use limits::SocketLimits;
use roulette::{RouletteMe, Stranger, Waiting, Wake, roulette_wake};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
/// Longest time the closing handshake may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrade the request and run the connection.
pub fn upgrade(
    state: Arc<State>,
    address: Address,
    device: Option<DeviceTag>,
    slot: (Slot, Place),
    req: &mut salvo::Request,
    res: &mut salvo::Response,
) -> Result<(), salvo::http::StatusError> {
    let on_upgrade = websocket::accept(req, res)?;
    // The connection's task is `run` itself, not a wrapper around it: a wrapping future would
    // keep its own copy of the arguments beside run's, in every idle connection's memory.
    tokio::spawn(run(on_upgrade, state, address, device, slot));
    Ok(())
}

/// The room a connection is in.
struct Joined {
    room: Arc<RoomDef>,
    nick: Nickname,
    holder: String,
}

/// One connection's session: who it is, where it sits, its limits, and its roulette state. Each
/// file of this module adds the methods of one job to it.
struct Conn {
    state: Arc<State>,
    handle: ConnHandle,
    /// The client's exact address and budget factor (its budget key is derived from it).
    address: Address,
    /// The tag of the device token the client sent, if any (the token itself is not kept).
    device: Option<DeviceTag>,
    /// When the socket opened (milliseconds since the epoch), for reports.
    opened_ms: i64,
    joined: Option<Joined>,
    /// The rate limits this socket takes from (see `admission`).
    limits: SocketLimits,
    // Boxed: most connections never use the roulette, and an idle connection's memory is
    // mostly its task, whose size includes these fields.
    roulette: Option<Box<RouletteMe>>,
    waiting: Option<Box<Waiting>>,
    stranger: Option<Box<Stranger>>,
    /// The resume token of this connection's seat.
    issued: Option<Box<resume::Issued>>,
    /// What it reported, and its last roulette pair's deliveries (made when first needed).
    reports: Option<Box<report::Reports>>,
}

async fn run(
    on_upgrade: websocket::OnUpgrade,
    state: Arc<State>,
    address: Address,
    device: Option<DeviceTag>,
    (mut slot, _place): (Slot, Place),
) {
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
    let mut limits = Limits::new(state.config.say_rate.clone());
    limits.edit_window_secs = state.config.edit_window.as_secs();
    limits.reactions.clone_from(&state.config.reactions);
    handle.send_frame(&ServerFrame::Hello { version: protocol::VERSION.to_owned(), limits });
    // Held until this function returns: the address's slot and the registry entry.
    slot.register(handle.clone());
    // Registered after the gateway began stopping, so not among the sockets it closed.
    if state.stopping.load(Ordering::SeqCst) {
        crate::state::restart_socket(&handle);
    }
    tracing::debug!(conn = id, ip = %address.ip, "connected");
    let mut conn = Conn {
        limits: SocketLimits::new(&state.config),
        state,
        handle,
        address,
        device,
        opened_ms: chrono::Utc::now().timestamp_millis(),
        joined: None,
        roulette: None,
        waiting: None,
        stranger: None,
        issued: None,
        reports: None,
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
                Wake::Requeue => Box::pin(conn.requeue()).await,
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
    // Parked for resuming, or left for good.
    Box::pin(conn.end()).await;
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

fn encode(frame: &ServerFrame) -> Bytes {
    Bytes::from(frame.to_json())
}

impl Conn {
    async fn on_text(&mut self, text: &str) {
        match frame::parse(text) {
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
        self.state.shield.note_refusal(&self.address, code.as_str());
        self.handle.send_frame(&ServerFrame::Error {
            code,
            message: message.into(),
            client_id,
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
            expires: None,
        });
    }

    /// Every parsed frame: admitted (see `admission`), then acted on; or refused.
    async fn on_frame(&mut self, frame: ClientFrame) {
        match self.admit(frame).await {
            Ok(admitted) => self.act(admitted).await,
            Err(refusal) => self.refuse(refusal),
        }
    }

    async fn act(&mut self, admitted: Admitted) {
        match admitted {
            Admitted::Join { room, nick, since } => self.join(room, nick, since).await,
            Admitted::Say { room, text, client_id, shadow, reply_to } => {
                self.say(room, text, client_id, shadow, reply_to).await;
            }
            Admitted::Edit { id, room, text, client_id, shadow } => self.edit(id, &room, text, client_id, shadow).await,
            Admitted::Delete { id, room, shadow } => self.delete(id, &room, shadow).await,
            Admitted::Typing => self.typing().await,
            Admitted::Folded => {}
            Admitted::Leave => {
                if self.waiting.is_some() {
                    self.stop_waiting().await;
                } else {
                    self.leave_room().await;
                }
            }
            Admitted::Ping => self.handle.send_frame(&ServerFrame::Pong {}),
            Admitted::Roulette { nick, interests } => self.roulette(nick, interests).await,
            Admitted::Next => self.next().await,
            Admitted::StillWaiting => self.still_waiting(),
            Admitted::Create { title, capacity, listed } => self.create(title, capacity, listed).await,
            Admitted::Resume { token, since } => self.resume(token, since).await,
            Admitted::Report(event) => self.report(*event).await,
            Admitted::React { id, emoji, shadow } => self.react(id, emoji, shadow).await,
        }
    }

    fn refuse(&self, refusal: Refusal) {
        if refusal.expires.is_some() {
            crate::telemetry::refused(refusal.code.as_str());
            self.handle.send_frame(&ServerFrame::Error {
                code: refusal.code,
                message: refusal.message,
                client_id: refusal.client_id,
                retry_after_ms: None,
                expires: refusal.expires,
            });
            return;
        }
        self.error(refusal.code, refusal.message, refusal.client_id, refusal.retry_after);
    }

    /// Tell a visitor under a plain mute (after `joined` and `resumed`); a shadow mute is never
    /// told.
    fn tell_mute(&self) {
        if let Some(mute) = self.state.mutes.check(self.address.ip).filter(|m| !m.shadow) {
            self.handle.send_frame(&crate::mutes::muted_frame(&mute));
        }
    }

    /// The tag of this connection's address on the bus: a keyed hash of its budget key, by which
    /// seats and slowmode are counted on every gateway.
    fn address_tag(&self) -> String {
        self.address.key().tag(self.state.config.owner_secret.expose_secret(), "address")
    }

    /// Who this connection is in sender envelopes and the delivery record.
    fn sender(&self) -> Sender {
        let tag = self.address_tag();
        // `AddressKey::tag` gives 24 hex digits (the address itself only without a secret,
        // which a gateway always has; such a tag is all zeros here).
        let address = AddressTag::parse(tag.as_bytes()).unwrap_or_else(AddressTag::zero);
        Sender { address, device: self.device }
    }

    /// Who this connection is when it reads history: its address and device tags, so it
    /// reads the messages only its own address or device may (a shadow mute's).
    fn viewer(&self) -> bus::Viewer {
        let sender = self.sender();
        bus::Viewer { address: sender.address.as_str().to_owned(), device: sender.device.map(|d| d.to_string()) }
    }

    /// This connection's presence holder id, also its roulette ticket id.
    fn holder(&self) -> String {
        format!("{}:{}", self.state.gateway_id, self.handle.id)
    }

    fn unavailable(&self, error: bus::BusError) {
        tracing::error!(%error, "bus call failed");
        self.error(ErrorCode::Unavailable, "the chat is temporarily unavailable; try again shortly", None, None);
    }
}
