//! What the trust tier looks for in a message: links (and their hosts), long pastes, and the
//! normalised text repeats are compared by.
//!
//! A link is anything with a scheme (`https://…`, `ftp://…`, `hxxp://…`) or starting with
//! `www.`: what a browser or a reader would follow. Bare domains (`example.com`) are not
//! counted: the web client does not make them clickable, and words like `node.js` would be
//! refused by mistake.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use regex::Regex;

/// A message longer than this many characters is a paste.
pub const PASTE_CHARS: usize = 300;
/// A message of more lines than this is a paste.
pub const PASTE_LINES: usize = 6;

static LINK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // The host runs to the first character that cannot be part of one.
    Regex::new(r"(?i)(?:\b[a-z][a-z0-9+.\-]{0,15}://|\bwww\.)([^\s/?#<>()\[\]{}\x22'`|\\^]*)").ok()
});

/// The hosts of the links in `text` (lowercase, without user, port or trailing dots); an
/// empty host (`https:// x`) is still a link, reported as `""`.
pub fn link_hosts(text: &str) -> Vec<String> {
    let Some(link) = LINK.as_ref() else { return Vec::new() };
    link.captures_iter(text)
        .map(|c| {
            let whole = c.get(0).map_or("", |m| m.as_str());
            let mut host = c.get(1).map_or("", |m| m.as_str());
            // `user:pass@host`: the host is after the last `@`.
            if let Some(at) = host.rfind('@') {
                host = &host[at + 1..];
            }
            // A port, unless the host is an IPv6 literal.
            if !host.starts_with('[')
                && let Some(colon) = host.find(':')
            {
                host = &host[..colon];
            }
            let host = host.trim_end_matches(['.', ',', ';', '!', '?', ':']).to_lowercase();
            if whole.to_ascii_lowercase().starts_with("www.") { format!("www.{host}") } else { host }
        })
        .collect()
}

/// Whether `host` is `domain` or one of its subdomains.
pub fn host_in(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

/// Whether `text` is a long paste: more than [`PASTE_CHARS`] characters or [`PASTE_LINES`]
/// lines.
pub fn is_paste(text: &str) -> bool {
    text.chars().count() > PASTE_CHARS || text.lines().count() > PASTE_LINES
}

/// A hash of `text` as repeats are compared: case folded, whitespace runs as one space, the
/// ends trimmed, so `Hi  there` repeats `hi there`.
pub fn repeat_key(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for word in text.split_whitespace() {
        for c in word.chars().flat_map(char::to_lowercase) {
            c.hash(&mut hasher);
        }
        ' '.hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_with_their_hosts() {
        assert_eq!(link_hosts("see https://Example.org/path?q=1 now"), vec!["example.org"]);
        assert_eq!(
            link_hosts("http://user:pw@evil.test:8080/x and www.Spam.test."),
            vec!["evil.test", "www.spam.test"]
        );
        assert_eq!(link_hosts("(hxxp://a.b.c)"), vec!["a.b.c"]);
        assert_eq!(link_hosts("ftp://files.example"), vec!["files.example"]);
        assert_eq!(link_hosts("https:// gap"), vec![""]);
        assert!(link_hosts("node.js and example.com are words here").is_empty());
    }

    #[test]
    fn domains_cover_their_subdomains_only() {
        assert!(host_in("example.org", "example.org"));
        assert!(host_in("docs.example.org", "example.org"));
        assert!(!host_in("badexample.org", "example.org"));
        assert!(!host_in("example.org.evil.test", "example.org"));
    }

    #[test]
    fn pastes_are_long_or_tall() {
        assert!(!is_paste(&"a".repeat(PASTE_CHARS)));
        assert!(is_paste(&"a".repeat(PASTE_CHARS + 1)));
        assert!(!is_paste("1\n2\n3\n4\n5\n6"));
        assert!(is_paste("1\n2\n3\n4\n5\n6\n7"));
    }

    #[test]
    fn repeats_ignore_case_and_spacing() {
        assert_eq!(repeat_key("Hi  there "), repeat_key("hi there"));
        assert_ne!(repeat_key("hi there"), repeat_key("hi there!"));
        assert_ne!(repeat_key("ab c"), repeat_key("a bc"));
    }
}
