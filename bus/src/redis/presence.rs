//! Presence: a sorted set of seat expiries plus a hash of seat holders per room, changed only by
//! Lua scripts, so the capacity check and the claim are one atomic step. Every process refreshes
//! the seats it holds, and a crashed gateway's seats lapse within the TTL. Slowmode lives here
//! too, since an address's slots are the live seats it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::RoomSlug;
use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::{Notify, broadcast};

use super::keys::Keys;
use super::{lock, millis, unavailable};
use crate::{BusError, LostSeat, Seat, SeatClaim, SeatLoss};

/// Claim a seat if the room, the nickname and the address allow it.
const CLAIM: &str = include_str!("lua/claim.lua");
/// Give a seat back if its holder still holds it.
const RELEASE: &str = include_str!("lua/release.lua");
/// Extend a seat, or take it back (capacity re-checked) after Redis lost it.
const REFRESH: &str = include_str!("lua/refresh.lua");
/// Nicknames of a room's live seats.
const MEMBERS: &str = include_str!("lua/members.lua");
/// Number of a room's live seats.
const COUNT: &str = include_str!("lua/count.lua");
/// Take a slowmode slot of one address in one room, or say when one frees.
const SLOWMODE: &str = include_str!("lua/slowmode.lua");

/// Seats refreshed at once. Every refresh is a script, and Redis runs scripts one at a time:
/// thousands fired together would hold every other command back for as long as they take, so a
/// round goes out in chunks spread over half the interval.
const REFRESH_CHUNK: usize = 64;

/// Lost seats announced and not yet read before the oldest are dropped.
const LOST_DEPTH: usize = 1024;

/// A seat this process holds, with the room's limits it was granted under.
#[derive(Clone)]
struct HeldSeat {
    seat: Seat,
    capacity: u32,
    per_address: u32,
}

/// Seats this process holds, by (room, nickname key).
type Held = Arc<Mutex<HashMap<(RoomSlug, String), HeldSeat>>>;

pub(super) struct Presence {
    conn: ConnectionManager,
    keys: Keys,
    /// How long a seat outlives its last refresh.
    ttl: Duration,
    held: Held,
    /// Wakes the refresher for a round at once (Redis lost its data).
    refresh_now: Arc<Notify>,
    lost: broadcast::Sender<LostSeat>,
    claim: Script,
    release: Script,
    members: Script,
    count: Script,
    slowmode: Script,
}

impl Presence {
    pub(super) fn new(conn: ConnectionManager, keys: Keys, ttl: Duration) -> Self {
        Self {
            conn,
            keys,
            ttl,
            held: Arc::default(),
            refresh_now: Arc::new(Notify::new()),
            lost: broadcast::channel(LOST_DEPTH).0,
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
            members: Script::new(MEMBERS),
            count: Script::new(COUNT),
            slowmode: Script::new(SLOWMODE),
        }
    }

    /// The task that keeps this process's seats alive; runs until aborted.
    pub(super) fn refresher(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let refresher = Refresher {
            conn: self.conn.clone(),
            keys: self.keys.clone(),
            held: self.held.clone(),
            ttl: self.ttl,
            now: self.refresh_now.clone(),
            lost: self.lost.clone(),
        };
        refresher.run()
    }

    /// What wakes the refresher for a round at once.
    pub(super) fn refresh_now(&self) -> Arc<Notify> {
        self.refresh_now.clone()
    }

    pub(super) fn lost_seats(&self) -> broadcast::Receiver<LostSeat> {
        self.lost.subscribe()
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub(super) async fn claim(
        &self,
        room: &RoomSlug,
        seat: &Seat,
        capacity: u32,
        per_address: u32,
    ) -> Result<SeatClaim, BusError> {
        let reply: Vec<String> = self
            .claim
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .arg(&seat.key)
            .arg(&seat.holder)
            .arg(&seat.nick)
            .arg(capacity)
            .arg(millis(self.ttl))
            .arg(&seat.address)
            .arg(per_address)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some("granted") => {
                let held = HeldSeat { seat: seat.clone(), capacity, per_address };
                lock(&self.held).insert((room.clone(), seat.key.clone()), held);
                Ok(SeatClaim::Granted { members: reply.collect() })
            }
            Some("full") => Ok(SeatClaim::Full),
            Some("taken") => Ok(SeatClaim::NickTaken),
            Some("seats") => Ok(SeatClaim::TooManySeats),
            other => Err(BusError::Codec(format!("unexpected claim reply {other:?}"))),
        }
    }

