//! Appeals: a banned or muted visitor asks staff to reconsider, over HTTP
//! (`POST /api/appeals`, `GET /api/appeals/{token}`). The gateway queues an [`AppealEvent`] for
//! the bot and keeps an [`AppealRecord`] on the bus, which the bot updates (decision, staff
//! replies) and every gateway reads.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest appeal text, in Unicode scalar values after cleaning (as a message).
pub const APPEAL_TEXT_MAX: usize = crate::input::MESSAGE_MAX;
/// Staff replies an appeal keeps (the oldest are dropped beyond).
pub const APPEAL_REPLIES_MAX: usize = 50;
/// How long the bus keeps an appeal after its last change (the bot puts back what the bus lost
/// from the database, which keeps appeals for `TEXT_RETENTION_DAYS`).
pub const APPEAL_TTL: Duration = Duration::from_secs(30 * 86_400);

/// Whether `raw` has the shape of an appeal token: 32 lowercase hex digits (128 random bits).
pub fn is_token(raw: &str) -> bool {
    raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where an appeal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealState {
    /// Waiting for staff.
    Open,
    /// Staff lifted the sanction.
    Lifted,
    /// Staff shortened the sanction (the record's `expires` is its new end).
    Shortened,
    /// Staff kept the sanction as it was.
    Denied,
}

impl AppealState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Lifted => "lifted",
            Self::Shortened => "shortened",
            Self::Denied => "denied",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(Self::Open),
            "lifted" => Some(Self::Lifted),
            "shortened" => Some(Self::Shortened),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// A staff reply, shown to the visitor as "Staff" (never a Discord name).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AppealReply {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// An appeal as every gateway reads it from the bus: the body of `GET /api/appeals/{token}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AppealRecord {
    /// 32 hex digits; the only key to the appeal.
    pub token: String,
    /// The case appealed (a ban's or a mute's case number).
    pub case: i64,
    pub state: AppealState,
    pub text: String,
    /// Oldest first, at most [`APPEAL_REPLIES_MAX`].
    pub replies: Vec<AppealReply>,
    /// When the appeal was made.
    pub at: DateTime<Utc>,
    /// After *Shorten*: when the sanction ends now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// A visitor's appeal, gateway → bot over the durable queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AppealEvent {
    pub token: String,
    /// The case appealed, as `GET /api/status` named it to the caller.
    pub case: i64,
    /// The ban of the case in force on the caller (its id), when it is a ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban: Option<i64>,
    /// The mute of the case in force on the caller (its id), when it is a mute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute: Option<i64>,
    /// Cleaned, 1 to [`APPEAL_TEXT_MAX`] characters.
    pub text: String,
    /// The caller's address, as the gateway determined it (for the evidence and the log's
    /// retention, never shown to staff).
    pub ip: IpAddr,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_hex_digits() {
        let a = "0123456789abcdef0123456789abcdef";
        assert!(is_token(a), "{a}");
        assert!(!is_token("0123"));
        assert!(!is_token(&"G".repeat(32)));
        assert!(!is_token(&a.to_uppercase()));
    }

    #[test]
    fn records_round_trip_and_states_read_back() {
        let record = AppealRecord {
            token: "0123456789abcdef0123456789abcdef".into(),
            case: 7,
            state: AppealState::Open,
            text: "sorry".into(),
            replies: vec![AppealReply { at: Utc::now(), text: "we will look".into() }],
            at: Utc::now(),
            expires: None,
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["state"], "open");
        assert!(json.get("expires").is_none());
        assert_eq!(serde_json::from_value::<AppealRecord>(json).unwrap(), record);
        for state in [AppealState::Open, AppealState::Lifted, AppealState::Shortened, AppealState::Denied] {
            assert_eq!(AppealState::parse(state.as_str()), Some(state));
        }
    }
}
