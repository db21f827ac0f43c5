//! Which device reported which message (`Bus::claim_report`): one key per (device, message),
//! set with `NX` and a TTL, so a claim is atomic across gateways and every claim lapses.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use ulid::Ulid;

use super::keys::Keys;
use super::{millis, unavailable};
use crate::BusError;

pub(super) struct Reported {
    conn: ConnectionManager,
    keys: Keys,
}

impl Reported {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    pub(super) async fn claim(&self, device: &str, id: Ulid, ttl: Duration) -> Result<bool, BusError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.reported(device, &id.to_string()))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    pub(super) async fn release(&self, device: &str, id: Ulid) -> Result<(), BusError> {
        self.conn.clone().del::<_, ()>(self.keys.reported(device, &id.to_string())).await.map_err(unavailable)
    }
}
