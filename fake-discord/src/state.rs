//! The fake's world: guild, roles, members, channels, messages, commands, gateway sessions.
//! Everything lives behind one mutex, so the order of state changes and the order of gateway
//! dispatches (and their sequence numbers) always agree. The JSON shapes Discord gives them are
//! in `shapes`, the dispatches in `dispatch`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use crate::config::{FakeConfig, FakeUser};
use crate::limits::RateLimiter;
use crate::records::{InteractionState, Member, RecordedRequest, Role, StoredMessage};
use crate::wire::{ApiError, DISCORD_EPOCH_MS, now_iso, perms, sid};

/// What a gateway connection task is told to do.
#[derive(Debug)]
pub enum Outbound {
    /// Send this text frame.
    Text(String),
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
    /// Stop without a close frame (the TCP connection just ends).
    Drop,
}

/// A gateway session (survives its connection, for RESUME).
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub seq: u64,
    pub intents: u64,
    /// `(seq, frame)` of recent dispatches, for replay on RESUME.
    pub events: VecDeque<(u64, String)>,
    /// The connection currently carrying this session.
    pub conn: Option<u64>,
    pub invalidated: bool,
}

/// A live gateway connection.
#[derive(Debug)]
pub struct ConnEntry {
    pub tx: mpsc::UnboundedSender<Outbound>,
    pub session: Option<String>,
}

/// Shared between the server tasks and the test-facing handle.
pub struct Shared {
    pub config: FakeConfig,
    pub base_url: String,
    pub ws_url: String,
    inner: Mutex<Inner>,
    changed: Notify,
}

impl Shared {
    pub fn new(config: FakeConfig, base_url: String, ws_url: String) -> Self {
        let inner = Inner::new(config.clone(), ws_url.clone());
        Self { config, base_url, ws_url, inner: Mutex::new(inner), changed: Notify::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the state; waiters of [`Self::changed`] are woken afterwards.
    pub fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.notify_waiters();
        result
    }

    /// Read the state.
    pub fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        f(&self.lock())
    }

    /// Resolves at the next state change (register before checking, to miss nothing).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

/// Everything the fake knows.
pub struct Inner {
    pub config: FakeConfig,
    pub ws_url: String,
    last_id: u64,
    pub created: String,
    pub roles: Vec<Role>,
    pub moderator_role: u64,
    pub bot_role: u64,
    pub members: BTreeMap<u64, Member>,
    pub channels: BTreeMap<u64, Value>,
    /// channel id → message id → message.
    pub messages: HashMap<u64, BTreeMap<u64, StoredMessage>>,
    /// `(channel, author, nonce)` → (message id, when).
    pub nonces: HashMap<(u64, u64, String), (u64, Instant)>,
    pub guild_commands: Vec<Value>,
    pub global_commands: Vec<Value>,
    pub interactions: HashMap<u64, InteractionState>,
    pub interaction_tokens: HashMap<String, u64>,
    pub requests: Vec<RecordedRequest>,
    pub rate_limited: usize,
    pub limiter: RateLimiter,
    pub sessions: HashMap<String, Session>,
    pub conns: HashMap<u64, ConnEntry>,
    pub next_conn: u64,
    pub identifies: usize,
    pub resumes: usize,
    /// Every dispatch, once (not per session): event name and payload before intent filtering.
    pub dispatched: Vec<(String, Value)>,
    /// While set, every attempt to start a thread is answered with this error.
    pub thread_refusal: Option<ApiError>,
    /// Users' reactions: (message, user, emoji name).
    pub user_reactions: std::collections::HashSet<(u64, u64, String)>,
    /// The REST outage in force (or the last one), see [`crate::Outage`].
    pub(crate) outage: Option<crate::outage::Active>,
    staff_count: u64,
}

impl Inner {
    fn new(config: FakeConfig, ws_url: String) -> Self {
        let mut inner = Self {
            last_id: 0,
            created: now_iso(),
            roles: Vec::new(),
            moderator_role: 0,
            bot_role: 0,
            members: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: HashMap::new(),
            nonces: HashMap::new(),
            guild_commands: Vec::new(),
            global_commands: Vec::new(),
            interactions: HashMap::new(),
            interaction_tokens: HashMap::new(),
            requests: Vec::new(),
            rate_limited: 0,
            limiter: RateLimiter::default(),
            sessions: HashMap::new(),
            conns: HashMap::new(),
            next_conn: 1,
            identifies: 0,
            resumes: 0,
            dispatched: Vec::new(),
            thread_refusal: None,
            user_reactions: std::collections::HashSet::new(),
            outage: None,
            staff_count: 0,
            ws_url,
            config,
        };
        inner.last_id = inner.config.guild_id.max(inner.config.application_id).max(inner.config.owner_id);
        let guild_id = inner.config.guild_id;
        inner.moderator_role = inner.next_id();
        inner.bot_role = inner.next_id();
        inner.roles = vec![
            Role {
                id: guild_id,
                name: "@everyone".to_owned(),
                permissions: perms::EVERYONE,
                position: 0,
                color: 0,
                hoist: false,
                managed: false,
                bot_id: None,
            },
            Role {
                id: inner.bot_role,
                name: inner.config.bot_username.clone(),
                permissions: perms::BOT,
                position: 1,
                color: 0,
                hoist: false,
                managed: true,
                bot_id: Some(inner.config.bot_user_id),
            },
            Role {
                id: inner.moderator_role,
                name: "Moderator".to_owned(),
                permissions: perms::MODERATOR,
                position: 2,
                color: 0x3498db,
                hoist: true,
                managed: false,
                bot_id: None,
            },
        ];
        let bot = inner.bot_user();
        let owner = FakeUser::new(inner.config.owner_id, "guild-owner");
        let joined_at = inner.created.clone();
        inner.members.insert(bot.id, Member { user: bot, joined_at: joined_at.clone() });
        inner.members.insert(owner.id, Member { user: owner, joined_at });
        inner
    }

