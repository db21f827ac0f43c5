//! The shield's key: one per deployment, derived from the deployment key (itself derived from
//! `IP_TAG_SECRET` or the bot's generated secret, see `GatewayConfig::deployment_key`) with a
//! purpose label, so every gateway signs and checks the same challenges and the key serves
//! nothing else.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::address::AddressKey;

/// The purpose label the shield's key is derived with.
const PURPOSE: &[u8] = b"chatroulette shield v1";

type HmacSha256 = Hmac<Sha256>;

/// Signs challenges and names addresses in them.
pub(crate) struct ShieldKey {
    mac: [u8; 32],
    /// The same key in hex, as [`AddressKey::tag`] takes its secret.
    hex: String,
}

impl ShieldKey {
    /// Derive the shield's key from the deployment key.
    pub fn derive(deployment_key: &str) -> Self {
        let mut mac = [0u8; 32];
        // HMAC takes keys of any length: this cannot fail.
        if let Ok(mut m) = HmacSha256::new_from_slice(deployment_key.as_bytes()) {
            m.update(PURPOSE);
            mac.copy_from_slice(&m.finalize().into_bytes());
        }
        let hex = hex(&mac);
        Self { mac, hex }
    }

    fn hmac(&self) -> HmacSha256 {
        // 32 bytes is a valid HMAC key.
        HmacSha256::new_from_slice(&self.mac).unwrap_or_else(|_| unreachable_mac())
    }

    /// `signature` of a challenge: HMAC-SHA256 of its text, in hex (ALTCHA's v1).
    pub fn sign(&self, challenge: &str) -> String {
        let mut mac = self.hmac();
        mac.update(challenge.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `signature` (hex) is this key's signature of `challenge`, compared in constant
    /// time.
    pub fn signed(&self, challenge: &str, signature: &str) -> bool {
        let Some(bytes) = unhex(signature) else {
            return false;
        };
        let mut mac = self.hmac();
        mac.update(challenge.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The keyed hash that binds a challenge to an address (the IPv4 address or the IPv6 /64):
    /// the address itself never appears in a challenge.
    pub fn address_tag(&self, address: AddressKey) -> String {
        address.tag(&self.hex, "shield")
    }
}

/// A fresh HMAC with an all-zero key: never used, since a 32-byte key is always accepted.
fn unreachable_mac() -> HmacSha256 {
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_check_and_keys_differ() {
        let key = ShieldKey::derive("deployment");
        let signature = key.sign("abc");
        assert_eq!(signature.len(), 64);
        assert!(key.signed("abc", &signature));
        assert!(!key.signed("abd", &signature));
        assert!(!key.signed("abc", "zz"));
        assert!(!ShieldKey::derive("another").signed("abc", &signature));
        let ip = AddressKey::of("2001:db8::1".parse().unwrap());
        assert_eq!(key.address_tag(ip), key.address_tag(AddressKey::of("2001:db8::2".parse().unwrap())));
    }
}
