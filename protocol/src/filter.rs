//! The moderators' word and regex filters, compiled one way for the bot (which accepts a filter
//! only if this compiles it) and for every gateway (which applies it), so a filter the bot took
//! is never dropped by the gateways.
//!
//! Filters match the *folded* text ([`FoldedText`]): NFKC-normalised, lowercased, without
//! default-ignorable characters. `\bspam\b` therefore catches `SPAM`, full-width `ｓｐａｍ` and
//! `sp<U+200B>am`, and a word filter is folded the same way before it is escaped. Every filter
//! is case-insensitive (a pattern that turns that off with `(?-i)` is refused). A blocking
//! match refuses the message; a masking one replaces what it matched, in the text as sent,
//! with one asterisk per character.

use std::borrow::Cow;
use std::ops::Range;

use regex::{Regex, RegexBuilder};
use regex_syntax::ast::{self, Ast};
use unicode_normalization::UnicodeNormalization;

use crate::events::{FilterAction, FilterDef};
use crate::input::is_default_ignorable;

/// Longest pattern, in characters.
pub const PATTERN_MAX: usize = 200;
/// Default for `MAX_FILTERS`, the most filters the bot keeps.
pub const MAX_FILTERS_DEFAULT: usize = 200;
/// Largest compiled program of one filter, in bytes.
pub const COMPILED_SIZE_MAX: usize = 1 << 20;
/// Lazy DFA cache of one filter, per thread using it, in bytes (regex's default is 2 MiB,
/// which times 200 filters would be a lot of memory for a few words).
const DFA_CACHE_MAX: usize = 1 << 18;
/// Deepest nesting of groups and repetitions.
const NEST_MAX: u32 = 32;

/// Why a filter was refused; the `Display` text is shown to the moderator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("a filter is 1 to {PATTERN_MAX} characters")]
    Length,
    #[error("filters always ignore case: (?-i) cannot be used")]
    CaseSensitive,
    #[error("not a valid regular expression: {0}")]
    Invalid(String),
    #[error("this regular expression is too large once compiled (over {COMPILED_SIZE_MAX} bytes); make it simpler")]
    TooLarge,
}

/// Compile one filter as the gateways apply it: a word matches whole (`\b…\b` at its
/// word-character edges, after folding the word as texts are folded), a regex as given; both
/// case-insensitive, with the same size and nesting limits. The bot calls this to accept a filter, the gateways to load it.
pub fn compile(pattern: &str, is_regex: bool) -> Result<Regex, FilterError> {
    if pattern.is_empty() || pattern.chars().count() > PATTERN_MAX {
        return Err(FilterError::Length);
    }
    let source = if is_regex {
        let parsed = ast::parse::ParserBuilder::new()
            .nest_limit(NEST_MAX)
            .build()
            .parse(pattern)
            .map_err(|e| FilterError::Invalid(e.to_string()))?;
        if turns_case_off(&parsed) {
            return Err(FilterError::CaseSensitive);
        }
        pattern.to_owned()
    } else {
        let word = FoldedText::new(pattern.trim());
        if word.as_str().is_empty() {
            return Err(FilterError::Length);
        }
        // `\b` only where the word begins or ends with a word character: `\bc\+\+\b` could
        // never match `c++` followed by a space.
        let word = word.as_str();
        let edge = |c: Option<char>| if c.is_some_and(|c| c.is_alphanumeric() || c == '_') { r"\b" } else { "" };
        format!("{}{}{}", edge(word.chars().next()), regex::escape(word), edge(word.chars().next_back()))
    };
    RegexBuilder::new(&source)
        .case_insensitive(true)
        .size_limit(COMPILED_SIZE_MAX)
        .dfa_size_limit(DFA_CACHE_MAX)
        .nest_limit(NEST_MAX)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => FilterError::TooLarge,
            other => FilterError::Invalid(other.to_string()),
        })
}

/// Whether a flag group (`(?-i)`, `(?-i:…)`, `(?s-i)`…) anywhere in `ast` clears case
/// insensitivity. Depth is bounded by the parser's nest limit.
fn turns_case_off(ast: &Ast) -> bool {
    fn clears(flags: &ast::Flags) -> bool {
        let mut negated = false;
        for item in &flags.items {
            match item.kind {
                ast::FlagsItemKind::Negation => negated = true,
                ast::FlagsItemKind::Flag(ast::Flag::CaseInsensitive) if negated => return true,
                _ => {}
            }
        }
        false
    }
    match ast {
        Ast::Flags(set) => clears(&set.flags),
        Ast::Group(group) => {
            matches!(&group.kind, ast::GroupKind::NonCapturing(flags) if clears(flags)) || turns_case_off(&group.ast)
        }
        Ast::Repetition(rep) => turns_case_off(&rep.ast),
        Ast::Alternation(alt) => alt.asts.iter().any(turns_case_off),
        Ast::Concat(concat) => concat.asts.iter().any(turns_case_off),
        _ => false,
    }
}

