//! What the fake stores about each thing besides its JSON: roles, members, messages,
//! interactions and the REST requests it saw.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use crate::config::FakeUser;

/// A role of the guild.
#[derive(Debug, Clone)]
pub struct Role {
    pub id: u64,
    pub name: String,
    pub permissions: u64,
    pub position: u64,
    pub color: u64,
    pub hoist: bool,
    pub managed: bool,
    pub bot_id: Option<u64>,
}

/// A guild member.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: FakeUser,
    pub joined_at: String,
}

/// A stored message: its JSON (as REST returns it) and bookkeeping.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub json: Value,
    pub author_id: u64,
}

/// What the fake remembers about one injected interaction.
#[derive(Debug, Clone)]
pub struct InteractionState {
    pub token: String,
    pub kind: u64,
    /// `data.type` of command interactions (1 slash, 2 user, 3 message).
    pub command_kind: Option<u64>,
    pub channel_id: u64,
    pub created: Instant,
    pub acknowledged: Option<Instant>,
    pub callback_type: Option<u64>,
    /// The message a component interaction was on.
    pub component_message: Option<u64>,
    /// `@original`'s message id, once there is one.
    pub original: Option<u64>,
    /// Ephemeral messages of this interaction (not in any channel), by id.
    pub ephemeral: BTreeMap<u64, Value>,
    pub followups: Vec<u64>,
    /// Every body the bot sent for this interaction (callback, follow-ups, edits), in order.
    pub bodies: Vec<Value>,
    pub metadata: Value,
}

/// One REST request as the fake saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without the `/api/v10` prefix, e.g. `/channels/123/messages`.
    pub path: String,
    /// The raw query string without `?` (empty when none).
    pub query: String,
    /// The JSON body, or `Value::Null` when there was none (or it was not JSON).
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
    /// The `X-Audit-Log-Reason` header, if sent.
    pub audit_log_reason: Option<String>,
}
