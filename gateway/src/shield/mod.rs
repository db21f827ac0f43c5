//! The proof-of-work gate ("shield", issue 27): under a flood, or for an address that
//! misbehaves, a WebSocket upgrade needs a solved challenge (`/ws?pow=`), which costs a browser
//! well under a second and a flood of thousands of connections a great deal. No request leaves
//! the origin: challenges are issued and checked here, in ALTCHA's v1 format.
//!
//! * `key`: the shield's key, derived from the deployment key; signatures, address tags;
//! * `challenge`: issuing a challenge (and solving one, for tests and the benchmark);
//! * `verify`: checking a solution;
//! * `offenders`: per-address refusal counts, which gate one address alone;
//! * `mode`: on or off for everyone, and the difficulty, decided once a second;
//! * `gate`: the upgrade's check and `GET /api/challenge`.

mod challenge;
pub(crate) mod gate;
mod key;
pub(crate) mod mode;
mod offenders;
mod verify;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use bus::ShieldMode;

pub use challenge::solve;
use key::ShieldKey;
use offenders::Offenders;

use crate::address::{Address, AddressKey};
use crate::config::ShieldConfig;

/// One gateway's gate: its key, its counters, and what `mode` decided last.
pub(crate) struct Shield {
    key: ShieldKey,
    /// Upgrades since the last tick of `mode`.
    pub joins: AtomicU64,
    offenders: Offenders,
    /// On for everyone.
    on: AtomicBool,
    /// Off for everyone, even misbehaving addresses (staff's `off`, or `SHIELD_MODE=off`).
    off: AtomicBool,
    /// The difficulty step now (1-based).
    step: AtomicU8,
    steps: [u64; bus::SHIELD_STEPS as usize],
    /// Signatures spent here while the bus could not say whether they were spent anywhere:
    /// a replay within this gateway is still refused during a bus outage (bounded, expiring).
    pub spent_locally: moka::sync::Cache<String, ()>,
}

/// Most signatures [`Shield::spent_locally`] holds; older ones are evicted first.
const SPENT_LOCALLY_MAX: u64 = 200_000;

impl Shield {
    pub fn new(config: &ShieldConfig, deployment_key: &str) -> Self {
        let off = config.mode == ShieldMode::Off;
        Self {
            key: ShieldKey::derive(deployment_key),
            joins: AtomicU64::new(0),
            offenders: Offenders::new(config.address_refusals),
            on: AtomicBool::new(config.mode == ShieldMode::On),
            off: AtomicBool::new(off),
            step: AtomicU8::new(1),
            steps: config.steps,
            spent_locally: moka::sync::Cache::builder()
                .max_capacity(SPENT_LOCALLY_MAX)
                .time_to_live(config.challenge_ttl)
                .build(),
        }
    }

    /// Whether a caller at `key` must solve a challenge now.
    pub fn required(&self, key: AddressKey) -> bool {
        if self.off.load(Ordering::Relaxed) {
            return false;
        }
        self.on.load(Ordering::Relaxed) || self.offenders.flagged(key, Instant::now())
    }

    /// The `maxnumber` of challenges issued now.
    pub fn maxnumber(&self) -> u64 {
        let step = usize::from(self.step.load(Ordering::Relaxed).max(1)) - 1;
        self.steps.get(step).or(self.steps.last()).copied().unwrap_or(1)
    }

    /// Count a refusal for `address` (see `offenders::COUNTED`).
    pub fn note_refusal(&self, address: &Address, code: &str) {
        self.offenders.note(address, code, Instant::now());
    }

    /// What `mode` decided; recorded in the metrics too.
    fn set(&self, mode: ShieldMode, on: bool, step: u8, rate: u64) {
        let was = self.on.swap(on, Ordering::Relaxed);
        self.off.store(mode == ShieldMode::Off, Ordering::Relaxed);
        self.step.store(step, Ordering::Relaxed);
        if was != on {
            tracing::warn!(%mode, rate, step, "the proof-of-work gate is {} for everyone", if on { "on" } else { "off" });
        }
        metrics::gauge!("chat_shield_on").set(if on { 1.0 } else { 0.0 });
        metrics::gauge!("chat_shield_step").set(f64::from(step));
        metrics::gauge!("chat_shield_difficulty").set(self.maxnumber() as f64);
        metrics::gauge!("chat_shield_join_rate").set(rate as f64);
    }
}
