//! Input rules, enforced once at the boundary by parsing into newtypes.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::UnicodeEmoji;
use unicode_security::GeneralSecurityProfile;

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
    #[error(
        "nickname may not contain {0:?}: only letters in common use are allowed, not look-alikes such as \
         small capitals or letter-like symbols"
    )]
    Restricted(char),
    #[error("the nickname {0:?} is reserved")]
    Reserved(String),
}

/// A nickname that passed every rule. `display` is what others see, `key` what it is compared by
/// ([`nick_key`]: two nicknames with one key cannot sit in one room).
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
        if let Some(bad) = display.chars().find(|c| !nick_char_secure(*c)) {
            return Err(NickError::Restricted(bad));
        }
        let len = display.chars().count();
        if len < NICK_MIN {
            return Err(NickError::TooShort);
        }
        if len > NICK_MAX {
            return Err(NickError::TooLong);
        }
        let reserved_form = reserved_fold(&fold(&display));
        let key = nick_key(&display);
        if RESERVED.iter().any(|r| reserved_form == reserved_fold(r) || key == nick_key(r)) {
            return Err(NickError::Reserved(display));
        }
        Ok(Self { display, key })
    }

    /// The nickname as others see it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded confusable skeleton two nicknames are compared by ([`nick_key`]).
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

/// What nicknames are compared by: the UTS #39 confusable skeleton of the case-folded name,
/// lowercased again (prototypes may be capitals, as `0` → `O`), with `i` merged into `l`.
/// That last step is what case-insensitive *and* confusable comparison adds up to: `I` looks
/// like `l` (its prototype), and `I` is `i` case-insensitively, so `AIice` (capital i), `Alice`,
/// `ALICE` and `A1ice` must share a key. `Аlice` (Cyrillic А), `Ａｌｉｃｅ`, `B0b`/`Bob` and
/// `Sarn`/`Sam` share one too. Apply it to a nickname as shown ([`Nickname::as_str`]) to find
/// the seat it holds, e.g. for a kick.
pub fn nick_key(display: &str) -> String {
    let folded = fold(display);
    unicode_security::skeleton(&folded).flat_map(char::to_lowercase).map(|c| if c == 'i' { 'l' } else { c }).collect()
}

fn nick_char_allowed(c: char) -> bool {
    // `is_alphanumeric` already excludes controls, bidi overrides and zero-width characters
    // (none of them are letters or digits); they are listed to make the rule explicit.
    if c.is_control() || is_default_ignorable(c) {
        return false;
    }
    c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.')
}

/// Letters and digits must be in Unicode's General Security Profile for identifiers (UTS #39
/// Identifier_Status=Allowed): scripts in common use, without small capitals (`ꜱᴛᴀꜰꜰ`),
/// mathematical or enclosed letters left over by NFKC, and other look-alike-only characters.
fn nick_char_secure(c: char) -> bool {
    matches!(c, ' ' | '_' | '-' | '.') || c.identifier_allowed()
}

/// A crude confusable skeleton: separators dropped, digits and common Cyrillic/Greek
/// look-alikes mapped to Latin, repeated letters collapsed. Only used against the short
/// reserved list, so false positives only hit names that look like `staff` or `admin`.
fn reserved_fold(folded: &str) -> String {
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
/// PostgreSQL), invisible characters removed ([`strip_invisible`]), trimmed.
///
/// A text with nothing to remove (all printable ASCII, or no control, format or other
/// default-ignorable character) is checked in one scan and borrowed, trimmed, without
/// allocating.
pub fn clean_text(raw: &str) -> Cow<'_, str> {
    if !needs_cleaning(raw) {
        return Cow::Borrowed(raw.trim());
    }
    let mut cleaned = String::with_capacity(raw.len());
    strip_into(raw, &mut cleaned);
    cleaned.truncate(cleaned.trim_end().len());
    let leading = cleaned.len() - cleaned.trim_start().len();
    cleaned.drain(..leading);
    Cow::Owned(cleaned)
}

