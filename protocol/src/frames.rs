//! The WebSocket contract (`docs/protocol.md`, "The public contract"): JSON text frames, each an
//! object with a `"type"` field. Inbound and outbound are separate enums so neither side can send
//! the other's frames by mistake.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::input::{MESSAGE_MAX, NICK_MAX, NICK_MIN};

/// Largest WebSocket message a client may send; larger ones close the socket with 1009.
pub const FRAME_MAX_BYTES: usize = 64 * 1024;
/// Longest `client_id` echoed back to a client.
pub const CLIENT_ID_MAX: usize = 64;

/// Every frame type a client may send, for telling `unknown_type` from `bad_frame`.
pub const CLIENT_FRAME_TYPES: &[&str] = &[
    "join", "say", "typing", "leave", "ping", "roulette", "next", "create", "resume", "report", "react", "edit",
    "delete",
];

/// Longest note a visitor may add to a report.
pub const REPORT_NOTE_MAX: usize = 500;
/// Characters of the original message quoted in a reply's `reply_to.excerpt`.
pub const REPLY_EXCERPT_CHARS: usize = 80;
/// The reactions offered when `REACTIONS` is not set.
pub const DEFAULT_REACTIONS: &[&str] = &["👍", "❤️", "😂", "😮", "😢", "👎"];
/// Seconds after sending during which a visitor may edit or delete a message, unless
/// `EDIT_WINDOW_SECS` says otherwise.
pub const DEFAULT_EDIT_WINDOW_SECS: u64 = 300;

/// A frame from the browser.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Enter `room` as `nick`, leaving any room this connection is in. `since` is the last
    /// message id the client saw: history after it is replayed.
    Join {
        room: String,
        nick: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Ulid>,
    },
    /// Post a message to the current room. `client_id` is echoed in the `ack` or `error`;
    /// `reply_to` names a message of the same room this one answers.
    Say {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Ulid>,
    },
    /// The person is typing; relayed to the room as `typing {nick}`.
    Typing {},
    /// Leave the current room, or stop waiting for a roulette stranger.
    Leave {},
    /// Application-level keepalive, answered by `pong`.
    Ping {},
    /// Be paired with one random stranger as `nick`; people sharing one of the `interests`
    /// (up to 5 tags) are paired first. Leaves any room this connection is in.
    Roulette {
        nick: String,
        #[serde(default)]
        interests: Vec<String>,
    },
    /// End the current roulette chat and queue again; with `block`, never pair these two again
    /// while either stays connected.
    Next {
        #[serde(default)]
        block: bool,
    },
    /// Open a visitor room holding `capacity` people; `listed` shows it in the public list.
    /// Answered by `created`; the client then `join`s it.
    Create {
        title: String,
        capacity: u32,
        #[serde(default)]
        listed: bool,
    },
    /// The first frame of a reconnecting client: take back the session `token` names (the
    /// `resume` of its last `joined`, `matched` or `resumed`). `since` is the last message id
    /// the client saw. Answered by `resumed`, or `error` `resume_expired`.
    Resume {
        token: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Ulid>,
    },
    /// Report message `id` (one this connection received) to the moderators, with a `reason`
    /// and an optional `note` (at most [`REPORT_NOTE_MAX`] characters). Answered by `reported`.
    Report {
        id: Ulid,
        reason: ReportReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Toggle this device's (or, without a device, this connection's) reaction `emoji` (one of
    /// `hello.limits.reactions`) on message `id` of the current room. The room gets `reactions`.
    React { id: Ulid, emoji: String },
    /// Change the text of one's own message `id` within `hello.limits.edit_window_secs`.
    /// Everyone in the room gets `edited`; refusals: `not_yours`, `edit_window_over`,
    /// `unknown_message`, `rate_limited`, `muted`, and the refusals of `say`.
    Edit {
        id: Ulid,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Take back one's own message `id` within the edit window. Everyone in the room gets
    /// `deleted`; the log keeps the text for moderators.
    Delete { id: Ulid },
}

/// Why a visitor reports a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Spam,
    Harassment,
    Sexual,
    Hate,
    MinorSafety,
    Other,
}

