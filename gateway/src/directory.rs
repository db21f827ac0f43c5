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

/// Most slugs remembered as changed here since the last snapshot (rooms opened and ended
/// between two reloads); past it the record starts afresh, which only loses the protection
/// against a stale snapshot for what changed before.
const TOUCHED_MAX: usize = 100_000;

#[derive(Default)]
struct Rooms {
    map: HashMap<RoomSlug, Arc<RoomDef>>,
    /// Counts local changes ([`RoomDirectory::upsert`], [`RoomDirectory::remove`], ...).
    stamp: u64,
    /// The stamp of each slug's last local change, kept until a snapshot read after it.
    touched: HashMap<RoomSlug, u64>,
}

impl Rooms {
    fn touch(&mut self, slug: &RoomSlug) {
        self.stamp += 1;
        if self.touched.len() >= TOUCHED_MAX && !self.touched.contains_key(slug) {
            self.touched.clear();
        }
        self.touched.insert(slug.clone(), self.stamp);
    }
}

#[derive(Default)]
pub struct RoomDirectory {
    rooms: RwLock<Rooms>,
}

impl RoomDirectory {
    pub fn get(&self, slug: &RoomSlug) -> Option<Arc<RoomDef>> {
        self.read().map.get(slug).cloned()
    }

    /// Listed rooms, by title.
    pub fn listed(&self) -> Vec<Arc<RoomDef>> {
        let mut rooms: Vec<_> = self.read().map.values().filter(|r| r.listed).cloned().collect();
        rooms.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.slug.cmp(&b.slug)));
        rooms
    }

    /// Where the local changes stand: read it before reading a snapshot off the bus, and pass it
    /// to [`replace_since`](Self::replace_since).
    pub fn stamp(&self) -> u64 {
        self.read().stamp
    }

    /// Replace everything; returns the slugs that disappeared and the rooms whose state their
    /// members see (lock, slow mode) changed.
    pub fn replace_all(&self, rooms: Vec<RoomDef>) -> Replaced {
        let stamp = self.stamp();
        self.replace_since(rooms, stamp)
    }

    /// Replace everything with a snapshot read after [`stamp`](Self::stamp) gave `since`, except
    /// the rooms this gateway opened or ended since then, which the snapshot may not show yet: a
    /// pair opened while the snapshot was read is kept (its strangers were sent away as "closed"
    /// otherwise), one ended meanwhile stays ended.
    pub fn replace_since(&self, rooms: Vec<RoomDef>, since: u64) -> Replaced {
        let mut fresh: HashMap<RoomSlug, Arc<RoomDef>> =
            rooms.into_iter().map(|r| (r.slug.clone(), Arc::new(r))).collect();
        let mut inner = self.write();
        let Rooms { map, touched, .. } = &mut *inner;
        touched.retain(|_, stamp| *stamp > since);
        for slug in touched.keys() {
            match map.get(slug) {
                Some(room) => {
                    fresh.insert(slug.clone(), room.clone());
                }
                None => {
                    fresh.remove(slug);
                }
            }
        }
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
        self.read().map.values().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.read().map.is_empty()
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
        let mut inner = self.write();
        inner.touch(&room.slug);
        let old = inner.map.insert(room.slug.clone(), room.clone());
        let changed = old.is_some_and(|old| state_changed(&old, &room));
        (room, changed)
    }

    pub fn remove(&self, slug: &RoomSlug) {
        let mut inner = self.write();
        if inner.map.remove(slug).is_some() {
            inner.touch(slug);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.rooms.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.rooms.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use protocol::RoomKind;

    use super::*;

    fn room(slug: &str) -> RoomDef {
        RoomDef {
            slug: RoomSlug::parse(slug).unwrap(),
            kind: RoomKind::Roulette,
            title: slug.to_owned(),
            topic: String::new(),
            capacity: 2,
            listed: false,
            locked: false,
            slowmode_secs: 0,
            owner: None,
            links: protocol::LinksPolicy::default(),
        }
    }

    #[test]
    fn a_snapshot_read_before_a_room_opened_or_ended_here_neither_drops_nor_revives_it() {
        let directory = RoomDirectory::default();
        directory.replace_all(vec![room("lobby"), room("r-old")]);
        // The reload reads its stamp, then the snapshot; meanwhile a pair opens, another ends.
        let since = directory.stamp();
        let snapshot = vec![room("lobby"), room("r-old")];
        directory.upsert(room("r-new"));
        directory.remove(&RoomSlug::parse("r-old").unwrap());
        let replaced = directory.replace_since(snapshot, since);
        assert!(replaced.gone.is_empty(), "{:?}", replaced.gone);
        assert!(directory.get(&RoomSlug::parse("r-new").unwrap()).is_some(), "the new pair is kept");
        assert!(directory.get(&RoomSlug::parse("r-old").unwrap()).is_none(), "the ended pair stays ended");
        // A later snapshot that lacks the new pair is trusted: it was read after the change.
        let since = directory.stamp();
        let replaced = directory.replace_since(vec![room("lobby")], since);
        assert_eq!(replaced.gone, vec![RoomSlug::parse("r-new").unwrap()]);
    }
}
