//! Locks with a TTL: the leading bot's lock, renewed in the background while it leads, and named
//! locks for work one gateway at a time should do.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tokio::task::JoinHandle;

use super::keys::Keys;
use super::{millis, unavailable};
use crate::BusError;

/// Renew a lock we hold, or take it back if it vanished.
const RENEW: &str = include_str!("lua/renew.lua");
/// Drop a lock if we hold it.
const RESIGN: &str = include_str!("lua/resign.lua");

pub(super) struct Locks {
    conn: ConnectionManager,
    keys: Keys,
    renew: Script,
}

impl Locks {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys, renew: Script::new(RENEW) }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Take or keep the lock `name` for `holder` for `ttl`; false while another holder has it.
    pub(super) async fn hold(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let held: i64 = self
            .renew
            .key(self.keys.lock(name))
            .arg(holder)
            .arg(millis(ttl).max(1))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(held == 1)
    }

    /// See [`super::RedisBus::lead`].
    pub(super) async fn lead(&self, id: &str, ttl: Duration) -> Leadership {
        let key = self.keys.leader();
        let ttl_ms = millis(ttl).max(1);
        let mut announced = false;
        loop {
            let acquired: redis::RedisResult<Option<String>> =
                redis::cmd("SET").arg(&key).arg(id).arg("NX").arg("PX").arg(ttl_ms).query_async(&mut self.conn()).await;
            match acquired {
                Ok(Some(_)) => break,
                Ok(None) if !announced => {
                    tracing::info!("another bot leads; standing by");
                    announced = true;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach Redis for the leader lock; retrying")
                }
            }
            tokio::time::sleep((ttl / 4).max(Duration::from_millis(100))).await;
        }
        tracing::info!("this bot now leads");
        let (lost_tx, lost_rx) = tokio::sync::watch::channel(false);
        let conn = self.conn();
        let renew_id = id.to_owned();
        let renew_key = key.clone();
        let renewer = tokio::spawn(async move {
            let script = Script::new(RENEW);
            let mut last_ok = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(ttl / 3).await;
                let renewed: redis::RedisResult<i64> =
                    script.key(&renew_key).arg(&renew_id).arg(ttl_ms).invoke_async(&mut conn.clone()).await;
                match renewed {
                    Ok(1) => last_ok = tokio::time::Instant::now(),
                    Ok(_) => {
                        tracing::error!("the leader lock was taken over");
                        break;
                    }
                    Err(e) if last_ok.elapsed() + ttl / 3 >= ttl => {
                        tracing::error!(error = %e, "cannot renew the leader lock in time");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew the leader lock; retrying"),
                }
            }
            lost_tx.send_replace(true);
        });
        Leadership { lost: lost_rx, renewer, conn: self.conn(), key, id: id.to_owned() }
    }
}

/// Held while this process leads. Dropping it stops renewing (the lock then lapses within its
/// TTL, as when the process dies); [`Leadership::resign`] frees it at once.
pub struct Leadership {
    lost: tokio::sync::watch::Receiver<bool>,
    renewer: JoinHandle<()>,
    conn: ConnectionManager,
    key: String,
    id: String,
}

impl Leadership {
    /// Resolves when leadership is lost.
    pub fn lost(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.lost.clone();
        async move {
            let _ = rx.wait_for(|lost| *lost).await;
        }
    }

    /// Give the lock up now (on a clean stop), so a standby takes over at once.
    pub async fn resign(self) {
        let result: redis::RedisResult<i64> =
            Script::new(RESIGN).key(&self.key).arg(&self.id).invoke_async(&mut self.conn.clone()).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot release the leader lock; it lapses with its TTL");
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}
