//! The room definitions this gateway serves from: loaded from the bus snapshot at start, then
//! kept current by the control follower ([`crate::control`]), so the gateway keeps working while
//! the bot is away.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use protocol::{RoomDef, RoomSlug};

#[derive(Default)]
pub struct RoomDirectory {
    rooms: RwLock<HashMap<RoomSlug, Arc<RoomDef>>>,
}

impl RoomDirectory {
    pub fn get(&self, slug: &RoomSlug) -> Option<Arc<RoomDef>> {
        self.read().get(slug).cloned()
    }

    /// Listed rooms, by title.
    pub fn listed(&self) -> Vec<Arc<RoomDef>> {
        let mut rooms: Vec<_> = self.read().values().filter(|r| r.listed).cloned().collect();
        rooms.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.slug.cmp(&b.slug)));
        rooms
    }

    /// Replace everything; returns the slugs that disappeared.
    pub fn replace_all(&self, rooms: Vec<RoomDef>) -> Vec<RoomSlug> {
        let fresh: HashMap<RoomSlug, Arc<RoomDef>> = rooms.into_iter().map(|r| (r.slug.clone(), Arc::new(r))).collect();
        let mut map = self.write();
        let gone = map.keys().filter(|k| !fresh.contains_key(*k)).cloned().collect();
        *map = fresh;
        gone
    }

    /// Every room this gateway knows.
    pub fn all(&self) -> Vec<Arc<RoomDef>> {
        self.read().values().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Store a definition (replacing any with its slug) and hand back the shared copy.
    pub fn upsert(&self, room: RoomDef) -> Arc<RoomDef> {
        let room = Arc::new(room);
        self.write().insert(room.slug.clone(), room.clone());
        room
    }

    pub fn remove(&self, slug: &RoomSlug) {
        self.write().remove(slug);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<RoomSlug, Arc<RoomDef>>> {
        self.rooms.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<RoomSlug, Arc<RoomDef>>> {
        self.rooms.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
