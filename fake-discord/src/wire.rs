//! Discord's vocabulary as the fake speaks it: permission and intent bits, channel kinds,
//! snowflakes and timestamps, query strings, and the error answer every handler returns.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::limits::FormErrors;

/// Discord's epoch (2015-01-01) in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Permission bits used by the fake's roles.
pub mod perms {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const KICK_MEMBERS: u64 = 1 << 1;
    pub const BAN_MEMBERS: u64 = 1 << 2;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_AUDIT_LOG: u64 = 1 << 7;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    pub const MANAGE_THREADS: u64 = 1 << 34;
    pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
    pub const CREATE_PRIVATE_THREADS: u64 = 1 << 36;
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
    pub const MODERATE_MEMBERS: u64 = 1 << 40;

    /// What a new guild's @everyone role gets.
    pub const EVERYONE: u64 = CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS;
    /// The "Moderator" role.
    pub const MODERATOR: u64 = KICK_MEMBERS
        | BAN_MEMBERS
        | MANAGE_CHANNELS
        | VIEW_AUDIT_LOG
        | MANAGE_MESSAGES
        | MANAGE_THREADS
        | MODERATE_MEMBERS;
    /// The bot's managed role (what its invite link asked for).
    pub const BOT: u64 = VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | MANAGE_CHANNELS
        | MANAGE_MESSAGES
        | MANAGE_ROLES
        | MANAGE_THREADS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS;
}

/// Intent bits the fake filters dispatches by.
pub mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
}

/// Channel types.
pub mod kind {
    pub const TEXT: u64 = 0;
    pub const CATEGORY: u64 = 4;
    pub const ANNOUNCEMENT: u64 = 5;
    pub const ANNOUNCEMENT_THREAD: u64 = 10;
    pub const PUBLIC_THREAD: u64 = 11;
    pub const PRIVATE_THREAD: u64 = 12;
    pub const FORUM: u64 = 15;

    pub fn is_thread(kind: u64) -> bool {
        matches!(kind, ANNOUNCEMENT_THREAD | PUBLIC_THREAD | PRIVATE_THREAD)
    }

    pub fn is_textual(kind: u64) -> bool {
        matches!(kind, TEXT | ANNOUNCEMENT) || is_thread(kind)
    }
}

/// An error answer of the REST API: status and Discord's JSON body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: u16, code: u64, message: &str) -> Self {
        Self { status, body: json!({"message": message, "code": code}) }
    }

    pub fn unknown_channel() -> Self {
        Self::new(404, 10003, "Unknown Channel")
    }

    pub fn unknown_message() -> Self {
        Self::new(404, 10008, "Unknown Message")
    }

    pub fn form(errors: FormErrors) -> Self {
        let body = errors.into_body().unwrap_or_else(|| json!({"message": "Invalid Form Body", "code": 50035}));
        Self { status: 400, body }
    }

    /// A 50035 with one error at `path`.
    pub fn form_one(path: &[&str], code: &str, message: &str) -> Self {
        let mut errors = FormErrors::default();
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        errors.add(&path, code, message);
        Self::form(errors)
    }

    pub fn wrong_channel_type() -> Self {
        Self::new(400, 50024, "Cannot execute action on this channel type")
    }
}

/// A successful answer: status and body (`Value::Null` means no body, as with 204).
pub type ApiResult = Result<(u16, Value), ApiError>;

/// Now as Discord writes timestamps: `2026-11-02T10:00:00.123456+00:00`.
pub fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// A snowflake's id as Discord sends it: a string.
pub fn sid(id: u64) -> Value {
    Value::String(id.to_string())
}

/// Parse a snowflake from JSON (string or number).
pub fn parse_id(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Parse `a=1&b=2` (serenity sends `?&limit=50`).
pub fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}

/// A duration as Discord's float seconds, rounded up to milliseconds.
pub fn secs_f(duration: Duration) -> f64 {
    (duration.as_millis() as f64 / 1000.0).max(0.001)
}
