//! Redis key names (docs/protocol.md, "Redis layout"). Every key of one room carries the room as a
//! hash tag (`chat:{lobby}:history`), so the layout moves to Redis Cluster unchanged.

use protocol::RoomSlug;

/// Key names under one configurable prefix (`REDIS_PREFIX`, default `chat`), so deployments
/// and test runs can share a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Stream: gateway → bot queue, read by consumer group [`Keys::GROUP`].
    pub fn inbound(&self) -> String {
        format!("{}:inbound", self.prefix)
    }

    /// Pub/sub: one room's events between gateways.
    pub fn room_events(&self, room: &RoomSlug) -> String {
        format!("{}:{{{room}}}:events", self.prefix)
    }

    /// Pub/sub: bot → gateways control events.
    pub fn control(&self) -> String {
        format!("{}:control", self.prefix)
    }

    /// Hash: slug → room definition (JSON), maintained by the bot.
    pub fn rooms(&self) -> String {
        format!("{}:rooms", self.prefix)
    }

    /// Hash: ban id → ban (JSON), maintained by the bot.
    pub fn bans(&self) -> String {
        format!("{}:bans", self.prefix)
    }

    /// Hash: mute id → mute (JSON), maintained by the bot.
    pub fn mutes(&self) -> String {
        format!("{}:mutes", self.prefix)
    }

    /// String: the filter list (JSON), maintained by the bot.
    pub fn filters(&self) -> String {
        format!("{}:filters", self.prefix)
    }

    /// Sorted set: nickname key → expiry (ms, Redis clock) of each seat in the room.
    pub fn presence(&self, room: &RoomSlug) -> String {
        format!("{}:{{{room}}}:presence", self.prefix)
    }

    /// Hash: nickname key → `{nick, holder}` of each seat in the room.
    pub fn members(&self, room: &RoomSlug) -> String {
        format!("{}:{{{room}}}:members", self.prefix)
    }

    /// List: the room's recent messages (JSON), oldest first.
    pub fn history(&self, room: &RoomSlug) -> String {
        format!("{}:{{{room}}}:history", self.prefix)
    }

    /// Hash with a TTL: who reacted with what on one message (`kind:reactor` → emoji).
    pub fn reactors(&self, room: &RoomSlug, id: ulid::Ulid) -> String {
        format!("{}:{{{room}}}:reactors:{id}", self.prefix)
    }

    /// Hash with a TTL: one message's reaction totals (`c:emoji` → visitors, `t:emoji` → staff).
    pub fn reaction_counts(&self, room: &RoomSlug, id: ulid::Ulid) -> String {
        format!("{}:{{{room}}}:reactions:{id}", self.prefix)
    }

    /// Sorted set: waiting roulette ticket ids → time they joined the queue (ms). Shares a
    /// hash tag with the tickets, so the pairing script stays in one slot of a Redis Cluster.
    pub fn roulette_queue(&self) -> String {
        format!("{}:{{roulette}}:queue", self.prefix)
    }

    /// Hash: waiting roulette ticket id → ticket (JSON).
    pub fn roulette_tickets(&self) -> String {
        format!("{}:{{roulette}}:tickets", self.prefix)
    }

    /// Sorted set: gateway id → when its online report expires (ms, Redis clock). Shares a hash
    /// tag with [`Keys::online_sockets`], so the online script stays in one cluster slot.
    pub fn online_until(&self) -> String {
        format!("{}:{{online}}:until", self.prefix)
    }

    /// Hash: gateway id → its open sockets, as last reported.
    pub fn online_sockets(&self) -> String {
        format!("{}:{{online}}:sockets", self.prefix)
    }

    /// Sorted set: gateway id → when its join-rate report expires (ms, Redis clock); beside
    /// [`Keys::join_rates`], as the online reports are.
    pub fn join_rate_until(&self) -> String {
        format!("{}:{{joins}}:until", self.prefix)
    }

    /// Hash: gateway id → its join rate (upgrades per second), as last reported.
    pub fn join_rates(&self) -> String {
        format!("{}:{{joins}}:rates", self.prefix)
    }

    /// String: a spent challenge solution (by its signature), until its challenge expires.
    pub fn shield_spent(&self, signature: &str) -> String {
        format!("{}:shield:spent:{signature}", self.prefix)
    }

    /// String: device `device` reported message `id`, until its TTL (a day).
    pub fn reported(&self, device: &str, id: &str) -> String {
        format!("{}:reported:{device}:{id}", self.prefix)
    }

    /// String: the proof-of-work gate's mode as staff set it (JSON), maintained by the bot.
    pub fn shield(&self) -> String {
        format!("{}:shield:mode", self.prefix)
    }

    /// String: the deployment key, derived from the bot's secret, maintained by the bot.
    pub fn deployment_key(&self) -> String {
        format!("{}:deployment-key", self.prefix)
    }

    /// Set: the visitor rooms one owner (a keyed hash of an address) has open.
    pub fn room_owner(&self, owner: &str) -> String {
        format!("{}:owner:{owner}", self.prefix)
    }

    /// Sorted set with a TTL: the recent sends (ms, Redis clock) of one address (a seat's
    /// address tag) in a room under slowmode.
    pub fn slowmode(&self, room: &RoomSlug, address: &str) -> String {
        format!("{}:{{{room}}}:slow:{address}", self.prefix)
    }

    /// String with a TTL: who holds the lock `name` (e.g. the gateway that sweeps rooms).
    pub fn lock(&self, name: &str) -> String {
        format!("{}:lock:{name}", self.prefix)
    }

    /// String with a TTL: which bot process leads.
    pub fn leader(&self) -> String {
        format!("{}:leader", self.prefix)
    }

    /// String with a TTL: the session a resume token names (JSON `ResumeState`).
    pub fn resume(&self, token: crate::Token) -> String {
        format!("{}:resume:{token}", self.prefix)
    }

    /// String with a TTL: an appeal (JSON `AppealRecord`), by its token.
    pub fn appeal(&self, token: &str) -> String {
        format!("{}:appeal:{token}", self.prefix)
    }

    /// String with a TTL: the token of the case's open appeal (one per case).
    pub fn appeal_case(&self, case: i64) -> String {
        format!("{}:appeal-case:{case}", self.prefix)
    }

    /// String: the bus's data generation, a random value set by whichever process finds it
    /// missing. A restart without data or a flush loses it, so a process that finds another
    /// value than the one it knew knows the bus lost its data (see `recovery`).
    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.prefix)
    }

    /// String: the logged watermark, the id of the last [`Keys::inbound`] entry the bot has
    /// logged, every entry before it logged too (set by the bot; gateways forget what they kept
    /// of those entries).
    pub fn logged(&self) -> String {
        format!("{}:logged", self.prefix)
    }

    /// Consumer group of the bot on [`Keys::inbound`].
    pub const GROUP: &'static str = "bot";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_share_a_hash_tag() {
        let keys = Keys::new("chat");
        let room = RoomSlug::parse("lobby").unwrap();
        assert_eq!(keys.room_events(&room), "chat:{lobby}:events");
        assert_eq!(keys.presence(&room), "chat:{lobby}:presence");
        assert_eq!(keys.history(&room), "chat:{lobby}:history");
        assert_eq!(keys.inbound(), "chat:inbound");
        assert_eq!(keys.roulette_queue(), "chat:{roulette}:queue");
        assert_eq!(keys.roulette_tickets(), "chat:{roulette}:tickets");
    }
}
