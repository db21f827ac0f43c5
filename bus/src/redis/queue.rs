//! The durable gateway → bot queue: a stream read by the bot's consumer group, acknowledged
//! after handling, trimmed only below the oldest unacknowledged entry. A visitor's message is
//! queued, remembered and fanned out by one script. What this process queues is also kept
//! (`retained`) until the bot has logged it, to be queued again if Redis loses it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use protocol::{InboundEvent, LoggedMessage, RoomSlug};
use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{AsyncCommands, Script};

use super::keys::Keys;
use super::recovery::{ENQUEUE, candidate};
use super::retained::Retained;
use super::{encode, millis, unavailable};
use crate::{BusError, HISTORY_LEN, QueueEntry};

/// Queue a visitor's message, then remember it and fan it out.
const POST: &str = include_str!("lua/post.lua");

pub(super) struct Queue {
    conn: ConnectionManager,
    /// A connection of its own for blocking stream reads, so they never hold up other calls.
    blocking: ConnectionManager,
    keys: Keys,
    group_ready: AtomicBool,
    post: Script,
    enqueue: Script,
    /// What this process queued, until the bot has logged it.
    retained: Arc<Retained>,
}

impl Queue {
    pub(super) fn new(
        conn: ConnectionManager,
        blocking: ConnectionManager,
        keys: Keys,
        retained: Arc<Retained>,
    ) -> Self {
        Self {
            conn,
            blocking,
            keys,
            group_ready: AtomicBool::new(false),
            post: Script::new(POST),
            enqueue: Script::new(ENQUEUE),
            retained,
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub(super) async fn enqueue(&self, event: &InboundEvent) -> Result<(), BusError> {
        let json = encode(event)?;
        let reply: Vec<String> = self
            .enqueue
            .key(self.keys.inbound())
            .key(self.keys.epoch())
            .arg("")
            .arg(candidate())
            .arg(&json)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        match reply.as_slice() {
            [epoch, id] => self.retained.keep(epoch, id, json),
            other => return Err(BusError::Codec(format!("unexpected enqueue reply {other:?}"))),
        }
        Ok(())
    }

    pub(super) async fn post(&self, room: &RoomSlug, message: &LoggedMessage, frame: Bytes) -> Result<(), BusError> {
        // One script rather than XADD, then MULTI/RPUSH/LTRIM/EXEC, then PUBLISH: one round trip
        // before the room sees the message instead of three, and one command for Redis to read
        // and answer instead of six.
        let json = encode(&InboundEvent::Message(message.clone()))?;
        let mut invocation = self.post.key(self.keys.inbound());
        invocation
            .key(self.keys.history(room))
            .key(self.keys.epoch())
            .arg(&json)
            .arg(encode(&message.message)?)
            .arg(HISTORY_LEN)
            .arg(self.keys.room_events(room))
            .arg(frame.as_ref())
            .arg(candidate());
        let (id, epoch, history, published): (String, String, String, String) =
            invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        self.retained.keep(&epoch, &id, json);
        if !history.is_empty() {
            tracing::warn!(error = %history, %room, "cannot record history");
        }
        if !published.is_empty() {
            tracing::error!(error = %published, %room, "cannot fan a message out");
        }
        Ok(())
    }

    pub(super) async fn dequeue(
        &self,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<QueueEntry>, BusError> {
        self.ensure_group().await?;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(Keys::GROUP).arg(consumer).arg("COUNT").arg(max.max(1));
        let wait_ms = millis(wait);
        if wait_ms > 0 {
            cmd.arg("BLOCK").arg(wait_ms);
        }
        cmd.arg("STREAMS").arg(self.keys.inbound()).arg(">");
        let reply: Option<StreamReadReply> =
            cmd.query_async(&mut self.blocking.clone()).await.map_err(|e| self.queue_error(e))?;
        let ids = reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default();
        self.decode_entries(ids).await
    }

    pub(super) async fn reclaim(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<QueueEntry>, BusError> {
        self.ensure_group().await?;
        let min_idle_ms = millis(min_idle);
        let mut start = "0-0".to_owned();
        let mut claimed = Vec::new();
        loop {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(self.keys.inbound())
                .arg(Keys::GROUP)
                .arg(consumer)
                .arg(min_idle_ms)
                .arg(&start)
                .arg("COUNT")
                .arg(max.saturating_sub(claimed.len()).max(1))
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.queue_error(e))?;
            if !reply.deleted_ids.is_empty() {
                tracing::error!(ids = ?reply.deleted_ids, "pending queue entries were deleted before being handled");
                self.ack(&reply.deleted_ids).await?;
            }
            claimed.extend(reply.claimed);
            if reply.next_stream_id == "0-0" || claimed.len() >= max {
                break;
            }
            start = reply.next_stream_id;
        }
        self.decode_entries(claimed).await
    }

    pub(super) async fn ack(&self, ids: &[String]) -> Result<(), BusError> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = self.conn().xack(self.keys.inbound(), Keys::GROUP, ids).await.map_err(unavailable)?;
        self.trim().await
    }

    /// Create the consumer group (from the stream's start, so entries queued before the first
    /// bot ever ran are read too) unless it exists.
    async fn ensure_group(&self) -> Result<(), BusError> {
        if self.group_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let result: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.inbound())
            .arg(Keys::GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn())
            .await;
        match result {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(unavailable(e)),
        }
        self.group_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// A queue command failed; if the group vanished (a Redis without persistence restarted),
    /// it is recreated by the next call.
    fn queue_error(&self, e: redis::RedisError) -> BusError {
        if e.code() == Some("NOGROUP") {
            tracing::warn!("the queue's consumer group is gone; it will be recreated");
            self.group_ready.store(false, Ordering::Release);
        }
        unavailable(e)
    }

    /// Trim the queue below its oldest unacknowledged entry (never by length): entries that
    /// were never delivered or not yet acknowledged always stay.
    async fn trim(&self) -> Result<(), BusError> {
        let mut conn = self.conn();
        let key = self.keys.inbound();
        let pending: (u64, Option<String>, Option<String>, redis::Value) =
            redis::cmd("XPENDING").arg(&key).arg(Keys::GROUP).query_async(&mut conn).await.map_err(unavailable)?;
        let min_id = match pending {
            (n, Some(oldest), _, _) if n > 0 => oldest,
            _ => {
                let groups: Vec<HashMap<String, redis::Value>> =
                    redis::cmd("XINFO").arg("GROUPS").arg(&key).query_async(&mut conn).await.map_err(unavailable)?;
                let last = groups
                    .iter()
                    .find(|g| matches!(g.get("name"), Some(v) if redis::from_redis_value_ref::<String>(v).ok().as_deref() == Some(Keys::GROUP)))
                    .and_then(|g| g.get("last-delivered-id"))
                    .and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
                match last {
                    Some(last) => last,
                    None => return Ok(()),
                }
            }
        };
        let _: u64 = redis::cmd("XTRIM")
            .arg(&key)
            .arg("MINID")
            .arg(&min_id)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Decode stream entries; an undecodable one is reported and acknowledged so it cannot block
    /// the queue forever (its raw form stays in the log line).
    async fn decode_entries(&self, ids: Vec<StreamId>) -> Result<Vec<QueueEntry>, BusError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut poison = Vec::new();
        for entry in ids {
            let event = entry
                .map
                .get("e")
                .and_then(|v| redis::from_redis_value_ref::<Vec<u8>>(v).ok())
                .and_then(|raw| serde_json::from_slice::<InboundEvent>(&raw).ok());
            // Queued again by a gateway after Redis lost its data: it may be logged already.
            let requeued = entry.map.contains_key("r");
            match event {
                Some(event) => out.push(QueueEntry { id: entry.id, event, requeued }),
                None => {
                    tracing::error!(id = %entry.id, fields = ?entry.map, "undecodable queue entry; acknowledging it");
                    poison.push(entry.id);
                }
            }
        }
        if !poison.is_empty() {
            self.ack(&poison).await?;
        }
        Ok(out)
    }
}
