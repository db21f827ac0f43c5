//! Shared pieces of the benchmark suite: the WebSocket client settings, a tiny HTTP GET, the
//! server's RSS and CPU from `/proc`, latency histograms and the result records `bench/run`
//! turns into its table. Not part of the product.

pub mod http;
pub mod procfs;
pub mod results;
pub mod stats;
pub mod workers;
pub mod wsclient;

/// Nanoseconds since the Unix epoch (the timestamp senders put in their payloads).
pub fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
