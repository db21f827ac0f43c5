//! Online counts across gateways: each gateway reports its open sockets with a TTL (a sorted
//! set of expiries beside a hash of counts), and the sum of the reports still valid is who is
//! online. A gateway that dies stops reporting and drops out once its report expires; both
//! steps are one script, on Redis's clock.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

use super::keys::Keys;
use super::{millis, unavailable};
use crate::BusError;

/// Purge expired reports, record one, sum the rest.
const ONLINE: &str = include_str!("lua/online.lua");

pub(super) struct Online {
    conn: ConnectionManager,
    /// The sorted set of expiries and the hash of counts.
    until: String,
    counts: String,
    script: Script,
}

impl Online {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self::with_keys(conn, keys.online_until(), keys.online_sockets())
    }

    /// Reports of another count under the same rule (the join rates of `super::shield`).
    pub(super) fn with_keys(conn: ConnectionManager, until: String, counts: String) -> Self {
        Self { conn, until, counts, script: Script::new(ONLINE) }
    }

    async fn run(&self, gateway: &str, sockets: u64, ttl: Duration) -> Result<u64, BusError> {
        self.script
            .key(&self.until)
            .key(&self.counts)
            .arg(gateway)
            .arg(sockets)
            .arg(if ttl.is_zero() { 0 } else { millis(ttl).max(1) })
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    pub(super) async fn report(&self, gateway: &str, sockets: u64, ttl: Duration) -> Result<(), BusError> {
        if gateway.is_empty() {
            return Err(BusError::Codec("a gateway reporting who is online needs an id".into()));
        }
        self.run(gateway, sockets, ttl).await.map(drop)
    }

    pub(super) async fn total(&self) -> Result<u64, BusError> {
        self.run("", 0, Duration::ZERO).await
    }
}
