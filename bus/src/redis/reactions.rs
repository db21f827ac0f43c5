//! Reactions over Redis: one script (`lua/react.lua`) applies a change to a message's reactors
//! hash and totals hash (where shadow reactors are kept, to come back with every change) and
//! rewrites the totals in its history entry, in one round trip.

use std::sync::LazyLock;

use protocol::RoomSlug;
use protocol::frames::ReactionCounts;
use redis::Script;
use redis::aio::ConnectionManager;
use ulid::Ulid;

use super::keys::Keys;
use super::unavailable;
use crate::BusError;
use crate::reactions::{
    EMOJI_PER_REACTOR_MAX, REACTIONS_TTL, REACTORS_PER_MESSAGE_MAX, ReactionChange, ReactionKind, ReactionOutcome,
    SHADOW_REACTORS_MAX, STAFF_EMOJI_MAX,
};

static REACT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/react.lua")));

pub(super) async fn react(
    conn: &ConnectionManager,
    keys: &Keys,
    room: &RoomSlug,
    id: Ulid,
    change: &ReactionChange,
) -> Result<ReactionOutcome, BusError> {
    let mode = match change.kind {
        ReactionKind::Toggle => "t",
        ReactionKind::ShadowToggle => "x",
        ReactionKind::StaffAdd => "a",
        ReactionKind::StaffRemove => "r",
    };
    let reply: Vec<String> = REACT
        .key(keys.reactors(room, id))
        .key(keys.reaction_counts(room, id))
        .key(keys.history(room))
        .arg(id.to_string())
        .arg(mode)
        .arg(&change.reactor)
        .arg(&change.emoji)
        .arg(u64::try_from(REACTIONS_TTL.as_millis()).unwrap_or(u64::MAX))
        .arg(REACTORS_PER_MESSAGE_MAX)
        .arg(EMOJI_PER_REACTOR_MAX)
        .arg(STAFF_EMOJI_MAX)
        .arg(SHADOW_REACTORS_MAX)
        .invoke_async(&mut conn.clone())
        .await
        .map_err(unavailable)?;
    match reply.first().map(String::as_str) {
        Some("full") => return Ok(ReactionOutcome::Full),
        Some("ok") => {}
        _ => return Err(BusError::Codec(format!("unexpected reply to a reaction: {reply:?}"))),
    }
    let mine = reply.get(1).map(|m| m.split('\n').filter(|e| !e.is_empty()).map(str::to_owned).collect());
    let mut counts = ReactionCounts::default();
    let mut shadow = Vec::new();
    for pair in reply.get(2..).unwrap_or_default().chunks_exact(2) {
        if let Some(emoji) = pair[0].strip_prefix("c:") {
            let n: u32 = pair[1].parse().map_err(|_| BusError::Codec(format!("bad reaction count {:?}", pair[1])))?;
            if n > 0 {
                counts.counts.insert(emoji.to_owned(), n);
            }
        } else if let Some(emoji) = pair[0].strip_prefix("t:") {
            counts.staff.push(emoji.to_owned());
        } else if let Some(reactor) = pair[0].strip_prefix("x:") {
            let emoji = pair[1].split('\n').filter(|e| !e.is_empty()).map(str::to_owned).collect();
            shadow.push((reactor.to_owned(), emoji));
        }
    }
    counts.staff.sort();
    shadow.sort();
    Ok(ReactionOutcome::Changed { counts, mine: mine.unwrap_or_default(), shadow })
}