/// The form of a text that filters see: each segment (a character and the combining marks
/// that follow it) NFKC-normalised and lowercased, default-ignorable characters dropped; with
/// where each segment came from, so a masking filter can mask the text as sent.
///
/// ASCII text is its own folded form (NFKC leaves it alone, and filters are case-insensitive
/// so its capitals need no lowering): it is borrowed, nothing is allocated.
#[derive(Debug)]
pub struct FoldedText<'a> {
    folded: Cow<'a, str>,
    /// Per segment, its start in `folded` and in the original; empty for borrowed ASCII.
    starts: Vec<(usize, usize)>,
    original_len: usize,
}

impl<'a> FoldedText<'a> {
    pub fn new(text: &'a str) -> Self {
        if text.is_ascii() {
            return Self { folded: Cow::Borrowed(text), starts: Vec::new(), original_len: text.len() };
        }
        let mut folded = String::with_capacity(text.len());
        let mut starts = Vec::new();
        let mut segment_start = 0;
        for (i, c) in text.char_indices().skip(1) {
            if starts_segment(c) {
                fold_segment(&text[segment_start..i], segment_start, &mut folded, &mut starts);
                segment_start = i;
            }
        }
        if !text.is_empty() {
            fold_segment(&text[segment_start..], segment_start, &mut folded, &mut starts);
        }
        Self { folded: Cow::Owned(folded), starts, original_len: text.len() }
    }

    pub fn as_str(&self) -> &str {
        &self.folded
    }

    /// The bytes of the original text that produced `range` of the folded one (whole
    /// segments: a match that ends inside a ligature masks all of it).
    pub fn original_range(&self, range: Range<usize>) -> Range<usize> {
        if self.starts.is_empty() || range.is_empty() {
            return range;
        }
        // The last segment starting at or before a position is the non-empty one holding it
        // (empty segments, dropped characters, share their start with the next one).
        let holding = |pos: usize| self.starts.partition_point(|(folded, _)| *folded <= pos).saturating_sub(1);
        let first = holding(range.start);
        let last = holding(range.end - 1);
        let start = self.starts[first].1;
        let end = self.starts.get(last + 1).map_or(self.original_len, |(_, original)| *original);
        start..end
    }
}

/// Where NFKC may not look back across: a starter that does not compose with what precedes it.
fn starts_segment(c: char) -> bool {
    unicode_normalization::char::canonical_combining_class(c) == 0
        && unicode_normalization::is_nfkc_quick(std::iter::once(c)) != unicode_normalization::IsNormalized::Maybe
}

fn fold_segment(segment: &str, original_start: usize, folded: &mut String, starts: &mut Vec<(usize, usize)>) {
    starts.push((folded.len(), original_start));
    for c in segment.chars().nfkc().filter(|c| !is_default_ignorable(*c)) {
        folded.extend(c.to_lowercase());
    }
}

/// What the filters make of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The text to deliver, masked where a masking filter matched.
    Pass(String),
    Blocked,
}

struct Compiled {
    regex: Regex,
    action: FilterAction,
}

/// Compiled filters, ready to apply.
#[derive(Default)]
pub struct FilterSet {
    compiled: Vec<Compiled>,
}

impl FilterSet {
    /// Compile every definition; those that do not compile are left out and returned with why
    /// (only filters stored before this rule existed can fail: the bot refuses the rest).
    pub fn compile(defs: &[FilterDef]) -> (Self, Vec<(i64, FilterError)>) {
        let mut compiled = Vec::with_capacity(defs.len());
        let mut refused = Vec::new();
        for def in defs {
            match compile(&def.pattern, def.regex) {
                Ok(regex) => compiled.push(Compiled { regex, action: def.action }),
                Err(e) => refused.push((def.id, e)),
            }
        }
        (Self { compiled }, refused)
    }

