//! What gateways and the bot exchange over the bus. Kept apart from the WebSocket frames (which
//! are the browser's contract) and from the database models (which are the bot's).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::frames::{MessageView, ReportReason, ReportVerdict};
use crate::input::RoomSlug;

/// The three kinds of room (`docs/protocol.md`, "Three kinds of room, one mechanism").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Made by moderators or operators; lives until deleted.
    Staff,
    /// Made by a visitor; lives until empty for a while.
    Visitor,
    /// A roulette pair; lives until one leaves.
    Roulette,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Visitor => "visitor",
            Self::Roulette => "roulette",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "staff" => Some(Self::Staff),
            "visitor" => Some(Self::Visitor),
            "roulette" => Some(Self::Roulette),
            _ => None,
        }
    }
}

/// A room as gateways need it: the bot's definition, published on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RoomDef {
    pub slug: RoomSlug,
    pub kind: RoomKind,
    pub title: String,
    pub topic: String,
    pub capacity: u32,
    /// Shown in `GET /api/rooms`.
    pub listed: bool,
    /// Nobody may join or speak.
    pub locked: bool,
    /// Minimum seconds between two messages of one person (0 = off).
    pub slowmode_secs: u32,
    /// Who opened a visitor room: a keyed hash of the address (never the address), so the
    /// per-address room limit holds across gateways. `None` for staff rooms and pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// An active ban, as gateways need it to refuse and drop connections.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BanDef {
    pub id: i64,
    /// An address or network in CIDR notation (`203.0.113.7/32`, `2001:db8::/64`).
    pub network: String,
    pub reason: String,
    pub expires: Option<DateTime<Utc>>,
    /// The case number the ban belongs to (absent for bans made before cases existed).
    #[serde(default)]
    pub case: Option<i64>,
}

/// An active mute, as gateways need it: matching visitors may read but not speak (or, with
/// `shadow`, speak to nobody but themselves without knowing it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MuteDef {
    pub id: i64,
    /// The case number the mute belongs to.
    pub case: i64,
    /// An address or network in CIDR notation, as in [`BanDef::network`].
    pub network: String,
    /// A device tag the mute also covers, when it was aimed at one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub reason: String,
    pub expires: Option<DateTime<Utc>>,
    /// A shadow mute: the visitor is never told.
    #[serde(default)]
    pub shadow: bool,
}

/// A visitor's report of a message, gateway → bot (the bot posts it to the reports channel).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReportEvent {
    /// The reported message's id (the bot reads the message and its context from the log).
    pub message: ulid::Ulid,
    pub room: RoomSlug,
    /// The reported message's nickname, as the reporter saw it.
    pub nick: String,
    pub reason: ReportReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The reporting connection (`gateway:conn`), where `report_outcome` is sent.
    pub reporter: String,
    pub reporter_ip: IpAddr,
    /// The reporter's device tag, when its client sent a device token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter_device: Option<String>,
    /// When the reporting connection opened (reports from visitors connected for less than 10
    /// minutes do not count toward an automatic mute).
    pub reporter_since: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// What a matching filter does to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterAction {
    /// Refuse the message (`filtered`).
    Block,
    /// Replace the match with asterisks.
    Mask,
}

/// A moderator's word or regex filter, enforced by every gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct FilterDef {
    pub id: i64,
    /// A word (matched whole, case-insensitively) or, with `regex`, a regular expression.
    pub pattern: String,
    pub regex: bool,
    pub action: FilterAction,
}

/// A message accepted by a gateway, with what only the bot may see.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LoggedMessage {
    pub message: MessageView,
    /// The sender's address, as the gateway determined it.
    pub ip: IpAddr,
    /// Sent under a shadow mute: delivered to the sender alone; staff see it marked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// The sender's device tag (a keyed hash of the device token its client sent), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Gateway → bot, over the durable queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A web message to log (and, with Discord on, to mirror).
    Message(LoggedMessage),
    /// A visitor room or roulette pair was opened by a gateway (recorded, later mirrored into
    /// a Discord thread).
    RoomOpened { room: RoomDef },
    /// A visitor room or roulette pair ended (its Discord thread is archived).
    RoomClosed { slug: RoomSlug },
    /// A visitor reported a message.
    Report(ReportEvent),
    /// A banned (or muted) visitor appealed their case (`POST /api/appeals`).
    Appeal(crate::appeals::AppealEvent),
    /// A visitor edited its own message (`edit`): logged beside the earlier texts, mirrored.
    MessageEdited(crate::changes::MessageChange),
    /// A visitor took back its own message (`delete`): the log marks it, the mirror too.
    MessageDeleted(crate::changes::MessageChange),
}

