//! Admission: the one place every parsed frame passes before the connection acts on it.
//!
//! [`Conn::admit`] runs a frame's checks in a fixed order and either hands back what the frame
//! may do ([`Admitted`], with what the checks worked out: the room, the cleaned nickname or
//! text) or the [`Refusal`] to answer it with. The checks, by frame:
//! - `join`: ban, nickname, room (pairs are never joined by name), lock, the address's joins.
//! - `say`: `client_id`, in a room, mute, text, filters, lock, the socket's and the address's
//!   message buckets, slowmode (on the bus, per room and address).
//!   With `reply_to`, the message answered is looked up first (`unknown_message`; see `reply`).
//! - `edit`: `client_id`, in a room, the message (`unknown_message`), its author (`not_yours`),
//!   the window (`edit_window_over`), then every check of `say` on the new text. `delete`: in a
//!   room, the message, its author, the window, mute, the message buckets (see `edit`).
//! - `typing`: in a room, one per interval (more are folded, not refused), mute, lock, the
//!   address's typing bucket.
//! - `leave`: in a room or waiting. `ping`: nothing.
//! - `roulette`: ban, nickname, interests, the address's joins.
//! - `next`: in the roulette, then the stranger is let go, then (unless already waiting) the
//!   address's joins.
//! - `create`: ban, mute, title, filters on the title, capacity, the address's joins.
//!
//! A plain mute refuses with `muted` (and its `expires`); a shadow mute refuses nothing: its
//! `say` is admitted marked `shadow` (kept to the sender) and its `typing` folded.
//! - `resume`: the first frame, ban (against the new address), the address's joins (see
//!   `resume`).
//! - `report`: the note's length, a message this connection received, not its own, not
//!   reported before, the address's report bucket (see `report`).
//! - `react`: in a room, an offered emoji, mute (a shadow mute is kept apart), lock, the
//!   address's reaction bucket, a message the room's history or this connection's deliveries
//!   know (see `react`).
//!
//! Two limits can only be checked by taking what they limit, atomically on the bus, so they are
//! refused while acting, with the refusals written here: seats (capacity, seats per address,
//! nickname taken; [`seat`]) and visitor rooms per address ([`too_many_rooms`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::frames::CLIENT_ID_MAX;
use protocol::input::TextError;
use protocol::{ClientFrame, ErrorCode, MessageText, Nickname, RoomDef, RoomKind, RoomSlug, RoomTitle};
use ulid::Ulid;

use super::Conn;
use crate::GatewayConfig;
use crate::filters::Verdict;

/// A frame that passed admission, with what admission worked out for it.
pub(super) enum Admitted {
    Join {
        room: Arc<RoomDef>,
        nick: Nickname,
        since: Option<Ulid>,
    },
    /// `text` has been through the filters (masked where they mask).
    Say {
        room: Arc<RoomDef>,
        text: String,
        client_id: Option<String>,
        /// Shadow-muted: delivered to the sender alone (see `say`).
        shadow: bool,
        /// The message it answers (see `reply`).
        reply_to: Option<protocol::frames::ReplyRef>,
    },
    /// The author's new text for its message `id` (see `edit`), through the checks of `say`.
    Edit {
        id: Ulid,
        room: Arc<RoomDef>,
        text: String,
        client_id: Option<String>,
        shadow: bool,
    },
    /// The author takes back its message `id` (see `edit`).
    Delete {
        id: Ulid,
        room: Arc<RoomDef>,
        shadow: bool,
    },
    Typing,
    /// A typing indicator within the interval: folded into the one relayed, nothing to do.
    Folded,
    Leave,
    Ping,
    Roulette {
        nick: Nickname,
        interests: Vec<String>,
    },
    Next,
    /// `next` while already waiting for a stranger: nothing changes.
    StillWaiting,
    Create {
        title: String,
        capacity: u32,
        listed: bool,
    },
    Resume {
        token: String,
        since: Option<Ulid>,
    },
    /// What the report says, ready for the bot's queue.
    Report(Box<protocol::ReportEvent>),
    /// A reaction to toggle on message `id` of the current room (see `react`).
    React {
        id: Ulid,
        emoji: String,
        /// Shadow-muted: kept apart and shown to the reactor alone.
        shadow: bool,
    },
}

