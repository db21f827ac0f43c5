//! Input rules, enforced once at the boundary by parsing into newtypes.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Shortest nickname, in characters after normalisation.
pub const NICK_MIN: usize = 2;
/// Longest nickname, in characters after normalisation.
pub const NICK_MAX: usize = 24;
/// Longest message, in Unicode scalar values after trimming.
pub const MESSAGE_MAX: usize = 2000;
/// Shortest and longest room slug.
pub const SLUG_MIN: usize = 2;
/// Longest room slug.
pub const SLUG_MAX: usize = 32;

/// Names nobody may take, because they would pass for the system or for staff.
const RESERVED: &[&str] = &["staff", "system", "admin", "moderator", "mod"];

/// Why a nickname was refused; the `Display` text is shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NickError {
    #[error("nickname must be at least {NICK_MIN} characters")]
    TooShort,
    #[error("nickname must be at most {NICK_MAX} characters")]
    TooLong,
    #[error("nickname may contain only letters, digits, spaces and _ - . (found {0:?})")]
    BadChar(char),
    #[error("the nickname {0:?} is reserved")]
    Reserved(String),
}

/// A nickname that passed every rule. `display` is what others see, `key` what it is compared by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nickname {
    display: String,
    key: String,
}

impl Nickname {
    /// NFKC-normalise, trim, collapse inner runs of spaces, then check characters, length and
    /// reserved names (including look-alikes such as `St4ff` or `m o d`).
    pub fn parse(raw: &str) -> Result<Self, NickError> {
        let normalized: String = raw.nfkc().collect();
        let mut display = String::with_capacity(normalized.len());
        for word in normalized.split(' ').filter(|w| !w.is_empty()) {
            if !display.is_empty() {
                display.push(' ');
            }
            display.push_str(word);
        }
        if let Some(bad) = display.chars().find(|c| !nick_char_allowed(*c)) {
            return Err(NickError::BadChar(bad));
        }
        let len = display.chars().count();
        if len < NICK_MIN {
            return Err(NickError::TooShort);
        }
        if len > NICK_MAX {
            return Err(NickError::TooLong);
        }
        let key = fold(&display);
        let skeleton = skeleton(&key);
        if RESERVED.iter().any(|r| skeleton == self::skeleton(r)) {
            return Err(NickError::Reserved(display));
        }
        Ok(Self { display, key })
    }

