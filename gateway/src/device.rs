//! The device token and its tag.
//!
//! The web client keeps a random token in its storage and connects to `/ws?device=<token>`. The
//! gateway keeps only a keyed hash of it, the [`DeviceTag`] (HMAC-SHA256 with the deployment's
//! `owner_secret`, purpose `device`, the first 6 bytes in hex): what tells two connections of
//! one browser apart from two of one address. The raw token is never stored, logged, sent to
//! Discord nor put on the bus; a token that is not 16 to 64 characters of `[A-Za-z0-9_-]` is
//! ignored (the connection simply has no device tag).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Shortest and longest device token accepted.
pub const TOKEN_MIN: usize = 16;
pub const TOKEN_MAX: usize = 64;
/// Characters of a device tag.
pub const TAG_LEN: usize = 12;

/// A device's tag: 12 lowercase hex digits, kept inline (no allocation per connection).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceTag([u8; TAG_LEN]);

impl DeviceTag {
    /// The tag of the token a client sent, or `None` when the token is not a valid one.
    pub fn of_token(token: &str, secret: &str) -> Option<Self> {
        let valid = (TOKEN_MIN..=TOKEN_MAX).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
        mac.update(b"device:");
        mac.update(token.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        for (i, byte) in digest.iter().take(TAG_LEN / 2).enumerate() {
            tag[2 * i] = HEX[usize::from(byte >> 4)];
            tag[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        Some(Self(tag))
    }

    /// A tag as it travels (12 lowercase hex digits), or `None`.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let tag: [u8; TAG_LEN] = text.try_into().ok()?;
        tag.iter().all(|b| HEX.contains(b)).then_some(Self(tag))
    }

    pub fn as_bytes(&self) -> &[u8; TAG_LEN] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The tag of the request's `?device=<token>`, if it carries a valid one.
pub(crate) fn from_query(state: &crate::state::State, req: &salvo::Request) -> Option<DeviceTag> {
    let token = req.query::<String>("device")?;
    DeviceTag::of_token(&token, secrecy::ExposeSecret::expose_secret(&state.config.owner_secret))
}

impl fmt::Display for DeviceTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DeviceTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceTag({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_token_has_a_stable_keyed_tag() {
        let token = "0123456789abcdef0123456789abcdef";
        let a = DeviceTag::of_token(token, "secret").unwrap();
        assert_eq!(a, DeviceTag::of_token(token, "secret").unwrap());
        assert_ne!(a, DeviceTag::of_token(token, "other secret").unwrap(), "keyed");
        assert_ne!(a, DeviceTag::of_token("0123456789abcdef0123456789abcdee", "secret").unwrap());
        assert_eq!(a.as_str().len(), TAG_LEN);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!a.as_str().contains("0123456789ab"), "the tag is not the token");
        assert_eq!(DeviceTag::parse(a.as_str().as_bytes()), Some(a));
    }

    #[test]
    fn tokens_outside_the_rules_are_ignored() {
        let long = "a".repeat(65);
        for bad in [
            "",
            "short",
            "0123456789abcde",
            long.as_str(),
            "0123456789abcdef 123",
            "0123456789abcdef/",
            "ééééééééééééééééé",
        ] {
            assert_eq!(DeviceTag::of_token(bad, "secret"), None, "{bad:?}");
        }
        assert!(DeviceTag::of_token(&"a".repeat(64), "secret").is_some());
        assert!(DeviceTag::of_token("A-_z09A-_z09A-_z", "secret").is_some());
        assert_eq!(DeviceTag::parse(b"0123456789aG"), None);
        assert_eq!(DeviceTag::parse(b"0123"), None);
    }
}
