//! The Redis bus, for split deployment (docs/protocol.md, "Redis layout"): many gateways and one
//! bot exchanging everything over one Redis server, under a key prefix.
//!
//! * [`keys`]: every key name, under the prefix, with one hash tag per room;
//! * `fanout`: pub/sub, one channel per room, each gateway subscribed only to rooms it has
//!   members in; frames travel as the exact bytes clients receive; control events too;
//! * `presence`: seats and slowmode, changed only by Lua scripts so each check and claim is one
//!   atomic step; every process refreshes the seats it holds;
//! * `queue`: the gateway → bot stream, its consumer group and its trimming;
//! * `backlog`: what waits in that stream and for how long (`QUEUE_MAX`, metrics);
//! * `history`: each room's last messages;
//! * `reactions`: reactions on messages, one script per change (totals written into history);
//! * `snapshots`: room and ban definitions, the filter list, visitor rooms per owner;
//! * `roulette`: the roulette queue and its pairing;
//! * `online`: each gateway's count of open sockets, with a TTL, and their sum;
//! * `leader`: the leading bot's lock ([`Leadership`]) and named locks;
//! * `appeals`: appeals by token and each case's open appeal, with a TTL;
//! * `resume`: the sessions kept for resuming, one string per token, taken with `GETDEL`;
//! * `reported`: which device reported which message, one key each with a TTL;
//! * `shield`: the proof-of-work gate's spent solutions, join rates, mode and deployment key;
//! * `recovery`: the bus's generation, read once a second: a Redis that lost its data is found
//!   and recovered from (seats re-taken, kept entries queued again); the logged watermark;
//! * `retained`: what this process queued, kept (bounded) until the bot has logged it;
//! * `trait_impl`: [`Bus`](crate::Bus) for [`RedisBus`], one line per method into the above;
//! * `lua/`: the scripts, one file each, loaded with `include_str!`.
//!
//! Connections reconnect by themselves with backoff; while Redis is away calls fail with
//! [`BusError::Unavailable`] instead of pretending.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::task::JoinHandle;

use self::appeals::Appeals;
use self::backlog::Backlog;
use self::fanout::Fanout;
use self::history::History;
use self::keys::Keys;
use self::leader::Locks;
use self::online::Online;
use self::presence::Presence;
use self::queue::Queue;
use self::recovery::Recovery;
use self::reported::Reported;
use self::resume::Resumes;
use self::retained::Retained;
use self::roulette::Roulette;
use self::shield::Shield;
use self::snapshots::Snapshots;
use crate::BusError;

mod appeals;
mod backlog;
mod fanout;
mod history;
pub mod keys;
mod leader;
mod online;
mod presence;
mod queue;
mod reactions;
mod recovery;
mod reported;
mod resume;
mod retained;
mod roulette;
mod shield;
mod snapshots;
mod trait_impl;

pub use leader::Leadership;

/// How to reach Redis and how long a seat outlives its last refresh.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub prefix: String,
    /// A seat not refreshed for this long is free again (`PRESENCE_TTL_SECS`).
    pub presence_ttl: Duration,
    /// Messages are refused once this many entries wait for the bot (`QUEUE_MAX`).
    pub queue_max: u64,
}