/// A refused frame: the `error` frame that answers it.
pub(super) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub client_id: Option<String>,
    pub retry_after: Option<Duration>,
    /// On `muted`: when the mute ends.
    pub expires: Option<protocol::Expires>,
}

impl Refusal {
    pub(super) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), client_id: None, retry_after: None, expires: None }
    }

    /// The refusal of a `say` frame, which names the message it refuses.
    pub(super) fn of_message(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id;
        self
    }

    pub(super) fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
}

/// Turn the bus's answer to a seat claim in `def` into the member list, or the refusal.
pub(super) fn seat(
    claim: bus::SeatClaim,
    def: &RoomDef,
    nick: &Nickname,
    per_address: u32,
) -> Result<Vec<String>, Refusal> {
    match claim {
        bus::SeatClaim::Granted { members } => Ok(members),
        bus::SeatClaim::Full => {
            Err(Refusal::new(ErrorCode::RoomFull, format!("{} is full: it holds {} at most", def.title, def.capacity)))
        }
        bus::SeatClaim::TooManySeats => Err(Refusal::new(
            ErrorCode::TooManySeats,
            format!("your address already holds {per_address} seats in {}", def.title),
        )),
        bus::SeatClaim::NickTaken => Err(Refusal::new(
            ErrorCode::NickTaken,
            format!("Somebody in {} is already called {nick}; pick another nickname", def.title),
        )),
    }
}

/// The refusal of a visitor room the bus would not open: the address has as many as it may.
pub(super) fn too_many_rooms(config: &GatewayConfig) -> Refusal {
    let per_ip = config.visitor_rooms_per_ip;
    let idle = config.visitor_room_idle.as_secs();
    Refusal::new(
        ErrorCode::TooManyRooms,
        format!("your address already has {per_ip} open rooms; a room closes {idle} s after its last member leaves"),
    )
}

pub(super) fn locked(room: &RoomDef) -> Refusal {
    Refusal::new(ErrorCode::RoomLocked, format!("{} is locked by the moderators", room.title))
}

impl Conn {
    /// Run `frame`'s checks, in order: what it may do, or why not.
    pub(super) async fn admit(&mut self, frame: ClientFrame) -> Result<Admitted, Refusal> {
        match frame {
            ClientFrame::Join { room, nick, since } => self.admit_join(&room, &nick, since),
            ClientFrame::Say { text, client_id, reply_to } => {
                // The message answered is looked up first: a refused reply costs no token.
                let reply_to = match reply_to {
                    Some(id) if self.joined.is_some() => {
                        Some(self.reply_ref(id).await.map_err(|r| r.of_message(client_id.clone()))?)
                    }
                    _ => None,
                };
                let mut admitted = self.admit_say(&text, client_id).await?;
                if let Admitted::Say { reply_to: reply, .. } = &mut admitted {
                    *reply = reply_to;
                }
                Ok(admitted)
            }
            ClientFrame::Typing {} => self.admit_typing(),
            ClientFrame::Leave {} => {
                if self.waiting.is_none() && self.joined.is_none() {
                    return Err(Refusal::new(ErrorCode::NotInRoom, "you are not in a room"));
                }
                Ok(Admitted::Leave)
            }
            ClientFrame::Ping {} => Ok(Admitted::Ping),
            ClientFrame::Roulette { nick, interests } => self.admit_roulette(&nick, &interests),
            ClientFrame::Next { block } => self.admit_next(block),
            ClientFrame::Create { title, capacity, listed } => self.admit_create(&title, capacity, listed),
            ClientFrame::Resume { token, since } => self.admit_resume(token, since),
            ClientFrame::Report { id, reason, note } => self.admit_report(id, reason, note).await,
            ClientFrame::Edit { id, text, client_id } => self.admit_edit(id, &text, client_id).await,
            ClientFrame::Delete { id } => self.admit_delete(id).await,
            ClientFrame::React { id, emoji } => self.admit_react(id, emoji).await,
        }
    }

    /// Seats this connection's address may hold in `def`: a pair seats its two members whatever
    /// their addresses.
    pub(super) fn seats_per_address(&self, def: &RoomDef) -> u32 {
        if def.kind == RoomKind::Roulette {
            def.capacity
        } else {
            self.address.scale(self.state.config.seats_per_address)
        }
    }

