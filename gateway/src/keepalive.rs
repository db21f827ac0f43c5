//! Keepalive for every socket of the gateway from one task: each socket gets a ping once per
//! ping interval, and one silent for two intervals is closed with 1001.
//!
//! One task walks the socket registry, rather than each socket keeping a timer in its own task:
//! such a timer is polled on every wake of the socket and is memory every idle socket carries.
//! Each interval the task takes the ids of the open sockets and pings a small share of them per
//! tick, so sockets that connected together (all of them, after a restart) are pinged spread over
//! the interval rather than in bursts of writes and pongs that stall everything else.

use std::sync::Arc;
use std::time::Duration;

use crate::state::State;
use crate::websocket::{self, code};

/// Ticks per ping interval: 50 ms apart at the default 20 s.
const TICKS: u32 = 400;
/// The shortest tick, however short the ping interval is set.
const MIN_TICK: Duration = Duration::from_millis(10);

/// Ping every socket and drop the silent ones, until the task is aborted.
pub async fn run(state: Arc<State>) {
    let interval = state.config.ping_interval;
    let every = (interval / TICKS).max(MIN_TICK);
    let ticks = usize::try_from(interval.as_nanos() / every.as_nanos()).unwrap_or(1).max(1);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Ids, not handles: a socket that closes during the round is not kept alive by it.
        // In id order, which new sockets only extend: a socket keeps its place from one round
        // to the next, so its pings stay an interval apart.
        let mut round = state.sockets.ids();
        round.sort_unstable();
        let share = round.len().div_ceil(ticks).max(1);
        let mut shares = round.chunks(share);
        for _ in 0..ticks {
            tick.tick().await;
            let Some(ids) = shares.next() else { continue };
            for handle in state.sockets.handles(ids) {
                if handle.silent_for() > 2 * interval {
                    handle.close(code::GOING_AWAY, "missed two pings", false);
                } else {
                    handle.send(websocket::ping());
                }
            }
        }
    }
}
