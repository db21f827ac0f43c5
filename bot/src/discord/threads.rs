//! Threads for visitor rooms and roulette pairs.
//!
//! Staff rooms have channels of their own; the short-lived rooms visitors open and the roulette
//! pairs get a public thread of a parent channel each instead (one parent for visitor rooms,
//! one for pairs), created when the room's first message is mirrored, so rooms nobody wrote
//! in never make a thread. The parent is `DISCORD_VISITOR_CHANNEL_ID` /
//! `DISCORD_ROULETTE_CHANNEL_ID`, or else a text channel named `visitor-rooms` / `roulette`
//! under `DISCORD_CATEGORY_ID` (found by name there only), or without a category the one the
//! bot created and remembered; created, private like room channels, when missing.
//!
//! Discord limits thread creation on a bucket of its own (per parent) and answers a burst with
//! a 429 whose `retry_after` can be minutes. A room waits at most [`THREAD_WAIT_BUDGET`] for
//! it; beyond that, or when Discord refuses the thread (missing access, too many active
//! threads…), the room's messages go to the parent channel itself, each embed titled with the
//! room's name and slug. That fallback is logged and counted, and kept for the room's life
//! (recorded as the room's `discord_channel_id`) so one room never ends up half in a thread.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use protocol::RoomKind;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::rest::{Posted, Rest, snowflake};
use super::retry::{self, Policy};
use super::{DiscordConfig, Error};
use crate::entities::{rooms, settings};

/// Name of the visitor rooms' parent channel when `DISCORD_VISITOR_CHANNEL_ID` is unset.
pub const VISITOR_PARENT_NAME: &str = "visitor-rooms";
/// Name of the roulette pairs' parent channel when `DISCORD_ROULETTE_CHANNEL_ID` is unset.
pub const ROULETTE_PARENT_NAME: &str = "roulette";
/// How long one room waits, in total, for Discord's thread-creation limit before its messages
/// go to the parent channel instead.
pub const THREAD_WAIT_BUDGET: Duration = Duration::from_secs(10);
/// Threads archive themselves after this many minutes without a message (a posted message
/// reopens an archived, unlocked thread).
pub const AUTO_ARCHIVE_MINUTES: u64 = 60;
/// Discord's limit for channel and thread names.
const NAME_MAX: usize = 100;

/// The thread's name: the room's title for a visitor room, `pair <slug>` for a roulette pair.
pub fn thread_name(kind: RoomKind, slug: &str, title: &str) -> String {
    let name = match kind {
        RoomKind::Roulette => format!("pair {slug}"),
        RoomKind::Visitor | RoomKind::Staff => {
            let title: String = title.chars().filter(|c| !c.is_control()).collect();
            let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
            if title.is_empty() { slug.to_owned() } else { title }
        }
    };
    name.chars().take(NAME_MAX).collect()
}

/// What embeds posted in the parent channel (the fallback) carry as their title, so staff can
/// tell the rooms apart there.
pub fn fallback_label(kind: RoomKind, slug: &str, title: &str) -> String {
    match kind {
        RoomKind::Roulette => format!("Roulette pair #{slug}"),
        RoomKind::Visitor | RoomKind::Staff => {
            format!("Visitor room {} · #{slug}", thread_name(RoomKind::Visitor, slug, title))
        }
    }
}

/// Where a room's messages go once its thread was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The new thread.
    Thread(u64),
    /// Discord refused (or kept rate limiting): the parent channel, for good.
    Fallback(u64),
    /// Nothing decided (Discord or the database unreachable): try again after this long.
    Retry(Duration),
}