/// A roulette queue entry: one waiting connection and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RouletteTicket {
    /// The connection (`gateway:conn`), unique while it is connected.
    pub id: String,
    /// Where the match notice for this connection is published.
    pub inbox: RoomSlug,
    pub nick: String,
    /// The nickname's comparison key: two people with the same name are never paired.
    pub key: String,
    /// Normalised tags (see [`crate::input::parse_interests`]).
    pub interests: Vec<String>,
    /// From this time on (ms since the epoch) the ticket accepts anyone, not only people
    /// sharing an interest. Tickets without interests accept anyone at once.
    pub open_at_ms: i64,
    /// Connections this one must never be paired with (it blocked them).
    pub blocked: Vec<String>,
    /// The stranger of the previous chat: paired again only when nobody else is compatible.
    pub last_peer: Option<String>,
    /// Until this time (ms since the epoch) this ticket and `last_peer` are held apart when
    /// each names the other as its last stranger: two people who just parted are not paired
    /// again at once. 0 (an older gateway's ticket) holds nothing back.
    #[serde(default)]
    pub again_at_ms: i64,
}

/// How well two waiting tickets fit, best first; `None` means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    /// They share an interest.
    Shared,
    /// Both accept anyone now.
    Anyone,
    /// Compatible, but they were each other's previous stranger.
    Again,
}

impl RouletteTicket {
    pub fn accepts_anyone(&self, now_ms: i64) -> bool {
        self.interests.is_empty() || self.open_at_ms <= now_ms
    }

    /// Are these two held apart now? Only two tickets that name each other as their last
    /// stranger, until the later of their `again_at_ms`: once either met someone else since,
    /// nothing holds them apart (they are merely [`Fit::Again`]).
    pub fn held_apart(&self, other: &Self, now_ms: i64) -> bool {
        self.last_peer.as_deref() == Some(other.id.as_str())
            && other.last_peer.as_deref() == Some(self.id.as_str())
            && now_ms < self.again_at_ms.max(other.again_at_ms)
    }

    /// The rule of the matchmaker (the Redis bus runs the same rule in Lua).
    pub fn fit(&self, other: &Self, now_ms: i64) -> Option<Fit> {
        if self.id == other.id
            || self.key == other.key
            || self.blocked.contains(&other.id)
            || other.blocked.contains(&self.id)
            || self.held_apart(other, now_ms)
        {
            return None;
        }
        let again = self.last_peer.as_deref() == Some(other.id.as_str())
            || other.last_peer.as_deref() == Some(self.id.as_str());
        if self.interests.iter().any(|t| other.interests.contains(t)) {
            Some(if again { Fit::Again } else { Fit::Shared })
        } else if self.accepts_anyone(now_ms) && other.accepts_anyone(now_ms) {
            Some(if again { Fit::Again } else { Fit::Anyone })
        } else {
            None
        }
    }

    /// The interests both tickets carry, in this ticket's order.
    pub fn common(&self, other: &Self) -> Vec<String> {
        self.interests.iter().filter(|t| other.interests.contains(t)).cloned().collect()
    }
}

/// Pick the best partner for `ticket` among `waiting` (oldest first): the first with a shared
/// interest, else the first who accepts anyone, else a previous stranger.
pub fn best_match<'a>(
    ticket: &RouletteTicket,
    waiting: &'a [RouletteTicket],
    now_ms: i64,
) -> Option<&'a RouletteTicket> {
    let mut best: Option<(Fit, &RouletteTicket)> = None;
    for candidate in waiting {
        if let Some(fit) = ticket.fit(candidate, now_ms) {
            if fit == Fit::Shared {
                return Some(candidate);
            }
            if best.is_none_or(|(b, _)| fit < b) {
                best = Some((fit, candidate));
            }
        }
    }
    best.map(|(_, t)| t)
}

/// Gateway → gateway: the notice a waiting connection gets on its inbox when paired.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RouletteMatch {
    /// The pair's private room (already published).
    pub room: RoomDef,
    /// The stranger's ticket.
    pub stranger: RouletteTicket,
    pub common: Vec<String>,
}

