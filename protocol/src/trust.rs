//! The trust tier for new visitors (issue 27): what a room's `links` setting says, and what
//! staff trusted (tags and link domains), as the bot publishes it to every gateway.

use serde::{Deserialize, Serialize};

/// Most staff-trusted tags and allowed domains the bot publishes (each list).
pub const TRUST_LIST_MAX: usize = 10_000;
/// Longest domain staff may allow.
pub const DOMAIN_MAX: usize = 253;

/// What a room does with links from visitors still in the trust tier (`/room links`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinksPolicy {
    /// Refused with `links_not_yet` (the default).
    #[default]
    Refuse,
    /// Delivered with `links: false`: shown as plain text.
    Inert,
    /// Delivered as anyone's.
    Allow,
}

impl LinksPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Inert => "inert",
            Self::Allow => "allow",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "refuse" => Some(Self::Refuse),
            "inert" => Some(Self::Inert),
            "allow" => Some(Self::Allow),
            _ => None,
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Self::Refuse
    }
}

impl std::fmt::Display for LinksPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tag staff trusted (`/trust`, `chatroulette trust`): the networks and device tags it
/// stands for. A visitor whose device tag is among `devices`, or whose address is in one of
/// `networks`, skips the trust tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrustedDef {
    pub id: i64,
    /// The tag as staff named it.
    pub tag: String,
    /// CIDR networks (`203.0.113.7/32`, `2001:db8::/64`).
    #[serde(default)]
    pub networks: Vec<String>,
    /// Device tags (12 hex digits).
    #[serde(default)]
    pub devices: Vec<String>,
}

/// Everything staff trusted, published whole (like the filter list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrustList {
    #[serde(default)]
    pub trusted: Vec<TrustedDef>,
    /// Link domains always allowed (`/links allow`), lowercase; a domain covers its subdomains.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// Check a domain as staff type it: lowercase letters, digits, dashes and dots, at least one
/// dot, labels of 1 to 63 characters; a leading `*.` or `http(s)://` and a trailing `/` are
/// dropped. Returns the normalised domain.
pub fn parse_domain(raw: &str) -> Result<String, String> {
    let mut d = raw.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://", "*."] {
        if let Some(rest) = d.strip_prefix(prefix) {
            d = rest.to_owned();
        }
    }
    let d = d.trim_end_matches('/').trim_end_matches('.').to_owned();
    let labels_ok = d.split('.').all(|l| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if d.is_empty() || d.len() > DOMAIN_MAX || !d.contains('.') || !labels_ok {
        return Err(format!("{:?} is not a domain like example.org", raw.chars().take(80).collect::<String>()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn policies_read_and_write_their_names() {
        for p in [LinksPolicy::Refuse, LinksPolicy::Inert, LinksPolicy::Allow] {
            assert_eq!(LinksPolicy::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(LinksPolicy::parse(" INERT "), Some(LinksPolicy::Inert));
        assert_eq!(LinksPolicy::parse("maybe"), None);
        assert_eq!(LinksPolicy::default(), LinksPolicy::Refuse);
    }

    #[test]
    fn domains_are_normalised_or_refused() {
        assert_eq!(parse_domain("Example.ORG").unwrap(), "example.org");
        assert_eq!(parse_domain("https://docs.rs/").unwrap(), "docs.rs");
        assert_eq!(parse_domain("*.wikipedia.org").unwrap(), "wikipedia.org");
        for bad in ["", "localhost", "exa mple.org", "-a.org", "a..org", "a.org/path", "ex_ample.org"] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }
}