    /// A new snowflake: increasing, with the current time in its top bits like Discord's.
    pub fn next_id(&mut self) -> u64 {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX >> 22))
            .saturating_sub(DISCORD_EPOCH_MS);
        self.last_id = (self.last_id + 1).max(ms << 22);
        self.last_id
    }

    pub fn guild_id(&self) -> u64 {
        self.config.guild_id
    }

    /// An id no member has (yet): for asking what someone with only @everyone may do.
    pub fn next_free_id(&self) -> u64 {
        self.last_id + 1
    }

    pub fn bot_id(&self) -> u64 {
        self.config.bot_user_id
    }

    /// The bot as a [`FakeUser`].
    pub fn bot_user(&self) -> FakeUser {
        FakeUser {
            id: self.config.bot_user_id,
            username: self.config.bot_username.clone(),
            global_name: None,
            bot: true,
            roles: vec![self.bot_role],
        }
    }

    /// Add (or replace) a guild member.
    pub fn add_member(&mut self, user: FakeUser) -> FakeUser {
        let joined_at = now_iso();
        self.members.insert(user.id, Member { user: user.clone(), joined_at });
        let member = self.member_json(user.id, true, None);
        if let Some(mut member) = member {
            member["guild_id"] = sid(self.guild_id());
            self.dispatch("GUILD_MEMBER_ADD", member);
        }
        user
    }

    /// A new member with the Moderator role.
    pub fn new_staff(&mut self) -> FakeUser {
        self.staff_count += 1;
        let id = self.next_id();
        let mut user = FakeUser::new(id, format!("staff-{}", self.staff_count));
        user.global_name = Some(format!("Staff {}", self.staff_count));
        user.roles = vec![self.moderator_role];
        self.add_member(user)
    }

    /// Permissions of a member from its roles (channel overwrites are not modelled).
    pub fn permissions_of(&self, user_id: u64) -> u64 {
        if user_id == self.config.owner_id {
            return u64::MAX >> 13;
        }
        let everyone = self.roles.iter().find(|r| r.id == self.guild_id()).map_or(0, |r| r.permissions);
        let Some(member) = self.members.get(&user_id) else { return everyone };
        let all = member
            .user
            .roles
            .iter()
            .filter_map(|id| self.roles.iter().find(|r| r.id == *id))
            .fold(everyone, |acc, role| acc | role.permissions);
        if all & perms::ADMINISTRATOR != 0 { u64::MAX >> 13 } else { all }
    }
}
