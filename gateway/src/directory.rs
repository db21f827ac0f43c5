//! The room definitions this gateway serves from: loaded from the bus snapshot at start, then
//! kept current by the control follower ([`crate::control`]), so the gateway keeps working while
//! the bot is away.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use protocol::{RoomDef, RoomSlug};

/// What a full reload changed.
pub struct Replaced {
    /// Rooms that are no longer defined.
    pub gone: Vec<RoomSlug>,
    /// Rooms whose lock or slow mode changed.
    pub changed: Vec<Arc<RoomDef>>,
}

/// Whether the members of a room must hear of the change from `old` to `new`.
fn state_changed(old: &RoomDef, new: &RoomDef) -> bool {
    old.locked != new.locked || old.slowmode_secs != new.slowmode_secs
}

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

    /// Replace everything; returns the slugs that disappeared and the rooms whose state their
    /// members see (lock, slow mode) changed.
    pub fn replace_all(&self, rooms: Vec<RoomDef>) -> Replaced {
        let fresh: HashMap<RoomSlug, Arc<RoomDef>> = rooms.into_iter().map(|r| (r.slug.clone(), Arc::new(r))).collect();
        let mut map = self.write();
        let gone = map.keys().filter(|k| !fresh.contains_key(*k)).cloned().collect();
        let changed = fresh
            .values()
            .filter(|new| map.get(&new.slug).is_some_and(|old| state_changed(old, new)))
            .cloned()
            .collect();
        *map = fresh;
        Replaced { gone, changed }
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
        self.store(room).0
    }

    /// Store a definition, as [`upsert`](Self::upsert), from a control event: hands back the
    /// shared copy when the state its members see (lock, slow mode) changed from the one it
    /// replaced.
    pub fn update(&self, room: RoomDef) -> Option<Arc<RoomDef>> {
        let (room, changed) = self.store(room);
        changed.then_some(room)
    }

    fn store(&self, room: RoomDef) -> (Arc<RoomDef>, bool) {
        let room = Arc::new(room);
        let old = self.write().insert(room.slug.clone(), room.clone());
        let changed = old.is_some_and(|old| state_changed(&old, &room));
        (room, changed)
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
