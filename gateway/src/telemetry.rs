//! Prometheus metrics (`GET /metrics`): what operators and the benchmarks read.
//!
//! One recorder per process, installed on first use; every component (gateway and, in one
//! process, the bot) records through the `metrics` macros into it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

use crate::state::State;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics, installing the recorder the first time.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                describe();
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics will be empty");
                None
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_gauge!("chat_connections", "open WebSocket connections on this gateway");
    metrics::describe_gauge!("chat_members", "sockets of this gateway that are in a room");
    metrics::describe_gauge!("chat_rooms_local", "rooms with members on this gateway");
    metrics::describe_counter!("chat_messages_in_total", "messages accepted from web users");
    metrics::describe_counter!("chat_frames_delivered_total", "room frames queued to sockets");
    metrics::describe_counter!("chat_refusals_total", "error frames and refused upgrades, by code");
    metrics::describe_counter!("chat_slow_readers_total", "sockets closed for reading too slowly");
    metrics::describe_gauge!("chat_queue_depth", "queue entries waiting for the bot (QUEUE_MAX refuses messages)");
    metrics::describe_gauge!("chat_queue_oldest_age_seconds", "how long the oldest queue entry has waited");
    metrics::describe_gauge!("chat_dead_letters", "queue entries the bot gave up on, kept in dead_letters");
    metrics::describe_gauge!("chat_shield_on", "1 while the proof-of-work gate is on for everyone");
    metrics::describe_gauge!("chat_shield_step", "the proof-of-work difficulty step now (1 to 4)");
    metrics::describe_gauge!("chat_shield_difficulty", "maxnumber of the challenges issued now");
    metrics::describe_gauge!("chat_shield_join_rate", "upgrades per second across gateways, 10 s average");
    metrics::describe_counter!("chat_shield_solutions_total", "challenge solutions accepted");
    metrics::describe_counter!("chat_shield_flagged_total", "addresses gated alone for their refusals");
    metrics::describe_counter!("chat_trust_inert_total", "new visitors' messages delivered with links as plain text");
    // The trust tier's refusals are listed from the start, at 0, so a dashboard finds them.
    for code in ["links_not_yet", "paste_not_yet", "repeated"] {
        metrics::counter!("chat_refusals_total", "code" => code).increment(0);
    }
}

/// The bot's queue as the detailed readiness report shows it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Backlog {
    /// Entries waiting for the bot, delivered or not.
    pub depth: u64,
    /// Seconds the oldest has waited; `null` when none waits.
    pub oldest_age_secs: Option<f64>,
    /// Entries the bot gave up on (`dead_letters`); `null` where the bot runs elsewhere.
    pub dead_letters: Option<u64>,
}

/// The queue's backlog now; `None` when the bus cannot tell.
pub(crate) async fn backlog(state: &State) -> Option<Backlog> {
    let stats = match state.bus.queue_stats().await {
        Ok(stats) => stats,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the queue's backlog");
            return None;
        }
    };
    Some(Backlog {
        depth: stats.depth,
        oldest_age_secs: stats.oldest_age.map(|age| age.as_secs_f64()),
        dead_letters: state.readiness.iter().find_map(|check| check.dead_letters()),
    })
}

/// Bring the queue gauges up to date before `/metrics` renders (the dead letters where the bot
/// runs in this process).
pub(crate) async fn record_backlog(state: &State) {
    if let Some(backlog) = backlog(state).await {
        metrics::gauge!("chat_queue_depth").set(backlog.depth as f64);
        metrics::gauge!("chat_queue_oldest_age_seconds").set(backlog.oldest_age_secs.unwrap_or(0.0));
        if let Some(n) = backlog.dead_letters {
            metrics::gauge!("chat_dead_letters").set(n as f64);
        }
    }
}

/// Count a refusal by its code.
pub fn refused(code: &'static str) {
    metrics::counter!("chat_refusals_total", "code" => code).increment(1);
}
