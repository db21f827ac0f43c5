//! The automatic first response's count: reports against one tag from [`THRESHOLD`] distinct
//! reporters within [`WINDOW`] shadow-mute that tag (for at most `AUTO_MUTE_SECS`) until a
//! moderator decides.
//!
//! Reporters are told apart only by their network (IPv4 /24, IPv6 /48) and their device tag:
//! two reports from one /24, or from one device on two networks, are one reporter. A report
//! counts only when its reporter had been connected for [`MIN_CONNECTED`] when reporting, and
//! does not come from the reported sender's own address (IPv4 address, IPv6 /64). This module
//! only decides; the reports' rows come from `super`.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

/// Distinct reporters that bring the automatic mute.
pub const THRESHOLD: usize = 3;
/// How far back reports are counted.
pub const WINDOW: Duration = Duration::from_secs(600);
/// How long a reporter must have been connected for their report to count.
pub const MIN_CONNECTED: Duration = Duration::from_secs(600);

/// One report, as the count sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub ip: IpAddr,
    pub device: Option<String>,
    /// When the reporting connection opened.
    pub since: DateTime<Utc>,
    /// When the report was made.
    pub at: DateTime<Utc>,
}

/// The network that tells reporters apart: IPv4 /24, IPv6 /48.
pub fn reporter_network(ip: IpAddr) -> IpNet {
    let ip = ip.to_canonical();
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix).map(|n| n.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

/// Whether two addresses are one sender's: the same IPv4 address, the same IPv6 /64.
fn same_address(a: IpAddr, b: IpAddr) -> bool {
    match (a.to_canonical(), b.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a == b,
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}

/// Whether one report counts toward the automatic mute of `reported` (the reported sender's
/// address; `None` when the log no longer has it, which excludes nothing).
pub fn counts(report: &Counted, reported: Option<IpAddr>) -> bool {
    let connected = report.at.signed_duration_since(report.since).to_std().unwrap_or_default();
    connected >= MIN_CONNECTED && !reported.is_some_and(|ip| same_address(ip, report.ip))
}

/// How many distinct reporters made the reports that count, among those made within
/// [`WINDOW`] before `now`. Reporters sharing a network or a device are one (transitively: a
/// device seen on two networks joins them).
pub fn distinct_reporters(reports: &[Counted], reported: Option<IpAddr>, now: DateTime<Utc>) -> usize {
    let window = chrono::Duration::from_std(WINDOW).unwrap_or_default();
    // Each group: the networks and devices of the reporters found to be one.
    let mut groups: Vec<(Vec<IpNet>, Vec<String>)> = Vec::new();
    for report in reports.iter().filter(|r| r.at > now - window && r.at <= now && counts(r, reported)) {
        let net = reporter_network(report.ip);
        let mut merged = (vec![net], report.device.iter().cloned().collect::<Vec<_>>());
        groups.retain(|(nets, devices)| {
            let shared = nets.contains(&net) || report.device.as_ref().is_some_and(|d| devices.contains(d));
            if shared {
                merged.0.extend(nets.iter().copied());
                merged.1.extend(devices.iter().cloned());
            }
            !shared
        });
        groups.push(merged);
    }
    groups.len()
}

/// Whether the reports bring the automatic mute.
pub fn should_mute(reports: &[Counted], reported: Option<IpAddr>, now: DateTime<Utc>) -> bool {
    distinct_reporters(reports, reported, now) >= THRESHOLD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ip: &str, device: Option<&str>, connected_min: i64, ago_min: i64, now: DateTime<Utc>) -> Counted {
        let at = now - chrono::Duration::minutes(ago_min);
        Counted {
            ip: ip.parse().unwrap(),
            device: device.map(str::to_owned),
            since: at - chrono::Duration::minutes(connected_min),
            at,
        }
    }

    #[test]
    fn three_from_one_slash_24_are_one_reporter() {
        let now = Utc::now();
        let reports = [
            report("203.0.113.1", Some("aaaaaaaaaaaa"), 30, 1, now),
            report("203.0.113.2", Some("bbbbbbbbbbbb"), 30, 1, now),
            report("203.0.113.3", None, 30, 1, now),
        ];
        assert_eq!(distinct_reporters(&reports, None, now), 1);
        assert!(!should_mute(&reports, None, now));
    }

    #[test]
    fn three_distinct_reporters_mute() {
        let now = Utc::now();
        let reports = [
            report("203.0.113.1", Some("aaaaaaaaaaaa"), 30, 1, now),
            report("198.51.100.7", Some("bbbbbbbbbbbb"), 30, 2, now),
            report("2001:db8:1::1", None, 30, 3, now),
        ];
        assert_eq!(distinct_reporters(&reports, Some("192.0.2.9".parse().unwrap()), now), 3);
        assert!(should_mute(&reports, Some("192.0.2.9".parse().unwrap()), now));
    }

    #[test]
    fn ipv6_reporters_are_told_apart_by_slash_48() {
        let now = Utc::now();
        let reports = [
            report("2001:db8:1:1::1", None, 30, 1, now),
            report("2001:db8:1:2::1", None, 30, 1, now),
            report("2001:db8:1:ffff::1", None, 30, 1, now),
        ];
        assert_eq!(distinct_reporters(&reports, None, now), 1);
        let apart = [report("2001:db8:1::1", None, 30, 1, now), report("2001:db8:2::1", None, 30, 1, now)];
        assert_eq!(distinct_reporters(&apart, None, now), 2);
    }

    #[test]
    fn one_device_on_several_networks_is_one_reporter() {
        let now = Utc::now();
        let reports = [
            report("203.0.113.1", Some("dddddddddddd"), 30, 1, now),
            report("198.51.100.1", Some("dddddddddddd"), 30, 1, now),
            report("192.0.2.1", Some("dddddddddddd"), 30, 1, now),
        ];
        assert_eq!(distinct_reporters(&reports, None, now), 1);
        // A device seen on two networks joins them: a third report from either is the same one.
        let joined = [
            report("203.0.113.1", Some("dddddddddddd"), 30, 1, now),
            report("198.51.100.1", None, 30, 1, now),
            report("198.51.100.2", Some("dddddddddddd"), 30, 1, now),
        ];
        assert_eq!(distinct_reporters(&joined, None, now), 1);
    }

    #[test]
    fn new_visitors_old_reports_and_the_reported_address_do_not_count() {
        let now = Utc::now();
        // Connected for less than 10 minutes.
        let fresh = [
            report("203.0.113.1", None, 9, 1, now),
            report("198.51.100.1", None, 30, 1, now),
            report("192.0.2.1", None, 30, 1, now),
        ];
        assert_eq!(distinct_reporters(&fresh, None, now), 2);
        assert!(!should_mute(&fresh, None, now));
        // Made more than 10 minutes ago.
        let old = [
            report("203.0.113.1", None, 30, 11, now),
            report("198.51.100.1", None, 30, 1, now),
            report("192.0.2.1", None, 30, 1, now),
        ];
        assert!(!should_mute(&old, None, now));
        // From the reported sender's own address (IPv6: its /64).
        let own = [
            report("2001:db8:9:9::1", None, 30, 1, now),
            report("198.51.100.1", None, 30, 1, now),
            report("192.0.2.1", None, 30, 1, now),
        ];
        assert!(!should_mute(&own, Some("2001:db8:9:9::abcd".parse().unwrap()), now));
        assert!(should_mute(&own, Some("2001:db8:9:8::1".parse().unwrap()), now));
    }
}
