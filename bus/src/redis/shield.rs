//! The proof-of-work gate's shared state on Redis (`crate::shield`): a spent solution is one
//! key set with `NX` and the challenge's remaining life as its TTL (atomic across gateways,
//! gone when the challenge could not be used anyway); join rates are reported like the online
//! counts (`super::online`, same script); the mode and the deployment key are plain strings the
//! bot writes again at every sync, so a Redis that lost its data has them back within seconds.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::keys::Keys;
use super::online::Online;
use super::{decode, encode, millis, unavailable};
use crate::BusError;
use crate::shield::ShieldSetting;

pub(super) struct Shield {
    conn: ConnectionManager,
    keys: Keys,
    pub joins: Online,
}

impl Shield {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        let joins = Online::with_keys(conn.clone(), keys.join_rate_until(), keys.join_rates());
        Self { conn, keys, joins }
    }

    pub(super) async fn spend(&self, signature: &str, ttl: Duration) -> Result<bool, BusError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.shield_spent(signature))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    pub(super) async fn put_setting(&self, setting: &ShieldSetting) -> Result<(), BusError> {
        self.conn.clone().set::<_, _, ()>(self.keys.shield(), encode(setting)?).await.map_err(unavailable)
    }

    pub(super) async fn setting(&self) -> Result<Option<ShieldSetting>, BusError> {
        let raw: Option<String> = self.conn.clone().get(self.keys.shield()).await.map_err(unavailable)?;
        raw.as_deref().map(decode).transpose()
    }

    pub(super) async fn put_key(&self, key: &str) -> Result<(), BusError> {
        self.conn.clone().set::<_, _, ()>(self.keys.deployment_key(), key).await.map_err(unavailable)
    }

    pub(super) async fn key(&self) -> Result<Option<String>, BusError> {
        self.conn.clone().get(self.keys.deployment_key()).await.map_err(unavailable)
    }
}
