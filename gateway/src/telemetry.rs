//! Prometheus metrics (`GET /metrics`): what operators and the benchmarks read.
//!
//! One recorder per process, installed on first use; every component (gateway and, in one
//! process, the bot) records through the `metrics` macros into it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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
}

/// Count a refusal by its code.
pub fn refused(code: &'static str) {
    metrics::counter!("chat_refusals_total", "code" => code).increment(1);
}
