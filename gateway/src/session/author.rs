//! Who wrote a message, without remembering it: a visitor's message id carries its author.
//!
//! A message id is a ULID: 48 bits of milliseconds, then 80 bits that are random elsewhere. Here
//! they are a 16-bit sequence (ids stay monotonic within the gateway, however many fall in one
//! millisecond) and a 64-bit tag: an HMAC of the milliseconds and sequence under the session's
//! [`AuthorKey`]. The key is derived from the deployment key (which every gateway shares) and
//! the session's seat holder id, which a resumed session keeps on any gateway. So `edit` and
//! `delete` check authorship against the id alone, on any gateway, after any resume, with
//! nothing stored per message, and nobody can name someone else's message as theirs without
//! the deployment key. Ids still look random to everyone else: the tag of one session's ids
//! cannot be linked without its key.

use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use ulid::Ulid;

type HmacSha256 = Hmac<Sha256>;

/// The key that signs one session's message ids.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct AuthorKey([u8; 32]);

impl AuthorKey {
    /// The key of the session whose seat holder id is `holder`, under the deployment key.
    pub(super) fn of(deployment_key: &str, holder: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(deployment_key.as_bytes()).unwrap_or_else(|_| unreachable());
        mac.update(b"author\0");
        mac.update(holder.as_bytes());
        Self(mac.finalize().into_bytes().into())
    }

    fn tag(&self, millis: u64, sequence: u16) -> u64 {
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable());
        mac.update(&millis.to_be_bytes());
        mac.update(&sequence.to_be_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes[..8]);
        u64::from_be_bytes(first)
    }

    /// A new message id written by this session: after every id this gateway made before.
    pub(super) fn new_id(&self) -> Ulid {
        let (millis, sequence) = next_stamp();
        Ulid::from_parts(millis, (u128::from(sequence) << 64) | u128::from(self.tag(millis, sequence)))
    }

    /// Did this session write message `id`?
    pub(super) fn wrote(&self, id: Ulid) -> bool {
        let random = id.random();
        let sequence = u16::try_from((random >> 64) & 0xffff).unwrap_or(0);
        // The 80 random bits leave nothing above the sequence.
        random >> 80 == 0 && (random & u128::from(u64::MAX)) == u128::from(self.tag(id.timestamp_ms(), sequence))
    }
}

/// HMAC accepts keys of any length: its constructor cannot fail.
fn unreachable() -> HmacSha256 {
    unreachable!("HMAC takes keys of any length")
}

/// The next (milliseconds, sequence) of this process: never before the last one, even when the
/// clock steps back; a millisecond's sequence overflowing moves on to the next millisecond.
fn next_stamp() -> (u64, u16) {
    static LAST: Mutex<(u64, u16)> = Mutex::new((0, 0));
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let mut last = LAST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let next = if now > last.0 {
        (now, 0)
    } else {
        match last.1.checked_add(1) {
            Some(sequence) => (last.0, sequence),
            None => (last.0 + 1, 0),
        }
    };
    *last = next;
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_name_their_author_only() {
        let alice = AuthorKey::of("deployment", "gw-1:1");
        let bob = AuthorKey::of("deployment", "gw-1:2");
        let ids: Vec<Ulid> = (0..1000).map(|i| if i % 2 == 0 { alice.new_id() } else { bob.new_id() }).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "monotonic within the process");
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(alice.wrote(*id), i % 2 == 0);
            assert_eq!(bob.wrote(*id), i % 2 == 1);
        }
        // Another deployment key, or any other id, is nobody's.
        assert!(!AuthorKey::of("other", "gw-1:1").wrote(ids[0]));
        assert!(!alice.wrote(Ulid::new()));
        let id = alice.new_id();
        let flipped = Ulid::from_parts(id.timestamp_ms() + 1, id.random());
        assert!(!alice.wrote(flipped), "the tag covers the time");
    }

    #[test]
    fn the_stamp_never_goes_back() {
        let a = next_stamp();
        let b = next_stamp();
        assert!(b > a);
    }
}