    /// The nickname as others see it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form two nicknames are compared by.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Nickname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// Case folding for comparison (full Unicode lowercase, which folds every cased script we
/// expect in nicknames; `ß` and `ẞ` both become `ß`).
pub fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn nick_char_allowed(c: char) -> bool {
    // `is_alphanumeric` already excludes controls, bidi overrides and zero-width characters
    // (none of them are letters or digits); they are listed to make the rule explicit.
    if c.is_control() || is_invisible(c) {
        return false;
    }
    c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.')
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A crude confusable skeleton: separators dropped, digits and common Cyrillic/Greek
/// look-alikes mapped to Latin, repeated letters collapsed. Only used against the short
/// reserved list, so false positives only hit names that look like `staff` or `admin`.
fn skeleton(folded: &str) -> String {
    let mut out = String::new();
    let mut last = None;
    for c in folded.chars() {
        let mapped = match c {
            ' ' | '_' | '-' | '.' => continue,
            '0' | 'о' | 'ο' => 'o',
            '1' | '!' | 'і' | 'ı' | 'ι' | 'l' | '|' => 'i',
            '3' | 'е' | 'ε' => 'e',
            '4' | '@' | 'а' | 'α' => 'a',
            '5' | '$' | 'ѕ' => 's',
            '7' | 'т' | 'τ' => 't',
            'р' | 'ρ' => 'p',
            'с' | 'ϲ' => 'c',
            'м' | 'μ' => 'm',
            'ԁ' => 'd',
            'ո' | 'п' | 'η' => 'n',
            'г' => 'r',
            'у' | 'γ' => 'y',
            'х' | 'χ' => 'x',
            'ƒ' => 'f',
            other => other,
        };
        if last != Some(mapped) {
            out.push(mapped);
        }
        last = Some(mapped);
    }
    out
}

/// Why a message text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("message is empty")]
    Empty,
    #[error("message is {0} characters long; the limit is {MESSAGE_MAX}")]
    TooLong(usize),
}

/// What every message text goes through, a visitor's or a staff member's: line endings
/// normalised to `\n`, other control characters removed (a NUL could not be stored in
/// PostgreSQL), trimmed.
pub fn clean_text(raw: &str) -> String {
    let mut cleaned: String = raw
        .replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    cleaned.truncate(cleaned.trim_end().len());
    let leading = cleaned.len() - cleaned.trim_start().len();
    cleaned.drain(..leading);
    cleaned
}

/// A message text: [`clean_text`], not empty, at most [`MESSAGE_MAX`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let cleaned = clean_text(raw);
        let len = cleaned.chars().count();
        if len == 0 {
            return Err(TextError::Empty);
        }
        if len > MESSAGE_MAX {
            return Err(TextError::TooLong(len));
        }
        Ok(Self(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Longest title of a visitor room, in characters.
pub const TITLE_MAX: usize = 60;
/// Most interests one roulette ticket may carry.
pub const INTERESTS_MAX: usize = 5;
/// Longest interest tag, in characters.
pub const INTEREST_MAX_CHARS: usize = 24;

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

/// A visitor room's title: one line, trimmed, without control or invisible characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomTitle(String);

impl RoomTitle {
    pub fn parse(raw: &str) -> Result<Self, TitleError> {
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .filter(|c| !c.is_control() && !is_invisible(*c))
            .collect();
        let trimmed = cleaned.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        let len = trimmed.chars().count();
        if len == 0 {
            return Err(TitleError::Empty);
        }
        if len > TITLE_MAX {
            return Err(TitleError::TooLong(len));
        }
        let skeleton = skeleton(&fold(&trimmed));
        if RESERVED.iter().any(|r| skeleton == self::skeleton(r)) {
            return Err(TitleError::Reserved(trimmed));
        }
        Ok(Self(trimmed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why roulette interests were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterestError {
    #[error("at most {INTERESTS_MAX} interests")]
    TooMany,
    #[error("interests are 1 to {INTEREST_MAX_CHARS} letters, digits, - or _ (got {0:?})")]
    Invalid(String),
}

/// Normalise roulette interests: trimmed, case-folded, duplicates dropped, order kept.
pub fn parse_interests(raw: &[String]) -> Result<Vec<String>, InterestError> {
    let mut out: Vec<String> = Vec::new();
    for tag in raw {
        let folded = fold(tag.trim());
        let ok = (1..=INTEREST_MAX_CHARS).contains(&folded.chars().count())
            && folded.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(InterestError::Invalid(tag.chars().take(INTEREST_MAX_CHARS + 1).collect()));
        }
        if !out.contains(&folded) {
            out.push(folded);
        }
    }
    if out.len() > INTERESTS_MAX {
        return Err(InterestError::TooMany);
    }
    Ok(out)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_interests() {
        assert_eq!(RoomTitle::parse("  Movie \n  night\u{200B} ").unwrap().as_str(), "Movie night");
        assert_eq!(RoomTitle::parse(" \t ").unwrap_err(), TitleError::Empty);
        assert_eq!(RoomTitle::parse(&"x".repeat(61)).unwrap_err(), TitleError::TooLong(61));
        for reserved in ["Staff", "m o d", "ADM1N", "Moderator"] {
            assert!(matches!(RoomTitle::parse(reserved), Err(TitleError::Reserved(_))), "{reserved}");
        }
        assert_eq!(RoomTitle::parse("Staff picks").unwrap().as_str(), "Staff picks");
        let tags = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_interests(&tags(&[" Music", "music", "Go"])).unwrap(), tags(&["music", "go"]));
        assert!(matches!(parse_interests(&tags(&["a b"])), Err(InterestError::Invalid(_))));
        assert!(matches!(parse_interests(&tags(&[""])), Err(InterestError::Invalid(_))));
        assert_eq!(parse_interests(&tags(&["a", "b", "c", "d", "e", "f"])), Err(InterestError::TooMany));
    }

    #[test]
    fn nick_is_normalised_and_folded() {
        let n = Nickname::parse("  Ｊｏｈｎ   Smith ").unwrap();
        assert_eq!(n.as_str(), "John Smith");
        assert_eq!(n.key(), "john smith");
        assert_eq!(Nickname::parse("ÉLODIE").unwrap().key(), Nickname::parse("élodie").unwrap().key());
        assert_eq!(Nickname::parse("Зоя_99").unwrap().as_str(), "Зоя_99");
        assert_eq!(Nickname::parse("李小龙").unwrap().as_str(), "李小龙");
    }

    #[test]
    fn nick_length_is_counted_in_characters() {
        assert_eq!(Nickname::parse("a"), Err(NickError::TooShort));
        assert_eq!(Nickname::parse("   "), Err(NickError::TooShort));
        assert!(Nickname::parse(&"é".repeat(24)).is_ok());
        assert_eq!(Nickname::parse(&"é".repeat(25)), Err(NickError::TooLong));
    }

    #[test]
    fn nick_refuses_controls_bidi_and_zero_width() {
        for bad in ["ab\u{0007}", "ab\u{202E}cd", "a\u{200B}b", "tab\there", "a<b", "emoji😀"] {
            assert!(matches!(Nickname::parse(bad), Err(NickError::BadChar(_))), "{bad:?}");
        }
    }

    #[test]
    fn reserved_names_and_look_alikes_are_refused_as_whole_names() {
        for bad in [
            "staff",
            "STAFF",
            "St4ff",
            "s t a f f",
            "ѕtaff",
            "Admin",
            "adm1n",
            "m0d",
            "MOD",
            "Moderator",
            "System",
            "sys.tem",
        ] {
            assert!(matches!(Nickname::parse(bad), Err(NickError::Reserved(_))), "{bad:?}");
        }
        for ok in ["modern", "staffan", "admiral", "Mo"] {
            assert!(Nickname::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn message_text_rules() {
        assert_eq!(MessageText::parse("  hi\r\nthere  ").unwrap().as_str(), "hi\nthere");
        assert_eq!(MessageText::parse(" \n\t "), Err(TextError::Empty));
        assert_eq!(MessageText::parse("a\u{0000}b").unwrap().as_str(), "ab");
        assert!(MessageText::parse(&"ü".repeat(MESSAGE_MAX)).is_ok());
        assert_eq!(MessageText::parse(&"ü".repeat(MESSAGE_MAX + 1)), Err(TextError::TooLong(MESSAGE_MAX + 1)));
    }

    #[test]
    fn slug_rules() {
        assert!(RoomSlug::parse("lobby").is_ok());
        assert!(RoomSlug::parse("a-1").is_ok());
        for bad in ["a", "Lobby", "lob by", "lobby_", &"a".repeat(33)] {
            assert_eq!(RoomSlug::parse(bad), Err(SlugError), "{bad:?}");
        }
    }
}
