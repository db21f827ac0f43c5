//! Keepalive for every socket of the gateway from one task: each socket gets a ping once per
//! ping interval, and one silent for two intervals is closed with 1001.
//!
//! One task walks the socket registry a slice at a time instead of every socket keeping a timer
//! in its own task: that timer was polled on each wake of the socket (every frame it wrote), a
//! few per cent of the gateway's CPU under load, and it was memory every idle socket carried.
//! Sockets are sliced by connection id, so sockets that connected together (all of them, after a
//! restart) are pinged spread over the interval rather than in one burst.

use std::sync::Arc;
use std::time::Duration;

use crate::State;
use crate::websocket::{self, code};

/// Slices of the registry: one is visited per tick, each socket once per ping interval.
const SLICES: u32 = 20;
/// The shortest tick, however short the ping interval is set.
const MIN_TICK: Duration = Duration::from_millis(10);

/// Ping every socket and drop the silent ones, until the task is aborted.
pub async fn run(state: Arc<State>) {
    let interval = state.config.ping_interval;
    let mut tick = tokio::time::interval((interval / SLICES).max(MIN_TICK));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slice = 0;
    loop {
        tick.tick().await;
        for handle in state.sockets.matching(|conn, _| conn % u64::from(SLICES) == slice) {
            if handle.silent_for() > 2 * interval {
                handle.close(code::GOING_AWAY, "missed two pings", false);
            } else {
                handle.send(websocket::ping());
            }
        }
        slice = (slice + 1) % u64::from(SLICES);
    }
}