/// The parent channels, and the pace of thread creation in each.
pub struct Parents {
    rest: Rest,
    db: DatabaseConnection,
    config: DiscordConfig,
    guild: u64,
    category: Option<u64>,
    visitor: Option<u64>,
    roulette: Option<u64>,
    /// Parents found or created by name.
    found: tokio::sync::Mutex<HashMap<RoomKind, u64>>,
    /// parent → no thread creation before this (Discord's thread bucket).
    not_before: Mutex<HashMap<u64, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Parents {
    pub fn new(config: &DiscordConfig, rest: Rest, db: DatabaseConnection) -> Self {
        Self {
            rest,
            db,
            config: config.clone(),
            guild: config.guild,
            category: config.category,
            visitor: config.visitor_parent,
            roulette: config.roulette_parent,
            found: tokio::sync::Mutex::default(),
            not_before: Mutex::default(),
        }
    }

    fn configured(&self, kind: RoomKind) -> Option<u64> {
        match kind {
            RoomKind::Roulette => self.roulette,
            RoomKind::Visitor | RoomKind::Staff => self.visitor,
        }
    }

    /// The parent channel of `kind`'s threads: configured, or found by name under the
    /// category (never a staff room's channel), or, without a category, the one the bot created
    /// before (its id kept in `settings`), or created (private, see [`super::privacy`]). A
    /// channel that merely has the name elsewhere in the guild is never adopted: anyone with
    /// Manage Channels could make a public `roulette` channel and have every pair mirrored there.
    pub async fn parent(&self, kind: RoomKind) -> Result<u64, Error> {
        if let Some(id) = self.configured(kind) {
            return Ok(id);
        }
        // One lookup at a time, so two rooms never create two parents.
        let mut found = self.found.lock().await;
        if let Some(id) = found.get(&kind) {
            return Ok(*id);
        }
        let name = match kind {
            RoomKind::Roulette => ROULETTE_PARENT_NAME,
            RoomKind::Visitor | RoomKind::Staff => VISITOR_PARENT_NAME,
        };
        let room_channels: HashSet<u64> = rooms::Entity::find()
            .filter(rooms::Column::DiscordChannelId.is_not_null())
            .filter(rooms::Column::Kind.eq(RoomKind::Staff.as_str()))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|r| r.discord_channel_id.and_then(|id| u64::try_from(id).ok()))
            .collect();
        let remembered = remembered_parent(&self.db, kind).await?;
        let existing = self.rest.guild_channels(self.guild).await?.into_iter().find_map(|c: Value| {
            let id = snowflake(&c["id"])?;
            let adoptable = match self.category {
                Some(category) => snowflake(&c["parent_id"]) == Some(category) && c["name"] == name,
                None => remembered == Some(id),
            };
            (c["type"].as_u64() == Some(0) && adoptable && !room_channels.contains(&id)).then_some(id)
        });
        let id = match existing {
            Some(id) => {
                tracing::info!(channel = id, name, "using the existing parent channel for room threads");
                id
            }
            None => {
                let topic = match kind {
                    RoomKind::Roulette => "Roulette pairs: one thread per pair.",
                    RoomKind::Visitor | RoomKind::Staff => "Rooms visitors opened: one thread per room.",
                };
                let id = super::privacy::create_channel(&self.rest, &self.config, name, topic).await?;
                tracing::info!(channel = id, name, "created the parent channel for room threads");
                remember_parent(&self.db, kind, id).await?;
                id
            }
        };
        found.insert(kind, id);
        Ok(id)
    }

    /// Forget a parent found by name (it was deleted): the next lookup finds or creates it again.
    async fn forget(&self, kind: RoomKind) -> bool {
        self.configured(kind).is_none() && self.found.lock().await.remove(&kind).is_some()
    }

    fn wait_for(&self, parent: u64) -> Duration {
        lock(&self.not_before).get(&parent).map_or(Duration::ZERO, |t| t.saturating_duration_since(Instant::now()))
    }

    fn pause(&self, parent: u64, pause: Duration) {
        if !pause.is_zero() {
            lock(&self.not_before).insert(parent, Instant::now() + pause);
        }
    }

