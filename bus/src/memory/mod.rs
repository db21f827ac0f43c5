//! The in-process bus: the one-process default, where gateway and bot share memory. The seat
//! rules are in `crate::seats`; the queue's bookkeeping (`queue`), slowmode's (`slowmode`) and
//! the online counts (`online`), the resume states (`resume`), the appeals (`appeals`) and the
//! proof-of-work gate's shared state (`shield`) and the reactions on messages (`reactions`) are in
//! files of their own; `expiring` is the bounded set with deadlines that the spent solutions and
//! the reported messages use.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use protocol::{
    AppealRecord, BanDef, ControlEvent, FilterDef, InboundEvent, MessageView, MuteDef, RoomDef, RoomKind, RoomSlug,
    RouletteTicket,
};
use tokio::sync::{Notify, broadcast};
use ulid::Ulid;

use self::appeals::Appeals;
use self::expiring::{ExpiringSet, Inserted};
use self::online::Online;
use self::queue::{Kind, Queue};
use self::resume::Resumes;
use self::shield::Shield;
use self::slowmode::Slowmode;
use crate::history::{Entry, visible};
use crate::seats::{Verdict, judge_claim, slowmode_slots};
use crate::{
    Bus, BusError, ControlFeed, ControlMessage, DEFAULT_QUEUE_MAX, FeedSender, HISTORY_LEN, QueueEntry, QueueStats,
    REPORTED_MAX, ROOM_FEED_DEPTH, ResumeState, RoomFeed, Seat, SeatClaim, Token, Viewer,
};

mod appeals;
mod expiring;
mod online;
mod queue;
mod reactions;
mod resume;
mod shield;
mod slowmode;

const CONTROL_DEPTH: usize = 1024;
/// The fan-out map is never purged below this size.
const FANOUT_PURGE_MIN: usize = 1024;

/// Everything in memory; cheap to clone through an `Arc`.
pub struct InProcessBus {
    rooms_fanout: Mutex<HashMap<RoomSlug, FeedSender>>,
    /// Size of `rooms_fanout` at which channels nobody listens to are dropped (closed pairs,
    /// inboxes of roulette tickets that left): twice what the last purge kept.
    fanout_purge_at: std::sync::atomic::AtomicUsize,
    presence: Mutex<HashMap<RoomSlug, Vec<Seat>>>,
    history: Mutex<HashMap<RoomSlug, VecDeque<Entry>>>,
    queue: Mutex<Queue>,
    queue_ready: Notify,
    control: broadcast::Sender<ControlMessage>,
    room_defs: Mutex<BTreeMap<RoomSlug, RoomDef>>,
    ban_defs: Mutex<BTreeMap<i64, BanDef>>,
    mute_defs: Mutex<BTreeMap<i64, MuteDef>>,
    filter_defs: Mutex<Vec<FilterDef>>,
    /// Waiting roulette tickets, oldest first.
    roulette: Mutex<Vec<RouletteTicket>>,
    /// Slowmode: when each (room, address) last sent, by slot.
    slowmode: Mutex<Slowmode>,
    /// Named locks: holder and expiry.
    locks: Mutex<HashMap<String, (String, Instant)>>,
    /// Each gateway's count of open sockets, while its report is valid.
    online: Mutex<Online>,
    /// Resume states by token.
    resumes: Mutex<Resumes>,
    /// Appeals by token, and each case's open one.
    appeals: Mutex<Appeals>,
    /// The proof-of-work gate's shared state.
    shield: Mutex<Shield>,
    /// (device, message) pairs reported, each for its TTL.
    reported: Mutex<ExpiringSet>,
    /// Reactions on messages, by message.
    reactions: Mutex<reactions::Reactions>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::with_queue_max(DEFAULT_QUEUE_MAX)
    }

    /// Keep `entry` as one of its room's last [`HISTORY_LEN`] messages.
    fn record(&self, entry: Entry) -> Result<(), BusError> {
        let room = RoomSlug::parse(&entry.message.room).map_err(|e| BusError::Codec(e.to_string()))?;
        let mut history = lock(&self.history);
        let entries = history.entry(room).or_default();
        entries.push_back(entry);
        while entries.len() > HISTORY_LEN {
            entries.pop_front();
        }
        Ok(())
    }

    /// A bus whose queue refuses messages once `queue_max` entries wait for the bot
    /// (`QUEUE_MAX`).
    pub fn with_queue_max(queue_max: u64) -> Self {
        Self {
            rooms_fanout: Mutex::default(),
            fanout_purge_at: std::sync::atomic::AtomicUsize::new(FANOUT_PURGE_MIN),
            presence: Mutex::default(),
            history: Mutex::default(),
            queue: Mutex::new(Queue::new(queue_max)),
            queue_ready: Notify::new(),
            control: broadcast::channel(CONTROL_DEPTH).0,
            room_defs: Mutex::default(),
            ban_defs: Mutex::default(),
            mute_defs: Mutex::default(),
            filter_defs: Mutex::default(),
            roulette: Mutex::default(),
            slowmode: Mutex::default(),
            locks: Mutex::default(),
            online: Mutex::default(),
            resumes: Mutex::default(),
            appeals: Mutex::default(),
            shield: Mutex::default(),
            reported: Mutex::new(ExpiringSet::new(REPORTED_MAX)),
            reactions: Mutex::default(),
        }
    }
}

