//! Text cleaning: what every message text and title goes through before it is checked, so
//! nothing invisible, reordering or unstorable reaches a reader, a filter or the database.

use std::borrow::Cow;

use unicode_properties::UnicodeEmoji;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{MessageText, Nickname, RoomTitle, TextError, nick_key};

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
}