    pub fn len(&self) -> usize {
        self.compiled.len()
    }

    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// Block or mask `text` (already [`crate::input::clean_text`]ed). A text no filter
    /// touches is handed back as it came, and ASCII text is matched where it lies.
    pub fn apply(&self, text: String) -> Verdict {
        if self.compiled.is_empty() {
            return Verdict::Pass(text);
        }
        let view = FoldedText::new(&text);
        let folded = view.as_str();
        if self.compiled.iter().any(|c| c.action == FilterAction::Block && c.regex.is_match(folded)) {
            return Verdict::Blocked;
        }
        let mut masked: Vec<Range<usize>> = self
            .compiled
            .iter()
            .filter(|c| c.action == FilterAction::Mask)
            .flat_map(|c| c.regex.find_iter(folded))
            .filter(|m| !m.is_empty())
            .map(|m| view.original_range(m.range()))
            .collect();
        if masked.is_empty() {
            return Verdict::Pass(text);
        }
        masked.sort_by_key(|r| r.start);
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        for range in masked {
            let start = range.start.max(done);
            if start >= range.end {
                continue;
            }
            out.push_str(&text[done..start]);
            let shown = text[start..range.end]
                .chars()
                .filter(|c| {
                    !is_default_ignorable(*c) && unicode_normalization::char::canonical_combining_class(*c) == 0
                })
                .count();
            out.extend(std::iter::repeat_n('*', shown.max(1)));
            done = range.end;
        }
        out.push_str(&text[done..]);
        Verdict::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::clean_text;

    fn def(id: i64, pattern: &str, regex: bool, action: FilterAction) -> FilterDef {
        FilterDef { id, pattern: pattern.into(), regex, action }
    }

    fn set(defs: &[FilterDef]) -> FilterSet {
        let (set, refused) = FilterSet::compile(defs);
        assert!(refused.is_empty(), "{refused:?}");
        set
    }

    /// A text as the gateway filters it: cleaned first, as `MessageText::parse` does.
    fn apply(set: &FilterSet, raw: &str) -> Verdict {
        set.apply(clean_text(raw).into_owned())
    }

    #[test]
    fn words_block_or_mask_whole_words_only() {
        let f = set(&[def(1, "spam", false, FilterAction::Block), def(2, "darn", false, FilterAction::Mask)]);
        assert_eq!(apply(&f, "buy SPAM now"), Verdict::Blocked);
        assert_eq!(apply(&f, "spammer is fine"), Verdict::Pass("spammer is fine".into()));
        assert_eq!(apply(&f, "Darn it, darn."), Verdict::Pass("**** it, ****.".into()));
        let f = set(&[def(3, r"https?://\S+", true, FilterAction::Mask)]);
        assert_eq!(
            apply(&f, "see http://x.example/y ok"),
            Verdict::Pass(format!("see {} ok", "*".repeat("http://x.example/y".len())))
        );
    }

    #[test]
    fn invisible_and_full_width_evasions_are_caught() {
        for filter in [def(1, r"\bspam\b", true, FilterAction::Block), def(1, "spam", false, FilterAction::Block)] {
            let f = set(&[filter]);
            for evasion in [
                "sp\u{200B}am",
                "s\u{200C}p\u{200D}a\u{2060}m",
                "sp\u{00AD}am",
                "s\u{FE0F}pam",
                "spa\u{E0041}m",
                "\u{202E}maps",
                "ｓｐａｍ",
                "ＳＰＡＭ today",
                "buy 𝐬𝐩𝐚𝐦",
                "ⓢⓟⓐⓜ",
                "Sp\u{200B}Ａm!",
            ] {
                let verdict = apply(&f, evasion);
                if evasion.contains("maps") {
                    // Only the override goes: the letters stay in their order.
                    assert_eq!(verdict, Verdict::Pass("maps".into()));
                } else {
                    assert_eq!(verdict, Verdict::Blocked, "{evasion:?}");
                }
            }
            assert_eq!(apply(&f, "ｓｐａｍｍｅｒ"), Verdict::Pass("ｓｐａｍｍｅｒ".into()));
        }
    }

    #[test]
    fn masks_cover_what_was_sent_and_leave_the_rest_byte_for_byte() {
        let f = set(&[def(1, "darn", false, FilterAction::Mask)]);
        assert_eq!(apply(&f, "ｄａｒｎ it"), Verdict::Pass("**** it".into()));
        assert_eq!(apply(&f, "❤️ DARN 👩‍💻 🏴󠁧󠁢󠁳󠁣󠁴󠁿"), Verdict::Pass("❤️ **** 👩‍💻 🏴󠁧󠁢󠁳󠁣󠁴󠁿".into()));
        // A combining mark belongs to its letter: one asterisk each.
        let f = set(&[def(1, "café", false, FilterAction::Mask)]);
        assert_eq!(apply(&f, "un cafe\u{301} noir"), Verdict::Pass("un **** noir".into()));
        assert_eq!(apply(&f, "un CAFÉ noir"), Verdict::Pass("un **** noir".into()));
        // Overlapping masks from two filters mask the union once.
        let f = set(&[def(1, "ab", true, FilterAction::Mask), def(2, "b c", true, FilterAction::Mask)]);
        assert_eq!(apply(&f, "x ab c y"), Verdict::Pass("x **** y".into()));
        // A ligature is one segment: matching part of it masks all of it.
        let f = set(&[def(1, "fi", true, FilterAction::Mask)]);
        assert_eq!(apply(&f, "ﬁne"), Verdict::Pass("*ne".into()));
    }

    #[test]
    fn texts_no_filter_touches_come_back_unchanged() {
        let f = set(&[def(1, "spam", false, FilterAction::Block), def(2, "darn", false, FilterAction::Mask)]);
        for text in ["Hello there", "Привет, мир", "❤️ 👩‍💻 🏴󠁧󠁢󠁳󠁣󠁴󠁿 1️⃣", "می\u{200C}خواهم", "ＨＥＬＬＯ"]
        {
            let cleaned = clean_text(text).into_owned();
            assert_eq!(f.apply(cleaned.clone()), Verdict::Pass(cleaned), "{text:?}");
        }
        assert_eq!(FilterSet::default().apply("x".into()), Verdict::Pass("x".into()));
    }

    #[test]
    fn ascii_is_matched_in_place_the_same_as_its_folded_form() {
        // ASCII texts skip lowering because every filter ignores case; these constructs are
        // where case could still matter.
        for pattern in [r"[^a-z]", r"\p{Lu}", r"[[:upper:]]", r"SPAM", r"\bS\w+", r"(?i:K)", r"[A-Z]{3}"] {
            let regex = compile(pattern, true).unwrap();
            for text in ["SPAM", "spam", "Spam x", "kelvin", "ABC"] {
                let lower = text.to_lowercase();
                assert_eq!(
                    regex.is_match(FoldedText::new(text).as_str()),
                    regex.is_match(&lower),
                    "{pattern} on {text}"
                );
            }
        }
        assert!(matches!(FoldedText::new("Plain ASCII").folded, Cow::Borrowed(_)));
    }

    #[test]
    fn compile_refuses_what_the_gateways_could_not_apply() {
        assert_eq!(compile("", false).unwrap_err(), FilterError::Length);
        assert_eq!(compile("\u{200B}", false).unwrap_err(), FilterError::Length);
        assert_eq!(compile(&"x".repeat(PATTERN_MAX + 1), true).unwrap_err(), FilterError::Length);
        assert!(compile(&"x".repeat(PATTERN_MAX), true).is_ok());
        assert!(matches!(compile("(", true), Err(FilterError::Invalid(_))));
        for case_sensitive in ["(?-i)Spam", "a(?-i:B)c", "(?s-i)x", "(a|(?-i)b)+"] {
            assert_eq!(compile(case_sensitive, true).unwrap_err(), FilterError::CaseSensitive, "{case_sensitive}");
        }
        for fine in ["(?i)spam", "(?s)a.b", "(?-s:a.b)", "(?x) s p a m"] {
            assert!(compile(fine, true).is_ok(), "{fine}");
        }
        // Compiled case-sensitively, as the bot once checked, this fits in the size limit;
        // case-insensitively, as the gateways apply it, it does not: refused up front.
        let pattern = "spam|[a-z]{3450}";
        assert!(RegexBuilder::new(pattern).size_limit(COMPILED_SIZE_MAX).build().is_ok());
        assert_eq!(compile(pattern, true).unwrap_err(), FilterError::TooLarge);
        assert!(matches!(
            compile(&format!("{}x{}", "(".repeat(40), ")".repeat(40)), true),
            Err(FilterError::Invalid(_))
        ));
        // A word is folded before it is escaped, so it matches folded text.
        let word = compile("ＳＰＡＭ", false).unwrap();
        assert!(word.is_match("spam"));
        assert!(compile("c++", false).unwrap().is_match("I like c++ a lot"));
        assert!(!compile("c++", false).unwrap().is_match("I like c+ a lot"));
    }

    #[test]
    fn a_set_keeps_the_filters_that_compile() {
        let (f, refused) = FilterSet::compile(&[
            def(1, "spam", false, FilterAction::Block),
            def(2, "(", true, FilterAction::Block),
            def(3, "(?-i)Ham", true, FilterAction::Block),
        ]);
        assert_eq!(f.len(), 1);
        assert_eq!(refused.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(f.apply("spam".into()), Verdict::Blocked);
    }

    #[test]
    fn folded_ranges_map_back_to_whole_segments() {
        let text = "aｂ\u{200B}c";
        let view = FoldedText::new(text);
        assert_eq!(view.as_str(), "abc");
        assert_eq!(view.original_range(1..2), 1..4);
        assert_eq!(view.original_range(2..3), 7..8);
        assert_eq!(view.original_range(0..3), 0..8);
        assert_eq!(FoldedText::new("").as_str(), "");
        assert_eq!(FoldedText::new("ÉCOLE").as_str(), "école");
    }
}
