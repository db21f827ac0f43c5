//! The Redis bus, for split deployment (DESIGN.md, "Redis layout"): many gateways and one bot
//! exchanging everything over one Redis server, under a key prefix.
//!
//! * fan-out: pub/sub, one channel per room, each gateway subscribed only to rooms it has
//!   members in; frames travel as the exact bytes clients receive;
//! * presence: a sorted set of seat expiries plus a hash of seat holders per room, changed only
//!   by Lua scripts, so the capacity check and the claim are one atomic step; every process
//!   refreshes the seats it holds, and a crashed gateway's seats lapse within the TTL;
//! * queue: a stream read by the bot's consumer group, acknowledged after handling, trimmed only
//!   below the oldest unacknowledged entry;
//! * snapshots: hashes of room and ban definitions, read by gateways at start and after every
//!   pub/sub reconnect (pub/sub drops what was sent while away).
//!
//! Connections reconnect by themselves with backoff; while Redis is away calls fail with
//! [`BusError::Unavailable`] instead of pretending.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use protocol::{
    BanDef, ControlEvent, FilterDef, InboundEvent, LoggedMessage, MessageView, RoomDef, RoomKind, RoomSlug,
    RouletteTicket,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{AsyncCommands, Script};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use ulid::Ulid;

use self::keys::Keys;
use crate::{
    Bus, BusError, ControlFeed, ControlMessage, FeedSender, HISTORY_LEN, QueueEntry, ROOM_FEED_DEPTH, RoomFeed, Seat,
    SeatClaim,
};

pub mod keys;

const CONTROL_DEPTH: usize = 1024;

/// How to reach Redis and how long a seat outlives its last refresh.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub prefix: String,
    /// A seat not refreshed for this long is free again (`PRESENCE_TTL_SECS`).
    pub presence_ttl: Duration,
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Claim a seat: purge expired seats, refuse a taken nickname, a full room or an address that
/// holds `per_address` seats already, else take it.
/// KEYS: presence zset, members hash. ARGV: key, holder, nick, capacity, ttl_ms, address,
/// per_address.
const CLAIM: &str = include_str!("lua/claim.lua");

/// Slowmode for one address in one room: as many sends per period as the address holds live
/// seats there (at least one). KEYS: presence, members, the address's send log (zset).
/// ARGV: address, period_ms. Returns -1 when a slot was taken, else the ms until one frees.
const SLOWMODE: &str = include_str!("lua/slowmode.lua");

/// Release a seat if `holder` still holds it. KEYS: presence, members. ARGV: key, holder.
const RELEASE: &str = include_str!("lua/release.lua");

/// Extend a seat held by `holder`; a seat that vanished (Redis restarted empty) is taken back
/// unless somebody else took the nickname meanwhile. KEYS: presence, members.
/// ARGV: key, holder, ttl_ms, nick, address.
const REFRESH: &str = include_str!("lua/refresh.lua");

/// Nicknames of live seats. KEYS: presence, members.
const MEMBERS: &str = include_str!("lua/members.lua");

/// Number of live seats. KEYS: presence.
const COUNT: &str = include_str!("lua/count.lua");

/// A visitor's message in one round trip: queue it for the bot, then (only once queued) add it
/// to the room's history and publish its frame. KEYS: inbound stream, history. ARGV: event
/// JSON, message JSON, history length, channel, frame. A failed XADD fails the script before
/// anything else happens; later steps report their error text (or "") instead of failing it,
/// since the message is accepted once queued.
const POST: &str = include_str!("lua/post.lua");

/// Fill an empty history. KEYS: history. ARGV: max length, messages...
const SEED: &str = include_str!("lua/seed.lua");

/// Edit (ARGV[2] = new text) or remove (no ARGV[2]) the message with id ARGV[1] in a history
/// list. KEYS: history.
const AMEND: &str = include_str!("lua/amend.lua");

/// Renew the leader lock if we hold it, or take it back if it vanished (Redis restarted empty);
/// 0 only when another bot holds it. KEYS: lock. ARGV: id, ttl_ms.
const RENEW: &str = include_str!("lua/renew.lua");

/// Drop the leader lock if we hold it. KEYS: lock. ARGV: id.
const RESIGN: &str = include_str!("lua/resign.lua");

