//! [`Bus`] for [`RedisBus`]: each method handed to the part that does the work.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use protocol::{
    AppealRecord, BanDef, ControlEvent, FilterDef, InboundEvent, LoggedMessage, MessageView, MuteDef, RoomDef,
    RoomSlug, RouletteTicket,
};
use redis::AsyncCommands;
use ulid::Ulid;

use super::{RedisBus, encode, unavailable};
use crate::{Bus, BusError, ControlFeed, QueueEntry, ResumeState, RoomFeed, Seat, SeatClaim, Token};

#[async_trait]
impl Bus for RedisBus {
    async fn ping(&self) -> Result<(), BusError> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await.map_err(unavailable)?;
        if !self.fanout.connected().await {
            return Err(BusError::Unavailable("Redis pub/sub is reconnecting".into()));
        }
        Ok(())
    }

    async fn publish(&self, room: &RoomSlug, frame: Bytes) -> Result<(), BusError> {
        let _: i64 = self.conn().publish(self.keys.room_events(room), frame.as_ref()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe_room(&self, room: &RoomSlug) -> Result<RoomFeed, BusError> {
        self.fanout.subscribe(room, self.keys.room_events(room)).await
    }

    async fn claim_seat(
        &self,
        room: &RoomSlug,
        seat: &Seat,
        capacity: u32,
        per_address: u32,
    ) -> Result<SeatClaim, BusError> {
        self.presence.claim(room, seat, capacity, per_address).await
    }

    async fn release_seat(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError> {
        self.presence.release(room, key, holder).await
    }

    async fn members(&self, room: &RoomSlug) -> Result<Vec<String>, BusError> {
        self.presence.members(room).await
    }

    async fn occupancy(&self, rooms: &[RoomSlug]) -> Result<Vec<u32>, BusError> {
        self.presence.occupancy(rooms).await
    }

    async fn slowmode(&self, room: &RoomSlug, address: &str, period: Duration) -> Result<Option<Duration>, BusError> {
        self.presence.slowmode(room, address, period).await
    }

    async fn record_history(&self, message: &MessageView) -> Result<(), BusError> {
        self.history.record(message, None).await
    }

    async fn record_history_for(&self, message: &MessageView, only: &crate::Viewer) -> Result<(), BusError> {
        self.history.record(message, Some(only)).await
    }

    async fn history_for(
        &self,
        room: &RoomSlug,
        since: Option<Ulid>,
        viewer: Option<&crate::Viewer>,
    ) -> Result<Vec<MessageView>, BusError> {
        self.history.read(room, since, viewer).await
    }

    async fn amend_history(&self, room: &RoomSlug, id: Ulid, text: Option<&str>) -> Result<(), BusError> {
        self.history.amend(room, id, text).await
    }

    async fn edit_history(
        &self,
        room: &RoomSlug,
        id: Ulid,
        text: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BusError> {
        self.history.edit(room, id, text, at).await
    }

    async fn seed_history(&self, room: &RoomSlug, messages: Vec<MessageView>) -> Result<(), BusError> {
        self.history.seed(room, messages).await
    }

    async fn react(
        &self,
        room: &RoomSlug,
        id: Ulid,
        change: &crate::ReactionChange,
    ) -> Result<crate::ReactionOutcome, BusError> {
        super::reactions::react(&self.conn, &self.keys, room, id, change).await
    }

    async fn enqueue(&self, event: &InboundEvent) -> Result<(), BusError> {
        self.queue.enqueue(event).await
    }

    async fn post_message(&self, room: &RoomSlug, message: &LoggedMessage, frame: Bytes) -> Result<(), BusError> {
        self.backlog.admit().await?;
        self.queue.post(room, message, frame).await?;
        self.backlog.queued();
        Ok(())
    }

    async fn dequeue(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<QueueEntry>, BusError> {
        self.queue.dequeue(consumer, max, wait).await
    }

    async fn reclaim(&self, consumer: &str, min_idle: Duration, max: usize) -> Result<Vec<QueueEntry>, BusError> {
        self.queue.reclaim(consumer, min_idle, max).await
    }

    async fn ack(&self, ids: &[String]) -> Result<(), BusError> {
        self.queue.ack(ids).await
    }

    async fn publish_control(&self, event: &ControlEvent) -> Result<(), BusError> {
        let _: i64 = self.conn().publish(self.keys.control(), encode(event)?).await.map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe_control(&self) -> Result<ControlFeed, BusError> {
        Ok(self.fanout.subscribe_control())
    }

    async fn roulette_match(&self, ticket: &RouletteTicket, now_ms: i64) -> Result<Option<RouletteTicket>, BusError> {
        self.roulette.pair(ticket, now_ms).await
    }

    async fn roulette_cancel(&self, id: &str) -> Result<(), BusError> {
        self.roulette.cancel(id).await
    }

    async fn roulette_waiting(&self) -> Result<u64, BusError> {
        self.roulette.waiting().await
    }

    async fn notify(&self, inbox: &RoomSlug, payload: Bytes) -> Result<bool, BusError> {
        let listeners: i64 =
            self.conn().publish(self.keys.room_events(inbox), payload.as_ref()).await.map_err(unavailable)?;
        Ok(listeners > 0)
    }

    async fn open_room(&self, room: &RoomDef, max_per_owner: u32) -> Result<bool, BusError> {
        self.snapshots.open_room(room, max_per_owner).await
    }

    async fn put_room(&self, room: &RoomDef) -> Result<(), BusError> {
        self.snapshots.put_room(room).await
    }

    async fn remove_room(&self, slug: &RoomSlug) -> Result<bool, BusError> {
        self.snapshots.remove_room(slug).await
    }

    async fn hold_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        self.locks.hold(name, holder, ttl).await
    }

    async fn rooms(&self) -> Result<Vec<RoomDef>, BusError> {
        self.snapshots.rooms().await
    }

    async fn put_ban(&self, ban: &BanDef) -> Result<(), BusError> {
        self.snapshots.put_ban(ban).await
    }

    async fn remove_ban(&self, id: i64) -> Result<(), BusError> {
        self.snapshots.remove_ban(id).await
    }

    async fn bans(&self) -> Result<Vec<BanDef>, BusError> {
        self.snapshots.bans().await
    }

    async fn put_mute(&self, mute: &MuteDef) -> Result<(), BusError> {
        self.snapshots.put_mute(mute).await
    }

    async fn remove_mute(&self, id: i64) -> Result<(), BusError> {
        self.snapshots.remove_mute(id).await
    }

    async fn mutes(&self) -> Result<Vec<MuteDef>, BusError> {
        self.snapshots.mutes().await
    }

    async fn put_filters(&self, filters: &[FilterDef]) -> Result<(), BusError> {
        self.snapshots.put_filters(filters).await
    }

    async fn filters(&self) -> Result<Vec<FilterDef>, BusError> {
        self.snapshots.filters().await
    }

    async fn report_online(&self, gateway: &str, sockets: u64, ttl: Duration) -> Result<(), BusError> {
        self.online.report(gateway, sockets, ttl).await
    }

    async fn online(&self) -> Result<u64, BusError> {
        self.online.total().await
    }

    async fn roulette_waiting_except(&self, except: &[&str]) -> Result<u64, BusError> {
        self.roulette.waiting_except(except).await
    }

    // ---- resume ------------------------------------------------------------------------------
    fn resumes_shared(&self) -> bool {
        true
    }

    async fn put_resume(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<(), BusError> {
        self.resumes.put(token, state, ttl).await
    }

    async fn update_resume(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<bool, BusError> {
        self.resumes.update(token, state, ttl).await
    }

    async fn keep_resumes(&self, tokens: &[Token], ttl: Duration) -> Result<(), BusError> {
        self.resumes.keep(tokens, ttl).await
    }

    async fn take_resume(&self, token: Token) -> Result<Option<ResumeState>, BusError> {
        self.resumes.take(token).await
    }

    async fn revoke_resume(&self, token: Token) -> Result<bool, BusError> {
        self.resumes.revoke(token).await
    }

    async fn disown_seat(&self, room: &RoomSlug, key: &str, holder: &str) -> Result<(), BusError> {
        self.presence.disown(room, key, holder);
        Ok(())
    }

    // ---- queue backlog -----------------------------------------------------------------------
    async fn open_appeal(&self, appeal: &AppealRecord, ttl: Duration) -> Result<bool, BusError> {
        self.appeals.open(appeal, ttl).await
    }

    async fn put_appeal(&self, appeal: &AppealRecord, ttl: Duration) -> Result<(), BusError> {
        self.appeals.put(appeal, ttl).await
    }

    async fn appeal(&self, token: &str) -> Result<Option<AppealRecord>, BusError> {
        self.appeals.get(token).await
    }

    async fn remove_appeal(&self, appeal: &AppealRecord) -> Result<(), BusError> {
        self.appeals.remove(appeal).await
    }

    async fn queue_stats(&self) -> Result<crate::QueueStats, BusError> {
        self.backlog.stats().await
    }

    // ---- reports (bus/src/redis/reported.rs) ---------------------------------------------------
    async fn claim_report(&self, device: &str, id: Ulid, ttl: Duration) -> Result<bool, BusError> {
        self.reported.claim(device, id, ttl).await
    }

    async fn release_report(&self, device: &str, id: Ulid) -> Result<(), BusError> {
        self.reported.release(device, id).await
    }

    // ---- the proof-of-work gate (bus/src/redis/shield.rs) ------------------------------------
    async fn spend_challenge(&self, signature: &str, ttl: Duration) -> Result<bool, BusError> {
        self.shield.spend(signature, ttl).await
    }

    async fn report_joins(&self, gateway: &str, per_second: u64, ttl: Duration) -> Result<(), BusError> {
        self.shield.joins.report(gateway, per_second, ttl).await
    }

    async fn join_rate(&self) -> Result<u64, BusError> {
        self.shield.joins.total().await
    }

    async fn put_shield(&self, setting: &crate::ShieldSetting) -> Result<(), BusError> {
        self.shield.put_setting(setting).await
    }

    async fn shield(&self) -> Result<Option<crate::ShieldSetting>, BusError> {
        self.shield.setting().await
    }

    async fn put_deployment_key(&self, key: &str) -> Result<(), BusError> {
        self.shield.put_key(key).await
    }

    async fn deployment_key(&self) -> Result<Option<String>, BusError> {
        self.shield.key().await
    }

    // ---- recovery (bus/src/redis/recovery.rs) ----
    async fn data_losses(&self) -> Result<u64, BusError> {
        self.recovery.check().await
    }

    fn watch_data_losses(&self) -> tokio::sync::watch::Receiver<u64> {
        self.recovery.watch()
    }

    async fn restore_room(&self, room: &RoomDef) -> Result<bool, BusError> {
        self.snapshots.restore_room(room).await
    }

    fn lost_seats(&self) -> tokio::sync::broadcast::Receiver<crate::LostSeat> {
        self.presence.lost_seats()
    }

    async fn mark_logged(&self, id: &str) -> Result<bool, BusError> {
        self.recovery.mark_logged(id).await
    }
}
