//! The gateway's settings. The binary fills them from the environment (see `.env.example`);
//! tests build them directly.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::frames::RateLimit;

/// Everything the gateway can be told.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen (`LISTEN_ADDR`).
    pub listen_addr: SocketAddr,
    /// Server ping period (`WS_PING_SECS`); a socket silent for two periods is dropped.
    pub ping_interval: Duration,
    /// Per-connection `say` token bucket (`SAY_BURST`, `SAY_PER_SECOND`).
    pub say_rate: RateLimit,
    /// Frames queued for one socket before it counts as too slow and is dropped (1008).
    pub outbound_queue: usize,
    /// Shortest gap between two relayed `typing` frames of one connection.
    pub typing_interval: Duration,
    /// How often room definitions are re-read from the bus, as a safety net behind control
    /// events (`ROOM_REFRESH_SECS`).
    pub room_refresh: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            ping_interval: Duration::from_secs(20),
            say_rate: RateLimit { burst: 8, per_second: 1.0 },
            outbound_queue: 512,
            typing_interval: Duration::from_secs(2),
            room_refresh: Duration::from_secs(30),
        }
    }
}
