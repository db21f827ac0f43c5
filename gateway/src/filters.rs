//! The moderators' filters as this gateway applies them: compiled by
//! [`protocol::filter::compile`], the function the bot accepted them with, so every filter the
//! bot took is applied here. Filters see the text folded (NFKC, lowercase, no invisible
//! characters); a blocking match refuses the message (`filtered`), a masking one replaces what
//! matched with asterisks.

use std::sync::{Arc, RwLock};

use protocol::FilterDef;
use protocol::filter::FilterSet;
pub use protocol::filter::Verdict;

#[derive(Default)]
pub struct Filters {
    compiled: RwLock<Arc<FilterSet>>,
    /// The definitions as last received, to put back on a bus that lost its data.
    defs: RwLock<Arc<Vec<FilterDef>>>,
}

impl Filters {
    /// The definitions applied now.
    pub fn defs(&self) -> Arc<Vec<FilterDef>> {
        self.defs.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn replace_all(&self, defs: &[FilterDef]) {
        *self.defs.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(defs.to_vec());
        let (compiled, refused) = FilterSet::compile(defs);
        for (id, error) in refused {
            // Only a filter stored before the bot checked filters this way can get here.
            tracing::warn!(id, %error, "ignoring a filter that does not compile");
        }
        *self.compiled.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(compiled);
    }

    /// Block or mask a cleaned message text; an untouched text is handed back as it came.
    pub fn apply(&self, text: String) -> Verdict {
        let compiled = self.compiled.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        compiled.apply(text)
    }
}

#[cfg(test)]
mod tests {
    use protocol::FilterAction;

    use super::*;

    fn def(id: i64, pattern: &str, regex: bool, action: FilterAction) -> FilterDef {
        FilterDef { id, pattern: pattern.into(), regex, action }
    }

    #[test]
    fn words_block_or_mask_whole_words_only() {
        let f = Filters::default();
        f.replace_all(&[def(1, "spam", false, FilterAction::Block), def(2, "darn", false, FilterAction::Mask)]);
        assert_eq!(f.apply("buy SPAM now".into()), Verdict::Blocked);
        assert_eq!(f.apply("buy ｓｐａｍ now".into()), Verdict::Blocked);
        assert_eq!(f.apply("spammer is fine".into()), Verdict::Pass("spammer is fine".into()));
        assert_eq!(f.apply("Darn it, darn.".into()), Verdict::Pass("**** it, ****.".into()));
        f.replace_all(&[def(3, r"https?://\S+", true, FilterAction::Mask), def(4, "(", true, FilterAction::Block)]);
        assert_eq!(
            f.apply("see http://x.example/y ok".into()),
            Verdict::Pass(format!("see {} ok", "*".repeat("http://x.example/y".len())))
        );
        assert_eq!(f.apply("spam".into()), Verdict::Pass("spam".into()), "replaced, not added to");
    }
}
