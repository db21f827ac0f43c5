//! Nicknames: the characters, length and reserved-name rules, parsed into [`Nickname`].

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_security::GeneralSecurityProfile;

use super::clean::is_default_ignorable;
use super::compare::{is_reserved, nick_key};

/// Shortest nickname, in characters after normalisation.
pub const NICK_MIN: usize = 2;
/// Longest nickname, in characters after normalisation.
pub const NICK_MAX: usize = 24;

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
        let key = nick_key(&display);
        if is_reserved(&display, &key) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
