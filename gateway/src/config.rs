//! The gateway's settings. The binary fills them from the environment (see `.env.example`);
//! tests build them directly.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
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
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// Page origins allowed to open WebSockets (`ALLOWED_ORIGINS`); `None` = this host only.
    pub allowed_origins: Option<Vec<String>>,
    /// Open sockets per address (`MAX_CONNECTIONS_PER_IP`); more get HTTP 429.
    pub max_connections_per_ip: usize,
    /// `say` token bucket shared by all sockets of one address (`SAY_IP_BURST`,
    /// `SAY_IP_PER_SECOND`).
    pub ip_say_rate: RateLimit,
    /// Joins per address per minute (`JOINS_PER_MINUTE`).
    pub joins_per_minute: u32,
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
            trusted_proxies: Vec::new(),
            allowed_origins: None,
            max_connections_per_ip: 20,
            ip_say_rate: RateLimit { burst: 20, per_second: 4.0 },
            joins_per_minute: 30,
        }
    }
}