    /// Refuse (with `banned`) when a ban covers this address. Sockets are closed when a ban
    /// arrives; this covers the moment in between.
    pub(super) fn check_ban(&self) -> Result<(), Refusal> {
        let Some(ban) = self.state.bans.check(self.address.ip) else {
            return Ok(());
        };
        let message =
            if ban.reason.is_empty() { "you are banned".to_owned() } else { format!("you are banned: {}", ban.reason) };
        Err(Refusal::new(ErrorCode::Banned, message))
    }

    /// Refuse (with `muted`) when a plain mute covers this address; `Ok(true)` under a shadow
    /// mute, which refuses nothing (the visitor must not learn of it).
    pub(super) fn check_mute(&self) -> Result<bool, Refusal> {
        let Some(mute) = self.state.mutes.check(self.address.ip) else {
            return Ok(false);
        };
        if mute.shadow {
            return Ok(true);
        }
        let (code, message, expires) = crate::mutes::refusal_text(&mute);
        let mut refusal = Refusal::new(code, message);
        refusal.expires = Some(expires);
        Err(refusal)
    }

    /// Take a token from the address's join bucket (joins, roulette, next, create), or refuse.
    pub(super) fn take_join(&mut self) -> Result<(), Refusal> {
        let now = Instant::now();
        let taken = self.limits.address(&self.state, &self.address, now).joins.take(now);
        taken.map_err(|wait| {
            Refusal::new(ErrorCode::RateLimited, "too many joins from your address; wait a moment").retry_after(wait)
        })
    }

    fn admit_join(&mut self, room: &str, nick: &str, since: Option<Ulid>) -> Result<Admitted, Refusal> {
        self.check_ban()?;
        let nick = Nickname::parse(nick).map_err(|e| Refusal::new(ErrorCode::InvalidNick, e.to_string()))?;
        // Pairs are private: only the matchmaker seats people there.
        let Some(room) = RoomSlug::parse(room)
            .ok()
            .and_then(|slug| self.state.directory.get(&slug))
            .filter(|def| def.kind != RoomKind::Roulette)
        else {
            let shown: String = room.chars().take(40).collect();
            return Err(Refusal::new(ErrorCode::UnknownRoom, format!("there is no room {shown:?}")));
        };
        if room.locked {
            return Err(locked(&room));
        }
        self.take_join()?;
        Ok(Admitted::Join { room, nick, since })
    }