/// Pair a roulette ticket or queue it: the rule of `protocol::events::best_match`, atomically.
/// KEYS: queue (zset), tickets (hash). ARGV: ticket JSON, id, now ms, score for a new entry.
/// Returns the partner's JSON, or nil when the ticket was queued.
const ROULETTE: &str = include_str!("lua/roulette.lua");

/// Store a visitor room unless its owner holds `max` already (rooms gone from the snapshot no
/// longer count). KEYS: rooms hash, owner set. ARGV: slug, room JSON, max. Returns 1 if stored.
const OPEN_ROOM: &str = include_str!("lua/open_room.lua");

struct Scripts {
    post: Script,
    roulette: Script,
    open_room: Script,
    claim: Script,
    release: Script,
    members: Script,
    count: Script,
    seed: Script,
    amend: Script,
    slowmode: Script,
    lock: Script,
}

/// The pub/sub side: one connection per process, shared by every room feed and the control
/// feed, re-established (and every channel resubscribed) after a loss.
struct Fanout {
    channels: Mutex<HashMap<String, FeedSender>>,
    control: broadcast::Sender<ControlMessage>,
    control_channel: String,
    /// The live connection's command half; `None` while reconnecting. Held across
    /// SUBSCRIBE/UNSUBSCRIBE so they reach Redis in the order the channel map changed.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
}

