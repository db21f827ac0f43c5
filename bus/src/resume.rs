//! Resume: what a session that lost its socket leaves in the bus for `RESUME_SECS`, so that a
//! client reconnecting within that window, to any gateway, takes back its room, nickname and
//! roulette pair. Named by a token of 128 random bits (32 hex digits) that can be taken once.

use protocol::RoomSlug;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Most resume states the in-process bus keeps (live sessions and dropped ones together).
pub const RESUME_MAX: usize = 500_000;

/// The session a resume token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The room (or roulette pair) it sits in.
    pub room: RoomSlug,
    /// Its nickname as shown, and the key seats compare.
    pub nick: String,
    pub key: String,
    /// The seat's holder id: the resumed session keeps it, so the seat passes on without ever
    /// being free.
    pub holder: String,
    /// The seat's address tag when it was taken.
    pub address: String,
    /// Where the gateway holding the session listens (its per-gateway inbox, see
    /// [`Bus::notify`](crate::Bus::notify)), told when another gateway takes the session.
    pub inbox: RoomSlug,
    /// The last message of the room when the socket dropped (used when the client sends none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Ulid>,
    /// The roulette side of the session, in a pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roulette: Option<RouletteResume>,
}

/// A roulette session: who it is in the roulette, and its stranger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouletteResume {
    pub interests: Vec<String>,
    pub blocked: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_peer: Option<String>,
    pub stranger_id: String,
    pub stranger_nick: String,
}

/// A fresh token: 128 random bits as 32 lowercase hex digits.
pub fn new_token() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

/// Whether `token` has the shape of one (anything else is never looked up).
pub fn is_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_random_bits_in_hex() {
        let (a, b) = (new_token(), new_token());
        assert!(is_token(&a) && is_token(&b));
        assert_ne!(a, b);
        assert!(!is_token("x"));
        assert!(!is_token("0123456789ABCDEF0123456789abcdef"));
        assert!(is_token("0123456789abcdef0123456789abcdef"));
    }
}