impl ReportReason {
    /// The reason as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Harassment => "harassment",
            Self::Sexual => "sexual",
            Self::Hate => "hate",
            Self::MinorSafety => "minor_safety",
            Self::Other => "other",
        }
    }
}

/// What moderators decided about a report, in `report_outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportVerdict {
    /// The reported visitor was banned.
    Banned,
    /// The reported visitor was muted.
    Muted,
    /// Moderators saw nothing to act on.
    Dismissed,
}

/// When a sanction ends, in an `error` frame: serialised as an RFC 3339 string, or `null` for
/// "until lifted" (the field itself is absent on errors that are not about a sanction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Expires(pub Option<DateTime<Utc>>);

/// A message as everyone in the room sees it (no IP, ever).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct MessageView {
    pub id: Ulid,
    pub room: String,
    pub nick: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub staff: bool,
    /// The message this one answers (absent when it answers none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyRef>,
    /// When its text last changed (absent when never edited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<DateTime<Utc>>,
    /// Reactions on it (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<ReactionCounts>,
    /// `false` when its URLs must be shown as plain text (a sender still in the trust tier of a
    /// room whose `links` setting is `inert`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<bool>,
}

/// The message a reply answers, as shown above the reply.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReplyRef {
    pub id: Ulid,
    pub nick: String,
    /// The first [`REPLY_EXCERPT_CHARS`] characters of the original's text.
    pub excerpt: String,
}

impl ReplyRef {
    /// The reference to message `id` by `nick` whose text is `text`: its first
    /// [`REPLY_EXCERPT_CHARS`] characters.
    pub fn of(id: Ulid, nick: &str, text: &str) -> Self {
        Self { id, nick: nick.to_owned(), excerpt: text.chars().take(REPLY_EXCERPT_CHARS).collect() }
    }
}

/// Reaction totals on one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReactionCounts {
    /// Emoji → how many devices (or connections) reacted with it; emoji with 0 are left out.
    pub counts: BTreeMap<String, u32>,
    /// Emoji that moderators added in Discord (any emoji, shown as staff reactions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff: Vec<String>,
}

/// Limits announced in `hello`, so clients can check input before sending it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Limits {
    pub nick_min: usize,
    pub nick_max: usize,
    pub message_max: usize,
    pub frame_max: usize,
    pub rate: RateLimit,
    /// The emoji `react` accepts (`REACTIONS`).
    #[serde(default)]
    pub reactions: Vec<String>,
    /// Seconds after sending during which `edit` and `delete` are accepted (`EDIT_WINDOW_SECS`).
    #[serde(default)]
    pub edit_window_secs: u64,
}

/// Token bucket for `say`: `burst` messages at once, refilled at `per_second`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: f64,
}

impl Limits {
    pub fn new(rate: RateLimit) -> Self {
        Self {
            nick_min: NICK_MIN,
            nick_max: NICK_MAX,
            message_max: MESSAGE_MAX,
            frame_max: FRAME_MAX_BYTES,
            rate,
            reactions: DEFAULT_REACTIONS.iter().map(|e| (*e).to_owned()).collect(),
            edit_window_secs: DEFAULT_EDIT_WINDOW_SECS,
        }
    }
}

/// What happened to a member, in a `presence` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    Join,
    Leave,
    Kick,
}

