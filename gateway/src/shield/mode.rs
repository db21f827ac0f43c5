//! Whether the gate is on for everyone, and how hard the challenges are, decided once a second.
//!
//! Each gateway counts its upgrades (every `/ws` request that passed the origin and ban checks,
//! refused or not) and reports its average over the last [`WINDOW_SECS`] seconds to the bus; the
//! deployment's join rate is the sum of the reports ([`bus::Bus::join_rate`]). Staff's setting
//! on the bus, when there is one, overrides `SHIELD_MODE`:
//!
//! * `on` / `off`: on or off for everyone;
//! * `auto`: on for everyone once the join rate passes `SHIELD_JOIN_RATE`; off again once it has
//!   stayed at or under half of it for the cool-down (hysteresis, so a flood that pauses does
//!   not switch it back and forth). Addresses that misbehave are gated alone (`offenders`) in
//!   any mode but `off`.
//!
//! The difficulty (`maxnumber`) is staff's fixed step, or follows the load: step 1 below twice
//! the threshold, step 2 below four times, step 3 below eight times, step 4 beyond.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bus::{SHIELD_STEPS, ShieldMode, ShieldSetting};

use crate::state::State;

/// Seconds the join rate is averaged over.
pub(crate) const WINDOW_SECS: usize = 10;
/// How long a gateway's report of its join rate counts (it reports every second).
const REPORT_TTL: Duration = Duration::from_secs(3);

/// The join counts of the last seconds.
#[derive(Debug, Default)]
pub(crate) struct JoinWindow {
    seconds: [u64; WINDOW_SECS],
    next: usize,
}

impl JoinWindow {
    /// Record one second's count; returns the average (rounded up) over the window.
    pub fn push(&mut self, count: u64) -> u64 {
        self.seconds[self.next] = count;
        self.next = (self.next + 1) % WINDOW_SECS;
        self.seconds.iter().sum::<u64>().div_ceil(WINDOW_SECS as u64)
    }
}

/// `auto`'s memory: on since the rate passed the threshold, calm since when.
#[derive(Debug, Default)]
pub(crate) struct Hysteresis {
    on: bool,
    calm_since: Option<Instant>,
}

impl Hysteresis {
    /// Whether the gate is on for everyone at `rate` joins a second.
    pub fn decide(&mut self, rate: u64, threshold: u64, cooldown: Duration, now: Instant) -> bool {
        if rate > threshold {
            self.on = true;
            self.calm_since = None;
        } else if self.on {
            if rate.saturating_mul(2) <= threshold {
                let since = *self.calm_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= cooldown {
                    self.on = false;
                    self.calm_since = None;
                }
            } else {
                self.calm_since = None;
            }
        }
        self.on
    }
}

/// The difficulty step the load calls for (1 to [`SHIELD_STEPS`]).
pub(crate) fn load_step(rate: u64, threshold: u64) -> u8 {
    let threshold = threshold.max(1);
    let mut step = 1;
    let mut bound = threshold.saturating_mul(2);
    while step < SHIELD_STEPS && rate >= bound {
        step += 1;
        bound = bound.saturating_mul(2);
    }
    step
}

/// Decide once a second until the task is aborted.
pub(crate) async fn run(state: Arc<State>) {
    let shield = &state.shield;
    let config = &state.config.shield;
    let mut window = JoinWindow::default();
    let mut hysteresis = Hysteresis::default();
    let mut setting = ShieldSetting { mode: config.mode, difficulty: None };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let local = window.push(shield.joins.swap(0, Ordering::Relaxed));
        if let Err(e) = state.bus.report_joins(&state.gateway_id, local, REPORT_TTL).await {
            tracing::debug!(error = %e, "cannot report the join rate");
        }
        let rate = match state.bus.join_rate().await {
            Ok(rate) => rate.max(local),
            Err(_) => local,
        };
        match state.bus.shield().await {
            Ok(Some(staff)) => setting = staff,
            Ok(None) => setting = ShieldSetting { mode: config.mode, difficulty: None },
            // The last known setting stays while the bus cannot say.
            Err(e) => tracing::debug!(error = %e, "cannot read the shield's mode"),
        }
        let threshold = u64::from(config.join_rate);
        let auto_on = hysteresis.decide(rate, threshold, config.cooldown, Instant::now());
        let on = match setting.mode {
            ShieldMode::On => true,
            ShieldMode::Off => false,
            ShieldMode::Auto => auto_on,
        };
        let step = setting.difficulty.map_or_else(|| load_step(rate, threshold), |d| d.clamp(1, SHIELD_STEPS));
        shield.set(setting.mode, on, step, rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_averaged_over_the_window() {
        let mut window = JoinWindow::default();
        assert_eq!(window.push(100), 10);
        for _ in 1..WINDOW_SECS {
            window.push(0);
        }
        assert_eq!(window.push(0), 0, "the burst left the window");
    }

    #[test]
    fn auto_turns_on_past_the_threshold_and_off_after_a_calm_cooldown() {
        let mut h = Hysteresis::default();
        let t0 = Instant::now();
        let cool = Duration::from_secs(30);
        assert!(!h.decide(100, 100, cool, t0), "at the threshold: still off");
        assert!(h.decide(101, 100, cool, t0));
        assert!(h.decide(60, 100, cool, t0 + Duration::from_secs(1)), "above half: stays on");
        assert!(h.decide(50, 100, cool, t0 + Duration::from_secs(2)), "calm, cooling down");
        assert!(h.decide(70, 100, cool, t0 + Duration::from_secs(20)), "not calm: the cool-down starts over");
        assert!(h.decide(10, 100, cool, t0 + Duration::from_secs(21)));
        assert!(h.decide(10, 100, cool, t0 + Duration::from_secs(50)));
        assert!(!h.decide(10, 100, cool, t0 + Duration::from_secs(51)), "calm for the whole cool-down");
    }

    #[test]
    fn the_difficulty_rises_in_steps_with_the_load() {
        assert_eq!(load_step(0, 100), 1);
        assert_eq!(load_step(199, 100), 1);
        assert_eq!(load_step(200, 100), 2);
        assert_eq!(load_step(400, 100), 3);
        assert_eq!(load_step(800, 100), 4);
        assert_eq!(load_step(u64::MAX, 100), 4);
    }
}
