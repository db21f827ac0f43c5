//! Rooms as visitors name them: the slug that identifies a room ([`RoomSlug`]) and a visitor
//! room's title ([`RoomTitle`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::clean::strip_invisible;
use super::compare::{is_reserved, nick_key};

/// Shortest room slug.
pub const SLUG_MIN: usize = 2;
/// Longest room slug.
pub const SLUG_MAX: usize = 32;

/// Longest title of a visitor room, in characters.
pub const TITLE_MAX: usize = 60;

/// Why a room slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("room names are {SLUG_MIN} to {SLUG_MAX} characters of a-z, 0-9 and -")]
pub struct SlugError;

/// A room's stable identifier: `[a-z0-9-]{2,32}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomSlug(String);

impl RoomSlug {
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        let ok = (SLUG_MIN..=SLUG_MAX).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(Self(raw.to_owned())) } else { Err(SlugError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomSlug {
    type Error = SlugError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RoomSlug> for String {
    fn from(value: RoomSlug) -> Self {
        value.0
    }
}

impl fmt::Display for RoomSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a room title was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TitleError {
    #[error("the room title is empty")]
    Empty,
    #[error("the room title is {0} characters long; the limit is {TITLE_MAX}")]
    TooLong(usize),
    /// A title that reads as a reserved name (`Staff`, `m o d`…): a visitor room named so would
    /// pass for an official one.
    #[error("the room title {0:?} is reserved")]
    Reserved(String),
}

/// A visitor room's title: one line, trimmed, without control or invisible characters
/// ([`strip_invisible`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTitle(String);

impl RoomTitle {
    pub fn parse(raw: &str) -> Result<Self, TitleError> {
        let stripped = strip_invisible(raw);
        let cleaned: String = stripped.chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
        let trimmed = cleaned.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        let len = trimmed.chars().count();
        if len == 0 {
            return Err(TitleError::Empty);
        }
        if len > TITLE_MAX {
            return Err(TitleError::TooLong(len));
        }
        if is_reserved(&trimmed, &nick_key(&trimmed)) {
            return Err(TitleError::Reserved(trimmed));
        }
        Ok(Self(trimmed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(RoomSlug::parse("lobby").is_ok());
        assert!(RoomSlug::parse("a-1").is_ok());
        for bad in ["a", "Lobby", "lob by", "lobby_", &"a".repeat(33)] {
            assert_eq!(RoomSlug::parse(bad), Err(SlugError), "{bad:?}");
        }
    }

    #[test]
    fn title_rules() {
        assert_eq!(RoomTitle::parse("  Movie \n  night\u{200B} ").unwrap().as_str(), "Movie night");
        assert_eq!(RoomTitle::parse(" \t ").unwrap_err(), TitleError::Empty);
        assert_eq!(RoomTitle::parse(&"x".repeat(61)).unwrap_err(), TitleError::TooLong(61));
        for reserved in ["Staff", "m o d", "ADM1N", "Moderator"] {
            assert!(matches!(RoomTitle::parse(reserved), Err(TitleError::Reserved(_))), "{reserved}");
        }
        assert_eq!(RoomTitle::parse("Staff picks").unwrap().as_str(), "Staff picks");
    }
}
