//! Resume: what a session that lost its socket leaves in the bus for `RESUME_SECS`, so that a
//! client reconnecting within that window, to any gateway, takes back its room, nickname and
//! roulette pair. Named by a [`Token`] of 128 random bits that can be taken once.

use std::fmt;

use protocol::RoomSlug;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// Most resume states the in-process bus keeps (each a session whose socket dropped; see
/// [`Bus::resumes_shared`](crate::Bus::resumes_shared)).
pub const RESUME_MAX: usize = 500_000;

/// A resume token: 128 random bits, kept as a number and written as 32 lowercase hex digits
/// only where it leaves the process (the wire, Redis keys, notices between gateways).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(u128);

impl Token {
    /// A fresh token.
    pub fn new() -> Self {
        Self(rand::random())
    }

    /// The token `raw` writes: exactly 32 lowercase hex digits (anything else is never looked
    /// up).
    pub fn parse(raw: &str) -> Option<Self> {
        let shaped = raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        shaped.then(|| u128::from_str_radix(raw, 16).ok().map(Self)).flatten()
    }
}

/// A fresh token written out (32 lowercase hex digits), for names that live as text, such as
/// an appeal's.
pub fn new_token() -> String {
    Token::new().to_string()
}

impl Default for Token {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("not a resume token (32 lowercase hex digits)"))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_random_bits_in_hex() {
        let (a, b) = (Token::new(), Token::new());
        assert_ne!(a, b);
        for token in [a, b] {
            let written = token.to_string();
            assert_eq!(written.len(), 32, "{written}");
            assert_eq!(Token::parse(&written), Some(token));
        }
        assert_eq!(Token(1).to_string(), "00000000000000000000000000000001", "leading zeros are written");
        assert_eq!(Token::parse("x"), None);
        assert_eq!(Token::parse("0123456789ABCDEF0123456789abcdef"), None);
        assert_eq!(Token::parse("+123456789abcdef0123456789abcdef"), None);
        assert_eq!(Token::parse("0123456789abcdef0123456789abcdef0"), None);
        let token = Token::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(token.to_string(), "0123456789abcdef0123456789abcdef");
        let json = serde_json::to_string(&token).unwrap();
        assert_eq!(json, "\"0123456789abcdef0123456789abcdef\"");
        assert_eq!(serde_json::from_str::<Token>(&json).unwrap(), token);
        assert!(serde_json::from_str::<Token>("\"nope\"").is_err());
    }
}
