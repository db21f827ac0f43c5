//! The moderators' filters, compiled: words match whole and case-insensitively; regexes as
//! given (case-insensitive). A blocking match refuses the message (`filtered`); a masking one
//! replaces what matched with asterisks.

use std::sync::{Arc, RwLock};

use protocol::{FilterAction, FilterDef};
use regex::{Regex, RegexBuilder};

struct Compiled {
    regex: Regex,
    action: FilterAction,
}

#[derive(Default)]
pub struct Filters {
    compiled: RwLock<Arc<Vec<Compiled>>>,
}

/// What the filters make of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass(String),
    Blocked,
}

impl Filters {
    pub fn replace_all(&self, defs: &[FilterDef]) {
        let compiled = defs
            .iter()
            .filter_map(|def| {
                let source =
                    if def.regex { def.pattern.clone() } else { format!(r"\b{}\b", regex::escape(&def.pattern)) };
                match RegexBuilder::new(&source).case_insensitive(true).size_limit(1 << 20).build() {
                    Ok(regex) => Some(Compiled { regex, action: def.action }),
                    Err(e) => {
                        tracing::warn!(id = def.id, error = %e, "ignoring a filter that does not compile");
                        None
                    }
                }
            })
            .collect();
        *self.compiled.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(compiled);
    }

    pub fn apply(&self, text: &str) -> Verdict {
        let compiled = self.compiled.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if compiled.iter().any(|c| c.action == FilterAction::Block && c.regex.is_match(text)) {
            return Verdict::Blocked;
        }
        let mut out = text.to_owned();
        for c in compiled.iter().filter(|c| c.action == FilterAction::Mask) {
            out = c.regex.replace_all(&out, |m: &regex::Captures<'_>| "*".repeat(m[0].chars().count())).into_owned();
        }
        Verdict::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: i64, pattern: &str, regex: bool, action: FilterAction) -> FilterDef {
        FilterDef { id, pattern: pattern.into(), regex, action }
    }

    #[test]
    fn words_block_or_mask_whole_words_only() {
        let f = Filters::default();
        f.replace_all(&[def(1, "spam", false, FilterAction::Block), def(2, "darn", false, FilterAction::Mask)]);
        assert_eq!(f.apply("buy SPAM now"), Verdict::Blocked);
        assert_eq!(f.apply("spammer is fine"), Verdict::Pass("spammer is fine".into()));
        assert_eq!(f.apply("Darn it, darn."), Verdict::Pass("**** it, ****.".into()));
        f.replace_all(&[def(3, r"https?://\S+", true, FilterAction::Mask), def(4, "(", true, FilterAction::Block)]);
        assert_eq!(
            f.apply("see http://x.example/y ok"),
            Verdict::Pass(format!("see {} ok", "*".repeat("http://x.example/y".len())))
        );
    }
}
