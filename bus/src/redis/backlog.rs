//! The queue's backlog over Redis: what waits for the bot (entries of the `inbound` stream
//! delivered to the group but not acknowledged, plus those not delivered yet) and the age of the
//! oldest, read from `XINFO GROUPS`, `XPENDING` and `XRANGE` (ids are milliseconds).
//!
//! A message is refused once the backlog reaches `QUEUE_MAX`. The depth is read at most every
//! [`FRESH`] per process and counted up by each message this process queues in between, so
//! posting costs no extra round trip under load, and one gateway alone never overshoots; several
//! gateways may overshoot by what they queue within [`FRESH`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use redis::streams::StreamRangeReply;

use super::keys::Keys;
use super::{lock, unavailable};
use crate::{BusError, QueueStats};

/// How long a depth read from Redis is trusted.
const FRESH: Duration = Duration::from_millis(250);

pub(super) struct Backlog {
    conn: ConnectionManager,
    keys: Keys,
    /// `QUEUE_MAX`.
    max: u64,
    /// The depth last read and when, counted up by each message queued here since.
    cached: Mutex<Option<(Instant, u64)>>,
}

impl Backlog {
    pub(super) fn new(conn: ConnectionManager, keys: Keys, max: u64) -> Self {
        Self { conn, keys, max, cached: Mutex::new(None) }
    }

    /// `Ok` while the backlog is below `QUEUE_MAX`.
    pub(super) async fn admit(&self) -> Result<(), BusError> {
        let cached = *lock(&self.cached);
        let depth = match cached {
            Some((at, depth)) if at.elapsed() < FRESH => depth,
            _ => {
                let depth = self.stats().await?.depth;
                *lock(&self.cached) = Some((Instant::now(), depth));
                depth
            }
        };
        if depth >= self.max {
            return Err(BusError::Overloaded { depth, max: self.max });
        }
        Ok(())
    }

    /// A message was queued by this process.
    pub(super) fn queued(&self) {
        if let Some((_, depth)) = lock(&self.cached).as_mut() {
            *depth += 1;
        }
    }

    /// The backlog now, read from Redis.
    pub(super) async fn stats(&self) -> Result<QueueStats, BusError> {
        let mut conn = self.conn.clone();
        let key = self.keys.inbound();
        let groups: Vec<HashMap<String, redis::Value>> =
            match redis::cmd("XINFO").arg("GROUPS").arg(&key).query_async(&mut conn).await {
                Ok(groups) => groups,
                // Nothing was ever queued (or Redis restarted empty).
                Err(e) if e.to_string().contains("no such key") => return Ok(QueueStats::default()),
                Err(e) => return Err(unavailable(e)),
            };
        let group = groups.iter().find(|g| field::<String>(g, "name").as_deref() == Some(Keys::GROUP));
        let Some(group) = group else {
            // No bot has read yet: everything in the stream waits.
            let depth: u64 = redis::cmd("XLEN").arg(&key).query_async(&mut conn).await.map_err(unavailable)?;
            let oldest = self.first_after(&key, "-").await?;
            return Ok(QueueStats { depth, oldest_age: oldest.map(age) });
        };
        let pending = field::<u64>(group, "pending").unwrap_or(0);
        let lag = match field::<u64>(group, "lag") {
            Some(lag) => lag,
            // Redis cannot tell after entries were deleted in the middle: at most the whole stream.
            None => {
                let len: u64 = redis::cmd("XLEN").arg(&key).query_async(&mut conn).await.map_err(unavailable)?;
                len.saturating_sub(pending)
            }
        };
        let oldest = if pending > 0 {
            let summary: (u64, Option<String>, Option<String>, redis::Value) =
                redis::cmd("XPENDING").arg(&key).arg(Keys::GROUP).query_async(&mut conn).await.map_err(unavailable)?;
            summary.1.as_deref().and_then(id_millis)
        } else if lag > 0 {
            let last = field::<String>(group, "last-delivered-id").unwrap_or_else(|| "0-0".to_owned());
            self.first_after(&key, &format!("({last}")).await?
        } else {
            None
        };
        Ok(QueueStats { depth: pending + lag, oldest_age: oldest.map(age) })
    }

    /// The time (ms) of the first entry from `start` on.
    async fn first_after(&self, key: &str, start: &str) -> Result<Option<u64>, BusError> {
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(key)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(reply.ids.first().and_then(|entry| id_millis(&entry.id)))
    }
}

fn field<T: redis::FromRedisValue>(group: &HashMap<String, redis::Value>, name: &str) -> Option<T> {
    group.get(name).and_then(|v| redis::from_redis_value_ref::<T>(v).ok())
}

/// A stream id's milliseconds (`1700000000000-3` → 1700000000000).
fn id_millis(id: &str) -> Option<u64> {
    id.split('-').next()?.parse().ok()
}

/// How long ago `millis` (since the epoch) was; zero for a time in the future.
fn age(millis: u64) -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    now.saturating_sub(Duration::from_millis(millis))
}
