//! The snapshots the bot maintains and gateways read at start and after every pub/sub reconnect
//! (pub/sub drops what was sent while away): hashes of room and ban definitions, the filter
//! list, and the set of visitor rooms each owner has open.

use protocol::{BanDef, FilterDef, MuteDef, RoomDef, RoomKind, RoomSlug};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::keys::Keys;
use super::{decode, encode, unavailable};
use crate::BusError;

/// Store a visitor room unless its owner has as many open already.
const OPEN_ROOM: &str = include_str!("lua/open_room.lua");
/// Put back a visitor room the bus lost.
const RESTORE_ROOM: &str = include_str!("lua/restore_room.lua");

pub(super) struct Snapshots {
    conn: ConnectionManager,
    keys: Keys,
    open_room: Script,
    restore_room: Script,
}

impl Snapshots {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys, open_room: Script::new(OPEN_ROOM), restore_room: Script::new(RESTORE_ROOM) }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub(super) async fn put_room(&self, room: &RoomDef) -> Result<(), BusError> {
        let _: i64 =
            self.conn().hset(self.keys.rooms(), room.slug.as_str(), encode(room)?).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn open_room(&self, room: &RoomDef, max_per_owner: u32) -> Result<bool, BusError> {
        let Some(owner) = &room.owner else {
            self.put_room(room).await?;
            return Ok(true);
        };
        let stored: i64 = self
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

    pub(super) async fn restore_room(&self, room: &RoomDef) -> Result<bool, BusError> {
        let owner = room.owner.as_ref().map_or_else(|| self.keys.rooms(), |owner| self.keys.room_owner(owner));
        let restored: i64 = self
            .restore_room
            .key(self.keys.rooms())
            .key(owner)
            .arg(room.slug.as_str())
            .arg(encode(room)?)
            .arg(if room.owner.is_some() { "1" } else { "" })
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(restored == 1)
    }

    pub(super) async fn remove_room(&self, slug: &RoomSlug) -> Result<bool, BusError> {
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

    pub(super) async fn rooms(&self) -> Result<Vec<RoomDef>, BusError> {
        let raw: Vec<String> = self.conn().hvals(self.keys.rooms()).await.map_err(unavailable)?;
        raw.iter().map(|r| decode(r)).collect()
    }

    pub(super) async fn put_ban(&self, ban: &BanDef) -> Result<(), BusError> {
        let _: i64 = self.conn().hset(self.keys.bans(), ban.id, encode(ban)?).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn remove_ban(&self, id: i64) -> Result<(), BusError> {
        let _: i64 = self.conn().hdel(self.keys.bans(), id).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn bans(&self) -> Result<Vec<BanDef>, BusError> {
        let raw: Vec<String> = self.conn().hvals(self.keys.bans()).await.map_err(unavailable)?;
        raw.iter().map(|r| decode(r)).collect()
    }

    pub(super) async fn put_mute(&self, mute: &MuteDef) -> Result<(), BusError> {
        let _: i64 = self.conn().hset(self.keys.mutes(), mute.id, encode(mute)?).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn remove_mute(&self, id: i64) -> Result<(), BusError> {
        let _: i64 = self.conn().hdel(self.keys.mutes(), id).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn mutes(&self) -> Result<Vec<MuteDef>, BusError> {
        let raw: Vec<String> = self.conn().hvals(self.keys.mutes()).await.map_err(unavailable)?;
        raw.iter().map(|r| decode(r)).collect()
    }

    pub(super) async fn put_filters(&self, filters: &[FilterDef]) -> Result<(), BusError> {
        let _: () = self.conn().set(self.keys.filters(), encode(&filters)?).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn filters(&self) -> Result<Vec<FilterDef>, BusError> {
        let raw: Option<String> = self.conn().get(self.keys.filters()).await.map_err(unavailable)?;
        raw.map_or(Ok(Vec::new()), |r| decode(&r))
    }
}