    pub(super) async fn admit_say(&mut self, text: &str, client_id: Option<String>) -> Result<Admitted, Refusal> {
        if client_id.as_ref().is_some_and(|c| c.chars().count() > CLIENT_ID_MAX) {
            return Err(Refusal::new(ErrorCode::BadFrame, format!("client_id is at most {CLIENT_ID_MAX} characters")));
        }
        let Some(joined) = &self.joined else {
            return Err(Refusal::new(ErrorCode::NotInRoom, "join a room before sending messages").of_message(client_id));
        };
        let shadow = match self.check_mute() {
            Ok(shadow) => shadow,
            Err(refusal) => return Err(refusal.of_message(client_id)),
        };
        // The definition may have changed since joining.
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        let text = match MessageText::parse(text) {
            Ok(text) => text,
            Err(TextError::Empty) => {
                return Err(Refusal::new(ErrorCode::EmptyMessage, "the message is empty").of_message(client_id));
            }
            Err(e @ TextError::TooLong(_)) => {
                return Err(Refusal::new(ErrorCode::TooLong, e.to_string()).of_message(client_id));
            }
        };
        let text = match self.state.filters.apply(text.into_string()) {
            Verdict::Pass(text) => text,
            Verdict::Blocked => {
                let message = "your message contains something this chat does not allow";
                return Err(Refusal::new(ErrorCode::Filtered, message).of_message(client_id));
            }
        };
        if room.locked {
            return Err(locked(&room).of_message(client_id));
        }
        let now = Instant::now();
        if let Err(wait) = self.limits.take_say(now) {
            let refusal = Refusal::new(ErrorCode::RateLimited, "you are sending messages too fast");
            return Err(refusal.of_message(client_id).retry_after(wait));
        }
        let address_limit = self.limits.address(&self.state, &self.address, now).say.take(now);
        if let Err(wait) = address_limit {
            let refusal = Refusal::new(ErrorCode::RateLimited, "your address is sending messages too fast");
            return Err(refusal.of_message(client_id).retry_after(wait));
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
                    return Err(Refusal::new(ErrorCode::Slowmode, message).of_message(client_id).retry_after(wait));
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot check slowmode");
                    let message = "the chat is temporarily unavailable; your message was not sent";
                    return Err(Refusal::new(ErrorCode::Unavailable, message).of_message(client_id));
                }
            }
        }
        Ok(Admitted::Say { room, text, client_id, shadow, reply_to: None })
    }

    fn admit_typing(&mut self) -> Result<Admitted, Refusal> {
        let Some(joined) = &self.joined else {
            return Err(Refusal::new(ErrorCode::NotInRoom, "you are not in a room"));
        };
        let now = Instant::now();
        // Relayed at most once per interval: typing indicators need no more (what comes sooner
        // is folded into the one relayed, not refused).
        if self.limits.last_typing.is_some_and(|t| now.duration_since(t) < self.state.config.typing_interval) {
            return Ok(Admitted::Folded);
        }
        let room = self.state.directory.get(&joined.room.slug).unwrap_or_else(|| joined.room.clone());
        match self.check_mute() {
            Ok(false) => {}
            // A shadow-muted visitor's typing reaches nobody.
            Ok(true) => {
                self.limits.last_typing = Some(now);
                return Ok(Admitted::Folded);
            }
            Err(refusal) => {
                // One refusal per interval, like one relay.
                self.limits.last_typing = Some(now);
                return Err(refusal);
            }
        }
        if room.locked {
            // One refusal per interval too, like one relay.
            self.limits.last_typing = Some(now);
            return Err(locked(&room));
        }
        let address_limit = self.limits.address(&self.state, &self.address, now).typing.take(now);
        if let Err(wait) = address_limit {
            return Err(Refusal::new(ErrorCode::RateLimited, "your address is typing too much").retry_after(wait));
        }
        self.limits.last_typing = Some(now);
        Ok(Admitted::Typing)
    }

    fn admit_roulette(&mut self, nick: &str, interests: &[String]) -> Result<Admitted, Refusal> {
        self.check_ban()?;
        let nick = Nickname::parse(nick).map_err(|e| Refusal::new(ErrorCode::InvalidNick, e.to_string()))?;
        // Counted before anything else: a frame of thousands of tags costs its count only.
        if interests.len() > protocol::input::INTERESTS_MAX {
            let e = protocol::input::InterestError::TooMany;
            return Err(Refusal::new(ErrorCode::BadFrame, e.to_string()));
        }
        metrics::counter!("chat_interests_parsed_total").increment(interests.len() as u64);
        let interests = protocol::input::parse_interests(interests)
            .map_err(|e| Refusal::new(ErrorCode::BadFrame, e.to_string()))?;
        self.take_join()?;
        Ok(Admitted::Roulette { nick, interests })
    }

    fn admit_next(&mut self, block: bool) -> Result<Admitted, Refusal> {
        if self.roulette.is_none() {
            return Err(Refusal::new(ErrorCode::NotInRoom, "press Roulette first: next finds you another stranger"));
        }
        // The stranger is let go before the joins are counted: a refused `next` still ends
        // this connection's side of the pair.
        if !self.let_go_of_stranger(block) && self.waiting.is_some() {
            return Ok(Admitted::StillWaiting);
        }
        self.take_join()?;
        Ok(Admitted::Next)
    }

    fn admit_create(&mut self, title: &str, capacity: u32, listed: bool) -> Result<Admitted, Refusal> {
        self.check_ban()?;
        self.check_mute()?;
        let title = RoomTitle::parse(title).map_err(|e| Refusal::new(ErrorCode::BadFrame, e.to_string()))?;
        // Titles go through the filters as messages do: shown in room lists and in Discord.
        let title = match self.state.filters.apply(title.as_str().to_owned()) {
            Verdict::Pass(title) => title,
            Verdict::Blocked => {
                let message = "the room title contains something this chat does not allow";
                return Err(Refusal::new(ErrorCode::Filtered, message));
            }
        };
        let max = self.state.config.visitor_room_max_capacity;
        if !(2..=max).contains(&capacity) {
            return Err(Refusal::new(ErrorCode::BadFrame, format!("capacity must be between 2 and {max}")));
        }
        self.take_join()?;
        Ok(Admitted::Create { title, capacity, listed })
    }
}
