//! Appeals on Redis: one string per appeal (`{prefix}:appeal:{token}`, JSON) and one per case
//! with an open appeal (`{prefix}:appeal-case:{case}`, the token), both with a TTL. Opening
//! takes the case's key with `SET NX`, so two gateways never open two appeals of one case;
//! the two keys live in different cluster slots, so no script spans them.

use std::time::Duration;

use protocol::{AppealRecord, AppealState};
use redis::Script;
use redis::aio::ConnectionManager;

use super::keys::Keys;
use super::{decode, encode, millis, unavailable};
use crate::BusError;

/// Free a case's open-appeal key if it still names the appeal.
const FREE_CASE: &str = include_str!("lua/free_case.lua");

pub(super) struct Appeals {
    conn: ConnectionManager,
    keys: Keys,
    free_case: Script,
}

impl Appeals {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys, free_case: Script::new(FREE_CASE) }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn set(&self, appeal: &AppealRecord, ttl: Duration) -> Result<(), BusError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.appeal(&appeal.token))
            .arg(encode(appeal)?)
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn free(&self, appeal: &AppealRecord) -> Result<(), BusError> {
        let _: i64 = self
            .free_case
            .key(self.keys.appeal_case(appeal.case))
            .arg(&appeal.token)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn open(&self, appeal: &AppealRecord, ttl: Duration) -> Result<bool, BusError> {
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.keys.appeal_case(appeal.case))
            .arg(&appeal.token)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        if taken.is_none() {
            return Ok(false);
        }
        if let Err(e) = self.set(appeal, ttl).await {
            // Not stored: the case must not stay taken by an appeal nobody can read.
            if let Err(free) = self.free(appeal).await {
                tracing::warn!(error = %free, case = appeal.case, "cannot free a case whose appeal was not stored");
            }
            return Err(e);
        }
        Ok(true)
    }

    pub(super) async fn put(&self, appeal: &AppealRecord, ttl: Duration) -> Result<(), BusError> {
        self.set(appeal, ttl).await?;
        if appeal.state == AppealState::Open {
            let _: () = redis::cmd("SET")
                .arg(self.keys.appeal_case(appeal.case))
                .arg(&appeal.token)
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async(&mut self.conn())
                .await
                .map_err(unavailable)?;
            Ok(())
        } else {
            self.free(appeal).await
        }
    }

    pub(super) async fn get(&self, token: &str) -> Result<Option<AppealRecord>, BusError> {
        let raw: Option<String> =
            redis::cmd("GET").arg(self.keys.appeal(token)).query_async(&mut self.conn()).await.map_err(unavailable)?;
        raw.as_deref().map(decode).transpose()
    }

    pub(super) async fn remove(&self, appeal: &AppealRecord) -> Result<(), BusError> {
        let _: i64 = redis::cmd("DEL")
            .arg(self.keys.appeal(&appeal.token))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        self.free(appeal).await
    }
}