/// Remove what a reader cannot see but a filter or a reader's eye would trip on: bidi controls
/// (which reorder what follows, e.g. to fake a file name or a quote), zero-width characters,
/// and every other default-ignorable code point (Unicode's `Default_Ignorable_Code_Point`:
/// soft hyphen, variation selectors, tag characters, Hangul fillers…); control characters
/// other than `\n` and `\t` go too, and `\r\n` or a lone `\r` become `\n`.
///
/// Kept, because emoji and some scripts need them to render:
/// * U+200D ZERO WIDTH JOINER between two emoji (👩‍💻, 🏳️‍🌈, ❤️‍🔥);
/// * VS15/VS16 (U+FE0E/U+FE0F) right after an emoji (❤️), or in a keycap (`1️⃣`);
/// * tag characters in an emoji tag sequence: 🏴 then 3 to 7 tags of `a-z`/`0-9` and the
///   cancel tag (🏴󠁧󠁢󠁳󠁣󠁴󠁿, the flags of England, Scotland, Wales and other subdivisions);
/// * U+200C/U+200D right after a virama (Indic conjuncts), and U+200C between two Arabic-script
///   letters (Persian needs it in everyday words).
///
/// Idempotent: what it keeps, it keeps again.
pub fn strip_invisible(raw: &str) -> Cow<'_, str> {
    if !needs_cleaning(raw) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    strip_into(raw, &mut out);
    Cow::Owned(out)
}

/// Unicode's `Default_Ignorable_Code_Point` (DerivedCoreProperties.txt): characters with
/// no glyph of their own. Includes every bidi control (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069).
pub fn is_default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// True when [`strip_into`] would change something. Printable ASCII (the common case) is one
/// pass over the bytes.
fn needs_cleaning(s: &str) -> bool {
    if s.is_ascii() {
        return s.bytes().any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7F);
    }
    s.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_default_ignorable(c))
}

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
const VS15: char = '\u{FE0E}';
const VS16: char = '\u{FE0F}';
const KEYCAP: char = '\u{20E3}';
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';

/// An emoji that a ZWJ may join, or that a variation selector may follow: `Emoji=Yes`, less
/// the ASCII digits, `#` and `*` (those only as keycap bases).
fn is_emoji(c: char) -> bool {
    !c.is_ascii() && c.is_emoji_char()
}

fn is_virama(c: char) -> bool {
    unicode_normalization::char::canonical_combining_class(c) == 9
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{0870}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFC}')
        && c.is_alphabetic()
}

/// Length in bytes of the tags and cancel tag that follow a black flag, when they form a
/// valid emoji tag sequence (UTS #51: a subdivision code of 3 to 7 lowercase letters and
/// digits, then U+E007F).
fn tag_sequence_len(after_flag: &str) -> Option<usize> {
    let mut count = 0;
    for (i, c) in after_flag.char_indices() {
        match c {
            '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}' if count < 7 => count += 1,
            CANCEL_TAG if count >= 3 => return Some(i + c.len_utf8()),
            _ => return None,
        }
    }
    None
}

