//! Challenges in ALTCHA's v1 format: find the number n (0 ≤ n ≤ `maxnumber`) whose SHA-256 of
//! `salt ‖ n` (n in decimal ASCII) is `challenge`; `signature` is HMAC-SHA256 of `challenge`
//! with the shield's key. No state is kept: the salt carries the expiry and the address binding,
//! `<nonce>?expires=<unix seconds>&addr=<keyed hash of the address>&`, covered by the signature
//! through the hash. The trailing `&` keeps the number's digits from being spliced into the salt
//! (moving digits of n into `addr` or `expires` would leave a salt not ending in `&`).

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::key::{ShieldKey, hex};
use crate::address::AddressKey;

/// The only algorithm issued and accepted.
pub(crate) const ALGORITHM: &str = "SHA-256";

/// One challenge, as `GET /api/challenge` returns it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Challenge {
    pub algorithm: &'static str,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// SHA-256 of `salt ‖ number` in hex.
pub(crate) fn digest(salt: &str, number: u64) -> String {
    let mut hash = Sha256::new();
    hash.update(salt.as_bytes());
    hash.update(number.to_string().as_bytes());
    hex(&hash.finalize())
}

/// A fresh challenge for `address`, valid for `ttl` from `now` (Unix seconds).
pub(crate) fn issue(key: &ShieldKey, address: AddressKey, maxnumber: u64, ttl: Duration, now: u64) -> Challenge {
    let nonce: [u8; 12] = rand::random();
    let expires = now.saturating_add(ttl.as_secs().max(1));
    let salt = format!("{}?expires={expires}&addr={}&", hex(&nonce), key.address_tag(address));
    let number = rand::random_range(0..=maxnumber.max(1));
    let challenge = digest(&salt, number);
    let signature = key.sign(&challenge);
    Challenge { algorithm: ALGORITHM, challenge, maxnumber, salt, signature }
}

/// Solve a challenge by trying every number in turn (tests and the benchmark's clients do it
/// the way a browser does).
pub fn solve(salt: &str, challenge: &str, maxnumber: u64) -> Option<u64> {
    (0..=maxnumber).find(|n| digest(salt, *n) == challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_challenge_solves_and_names_no_address() {
        let key = ShieldKey::derive("k");
        let ip = AddressKey::of("203.0.113.7".parse().unwrap());
        let c = issue(&key, ip, 500, Duration::from_secs(60), 1_000);
        assert_eq!(c.algorithm, "SHA-256");
        assert!(c.salt.contains("?expires=1060&addr=") && c.salt.ends_with('&'), "{}", c.salt);
        assert!(!c.salt.contains("203.0.113"));
        assert!(key.signed(&c.challenge, &c.signature));
        let n = solve(&c.salt, &c.challenge, c.maxnumber).unwrap();
        assert!(n <= 500);
    }
}
