//! Who is connecting: the client address (through trusted proxies only) and the page origin.

use std::net::IpAddr;

use ipnet::IpNet;
use salvo::Request;

/// An `X-Forwarded-For` entry that is not an address: the request is refused (HTTP 400
/// `bad_forwarded_for`) rather than taken as coming from the proxy, which would put every client
/// of that proxy under one address's limits and bans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Forwarded-For holds {entry:?}, which is not an IP address")]
pub struct BadForwardedFor {
    pub entry: String,
}

/// The client's address: the socket's peer, unless the peer is a trusted proxy, in which case
/// `X-Forwarded-For` is read from the right, skipping trusted proxies. Every header line counts,
/// joined in order (a proxy may append a line of its own rather than extend the last one). A
/// forged header from an untrusted peer changes nothing; entries left of the client's own are
/// never read.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Result<IpAddr, BadForwardedFor> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return Ok(peer);
    }
    let mut ip = peer;
    for part in forwarded_for.rev().flat_map(|line| line.rsplit(',')) {
        let addr = parse_entry(part.trim())
            .ok_or_else(|| BadForwardedFor { entry: part.trim().chars().take(64).collect() })?;
        ip = addr;
        if !is_trusted(&addr) {
            break;
        }
    }
    Ok(ip.to_canonical())
}

/// One entry: `a.b.c.d`, `a.b.c.d:port`, a bare IPv6 address (never with a port), or
/// `[v6]:port`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Is a WebSocket from this `Origin` allowed? Browsers always send one; a request without it
/// is not a browser page (so cross-site WebSocket hijacking does not apply) and is allowed.
/// With `allowed` configured the origin must be one of them; otherwise it must be this host.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: Option<&[String]>) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim().trim_end_matches('/');
    match allowed {
        Some(list) => list.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)),
        None => {
            let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
        }
    }
}

/// The client's address, from the socket.
pub fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.remote_addr().clone().into_std().map(|a| a.ip())
}

/// The client's address for `peer`'s request: through trusted proxies' `X-Forwarded-For`, every
/// header line of it.
pub fn request_ip(req: &Request, peer: IpAddr, trusted: &[ipnet::IpNet]) -> Result<IpAddr, BadForwardedFor> {
    let lines = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().map_err(|_| BadForwardedFor { entry: "(not text)".to_owned() }))
        .collect::<Result<Vec<&str>, _>>()?;
    client_ip(peer, lines.into_iter(), trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy = ip("10.1.2.3");
        let stranger = ip("203.0.113.5");
        let one = |h: &'static str| std::iter::once(h);
        assert_eq!(client_ip(stranger, one("1.2.3.4"), &trusted), Ok(stranger), "untrusted peers cannot forge");
        assert_eq!(client_ip(proxy, one("198.51.100.1, 10.9.9.9"), &trusted), Ok(ip("198.51.100.1")));
        assert_eq!(client_ip(proxy, one("6.6.6.6, 198.51.100.1"), &trusted), Ok(ip("198.51.100.1")));
        assert_eq!(client_ip(proxy, std::iter::empty(), &trusted), Ok(proxy));
    }

    #[test]
    fn every_header_line_counts_so_an_appended_line_wins() {
        // HAProxy's `option forwardfor` adds a line of its own after the client's.
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let lines = ["6.6.6.6", "198.51.100.1"];
        assert_eq!(client_ip(ip("10.0.0.1"), lines.into_iter(), &trusted), Ok(ip("198.51.100.1")));
        let lines = ["6.6.6.6, 10.0.0.7", "10.0.0.9"];
        assert_eq!(client_ip(ip("10.0.0.1"), lines.into_iter(), &trusted), Ok(ip("6.6.6.6")));
    }

    #[test]
    fn entries_with_ports_parse_and_garbage_is_refused() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy = ip("10.0.0.1");
        let one = |h: &'static str| std::iter::once(h);
        assert_eq!(client_ip(proxy, one("198.51.100.1:4711"), &trusted), Ok(ip("198.51.100.1")));
        assert_eq!(client_ip(proxy, one("[2001:db8::1]:4711"), &trusted), Ok(ip("2001:db8::1")));
        assert_eq!(client_ip(proxy, one("2001:db8::1"), &trusted), Ok(ip("2001:db8::1")));
        assert_eq!(client_ip(proxy, one("::ffff:198.51.100.1"), &trusted), Ok(ip("198.51.100.1")));
        for bad in ["unknown", "", "198.51.100.1, ", "2001:db8::1:4711x", "[2001:db8::1]", "1.2.3.4:99999"] {
            let refused = client_ip(proxy, one(bad), &trusted);
            assert!(refused.is_err(), "{bad:?} gave {refused:?}");
        }
        // Garbage left of the client's own entry is never read: it cannot refuse anyone.
        assert_eq!(client_ip(proxy, one("garbage, 198.51.100.1"), &trusted), Ok(ip("198.51.100.1")));
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(None, Some("chat.example"), None));
        assert!(origin_allowed(Some("https://chat.example"), Some("chat.example"), None));
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080"), None));
        assert!(!origin_allowed(Some("https://evil.example"), Some("chat.example"), None));
        let allowed = vec!["https://chat.example".to_owned()];
        assert!(origin_allowed(Some("https://chat.example"), Some("internal:8080"), Some(&allowed)));
        assert!(!origin_allowed(Some("https://other.example"), Some("other.example"), Some(&allowed)));
    }
}
