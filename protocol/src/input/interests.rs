//! Roulette interests: the tags a ticket is matched by, normalised by [`parse_interests`].

use super::compare::fold;

/// Most interests one roulette ticket may carry.
pub const INTERESTS_MAX: usize = 5;
/// Longest interest tag, in characters.
pub const INTEREST_MAX_CHARS: usize = 24;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_rules() {
        let tags = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_interests(&tags(&[" Music", "music", "Go"])).unwrap(), tags(&["music", "go"]));
        assert!(matches!(parse_interests(&tags(&["a b"])), Err(InterestError::Invalid(_))));
        assert!(matches!(parse_interests(&tags(&[""])), Err(InterestError::Invalid(_))));
        assert_eq!(parse_interests(&tags(&["a", "b", "c", "d", "e", "f"])), Err(InterestError::TooMany));
        assert_eq!(parse_interests(&tags(&["a"; 6])), Err(InterestError::TooMany), "counted before de-duplication");
        assert_eq!(parse_interests(&tags(&["a b"; 6])), Err(InterestError::TooMany), "counted before validation");
    }
}
