//! Reactions in the in-process bus: each message's [`MessageReactions`], bounded to the
//! [`MESSAGES_MAX`] newest messages reacted to (by id, so by age), each kept for
//! [`REACTIONS_TTL`] after its last change, as Redis keeps them.

use std::collections::BTreeMap;
use std::time::Instant;

use protocol::RoomSlug;
use ulid::Ulid;

use crate::reactions::{MessageReactions, REACTIONS_TTL, ReactionChange, ReactionOutcome};

/// Messages whose reactions the in-process bus keeps at most; the oldest go first.
pub(super) const MESSAGES_MAX: usize = 10_000;

#[derive(Default)]
pub(super) struct Reactions {
    by_message: BTreeMap<Ulid, (RoomSlug, MessageReactions, Instant)>,
}

impl Reactions {
    pub(super) fn apply(&mut self, room: &RoomSlug, id: Ulid, change: &ReactionChange) -> ReactionOutcome {
        let now = Instant::now();
        // Another room's message of the same id cannot exist (ids are ULIDs), but a stale entry
        // (past its time) starts afresh.
        let fresh =
            |(r, _, at): &(RoomSlug, MessageReactions, Instant)| r == room && now.duration_since(*at) < REACTIONS_TTL;
        if self.by_message.get(&id).is_some_and(|e| !fresh(e)) {
            self.by_message.remove(&id);
        }
        let entry = self.by_message.entry(id).or_insert_with(|| (room.clone(), MessageReactions::default(), now));
        let outcome = entry.1.apply(change);
        entry.2 = now;
        if entry.1.is_empty() {
            self.by_message.remove(&id);
        }
        while self.by_message.len() > MESSAGES_MAX {
            self.by_message.pop_first();
        }
        outcome
    }

    /// Forget a room's reactions (a visitor room or pair that ended).
    pub(super) fn forget_room(&mut self, room: &RoomSlug) {
        self.by_message.retain(|_, (r, _, _)| r != room);
    }
}