/// Bot → every gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlEvent {
    /// A room was created or changed.
    RoomUpserted { room: RoomDef },
    /// A room was deleted; its members are sent away, unless `ended`: a pair (or visitor room)
    /// that ended because it was left empty, where whoever still listens is on the way in and
    /// must not be kicked (absent from older senders: false).
    RoomRemoved {
        slug: RoomSlug,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ended: bool,
    },
    /// A ban takes effect: matching sockets are closed, new ones refused.
    BanAdded { ban: BanDef },
    /// A ban was lifted (or expired).
    BanLifted { id: i64 },
    /// Remove one person from a room.
    Kick { room: RoomSlug, nick: String, reason: String },
    /// The filter list changed; this is the whole new list.
    FiltersChanged { filters: Vec<FilterDef> },
    /// A mute takes effect: matching visitors are told (unless `shadow`) and silenced.
    MuteAdded { mute: MuteDef },
    /// A mute was lifted (or expired).
    MuteLifted { id: i64 },
    /// Moderators warned whoever connects from `networks` (CIDR) or with `device`.
    Warned {
        case: i64,
        networks: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        reason: String,
    },
    /// Moderators decided about a report: tell the reporting connection (`gateway:conn`) if it
    /// is still open.
    ReportOutcome { reporter: String, id: ulid::Ulid, outcome: ReportVerdict },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(id: &str, interests: &[&str], open_at_ms: i64) -> RouletteTicket {
        RouletteTicket {
            id: id.into(),
            inbox: RoomSlug::parse(&format!("q-{id}")).unwrap(),
            nick: id.into(),
            key: id.into(),
            interests: interests.iter().map(|s| (*s).to_owned()).collect(),
            open_at_ms,
            blocked: vec![],
            last_peer: None,
            again_at_ms: 0,
        }
    }

    #[test]
    fn shared_interests_come_first_then_anyone_then_the_last_stranger() {
        let me = RouletteTicket { last_peer: Some("old".into()), ..ticket("me", &["go"], 0) };
        let waiting = vec![ticket("old", &[], 0), ticket("any", &[], 0), ticket("gopher", &["rust", "go"], 100)];
        assert_eq!(best_match(&me, &waiting, 10).unwrap().id, "gopher");
        assert_eq!(best_match(&me, &waiting[..2], 10).unwrap().id, "any");
        assert_eq!(best_match(&me, &waiting[..1], 10).unwrap().id, "old");
        assert_eq!(me.common(&waiting[2]), vec!["go".to_owned()]);
    }

    #[test]
    fn interests_wait_for_their_deadline_and_blocks_are_mutual() {
        let picky = ticket("picky", &["chess"], 1_000);
        let plain = ticket("plain", &[], 0);
        assert_eq!(picky.fit(&plain, 999), None);
        assert_eq!(picky.fit(&plain, 1_000), Some(Fit::Anyone));
        let blocker = RouletteTicket { blocked: vec!["plain".into()], ..ticket("blocker", &[], 0) };
        assert_eq!(blocker.fit(&plain, 0), None);
        assert_eq!(plain.fit(&blocker, 0), None);
        let twin = RouletteTicket { key: "plain".into(), ..ticket("twin", &[], 0) };
        assert_eq!(twin.fit(&plain, 0), None, "same nickname");
    }

    #[test]
    fn two_who_just_parted_are_held_apart_until_the_later_deadline_or_another_match() {
        let a = RouletteTicket { last_peer: Some("b".into()), again_at_ms: 1_000, ..ticket("a", &[], 0) };
        let b = RouletteTicket { last_peer: Some("a".into()), again_at_ms: 1_500, ..ticket("b", &[], 0) };
        assert_eq!(a.fit(&b, 999), None);
        assert_eq!(b.fit(&a, 1_499), None, "held until the later of the two deadlines");
        assert_eq!(a.fit(&b, 1_500), Some(Fit::Again), "then the last resort, as before");
        assert_eq!(best_match(&a, std::slice::from_ref(&b), 10), None);
        // Once one of them met someone else, they are no longer held apart.
        let b_moved_on = RouletteTicket { last_peer: Some("c".into()), ..b.clone() };
        assert_eq!(a.fit(&b_moved_on, 10), Some(Fit::Again));
        // Someone else is never held back by it.
        assert_eq!(a.fit(&ticket("c", &[], 0), 10), Some(Fit::Anyone));
    }
}