/// Take a std mutex, recovering the data if a panicking thread poisoned it: every critical
/// section here leaves the maps consistent before anything that could panic.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Bus for InProcessBus {
    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn publish(&self, room: &RoomSlug, frame: Bytes) -> Result<(), BusError> {
        let mut fanout = lock(&self.rooms_fanout);
        // A send with nobody listening any more fails: forget the channel then.
        if let Some(tx) = fanout.get_mut(room)
            && !tx.send(&frame)
        {
            fanout.remove(room);
        }
        Ok(())
    }

    async fn subscribe_room(&self, room: &RoomSlug) -> Result<RoomFeed, BusError> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut fanout = lock(&self.rooms_fanout);
        // A channel is forgotten when a send finds nobody listening; one nobody sends to again
        // (an ended pair, a roulette inbox) is dropped here, amortised over the subscriptions
        // that grew the map, so the map stays bounded by the channels in use.
        if fanout.len() >= self.fanout_purge_at.load(Relaxed) {
            fanout.retain(|_, tx| tx.receiver_count() > 0);
            self.fanout_purge_at.store((fanout.len() * 2).max(FANOUT_PURGE_MIN), Relaxed);
        }
        let tx = fanout.entry(room.clone()).or_insert_with(|| FeedSender::new(room.clone(), ROOM_FEED_DEPTH));
        Ok(tx.subscribe())
    }

    async fn claim_seat(
        &self,
        room: &RoomSlug,
        seat: &Seat,
        capacity: u32,
        per_address: u32,
    ) -> Result<SeatClaim, BusError> {
        let mut presence = lock(&self.presence);
        let seats = presence.entry(room.clone()).or_default();
        match judge_claim(seats, seat, capacity, per_address) {
            Verdict::Seated => {}
            Verdict::Take => seats.push(seat.clone()),
            Verdict::Refused(refusal) => return Ok(refusal),
        }
        Ok(SeatClaim::Granted { members: seats.iter().map(|s| s.nick.clone()).collect() })
    }

    async fn release_seat(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError> {
        let mut presence = lock(&self.presence);
        if let Some(seats) = presence.get_mut(room) {
            seats.retain(|s| !(s.key == key && s.holder == holder));
            if seats.is_empty() {
                presence.remove(room);
            }
        }
        Ok(())
    }

    async fn members(&self, room: &RoomSlug) -> Result<Vec<String>, BusError> {
        let presence = lock(&self.presence);
        Ok(presence.get(room).map(|s| s.iter().map(|s| s.nick.clone()).collect()).unwrap_or_default())
    }

    async fn occupancy(&self, rooms: &[RoomSlug]) -> Result<Vec<u32>, BusError> {
        let presence = lock(&self.presence);
        Ok(rooms.iter().map(|r| presence.get(r).map_or(0, |s| u32::try_from(s.len()).unwrap_or(u32::MAX))).collect())
    }

    async fn slowmode(&self, room: &RoomSlug, address: &str, period: Duration) -> Result<Option<Duration>, BusError> {
        let slots = {
            let presence = lock(&self.presence);
            presence.get(room).map_or(1, |seats| slowmode_slots(seats, address))
        };
        Ok(lock(&self.slowmode).take(room, address, period, slots))
    }

    async fn record_history(&self, message: &MessageView) -> Result<(), BusError> {
        self.record(Entry::everyone(message.clone()))
    }

    async fn record_history_for(&self, message: &MessageView, only: &Viewer) -> Result<(), BusError> {
        self.record(Entry { message: message.clone(), only: Some(only.clone()) })
    }

    async fn history_for(
        &self,
        room: &RoomSlug,
        since: Option<Ulid>,
        viewer: Option<&Viewer>,
    ) -> Result<Vec<MessageView>, BusError> {
        let history = lock(&self.history);
        Ok(history.get(room).map(|entries| visible(entries, since, viewer)).unwrap_or_default())
    }

    async fn amend_history(&self, room: &RoomSlug, id: Ulid, text: Option<&str>) -> Result<(), BusError> {
        let mut history = lock(&self.history);
        if let Some(entries) = history.get_mut(room) {
            match text {
                Some(text) => {
                    entries.iter_mut().filter(|e| e.message.id == id).for_each(|e| e.message.text = text.to_owned());
                }
                None => entries.retain(|e| e.message.id != id),
            }
        }
        Ok(())
    }

    async fn edit_history(
        &self,
        room: &RoomSlug,
        id: Ulid,
        text: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BusError> {
        let mut history = lock(&self.history);
        if let Some(entries) = history.get_mut(room) {
            for m in entries.iter_mut().map(|e| &mut e.message).filter(|m| m.id == id) {
                text.clone_into(&mut m.text);
                m.edited = Some(at);
            }
        }
        Ok(())
    }

    async fn seed_history(&self, room: &RoomSlug, messages: Vec<MessageView>) -> Result<(), BusError> {
        let mut history = lock(&self.history);
        let entries = history.entry(room.clone()).or_default();
        if entries.is_empty() {
            let skip = messages.len().saturating_sub(HISTORY_LEN);
            entries.extend(messages.into_iter().skip(skip).map(Entry::everyone));
        }
        Ok(())
    }

    async fn react(
        &self,
        room: &RoomSlug,
        id: Ulid,
        change: &crate::ReactionChange,
    ) -> Result<crate::ReactionOutcome, BusError> {
        let outcome = lock(&self.reactions).apply(room, id, change);
        if let crate::ReactionOutcome::Changed { counts, .. } = &outcome
            && change.kind != crate::ReactionKind::ShadowToggle
            && let Some(entries) = lock(&self.history).get_mut(room)
        {
            entries
                .iter_mut()
                .filter(|m| m.message.id == id)
                .for_each(|m| m.message.reactions = crate::reactions::shown(counts));
        }
        Ok(outcome)
    }

    async fn enqueue(&self, event: &InboundEvent) -> Result<(), BusError> {
        let kind = if matches!(event, InboundEvent::Message(_)) { Kind::Message } else { Kind::RoomEvent };
        lock(&self.queue).push(event, kind)?;
        self.queue_ready.notify_waiters();
        Ok(())
    }

    async fn dequeue(&self, _consumer: &str, max: usize, wait: Duration) -> Result<Vec<QueueEntry>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before looking, so an enqueue between the look and the wait
            // is not missed.
            let notified = self.queue_ready.notified();
            if let Some(batch) = lock(&self.queue).deliver(max)? {
                return Ok(batch);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn reclaim(&self, _consumer: &str, min_idle: Duration, max: usize) -> Result<Vec<QueueEntry>, BusError> {
        Ok(lock(&self.queue).reclaim(min_idle, max))
    }

    async fn ack(&self, ids: &[String]) -> Result<(), BusError> {
        lock(&self.queue).ack(ids)
    }

    async fn publish_control(&self, event: &ControlEvent) -> Result<(), BusError> {
        // No subscriber is fine: gateways read the snapshots when they start.
        let _ = self.control.send(ControlMessage::Event(event.clone()));
        Ok(())
    }

    async fn subscribe_control(&self) -> Result<ControlFeed, BusError> {
        Ok(ControlFeed::new(self.control.subscribe()))
    }

    async fn roulette_match(&self, ticket: &RouletteTicket, now_ms: i64) -> Result<Option<RouletteTicket>, BusError> {
        let mut waiting = lock(&self.roulette);
        let place = waiting.iter().position(|t| t.id == ticket.id);
        if let Some(i) = place {
            waiting.remove(i);
        }
        if let Some(found) = protocol::events::best_match(ticket, &waiting, now_ms) {
            let id = found.id.clone();
            let i = waiting.iter().position(|t| t.id == id).unwrap_or_default();
            return Ok(Some(waiting.remove(i)));
        }
        let at = place.unwrap_or(waiting.len());
        waiting.insert(at, ticket.clone());
        Ok(None)
    }

    async fn roulette_cancel(&self, id: &str) -> Result<(), BusError> {
        lock(&self.roulette).retain(|t| t.id != id);
        Ok(())
    }

    async fn roulette_waiting(&self) -> Result<u64, BusError> {
        Ok(lock(&self.roulette).len() as u64)
    }

    async fn notify(&self, inbox: &RoomSlug, payload: Bytes) -> Result<bool, BusError> {
        let mut fanout = lock(&self.rooms_fanout);
        let Some(tx) = fanout.get_mut(inbox) else {
            return Ok(false);
        };
        if !tx.send(&payload) {
            fanout.remove(inbox);
            return Ok(false);
        }
        Ok(true)
    }

    async fn open_room(&self, room: &RoomDef, max_per_owner: u32) -> Result<bool, BusError> {
        let mut defs = lock(&self.room_defs);
        if let Some(owner) = &room.owner {
            let held = defs.values().filter(|r| r.owner.as_ref() == Some(owner)).count();
            if held >= max_per_owner as usize {
                return Ok(false);
            }
        }
        defs.insert(room.slug.clone(), room.clone());
        Ok(true)
    }

    async fn put_room(&self, room: &RoomDef) -> Result<(), BusError> {
        lock(&self.room_defs).insert(room.slug.clone(), room.clone());
        Ok(())
    }

    async fn remove_room(&self, slug: &RoomSlug) -> Result<bool, BusError> {
        let Some(removed) = lock(&self.room_defs).remove(slug) else {
            return Ok(false);
        };
        if removed.kind != RoomKind::Staff {
            // Visitor rooms and pairs are never opened again under the same slug.
            lock(&self.history).remove(slug);
            lock(&self.presence).remove(slug);
            lock(&self.slowmode).forget_room(slug);
            lock(&self.reactions).forget_room(slug);
        }
        Ok(true)
    }

    async fn hold_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let mut locks = lock(&self.locks);
        let now = Instant::now();
        match locks.get_mut(name) {
            Some((current, expires)) if current != holder && *expires > now => Ok(false),
            Some(entry) => {
                *entry = (holder.to_owned(), now + ttl);
                Ok(true)
            }
            None => {
                locks.insert(name.to_owned(), (holder.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn rooms(&self) -> Result<Vec<RoomDef>, BusError> {
        Ok(lock(&self.room_defs).values().cloned().collect())
    }

    async fn put_ban(&self, ban: &BanDef) -> Result<(), BusError> {
        lock(&self.ban_defs).insert(ban.id, ban.clone());
        Ok(())
    }

    async fn remove_ban(&self, id: i64) -> Result<(), BusError> {
        lock(&self.ban_defs).remove(&id);
        Ok(())
    }

    async fn bans(&self) -> Result<Vec<BanDef>, BusError> {
        Ok(lock(&self.ban_defs).values().cloned().collect())
    }

    async fn put_mute(&self, mute: &MuteDef) -> Result<(), BusError> {
        lock(&self.mute_defs).insert(mute.id, mute.clone());
        Ok(())
    }

    async fn remove_mute(&self, id: i64) -> Result<(), BusError> {
        lock(&self.mute_defs).remove(&id);
        Ok(())
    }

    async fn mutes(&self) -> Result<Vec<MuteDef>, BusError> {
        Ok(lock(&self.mute_defs).values().cloned().collect())
    }

    async fn put_filters(&self, filters: &[FilterDef]) -> Result<(), BusError> {
        *lock(&self.filter_defs) = filters.to_vec();
        Ok(())
    }

    async fn filters(&self) -> Result<Vec<FilterDef>, BusError> {
        Ok(lock(&self.filter_defs).clone())
    }

    async fn report_online(&self, gateway: &str, sockets: u64, ttl: Duration) -> Result<(), BusError> {
        lock(&self.online).report(gateway, sockets, ttl, Instant::now());
        Ok(())
    }

    async fn online(&self) -> Result<u64, BusError> {
        Ok(lock(&self.online).total(Instant::now()))
    }

    async fn roulette_waiting_except(&self, except: &[&str]) -> Result<u64, BusError> {
        Ok(lock(&self.roulette).iter().filter(|t| !except.contains(&t.id.as_str())).count() as u64)
    }

    // ---- resume ------------------------------------------------------------------------------
    fn resumes_shared(&self) -> bool {
        false
    }

    async fn put_resume(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<(), BusError> {
        lock(&self.resumes).put(token, state, ttl)
    }

    async fn update_resume(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<bool, BusError> {
        Ok(lock(&self.resumes).update(token, state, ttl))
    }

    async fn keep_resumes(&self, tokens: &[Token], ttl: Duration) -> Result<(), BusError> {
        lock(&self.resumes).keep(tokens, ttl);
        Ok(())
    }

    async fn take_resume(&self, token: Token) -> Result<Option<ResumeState>, BusError> {
        Ok(lock(&self.resumes).take(token))
    }

    async fn revoke_resume(&self, token: Token) -> Result<bool, BusError> {
        Ok(lock(&self.resumes).revoke(token))
    }

    async fn disown_seat(&self, _room: &RoomSlug, _key: &str, _holder: &str) -> Result<(), BusError> {
        // Seats here are not refreshed by anyone: nothing to stop.
        Ok(())
    }

    // ---- appeals -----------------------------------------------------------------------------
    async fn open_appeal(&self, appeal: &AppealRecord, ttl: Duration) -> Result<bool, BusError> {
        lock(&self.appeals).open(appeal, ttl)
    }

    async fn put_appeal(&self, appeal: &AppealRecord, ttl: Duration) -> Result<(), BusError> {
        lock(&self.appeals).put(appeal, ttl)
    }

    async fn appeal(&self, token: &str) -> Result<Option<AppealRecord>, BusError> {
        Ok(lock(&self.appeals).get(token))
    }

    async fn remove_appeal(&self, appeal: &AppealRecord) -> Result<(), BusError> {
        lock(&self.appeals).remove(appeal);
        Ok(())
    }

    // ---- queue backlog -----------------------------------------------------------------------
    async fn queue_stats(&self) -> Result<QueueStats, BusError> {
        Ok(lock(&self.queue).stats())
    }

    // ---- reports (memory/expiring.rs) ----------------------------------------------------------
    async fn claim_report(&self, device: &str, id: Ulid, ttl: Duration) -> Result<bool, BusError> {
        let key = format!("{device}:{id}");
        let mut reported = lock(&self.reported);
        let now = Instant::now();
        match reported.insert(&key, ttl, now) {
            Inserted::New => Ok(true),
            Inserted::Present => Ok(false),
            Inserted::Full => {
                // Forgetting the oldest report only lets its device report that message again.
                reported.evict_oldest();
                Ok(reported.insert(&key, ttl, now) == Inserted::New)
            }
        }
    }

    async fn release_report(&self, device: &str, id: Ulid) -> Result<(), BusError> {
        lock(&self.reported).remove(&format!("{device}:{id}"));
        Ok(())
    }

    // ---- the proof-of-work gate (memory/shield.rs) -------------------------------------------
    async fn spend_challenge(&self, signature: &str, ttl: Duration) -> Result<bool, BusError> {
        Ok(lock(&self.shield).spend(signature, ttl, Instant::now()))
    }

    async fn report_joins(&self, gateway: &str, per_second: u64, ttl: Duration) -> Result<(), BusError> {
        lock(&self.shield).joins.report(gateway, per_second, ttl, Instant::now());
        Ok(())
    }

    async fn join_rate(&self) -> Result<u64, BusError> {
        Ok(lock(&self.shield).joins.total(Instant::now()))
    }

    async fn put_shield(&self, setting: &crate::ShieldSetting) -> Result<(), BusError> {
        lock(&self.shield).setting = Some(*setting);
        Ok(())
    }

    async fn shield(&self) -> Result<Option<crate::ShieldSetting>, BusError> {
        Ok(lock(&self.shield).setting)
    }

    async fn put_deployment_key(&self, key: &str) -> Result<(), BusError> {
        lock(&self.shield).key = Some(key.to_owned());
        Ok(())
    }

    async fn deployment_key(&self) -> Result<Option<String>, BusError> {
        Ok(lock(&self.shield).key.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn channels_nobody_listens_to_are_dropped() {
        let bus = InProcessBus::new();
        let kept = RoomSlug::parse("kept").unwrap();
        let _listening = bus.subscribe_room(&kept).await.unwrap();
        for i in 0..10 * FANOUT_PURGE_MIN {
            let inbox = RoomSlug::parse(&format!("q-{i}")).unwrap();
            drop(bus.subscribe_room(&inbox).await.unwrap());
        }
        let len = lock(&bus.rooms_fanout).len();
        assert!(len <= FANOUT_PURGE_MIN + 1, "{len} channels kept");
        assert!(lock(&bus.rooms_fanout).contains_key(&kept));
    }
}