/// The work of [`strip_invisible`], appended to `out`. Whether a character stays depends on
/// the last character kept and on the next one in `raw`; the next one is never something
/// stripped when a joiner or selector is kept, so a second pass keeps the same characters.
fn strip_into(raw: &str, out: &mut String) {
    let mut prev: Option<char> = None;
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let next = rest.chars().next();
        if c == BLACK_FLAG
            && let Some(len) = tag_sequence_len(rest)
        {
            out.push(c);
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            prev = Some(CANCEL_TAG);
            continue;
        }
        let keep = match c {
            '\r' => {
                if next != Some('\n') {
                    out.push('\n');
                    prev = Some('\n');
                }
                continue;
            }
            '\n' | '\t' => true,
            ZWJ => {
                prev.is_some_and(|p| is_emoji(p) || p == VS16) && next.is_some_and(is_emoji)
                    || prev.is_some_and(is_virama)
            }
            ZWNJ => {
                prev.is_some_and(is_virama)
                    || (prev.is_some_and(is_arabic_letter) && next.is_some_and(is_arabic_letter))
            }
            VS15 | VS16 => {
                prev.is_some_and(is_emoji)
                    || (prev.is_some_and(|p| matches!(p, '0'..='9' | '#' | '*')) && next == Some(KEYCAP))
            }
            c => !c.is_control() && !is_default_ignorable(c),
        };
        if keep {
            out.push(c);
            prev = Some(c);
        }
    }
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
        Ok(Self(cleaned.into_owned()))
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
        let reserved_form = reserved_fold(&fold(&trimmed));
        let key = nick_key(&trimmed);
        if RESERVED.iter().any(|r| reserved_form == reserved_fold(r) || key == nick_key(r)) {
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

/// Normalise roulette interests: trimmed, case-folded, duplicates dropped, order kept. More than
/// [`INTERESTS_MAX`] tags are refused before any of them is looked at (duplicates included), so
/// a frame full of tags costs nothing but its count.
pub fn parse_interests(raw: &[String]) -> Result<Vec<String>, InterestError> {
    if raw.len() > INTERESTS_MAX {
        return Err(InterestError::TooMany);
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
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
        assert_eq!(parse_interests(&tags(&["a"; 6])), Err(InterestError::TooMany), "counted before de-duplication");
        assert_eq!(parse_interests(&tags(&["a b"; 6])), Err(InterestError::TooMany), "counted before validation");
    }

    #[test]
    fn nick_is_normalised_and_folded() {
        let n = Nickname::parse("  Ｊｏｈｎ   Smith ").unwrap();
        assert_eq!(n.as_str(), "John Smith");
        assert_eq!(n.key(), Nickname::parse("john smith").unwrap().key());
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
        for bad in
            ["ab\u{0007}", "ab\u{202E}cd", "a\u{200B}b", "a\u{200D}b", "a\u{2066}b", "tab\there", "a<b", "emoji😀"]
        {
            assert!(matches!(Nickname::parse(bad), Err(NickError::BadChar(_))), "{bad:?}");
        }
    }

    #[test]
    fn nick_refuses_letters_outside_the_general_security_profile() {
        for bad in [
            "ꜱᴛᴀꜰꜰ",         // small capitals
            "ᴀʟɪᴄᴇ",         // small capitals
            "ɑlice",         // Latin alpha
            "Ꭺlice",         // Cherokee, a limited-use script
            "ƿynn",          // wynn, an obsolete letter
            "ʃam",           // IPA esh
            "Ålice\u{16A0}", // a rune
        ] {
            assert!(matches!(Nickname::parse(bad), Err(NickError::Restricted(_))), "{bad:?}");
        }
        // Letters in everyday use stay allowed, in any script, and so do the separators.
        for ok in ["Élodie", "Зоя_99", "李小龙", "Αλέξανδρος", "Nguyễn Văn", "Ahmed.k-1", "さくら", "محمد", "İlkay"]
        {
            assert!(Nickname::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn look_alike_nicks_share_a_key_and_the_nick_is_shown_as_typed() {
        let alice = Nickname::parse("Alice").unwrap();
        for look_alike in ["Аlice", "ALICE", "Ａｌｉｃｅ", "аlісе", "AIice", "A1ice", "ALlCE", "Alıce", "𝐀lice"]
        {
            assert_eq!(Nickname::parse(look_alike).unwrap().key(), alice.key(), "{look_alike:?}");
        }
        assert_eq!(Nickname::parse("B0b").unwrap().key(), Nickname::parse("bob").unwrap().key());
        let cyrillic = Nickname::parse("Аlice").unwrap();
        assert_eq!(cyrillic.as_str(), "Аlice", "shown as typed");
        assert_ne!(cyrillic.as_str(), alice.as_str());
        assert_eq!(nick_key("Аlice"), alice.key());
        assert_eq!(Nickname::parse("Sam").unwrap().key(), Nickname::parse("Sarn").unwrap().key());
        for distinct in ["Alicia", "Bob", "Al ice", "Zoe"] {
            assert_ne!(Nickname::parse(distinct).unwrap().key(), alice.key(), "{distinct:?}");
        }
        // Other scripts keep names of their own.
        assert_ne!(Nickname::parse("Зоя").unwrap().key(), Nickname::parse("Зоi").unwrap().key());
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

    /// What must survive [`clean_text`] byte for byte.
    const EMOJI: &[&str] = &[
        "❤️", // U+2764 VS16
        "👩‍💻", // ZWJ sequence
        "🏴󠁧󠁢󠁳󠁣󠁴󠁿", // Scotland: black flag, tags g b s c t, cancel tag
        "🏴󠁧󠁢󠁥󠁮󠁧󠁿", // England
        "🏳️‍🌈", // VS16 then ZWJ
        "❤️‍🔥", // VS16 then ZWJ
        "👨🏽‍🦰", // skin tone then ZWJ
        "👨‍👩‍👧‍👦", // family
        "1️⃣", // keycap
        "#️⃣", // keycap
        "🇫🇷", // regional indicators
        "☺︎",  // VS15: text presentation
        "©️", // VS16 after a Latin-1 emoji
        "👍🏽", // skin tone
    ];

    #[test]
    fn emoji_survive_byte_for_byte() {
        for emoji in EMOJI {
            assert_eq!(clean_text(emoji), *emoji, "{emoji:?}");
            let framed = format!("look {emoji} here");
            assert_eq!(clean_text(&framed), framed.as_str());
            assert_eq!(MessageText::parse(&framed).unwrap().as_str(), framed);
            assert_eq!(RoomTitle::parse(&framed).unwrap().as_str(), framed);
        }
        let all = EMOJI.concat();
        assert_eq!(clean_text(&all), all.as_str());
    }

    #[test]
    fn invisible_characters_are_stripped_from_texts() {
        for (raw, clean) in [
            ("sp\u{200B}am", "spam"),
            ("\u{202E}gnp.exe", "gnp.exe"),
            ("a\u{2066}b\u{2069}c\u{200E}d\u{200F}e\u{061C}f", "abcdef"),
            ("soft\u{00AD}hyphen", "softhyphen"),
            ("\u{FEFF}bom", "bom"),
            ("word\u{2060}joiner", "wordjoiner"),
            ("hangul\u{3164}filler", "hangulfiller"),
            ("s\u{FE0F}pam", "spam"), // a selector after a letter
            ("1\u{FE0F}2", "12"),     // after a digit that is no keycap
            ("a\u{200D}b", "ab"),     // a joiner between letters
            ("\u{200D}👩", "👩"),     // a joiner with nothing before it
            ("👩\u{200D}", "👩"),     // …or after it
            ("👩\u{200D}x", "👩x"),   // …or a letter after it
            ("👩\u{200D}\u{200D}💻", "👩\u{200D}💻"),
            ("hi\u{E0041}\u{E007F}", "hi"),                            // stray tags
            ("🏴\u{E0067}\u{E007F}", "🏴"),                            // too short for a subdivision
            ("🏴\u{E0047}\u{E0042}\u{E0053}\u{E007F}", "🏴"),          // capital tags
            ("🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}", "🏴"), // no cancel tag
            ("x\u{E0067}\u{E0062}\u{E0073}\u{E007F}", "x"),            // no flag
            ("\u{E0100}ivs", "ivs"),
            ("a\u{0000}b\u{0007}c\u{007F}d\u{0085}e", "abcde"),
            ("  line\r\nnext\rlast  ", "line\nnext\nlast"),
            ("\u{200B} \u{200B}", ""),
        ] {
            assert_eq!(clean_text(raw), clean, "{raw:?}");
        }
        assert_eq!(MessageText::parse("\u{200B}\u{202E}\u{2060}"), Err(TextError::Empty));
        assert_eq!(RoomTitle::parse("Movie\u{202E} night\u{E0001}").unwrap().as_str(), "Movie night");
    }

    #[test]
    fn joiners_that_scripts_need_are_kept() {
        for text in [
            "می\u{200C}خواهم", // Persian: ZWNJ between Arabic letters
            "क्\u{200D}ष",      // Devanagari: ZWJ after a virama
            "क्\u{200C}ष",      // …and ZWNJ
        ] {
            assert_eq!(clean_text(text), text, "{text:?}");
        }
        assert_eq!(clean_text("a\u{200C}b"), "ab");
        assert_eq!(clean_text("م\u{200C} "), "م");
    }

    #[test]
    fn plain_texts_are_borrowed_not_copied() {
        for (raw, clean) in [
            ("hello world", "hello world"),
            ("  padded\t", "padded"),
            ("multi\nline", "multi\nline"),
            ("héllo мир 李", "héllo мир 李"),
        ] {
            let cleaned = clean_text(raw);
            assert!(matches!(cleaned, Cow::Borrowed(_)), "{raw:?}");
            assert_eq!(cleaned, clean);
        }
        assert!(matches!(strip_invisible("plain"), Cow::Borrowed(_)));
        assert!(matches!(clean_text("a\r\nb"), Cow::Owned(_)));
    }

    /// Everything `strip_into` treats specially, plus neighbours of each.
    const TRICKY: &[char] = &[
        'a',
        'Z',
        '1',
        '#',
        '*',
        ' ',
        '\n',
        '\r',
        '\t',
        '\u{0000}',
        '\u{007F}',
        '\u{00AD}',
        '\u{034F}',
        '\u{061C}',
        'م',
        'ب',
        'क',
        '\u{094D}',
        '\u{200B}',
        ZWNJ,
        ZWJ,
        '\u{200E}',
        '\u{202E}',
        '\u{2066}',
        '\u{2060}',
        VS15,
        VS16,
        '\u{FE00}',
        KEYCAP,
        '❤',
        '©',
        '👩',
        '💻',
        '\u{1F3FD}',
        '🇫',
        BLACK_FLAG,
        '\u{E0067}',
        '\u{E0062}',
        '\u{E0030}',
        '\u{E0041}',
        CANCEL_TAG,
        '\u{E0100}',
        'ｓ',
        'é',
        '\u{0301}',
        '\u{FEFF}',
        '\u{2028}',
        'ß',
    ];

    /// A small deterministic generator (xorshift64*): the same cases on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> usize {
            usize::try_from(self.next() % n).unwrap()
        }
        fn string(&mut self) -> String {
            let len = self.below(24);
            (0..len)
                .map(|_| {
                    if self.below(4) == 0 {
                        // Any scalar value at all.
                        loop {
                            if let Some(c) = char::from_u32(u32::try_from(self.next() % 0x11_0000).unwrap()) {
                                break c;
                            }
                        }
                    } else {
                        TRICKY[self.below(TRICKY.len() as u64)]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn sanitising_is_idempotent_and_total_on_random_strings() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let raw = rng.string();
            let once = clean_text(&raw).into_owned();
            assert_eq!(clean_text(&once), once.as_str(), "clean_text of {raw:?}");
            assert!(!once.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\r')));
            let stripped = strip_invisible(&raw).into_owned();
            assert_eq!(strip_invisible(&stripped), stripped.as_str());
            if let Ok(title) = RoomTitle::parse(&raw) {
                assert_eq!(RoomTitle::parse(title.as_str()).unwrap(), title, "title of {raw:?}");
            }
            if let Ok(nick) = Nickname::parse(&raw) {
                let again = Nickname::parse(nick.as_str()).unwrap();
                assert_eq!((again.as_str(), again.key()), (nick.as_str(), nick.key()), "nick of {raw:?}");
                assert_eq!(nick_key(nick.as_str()), nick.key());
            }
            let _ = crate::filter::FoldedText::new(&once);
        }
    }

    #[test]
    fn default_ignorables_match_the_uts39_tables() {
        // The skeleton drops exactly the default-ignorable code points (no other character
        // maps to nothing), so it checks this table against unicode-security's.
        for c in (0..=0x10_FFFFu32).filter_map(char::from_u32) {
            let s = c.to_string();
            let vanishes = unicode_security::skeleton(&s).next().is_none();
            assert_eq!(is_default_ignorable(c), vanishes, "U+{:04X}", c as u32);
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