/// The Redis implementation of [`Bus`].
pub struct RedisBus {
    keys: Keys,
    conn: ConnectionManager,
    /// A connection of its own for blocking stream reads, so they never hold up other calls.
    blocking: ConnectionManager,
    fanout: Arc<Fanout>,
    scripts: Scripts,
    ttl: Duration,
    /// Seats this process holds, by (room, key), refreshed every third of the TTL.
    held: Arc<Mutex<HashMap<(RoomSlug, String), Seat>>>,
    group_ready: std::sync::atomic::AtomicBool,
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
        let fanout = Arc::new(Fanout {
            channels: Mutex::default(),
            control: broadcast::channel(CONTROL_DEPTH).0,
            control_channel: keys.control(),
            sink: tokio::sync::Mutex::new(None),
        });
        let scripts = Scripts {
            post: Script::new(POST),
            roulette: Script::new(ROULETTE),
            open_room: Script::new(OPEN_ROOM),
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
            members: Script::new(MEMBERS),
            count: Script::new(COUNT),
            seed: Script::new(SEED),
            amend: Script::new(AMEND),
            slowmode: Script::new(SLOWMODE),
            lock: Script::new(RENEW),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let pubsub = tokio::spawn(pubsub_loop(client.clone(), fanout.clone(), Some(ready_tx)));
        // Wait for the first pub/sub connection, so subscriptions work as soon as we return.
        if tokio::time::timeout(Duration::from_secs(5), ready_rx).await.is_err() {
            pubsub.abort();
            return Err(BusError::Unavailable("cannot open a pub/sub connection to Redis".into()));
        }
        let held: Arc<Mutex<HashMap<(RoomSlug, String), Seat>>> = Arc::default();
        let refresher = tokio::spawn(refresh_loop(
            conn.clone(),
            keys.clone(),
            Script::new(REFRESH),
            held.clone(),
            config.presence_ttl,
        ));
        let gc = tokio::spawn(unsubscribe_idle(fanout.clone()));
        Ok(Self {
            keys,
            conn,
            blocking,
            fanout,
            scripts,
            ttl: config.presence_ttl,
            held,
            group_ready: std::sync::atomic::AtomicBool::new(false),
            client,
            tasks: vec![pubsub, refresher, gc],
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Create the consumer group (from the stream's start, so entries queued before the first
    /// bot ever ran are read too) unless it exists.
    async fn ensure_group(&self) -> Result<(), BusError> {
        use std::sync::atomic::Ordering;
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
            self.group_ready.store(false, std::sync::atomic::Ordering::Release);
        }
        unavailable(e)
    }

    /// Trim the queue below its oldest unacknowledged entry (never by length): entries that
    /// were never delivered or not yet acknowledged always stay.
    async fn trim_queue(&self) -> Result<(), BusError> {
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
            match event {
                Some(event) => out.push(QueueEntry { id: entry.id, event }),
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

    /// Become the leading bot: wait until the leader lock is ours, then keep it renewed. The
    /// returned [`Leadership`] says when it is lost (Redis unreachable for a whole TTL, or the
    /// key taken over), so the caller can stop consuming before another leader starts.
    pub async fn lead(&self, id: &str, ttl: Duration) -> Leadership {
        let key = self.keys.leader();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
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

    /// The client, for callers that need a connection of their own.
    pub fn client(&self) -> &redis::Client {
        &self.client
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

async fn pubsub_loop(client: redis::Client, fanout: Arc<Fanout>, mut ready: Option<tokio::sync::oneshot::Sender<()>>) {
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open Redis pub/sub; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        {
            let mut guard = fanout.sink.lock().await;
            let mut channels: Vec<String> = lock(&fanout.channels).keys().cloned().collect();
            channels.push(fanout.control_channel.clone());
            if let Err(e) = sink.subscribe(&channels).await {
                tracing::warn!(error = %e, "cannot subscribe on Redis; reconnecting");
                tokio::time::sleep(backoff).await;
                continue;
            }
            *guard = Some(sink);
        }
        backoff = Duration::from_millis(100);
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        if connected_before {
            tracing::info!("Redis pub/sub is back; asking for a resync");
            let _ = fanout.control.send(ControlMessage::Resync);
        }
        connected_before = true;
        while let Some(message) = stream.next().await {
            let channel = message.get_channel_name();
            if channel == fanout.control_channel {
                match serde_json::from_slice::<ControlEvent>(message.get_payload_bytes()) {
                    Ok(event) => {
                        let _ = fanout.control.send(ControlMessage::Event(event));
                    }
                    Err(e) => tracing::error!(error = %e, "undecodable control event"),
                }
            } else if let Some(tx) = lock(&fanout.channels).get_mut(channel) {
                tx.send(&Bytes::copy_from_slice(message.get_payload_bytes()));
            }
        }
        *fanout.sink.lock().await = None;
        tracing::warn!("lost the Redis pub/sub connection; reconnecting");
    }
}

/// Unsubscribe from rooms nobody on this process listens to any more.
async fn unsubscribe_idle(fanout: Arc<Fanout>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut guard = fanout.sink.lock().await;
        let idle: Vec<String> = {
            let mut channels = lock(&fanout.channels);
            let idle: Vec<String> =
                channels.iter().filter(|(_, tx)| tx.receiver_count() == 0).map(|(c, _)| c.clone()).collect();
            for channel in &idle {
                channels.remove(channel);
            }
            idle
        };
        if let (Some(sink), false) = (guard.as_mut(), idle.is_empty())
            && let Err(e) = sink.unsubscribe(&idle).await
        {
            tracing::warn!(error = %e, "cannot unsubscribe idle rooms");
        }
    }
}

/// Seats refreshed at once. Every refresh is a script, and Redis runs scripts one at a time:
/// thousands fired together hold every other command back for as long as they take (with all
/// 5 000 at once per gateway, the bench's delivery p99 over Redis passed 100 ms at rates that
/// pass since), so a round goes out in chunks spread over half the interval.
const REFRESH_CHUNK: usize = 64;

async fn refresh_loop(
    conn: ConnectionManager,
    keys: Keys,
    script: Script,
    held: Arc<Mutex<HashMap<(RoomSlug, String), Seat>>>,
    ttl: Duration,
) {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    // A seat is refreshed within every third of the TTL plus at most half of that for pacing:
    // it never lapses while its holder lives.
    let interval = ttl / 3;
    let mut next_round = tokio::time::Instant::now() + interval;
    loop {
        tokio::time::sleep_until(next_round).await;
        // Rounds start every interval; one that overran its slot is followed at once.
        next_round = (next_round + interval).max(tokio::time::Instant::now());
        let seats: Vec<(RoomSlug, Seat)> =
            lock(&held).iter().map(|((room, _), seat)| (room.clone(), seat.clone())).collect();
        let chunks = seats.len().div_ceil(REFRESH_CHUNK).max(1);
        let pace = (interval / 2) / u32::try_from(chunks).unwrap_or(u32::MAX);
        let mut failed = 0;
        for chunk in seats.chunks(REFRESH_CHUNK) {
            let paced = tokio::time::sleep(pace);
            let refreshes = chunk.iter().map(|(room, seat)| {
                let mut conn = conn.clone();
                let mut invocation = script.key(keys.presence(room));
                invocation
                    .key(keys.members(room))
                    .arg(&seat.key)
                    .arg(&seat.holder)
                    .arg(ttl_ms)
                    .arg(&seat.nick)
                    .arg(&seat.address);
                async move { invocation.invoke_async::<i64>(&mut conn).await }
            });
            let results = futures_util::future::join_all(refreshes).await;
            failed += results.iter().filter(|r| !matches!(r, Ok(1))).count();
            paced.await;
        }
        if failed > 0 {
            tracing::warn!(failed, total = seats.len(), "some seats could not be refreshed");
        }
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, BusError> {
    serde_json::to_string(value).map_err(|e| BusError::Codec(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, BusError> {
    serde_json::from_str(raw).map_err(|e| BusError::Codec(e.to_string()))
}

#[async_trait]
impl Bus for RedisBus {
    async fn ping(&self) -> Result<(), BusError> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await.map_err(unavailable)?;
        if self.fanout.sink.lock().await.is_none() {
            return Err(BusError::Unavailable("Redis pub/sub is reconnecting".into()));
        }
        Ok(())
    }

    async fn publish(&self, room: &RoomSlug, frame: Bytes) -> Result<(), BusError> {
        let _: i64 = self.conn().publish(self.keys.room_events(room), frame.as_ref()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe_room(&self, room: &RoomSlug) -> Result<RoomFeed, BusError> {
        let channel = self.keys.room_events(room);
        let mut guard = self.fanout.sink.lock().await;
        let (feed, fresh) = {
            let mut channels = lock(&self.fanout.channels);
            match channels.get_mut(&channel) {
                Some(tx) => (tx.subscribe(), false),
                None => {
                    let mut tx = FeedSender::new(room.clone(), ROOM_FEED_DEPTH);
                    let feed = tx.subscribe();
                    channels.insert(channel.clone(), tx);
                    (feed, true)
                }
            }
        };
        if fresh {
            let result = match guard.as_mut() {
                Some(sink) => sink.subscribe(&channel).await.map_err(unavailable),
                None => Err(BusError::Unavailable("Redis pub/sub is reconnecting".into())),
            };
            if let Err(e) = result {
                lock(&self.fanout.channels).remove(&channel);
                return Err(e);
            }
        }
        Ok(feed)
    }

    async fn claim_seat(
        &self,
        room: &RoomSlug,
        seat: &Seat,
        capacity: u32,
        per_address: u32,
    ) -> Result<SeatClaim, BusError> {
        let reply: Vec<String> = self
            .scripts
            .claim
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .arg(&seat.key)
            .arg(&seat.holder)
            .arg(&seat.nick)
            .arg(capacity)
            .arg(self.ttl_ms())
            .arg(&seat.address)
            .arg(per_address)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("granted") => {
                lock(&self.held).insert((room.clone(), seat.key.clone()), seat.clone());
                Ok(SeatClaim::Granted { members: reply.collect() })
            }
            Some("full") => Ok(SeatClaim::Full),
            Some("taken") => Ok(SeatClaim::NickTaken),
            Some("seats") => Ok(SeatClaim::TooManySeats),
            other => Err(BusError::Codec(format!("unexpected claim reply {other:?}"))),
        }
    }

    async fn release_seat(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError> {
        {
            let mut held = lock(&self.held);
            let entry = (room.clone(), key.to_owned());
            if held.get(&entry).is_some_and(|s| s.holder == holder) {
                held.remove(&entry);
            }
        }
        let _: i64 = self
            .scripts
            .release
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .arg(key)
            .arg(holder)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn members(&self, room: &RoomSlug) -> Result<Vec<String>, BusError> {
        self.scripts
            .members
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn occupancy(&self, rooms: &[RoomSlug]) -> Result<Vec<u32>, BusError> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        // One pipeline of one small script per room (each room's keys stay in its own hash
        // slot): one round trip however many rooms are listed.
        let hash = self.scripts.count.get_hash();
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.cmd("EVALSHA").arg(hash).arg(1).arg(self.keys.presence(room));
        }
        match pipe.query_async::<Vec<u32>>(&mut self.conn()).await {
            Ok(counts) => Ok(counts),
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                // Redis forgot its scripts (restarted, SCRIPT FLUSH): load it and go again.
                let _: String =
                    self.scripts.count.prepare_invoke().load_async(&mut self.conn()).await.map_err(unavailable)?;
                pipe.query_async::<Vec<u32>>(&mut self.conn()).await.map_err(unavailable)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn slowmode(&self, room: &RoomSlug, address: &str, period: Duration) -> Result<Option<Duration>, BusError> {
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
        let wait: i64 = self
            .scripts
            .slowmode
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .key(self.keys.slowmode(room, address))
            .arg(address)
            .arg(period_ms)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(wait).ok().map(Duration::from_millis))
    }

    async fn record_history(&self, message: &MessageView) -> Result<(), BusError> {
        let room = RoomSlug::parse(&message.room).map_err(|e| BusError::Codec(e.to_string()))?;
        let key = self.keys.history(&room);
        let len = isize::try_from(HISTORY_LEN).unwrap_or(isize::MAX);
        let _: () = redis::pipe()
            .atomic()
            .rpush(&key, encode(message)?)
            .ignore()
            .ltrim(&key, -len, -1)
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn history(&self, room: &RoomSlug, since: Option<Ulid>) -> Result<Vec<MessageView>, BusError> {
        let raw: Vec<String> = self.conn().lrange(self.keys.history(room), 0, -1).await.map_err(unavailable)?;
        let entries = raw.iter().map(|r| decode::<MessageView>(r)).collect::<Result<Vec<_>, _>>()?;
        let start = since.and_then(|id| entries.iter().position(|m| m.id == id)).map_or(0, |pos| pos + 1);
        Ok(entries.into_iter().skip(start).collect())
    }

    async fn amend_history(&self, room: &RoomSlug, id: Ulid, text: Option<&str>) -> Result<(), BusError> {
        let mut invocation = self.scripts.amend.key(self.keys.history(room));
        invocation.arg(id.to_string());
        if let Some(text) = text {
            invocation.arg(text);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn seed_history(&self, room: &RoomSlug, messages: Vec<MessageView>) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut invocation = self.scripts.seed.key(self.keys.history(room));
        invocation.arg(HISTORY_LEN);
        for m in &messages {
            invocation.arg(encode(m)?);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn enqueue(&self, event: &InboundEvent) -> Result<(), BusError> {
        let _: String =
            self.conn().xadd(self.keys.inbound(), "*", &[("e", encode(event)?)]).await.map_err(unavailable)?;
        Ok(())
    }

    async fn post_message(&self, room: &RoomSlug, message: &LoggedMessage, frame: Bytes) -> Result<(), BusError> {
        // One script rather than XADD, then MULTI/RPUSH/LTRIM/EXEC, then PUBLISH: one round trip
        // before the room sees the message instead of three, and one command for Redis to read
        // and answer instead of six.
        let mut invocation = self.scripts.post.key(self.keys.inbound());
        invocation
            .key(self.keys.history(room))
            .arg(encode(&InboundEvent::Message(message.clone()))?)
            .arg(encode(&message.message)?)
            .arg(HISTORY_LEN)
            .arg(self.keys.room_events(room))
            .arg(frame.as_ref());
        let (history, published): (String, String) =
            invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        if !history.is_empty() {
            tracing::warn!(error = %history, %room, "cannot record history");
        }
        if !published.is_empty() {
            tracing::error!(error = %published, %room, "cannot fan a message out");
        }
        Ok(())
    }

    async fn dequeue(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<QueueEntry>, BusError> {
        self.ensure_group().await?;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(Keys::GROUP).arg(consumer).arg("COUNT").arg(max.max(1));
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        if wait_ms > 0 {
            cmd.arg("BLOCK").arg(wait_ms);
        }
        cmd.arg("STREAMS").arg(self.keys.inbound()).arg(">");
        let reply: Option<StreamReadReply> =
            cmd.query_async(&mut self.blocking.clone()).await.map_err(|e| self.queue_error(e))?;
        let ids = reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default();
        self.decode_entries(ids).await
    }

    async fn reclaim(&self, consumer: &str, min_idle: Duration, max: usize) -> Result<Vec<QueueEntry>, BusError> {
        self.ensure_group().await?;
        let min_idle_ms = u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX);
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

    async fn ack(&self, ids: &[String]) -> Result<(), BusError> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = self.conn().xack(self.keys.inbound(), Keys::GROUP, ids).await.map_err(unavailable)?;
        self.trim_queue().await
    }

    async fn publish_control(&self, event: &ControlEvent) -> Result<(), BusError> {
        let _: i64 = self.conn().publish(self.keys.control(), encode(event)?).await.map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe_control(&self) -> Result<ControlFeed, BusError> {
        Ok(ControlFeed::new(self.fanout.control.subscribe()))
    }

    async fn roulette_match(&self, ticket: &RouletteTicket, now_ms: i64) -> Result<Option<RouletteTicket>, BusError> {
        let found: Option<String> = self
            .scripts
            .roulette
            .key(self.keys.roulette_queue())
            .key(self.keys.roulette_tickets())
            .arg(encode(ticket)?)
            .arg(&ticket.id)
            .arg(now_ms)
            .arg(now_ms)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        found.map(|raw| decode(&raw)).transpose()
    }

    async fn roulette_cancel(&self, id: &str) -> Result<(), BusError> {
        let _: () = redis::pipe()
            .atomic()
            .zrem(self.keys.roulette_queue(), id)
            .ignore()
            .hdel(self.keys.roulette_tickets(), id)
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn notify(&self, inbox: &RoomSlug, payload: Bytes) -> Result<bool, BusError> {
        let listeners: i64 =
            self.conn().publish(self.keys.room_events(inbox), payload.as_ref()).await.map_err(unavailable)?;
        Ok(listeners > 0)
    }

    async fn open_room(&self, room: &RoomDef, max_per_owner: u32) -> Result<bool, BusError> {
        let Some(owner) = &room.owner else {
            self.put_room(room).await?;
            return Ok(true);
        };
        let stored: i64 = self
            .scripts
            .open_room
            .key(self.keys.rooms())
            .key(self.keys.room_owner(owner))
            .arg(room.slug.as_str())
            .arg(encode(room)?)
            .arg(max_per_owner)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(stored == 1)
    }

    async fn put_room(&self, room: &RoomDef) -> Result<(), BusError> {
        let _: i64 =
            self.conn().hset(self.keys.rooms(), room.slug.as_str(), encode(room)?).await.map_err(unavailable)?;
        Ok(())
    }

    async fn remove_room(&self, slug: &RoomSlug) -> Result<bool, BusError> {
        let raw: Option<String> = self.conn().hget(self.keys.rooms(), slug.as_str()).await.map_err(unavailable)?;
        let Some(raw) = raw else {
            return Ok(false);
        };
        let mut pipe = redis::pipe();
        pipe.atomic().hdel(self.keys.rooms(), slug.as_str());
        match decode::<RoomDef>(&raw) {
            Ok(room) if room.kind != RoomKind::Staff => {
                // Visitor rooms and pairs are never opened again under the same slug: nothing
                // of theirs may stay behind (their slowmode logs expire by themselves).
                pipe.del(self.keys.history(slug)).ignore();
                pipe.del(self.keys.presence(slug)).ignore();
                pipe.del(self.keys.members(slug)).ignore();
                if let Some(owner) = &room.owner {
                    // The owner's set goes once empty (Redis drops empty sets).
                    pipe.srem(self.keys.room_owner(owner), slug.as_str()).ignore();
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, room = %slug, "removing an undecodable room definition"),
        }
        let (removed,): (i64,) = pipe.query_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn hold_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let held: i64 = self
            .scripts
            .lock
            .key(self.keys.lock(name))
            .arg(holder)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(held == 1)
    }

    async fn rooms(&self) -> Result<Vec<RoomDef>, BusError> {
        let raw: Vec<String> = self.conn().hvals(self.keys.rooms()).await.map_err(unavailable)?;
        raw.iter().map(|r| decode(r)).collect()
    }

    async fn put_ban(&self, ban: &BanDef) -> Result<(), BusError> {
        let _: i64 = self.conn().hset(self.keys.bans(), ban.id, encode(ban)?).await.map_err(unavailable)?;
        Ok(())
    }

    async fn remove_ban(&self, id: i64) -> Result<(), BusError> {
        let _: i64 = self.conn().hdel(self.keys.bans(), id).await.map_err(unavailable)?;
        Ok(())
    }

    async fn bans(&self) -> Result<Vec<BanDef>, BusError> {
        let raw: Vec<String> = self.conn().hvals(self.keys.bans()).await.map_err(unavailable)?;
        raw.iter().map(|r| decode(r)).collect()
    }

    async fn put_filters(&self, filters: &[FilterDef]) -> Result<(), BusError> {
        let _: () = self.conn().set(self.keys.filters(), encode(&filters)?).await.map_err(unavailable)?;
        Ok(())
    }

    async fn filters(&self) -> Result<Vec<FilterDef>, BusError> {
        let raw: Option<String> = self.conn().get(self.keys.filters()).await.map_err(unavailable)?;
        raw.map_or(Ok(Vec::new()), |r| decode(&r))
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.renewer.abort();
    }
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
