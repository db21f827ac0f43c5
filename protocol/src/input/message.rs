//! Message texts: [`clean_text`]ed, then checked for length, parsed into [`MessageText`].

use super::clean::clean_text;

/// Longest message, in Unicode scalar values after trimming.
pub const MESSAGE_MAX: usize = 2000;

/// Why a message text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("message is empty")]
    Empty,
    #[error("message is {0} characters long; the limit is {MESSAGE_MAX}")]
    TooLong(usize),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_rules() {
        assert_eq!(MessageText::parse("  hi\r\nthere  ").unwrap().as_str(), "hi\nthere");
        assert_eq!(MessageText::parse(" \n\t "), Err(TextError::Empty));
        assert_eq!(MessageText::parse("a\u{0000}b").unwrap().as_str(), "ab");
        assert!(MessageText::parse(&"ü".repeat(MESSAGE_MAX)).is_ok());
        assert_eq!(MessageText::parse(&"ü".repeat(MESSAGE_MAX + 1)), Err(TextError::TooLong(MESSAGE_MAX + 1)));
    }
}
