//! Addresses that misbehave get the gate on for themselves alone: each address (an IPv6 /64
//! counts as one) counts its refusals of the kinds a person using the web client does not
//! collect (`COUNTED`), per minute; past `SHIELD_ADDRESS_REFUSALS` (times a shared address's
//! factor) it must solve a challenge for every connection for [`HOLD`], each new burst
//! extending it. Kept in a bounded cache, forgotten after idle minutes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::address::{Address, AddressKey};

/// How long an address that passed the threshold must solve challenges.
pub(crate) const HOLD: Duration = Duration::from_secs(600);
/// The window refusals are counted in.
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most (a spray of addresses evicts, never grows, the map).
const MAX_ADDRESSES: u64 = 200_000;

/// The refusals that count: floods and malformed traffic, never what an honest visitor meets
/// (a full room, a taken nickname, slow mode).
pub(crate) const COUNTED: &[&str] =
    &["bad_frame", "unknown_type", "too_long", "rate_limited", "filtered", "banned", "challenge_failed"];

#[derive(Debug)]
struct Record {
    window_start: Instant,
    count: u32,
    flagged_until: Option<Instant>,
}

pub(crate) struct Offenders {
    threshold: u32,
    records: moka::sync::Cache<AddressKey, Arc<Mutex<Record>>>,
}

impl Offenders {
    /// `threshold` refusals a minute flag an address; 0 never does.
    pub fn new(threshold: u32) -> Self {
        let records = moka::sync::Cache::builder().max_capacity(MAX_ADDRESSES).time_to_idle(HOLD + WINDOW).build();
        Self { threshold, records }
    }

    /// Count a refusal of `code` for `address`; true when this one flagged it.
    pub fn note(&self, address: &Address, code: &str, now: Instant) -> bool {
        if self.threshold == 0 || !COUNTED.contains(&code) {
            return false;
        }
        let record = self.records.get_with(address.key(), || {
            Arc::new(Mutex::new(Record { window_start: now, count: 0, flagged_until: None }))
        });
        let mut record = record.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(record.window_start) >= WINDOW {
            record.window_start = now;
            record.count = 0;
        }
        record.count = record.count.saturating_add(1);
        if record.count >= address.scale(self.threshold) {
            let newly = record.flagged_until.is_none_or(|until| until <= now);
            record.flagged_until = Some(now + HOLD);
            if newly {
                metrics::counter!("chat_shield_flagged_total").increment(1);
                tracing::info!(address = %address.key(), "an address passed the refusal threshold: its connections need a challenge now");
            }
            return newly;
        }
        false
    }

    /// Whether `key` must solve a challenge now.
    pub fn flagged(&self, key: AddressKey, now: Instant) -> bool {
        self.records.get(&key).is_some_and(|record| {
            record.lock().unwrap_or_else(PoisonError::into_inner).flagged_until.is_some_and(|until| until > now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_flagged_past_the_threshold_alone_and_for_the_hold() {
        let offenders = Offenders::new(3);
        let bad = Address::new("2001:db8:1:2::1".parse().unwrap(), &[], 10);
        let neighbour = Address::new("2001:db8:1:2::99".parse().unwrap(), &[], 10);
        let other = Address::new("203.0.113.7".parse().unwrap(), &[], 10);
        let t0 = Instant::now();
        assert!(!offenders.note(&bad, "room_full", t0), "not counted");
        assert!(!offenders.note(&bad, "rate_limited", t0));
        assert!(!offenders.note(&bad, "bad_frame", t0));
        assert!(!offenders.flagged(bad.key(), t0));
        assert!(offenders.note(&neighbour, "rate_limited", t0), "the same /64");
        assert!(offenders.flagged(bad.key(), t0 + Duration::from_secs(1)));
        assert!(!offenders.flagged(other.key(), t0));
        assert!(!offenders.flagged(bad.key(), t0 + HOLD + Duration::from_secs(1)), "the hold ends");
        // A window that ends starts counting again.
        offenders.note(&other, "rate_limited", t0);
        offenders.note(&other, "rate_limited", t0);
        assert!(!offenders.note(&other, "rate_limited", t0 + WINDOW));
    }
}
