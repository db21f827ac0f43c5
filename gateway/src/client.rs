//! Who is connecting: the client address (through trusted proxies only) and the page origin.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: the socket's peer, unless the peer is a trusted proxy, in which case
/// `X-Forwarded-For` is read from the right, skipping trusted proxies. A forged header from an
/// untrusted peer changes nothing.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut ip = peer;
    for part in forwarded_for.unwrap_or_default().rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(addr) => {
                ip = addr;
                if !is_trusted(&addr) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    ip
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.5".parse().unwrap();
        assert_eq!(client_ip(stranger, Some("1.2.3.4"), &trusted), stranger, "untrusted peers cannot forge");
        assert_eq!(
            client_ip(proxy, Some("198.51.100.1, 10.9.9.9"), &trusted),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(proxy, Some("6.6.6.6, 198.51.100.1"), &trusted),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
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
