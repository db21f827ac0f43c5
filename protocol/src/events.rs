//! What gateways and the bot exchange over the bus. Kept apart from the WebSocket frames (which
//! are the browser's contract) and from the database models (which are the bot's).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::frames::MessageView;
use crate::input::RoomSlug;

/// The three kinds of room (DESIGN.md, "Three kinds of room, one mechanism").
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
}

/// An active ban, as gateways need it to refuse and drop connections.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BanDef {
    pub id: i64,
    /// An address or network in CIDR notation (`203.0.113.7/32`, `2001:db8::/64`).
    pub network: String,
    pub reason: String,
    pub expires: Option<DateTime<Utc>>,
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
}

/// Gateway → bot, over the durable queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A web message to log (and, with Discord on, to mirror).
    Message(LoggedMessage),
}

/// Bot → every gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlEvent {
    /// A room was created or changed.
    RoomUpserted { room: RoomDef },
    /// A room was deleted; its members are sent away.
    RoomRemoved { slug: RoomSlug },
    /// A ban takes effect: matching sockets are closed, new ones refused.
    BanAdded { ban: BanDef },
    /// A ban was lifted (or expired).
    BanLifted { id: i64 },
    /// Remove one person from a room.
    Kick { room: RoomSlug, nick: String, reason: String },
    /// The filter list changed; this is the whole new list.
    FiltersChanged { filters: Vec<FilterDef> },
}