/// A frame to the browser.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Hello { version: String, limits: Limits },
    /// The connection is now in `room` as `nick`; `history` is the recent past (after `since`);
    /// `locked` and `slowmode_secs` are the room's state as it was joined (`room_updated` follows
    /// every change).
    Joined {
        room: String,
        nick: String,
        members: Vec<String>,
        history: Vec<MessageView>,
        locked: bool,
        slowmode_secs: u32,
        /// Names this session for `resume` after a dropped socket (absent when resuming is off).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// Moderators changed the room: its lock or slow mode (0 = off). Sent to every member.
    RoomUpdated { room: String, locked: bool, slowmode_secs: u32 },
    /// A message in the room, sent to every member including its author.
    Message(MessageView),
    /// The server accepted a `say`; `id` is the message's id.
    Ack {
        id: Ulid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Someone joined, left, or was removed.
    Presence { event: PresenceEvent, nick: String },
    /// Someone is typing.
    Typing { nick: String },
    /// A message's text changed (its author's `edit`, or a staff edit in Discord); `at` is when.
    Edited {
        id: Ulid,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// A message was removed (by its author's `delete`, or by a moderator).
    Deleted { id: Ulid },
    /// Reaction totals on message `id` changed. `mine` (only to the connection whose `react`
    /// caused it, and on its other tabs) lists the emoji this device has on it.
    Reactions {
        id: Ulid,
        #[serde(flatten)]
        reactions: ReactionCounts,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mine: Option<Vec<String>>,
    },
    /// This connection was removed from the service; the server closes it next.
    Kicked { reason: String },
    /// The gateway is restarting: it closes this socket next (close code 1012); connect again
    /// after `retry_after_ms` (already jittered per socket).
    Restarting { retry_after_ms: u64 },
    /// Something the client sent was refused; the connection stays usable.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// On `muted`: when the mute ends (`null` = until lifted); absent on other errors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<Expires>,
    },
    /// Answer to `ping`.
    Pong {},
    /// In the roulette queue, with the interests as the server understood them.
    Waiting {
        interests: Vec<String>,
        /// How many others wait in the queue now, when the bus could tell.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        looking: Option<u64>,
        /// People connected now across every gateway, when the bus could tell.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        online: Option<u64>,
    },
    /// Paired with a stranger in the private `room` (a `joined` follows); `common` lists the
    /// interests both gave (empty when they were paired without one in common).
    Matched {
        room: String,
        stranger: String,
        common: Vec<String>,
        /// Names this session for `resume` (the `joined` that follows carries the same token).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// The roulette stranger left (next, leave, disconnect or kick).
    StrangerLeft {},
    /// A visitor room was opened; `invite` is the path of its shareable link.
    Created { room: String, invite: String },
    /// Answer to `resume`: the session is back in `room` as `nick`, with the messages it
    /// `missed` (`gap`: more were missed than the room's history holds), a new `resume` token,
    /// and in a roulette pair the `stranger` when still there.
    Resumed {
        room: String,
        nick: String,
        members: Vec<String>,
        missed: Vec<MessageView>,
        gap: bool,
        locked: bool,
        slowmode_secs: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stranger: Option<String>,
    },
    /// The roulette stranger's socket dropped; they may be back within `RESUME_SECS`.
    StrangerReconnecting {},
    /// The roulette stranger who was reconnecting is back.
    StrangerBack {},
    /// The report of message `id` was received (it is on its way to the moderators).
    Reported { id: Ulid },
    /// Moderators decided about this connection's report of message `id`.
    ReportOutcome { id: Ulid, outcome: ReportVerdict },
    /// This visitor is muted (case number `case`): it may read but not speak until `expires`
    /// (`null` = until lifted). Sent when the mute is imposed and on every join while it holds.
    Muted { case: Option<i64>, reason: String, expires: Option<DateTime<Utc>> },
    /// Moderators warned this visitor (case number `case`).
    Warned { case: i64, reason: String },
}

impl ServerFrame {
    /// An error frame without client id or retry hint.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error { code, message: message.into(), client_id: None, retry_after_ms: None, expires: None }
    }

    /// Serialise to JSON text. Serialising these types cannot fail (no maps with non-string
    /// keys, no foreign `Serialize` impls), so failure is reported as a generic error frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"type":"error","code":"unavailable","message":"internal: {e}"}}"#))
    }
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::UnknownType => "unknown_type",
            Self::InvalidNick => "invalid_nick",
            Self::NickTaken => "nick_taken",
            Self::UnknownRoom => "unknown_room",
            Self::RoomFull => "room_full",
            Self::RoomLocked => "room_locked",
            Self::NotInRoom => "not_in_room",
            Self::EmptyMessage => "empty_message",
            Self::TooLong => "too_long",
            Self::RateLimited => "rate_limited",
            Self::Slowmode => "slowmode",
            Self::Filtered => "filtered",
            Self::TooManyRooms => "too_many_rooms",
            Self::TooManySeats => "too_many_seats",
            Self::Banned => "banned",
            Self::Unavailable => "unavailable",
            Self::ResumeExpired => "resume_expired",
            Self::Muted => "muted",
            Self::UnknownMessage => "unknown_message",
            Self::AlreadyReported => "already_reported",
            Self::CannotReportSelf => "cannot_report_self",
            Self::NotYours => "not_yours",
            Self::EditWindowOver => "edit_window_over",
            Self::LinksNotYet => "links_not_yet",
            Self::PasteNotYet => "paste_not_yet",
            Self::Repeated => "repeated",
        }
    }
}

