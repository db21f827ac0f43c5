//! What the trust tier for new visitors (issue 27) keeps on the bus: per subject (a device tag,
//! or an address key's tag), when it was first seen and how many messages it sent, so a visitor
//! is as new on every gateway and after a reconnect as on the one it first came through. Each
//! record lives for [`TRUST_RECORD_TTL`] after its subject was last seen (bounded: Redis expires
//! the keys, the in-process bus keeps at most [`TRUST_RECORDS_MAX`]). The staff-trusted tags and
//! allowed domains are a snapshot the bot maintains, like the filters.

use std::time::Duration;

/// How long a subject's record outlives its last activity.
pub const TRUST_RECORD_TTL: Duration = Duration::from_secs(7 * 86_400);
/// Records the in-process bus keeps at most (the least recently seen go first).
pub const TRUST_RECORDS_MAX: usize = 200_000;
/// Longest subject name accepted (longer ones are cut: they are keys, not data).
pub const SUBJECT_MAX: usize = 64;

/// One subject's record: first seen (ms since the epoch) and messages counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustRecord {
    pub first_ms: i64,
    pub messages: u64,
}

/// The subject name of a device tag.
pub fn device_subject(tag: &str) -> String {
    format!("d:{}", cut(tag))
}

/// The subject name of an address (the tag of its budget key).
pub fn address_subject(tag: &str) -> String {
    format!("a:{}", cut(tag))
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(SUBJECT_MAX - 2) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
