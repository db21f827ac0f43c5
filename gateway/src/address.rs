//! Who a per-address budget belongs to.
//!
//! A host on IPv6 usually holds a whole /64 (a VPS, most home lines), so it can rotate through
//! 2^64 addresses at will: every per-address budget (open sockets, the message, join and typing
//! buckets, seats per room, slowmode, visitor rooms) is kept per /64 there, as bans already are.
//! IPv4 addresses stand for themselves, and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
//! dual-stack socket reports) is the IPv4 address it carries.
//!
//! Operators may declare shared addresses (`SHARED_ADDRESSES`: a campus or carrier NAT, where
//! many people come from one address); their budgets of sockets, seats, messages and joins are
//! multiplied by `SHARED_ADDRESS_FACTOR`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;

/// The key of an address's budgets: the IPv4 address, or the /64 of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    /// The budget key of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !u128::from(u64::MAX);
                Self(IpAddr::V6(Ipv6Addr::from(bits)))
            }
        }
    }

    /// A keyed hash of the key (HMAC-SHA256, 12 bytes in hex), for what leaves the process
    /// (room owners, seat holders in Redis): addresses themselves never do. `purpose` keeps
    /// the hashes of different uses apart.
    pub fn tag(&self, secret: &str, purpose: &str) -> String {
        let network = self.to_string();
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return network;
        };
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(network.as_bytes());
        mac.finalize().into_bytes().iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for AddressKey {
    /// `203.0.113.7`, or `2001:db8:1:2::/64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                write!(f, "{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }
}

/// A client's address as its connection keeps it: the exact address (for the message log and
/// bans) and how many ordinary budgets it gets (1, or `SHARED_ADDRESS_FACTOR` for a declared
/// shared address). Worked out once per connection, at the upgrade; the budget key is derived
/// when needed (a mask), which keeps every idle connection smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub ip: IpAddr,
    pub factor: u32,
}

impl Address {
    pub fn new(ip: IpAddr, shared: &[IpNet], factor: u32) -> Self {
        let canonical = ip.to_canonical();
        let factor = if shared.iter().any(|net| net.contains(&canonical)) { factor.max(1) } else { 1 };
        Self { ip, factor }
    }

    /// The key of this address's budgets.
    pub fn key(&self) -> AddressKey {
        AddressKey::of(self.ip)
    }

    /// A per-address budget of `n`, for this address.
    pub fn scale(&self, n: u32) -> u32 {
        n.saturating_mul(self.factor)
    }

    /// [`Address::scale`] for counts.
    pub fn scale_usize(&self, n: usize) -> usize {
        n.saturating_mul(self.factor as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> AddressKey {
        AddressKey::of(s.parse().unwrap())
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_ipv4_by_itself() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
        assert_eq!(key("::ffff:203.0.113.7"), key("203.0.113.7"));
        assert_eq!(key("::ffff:203.0.113.7").to_string(), "203.0.113.7");
    }

    #[test]
    fn tags_hide_the_address() {
        let tag = key("203.0.113.7").tag("secret", "seat");
        assert_eq!(tag.len(), 24);
        assert!(!tag.contains("203"));
        assert_ne!(tag, key("203.0.113.7").tag("other", "seat"));
        assert_ne!(tag, key("203.0.113.7").tag("secret", "owner"));
        assert_eq!(key("2001:db8::1").tag("s", "seat"), key("2001:db8::2").tag("s", "seat"));
    }

    #[test]
    fn shared_addresses_get_the_factor() {
        let shared: Vec<IpNet> = vec!["198.51.100.0/24".parse().unwrap(), "2001:db8:aa::/48".parse().unwrap()];
        let nat = Address::new("198.51.100.9".parse().unwrap(), &shared, 10);
        assert_eq!((nat.factor, nat.scale(3), nat.scale_usize(20)), (10, 30, 200));
        assert_eq!(Address::new("::ffff:198.51.100.9".parse().unwrap(), &shared, 10).factor, 10);
        assert_eq!(Address::new("2001:db8:aa:5::1".parse().unwrap(), &shared, 10).factor, 10);
        let home = Address::new("203.0.113.7".parse().unwrap(), &shared, 10);
        assert_eq!((home.factor, home.scale(3)), (1, 3));
    }
}