    pub(super) async fn release(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError> {
        {
            let mut held = lock(&self.held);
            let entry = (room.clone(), key.to_owned());
            if held.get(&entry).is_some_and(|s| s.seat.holder == holder) {
                held.remove(&entry);
            }
        }
        let _: i64 = self
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

    /// Stop refreshing a seat from this process without freeing it (a resumed session holds
    /// it from another process now).
    pub(super) fn disown(&self, room: &RoomSlug, key: &str, holder: &str) {
        let mut held = lock(&self.held);
        let entry = (room.clone(), key.to_owned());
        if held.get(&entry).is_some_and(|s| s.seat.holder == holder) {
            held.remove(&entry);
        }
    }

    pub(super) async fn members(&self, room: &RoomSlug) -> Result<Vec<String>, BusError> {
        self.members
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    pub(super) async fn occupancy(&self, rooms: &[RoomSlug]) -> Result<Vec<u32>, BusError> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        // One pipeline of one small script per room (each room's keys stay in its own hash
        // slot): one round trip however many rooms are listed.
        let hash = self.count.get_hash();
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.cmd("EVALSHA").arg(hash).arg(1).arg(self.keys.presence(room));
        }
        match pipe.query_async::<Vec<u32>>(&mut self.conn()).await {
            Ok(counts) => Ok(counts),
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                // Redis forgot its scripts (restarted, SCRIPT FLUSH): load it and go again.
                let _: String = self.count.prepare_invoke().load_async(&mut self.conn()).await.map_err(unavailable)?;
                pipe.query_async::<Vec<u32>>(&mut self.conn()).await.map_err(unavailable)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    pub(super) async fn slowmode(
        &self,
        room: &RoomSlug,
        address: &str,
        period: Duration,
    ) -> Result<Option<Duration>, BusError> {
        let wait: i64 = self
            .slowmode
            .key(self.keys.presence(room))
            .key(self.keys.members(room))
            .key(self.keys.slowmode(room, address))
            .arg(address)
            .arg(millis(period).max(1))
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(wait).ok().map(Duration::from_millis))
    }
}

struct Refresher {
    conn: ConnectionManager,
    keys: Keys,
    held: Held,
    ttl: Duration,
    now: Arc<Notify>,
    lost: broadcast::Sender<LostSeat>,
}

impl Refresher {
    async fn run(self) {
        let script = Script::new(REFRESH);
        // A seat is refreshed within every third of the TTL plus at most half of that for
        // pacing: it never lapses while its holder lives.
        let interval = self.ttl / 3;
        let mut next_round = tokio::time::Instant::now() + interval;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next_round) => {}
                () = self.now.notified() => {}
            }
            // Rounds start every interval; one that overran its slot is followed at once.
            next_round = (next_round + interval).max(tokio::time::Instant::now());
            self.round(&script, interval).await;
        }
    }

    async fn round(&self, script: &Script, interval: Duration) {
        let ttl_ms = millis(self.ttl);
        let seats: Vec<(RoomSlug, HeldSeat)> =
            lock(&self.held).iter().map(|((room, _), held)| (room.clone(), held.clone())).collect();
        let chunks = seats.len().div_ceil(REFRESH_CHUNK).max(1);
        let pace = (interval / 2) / u32::try_from(chunks).unwrap_or(u32::MAX);
        let mut failed = 0;
        for chunk in seats.chunks(REFRESH_CHUNK) {
            let paced = tokio::time::sleep(pace);
            let refreshes = chunk.iter().map(|(room, held)| {
                let mut conn = self.conn.clone();
                let mut invocation = script.key(self.keys.presence(room));
                invocation
                    .key(self.keys.members(room))
                    .arg(&held.seat.key)
                    .arg(&held.seat.holder)
                    .arg(ttl_ms)
                    .arg(&held.seat.nick)
                    .arg(&held.seat.address)
                    .arg(held.capacity)
                    .arg(held.per_address);
                async move { invocation.invoke_async::<i64>(&mut conn).await }
            });
            let results = futures_util::future::join_all(refreshes).await;
            for ((room, held), result) in chunk.iter().zip(results) {
                let why = match result {
                    Ok(1) => continue,
                    Ok(0) => SeatLoss::NickTaken,
                    Ok(-1) => SeatLoss::Full,
                    Ok(-2) => SeatLoss::TooManySeats,
                    Ok(_) | Err(_) => {
                        failed += 1;
                        continue;
                    }
                };
                self.refused(room, held, why);
            }
            paced.await;
        }
        if failed > 0 {
            tracing::warn!(failed, total = seats.len(), "some seats could not be refreshed");
        }
    }

    /// The bus would not give a vanished seat back: forget it and tell its holder.
    fn refused(&self, room: &RoomSlug, held: &HeldSeat, why: SeatLoss) {
        let entry = (room.clone(), held.seat.key.clone());
        {
            let mut seats = lock(&self.held);
            if seats.get(&entry).is_none_or(|s| s.seat.holder != held.seat.holder) {
                // Released or claimed anew meanwhile.
                return;
            }
            seats.remove(&entry);
        }
        tracing::warn!(%room, holder = %held.seat.holder, ?why, "a seat Redis lost could not be taken back");
        let _ = self.lost.send(LostSeat {
            room: room.clone(),
            key: held.seat.key.clone(),
            holder: held.seat.holder.clone(),
            why,
        });
    }
}