/// Stable, snake_case error codes (`docs/protocol.md` lists them; extend, never rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    UnknownType,
    InvalidNick,
    NickTaken,
    UnknownRoom,
    RoomFull,
    RoomLocked,
    NotInRoom,
    EmptyMessage,
    TooLong,
    RateLimited,
    Slowmode,
    Filtered,
    TooManyRooms,
    /// The address holds `SEATS_PER_ADDRESS` seats in the room already.
    TooManySeats,
    Banned,
    Unavailable,
    /// `resume` named no session: unknown, spent, revoked, or older than `RESUME_SECS`.
    ResumeExpired,
    /// The visitor is muted: `say`, `create`, `typing` (and later `react`, `edit`) are refused.
    Muted,
    /// `report` of a message this connection did not receive (or no longer remembers).
    UnknownMessage,
    /// This connection (or device) already reported that message.
    AlreadyReported,
    /// A report of one's own message (same connection or same device).
    CannotReportSelf,
    /// `edit` or `delete` of a message this session did not send.
    NotYours,
    /// `edit` or `delete` after `EDIT_WINDOW_SECS`.
    EditWindowOver,
    /// A visitor still in the trust tier sent a link where the room's `links` setting refuses it.
    LinksNotYet,
    /// A visitor still in the trust tier sent a long paste.
    PasteNotYet,
    /// The same text again, too soon (visitors in the trust tier).
    Repeated,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_by_type() {
        let f: ClientFrame = serde_json::from_str(r#"{"type":"say","text":"hi","extra":1}"#).unwrap();
        assert_eq!(f, ClientFrame::Say { text: "hi".into(), client_id: None, reply_to: None });
        let f: ClientFrame = serde_json::from_str(r#"{"type":"typing"}"#).unwrap();
        assert_eq!(f, ClientFrame::Typing {});
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"join","room":"x"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"say","text":5}"#).is_err());
    }

    #[test]
    fn error_code_names_match_the_wire() {
        for code in [
            ErrorCode::BadFrame,
            ErrorCode::RoomFull,
            ErrorCode::TooManyRooms,
            ErrorCode::TooManySeats,
            ErrorCode::Unavailable,
            ErrorCode::NotYours,
            ErrorCode::EditWindowOver,
            ErrorCode::LinksNotYet,
            ErrorCode::PasteNotYet,
            ErrorCode::Repeated,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn server_frames_have_the_contract_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&ServerFrame::error(ErrorCode::RoomFull, "full").to_json()).unwrap();
        assert_eq!(v, serde_json::json!({"type":"error","code":"room_full","message":"full"}));
        let msg = MessageView {
            id: Ulid::nil(),
            room: "lobby".into(),
            nick: "Al".into(),
            text: "x".into(),
            at: DateTime::UNIX_EPOCH,
            staff: false,
            ..MessageView::default()
        };
        let v: serde_json::Value = serde_json::from_str(&ServerFrame::Message(msg).to_json()).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["id"], "00000000000000000000000000");
        assert_eq!(v["at"], "1970-01-01T00:00:00Z");
        assert_eq!(ServerFrame::Pong {}.to_json(), r#"{"type":"pong"}"#);
    }
}