    /// Start the room's thread: wait for the thread bucket within [`THREAD_WAIT_BUDGET`],
    /// retry 429s within it, and fall back to the parent when Discord refuses or the budget is
    /// spent.
    pub async fn open(&self, kind: RoomKind, slug: &str, title: &str) -> Opened {
        let started = Instant::now();
        let mut parents_tried = 0;
        loop {
            let parent = match self.parent(kind).await {
                Ok(parent) => parent,
                Err(e) => {
                    tracing::warn!(error = %e, room = %slug, "cannot find or create the parent channel for room threads; retrying");
                    return Opened::Retry(Duration::from_secs(5));
                }
            };
            let wait = self.wait_for(parent);
            if !wait.is_zero() {
                if started.elapsed() + wait > THREAD_WAIT_BUDGET {
                    return fallback(slug, parent, "rate_limited", &format!("thread creation paused for {wait:?}"));
                }
                tokio::time::sleep(wait).await;
            }
            let body = json!({
                "name": thread_name(kind, slug, title),
                "type": 11,
                "auto_archive_duration": AUTO_ARCHIVE_MINUTES,
            });
            let create = || async {
                let created = self.rest.create_thread(parent, &body).await;
                if let Ok(Posted::RateLimited { retry_after, global }) = &created {
                    tracing::warn!(room = %slug, parent, ?retry_after, global, "thread creation is rate limited");
                    if !global {
                        self.pause(parent, *retry_after);
                    }
                }
                created
            };
            let policy = Policy::within(THREAD_WAIT_BUDGET.saturating_sub(started.elapsed()));
            match retry::discord(policy, "starting the room's thread", create).await {
                Ok(Posted::Ok { id, pacing }) => {
                    self.pause(parent, pacing.pause());
                    tracing::info!(room = %slug, thread = id, parent, "created the room's Discord thread");
                    return Opened::Thread(id);
                }
                Ok(Posted::RateLimited { retry_after, .. }) => {
                    return fallback(slug, parent, "rate_limited", &format!("retry after {retry_after:?}"));
                }
                Ok(Posted::Refused { status: 404, body }) if parents_tried < 2 && self.forget(kind).await => {
                    tracing::warn!(room = %slug, parent, %body, "the parent channel is gone; finding or creating it again");
                    parents_tried += 1;
                }
                Ok(Posted::Refused { status, body }) => {
                    return fallback(slug, parent, "refused", &format!("{status} {body}"));
                }
                Err(e) => {
                    tracing::warn!(room = %slug, parent, error = %e, "cannot start the room's thread; retrying");
                    return Opened::Retry(Duration::from_secs(2));
                }
            }
        }
    }
}

/// The `settings` key under which the id of the parent channel the bot created is kept.
fn parent_key(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Roulette => "discord_roulette_parent",
        RoomKind::Visitor | RoomKind::Staff => "discord_visitor_parent",
    }
}

async fn remembered_parent(db: &DatabaseConnection, kind: RoomKind) -> Result<Option<u64>, Error> {
    let row = settings::Entity::find_by_id(parent_key(kind)).one(db).await?;
    Ok(row.and_then(|r| r.value.parse().ok()))
}

async fn remember_parent(db: &DatabaseConnection, kind: RoomKind, channel: u64) -> Result<(), Error> {
    use sea_orm::sea_query::OnConflict;
    let row = settings::ActiveModel { key: Set(parent_key(kind).to_owned()), value: Set(channel.to_string()) };
    settings::Entity::insert(row)
        .on_conflict(OnConflict::column(settings::Column::Key).update_column(settings::Column::Value).to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// The parent channels the bot created and uses (for the privacy check).
pub async fn created_parents(db: &DatabaseConnection) -> Result<Vec<u64>, Error> {
    let mut out = Vec::new();
    for kind in [RoomKind::Visitor, RoomKind::Roulette] {
        out.extend(remembered_parent(db, kind).await?);
    }
    Ok(out)
}

fn fallback(slug: &str, parent: u64, reason: &'static str, details: &str) -> Opened {
    tracing::warn!(
        room = %slug,
        parent,
        reason,
        details,
        "Discord did not start the room's thread: its messages go to the parent channel, titled with the room's name"
    );
    metrics::counter!("chat_discord_thread_fallbacks_total", "reason" => reason).increment(1);
    Opened::Fallback(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_follow_the_room() {
        assert_eq!(thread_name(RoomKind::Roulette, "r-8f3k", "whatever"), "pair r-8f3k");
        assert_eq!(thread_name(RoomKind::Visitor, "v-1", "  Movie \n night "), "Movie night");
        assert_eq!(thread_name(RoomKind::Visitor, "v-1", " \t "), "v-1");
        assert_eq!(thread_name(RoomKind::Visitor, "v-1", &"é".repeat(150)).chars().count(), 100);
        assert_eq!(fallback_label(RoomKind::Visitor, "v-1", "Movie night"), "Visitor room Movie night · #v-1");
        assert_eq!(fallback_label(RoomKind::Roulette, "r-1", ""), "Roulette pair #r-1");
    }
}
