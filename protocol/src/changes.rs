//! A visitor's change to its own message (`edit`, `delete`), as the gateway queues it for the
//! bot: the log keeps every earlier text, the mirror edits or marks the Discord embed.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// One edit or deletion of message `id` by its author.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MessageChange {
    pub id: Ulid,
    pub room: String,
    /// The author's nickname when it changed the message.
    pub nick: String,
    /// The new text (filtered as a new message is); absent for a deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub at: DateTime<Utc>,
    /// The author's address now (it may have moved since sending, after a resume).
    pub ip: IpAddr,
    /// Made under a shadow mute: only the author's own connections saw it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}