/// The Redis implementation of [`Bus`](crate::Bus).
pub struct RedisBus {
    keys: Keys,
    conn: ConnectionManager,
    fanout: Arc<Fanout>,
    presence: Presence,
    queue: Queue,
    backlog: Backlog,
    history: History,
    snapshots: Snapshots,
    roulette: Roulette,
    locks: Locks,
    online: Online,
    resumes: Resumes,
    appeals: Appeals,
    shield: Shield,
    reported: Reported,
    recovery: Arc<Recovery>,
    client: redis::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisBus {
    /// Connect (failing fast if Redis cannot be reached now) and start the pub/sub and
    /// presence-refresh tasks.
    pub async fn connect(config: RedisConfig) -> Result<Self, BusError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| BusError::Unavailable(format!("invalid REDIS_URL: {e}")))?;
        let base = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(2));
        let conn = client.get_connection_manager_with_config(base.clone()).await.map_err(unavailable)?;
        // Stream reads block up to their own timeout; give them room beyond it.
        let blocking = client
            .get_connection_manager_with_config(base.set_response_timeout(Some(Duration::from_secs(30))))
            .await
            .map_err(unavailable)?;
        let keys = Keys::new(config.prefix);
        let fanout = Arc::new(Fanout::new(keys.control()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let pubsub = tokio::spawn(fanout::pubsub_loop(client.clone(), fanout.clone(), Some(ready_tx)));
        // Wait for the first pub/sub connection, so subscriptions work as soon as we return.
        if tokio::time::timeout(Duration::from_secs(5), ready_rx).await.is_err() {
            pubsub.abort();
            return Err(BusError::Unavailable("cannot open a pub/sub connection to Redis".into()));
        }
        let presence = Presence::new(conn.clone(), keys.clone(), config.presence_ttl);
        let refresher = tokio::spawn(presence.refresher());
        let gc = tokio::spawn(fanout::unsubscribe_idle(fanout.clone()));
        let retained = Arc::new(Retained::default());
        let recovery = Arc::new(Recovery::new(conn.clone(), keys.clone(), retained.clone(), presence.refresh_now()));
        // Learn the generation now (setting it if this is the bus's first use), and say whether
        // Redis keeps an append-only file.
        if let Err(e) = recovery.check().await {
            for task in [&pubsub, &refresher, &gc] {
                task.abort();
            }
            return Err(e);
        }
        let watcher = tokio::spawn(recovery.clone().run());
        Ok(Self {
            queue: Queue::new(conn.clone(), blocking, keys.clone(), retained),
            backlog: Backlog::new(conn.clone(), keys.clone(), config.queue_max),
            history: History::new(conn.clone(), keys.clone()),
            snapshots: Snapshots::new(conn.clone(), keys.clone()),
            roulette: Roulette::new(conn.clone(), keys.clone()),
            locks: Locks::new(conn.clone(), keys.clone()),
            online: Online::new(conn.clone(), keys.clone()),
            resumes: Resumes::new(conn.clone(), keys.clone()),
            appeals: Appeals::new(conn.clone(), keys.clone()),
            shield: Shield::new(conn.clone(), keys.clone()),
            reported: Reported::new(conn.clone(), keys.clone()),
            recovery,
            presence,
            keys,
            conn,
            fanout,
            client,
            tasks: vec![pubsub, refresher, gc, watcher],
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Become the leading bot: wait until the leader lock is ours, then keep it renewed. The
    /// returned [`Leadership`] says when it is lost (Redis unreachable for a whole TTL, or the
    /// key taken over), so the caller can stop consuming before another leader starts.
    pub async fn lead(&self, id: &str, ttl: Duration) -> Leadership {
        self.locks.lead(id, ttl).await
    }

    /// The client, for callers that need a connection of their own.
    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A duration in whole milliseconds, as Redis takes them.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, BusError> {
    serde_json::to_string(value).map_err(|e| BusError::Codec(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, BusError> {
    serde_json::from_str(raw).map_err(|e| BusError::Codec(e.to_string()))
}

/// Used by tests to wipe one prefix's keys.
pub async fn delete_prefix(url: &str, prefix: &str) -> Result<(), BusError> {
    let client = redis::Client::open(url).map_err(unavailable)?;
    let mut conn = client.get_multiplexed_async_connection().await.map_err(unavailable)?;
    let keys: HashSet<String> = {
        let mut iter: redis::AsyncIter<String> = conn.scan_match(format!("{prefix}:*")).await.map_err(unavailable)?;
        let mut keys = HashSet::new();
        while let Some(key) = iter.next_item().await {
            keys.insert(key.map_err(unavailable)?);
        }
        keys
    };
    if !keys.is_empty() {
        let keys: Vec<String> = keys.into_iter().collect();
        let _: i64 = conn.del(keys).await.map_err(unavailable)?;
    }
    Ok(())
}
