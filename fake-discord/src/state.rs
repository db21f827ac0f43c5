//! The fake's world: guild, roles, members, channels, messages, commands, and the JSON shapes
//! Discord gives them. Everything lives behind one mutex, so the order of state changes and the
//! order of gateway dispatches (and their sequence numbers) always agree.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::config::{FakeConfig, FakeUser};
use crate::limits::RateLimiter;
use crate::records::{InteractionState, Member, RecordedRequest, Role, StoredMessage};
use crate::wire::{ApiError, DISCORD_EPOCH_MS, intents, kind, now_iso, parse_id, perms, sid};

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

    // ---- JSON shapes -------------------------------------------------------------------

    /// A user object.
    pub fn user_json(user: &FakeUser) -> Value {
        let mut value = json!({
            "id": sid(user.id),
            "username": user.username,
            "global_name": user.global_name,
            "discriminator": if user.bot { "1234" } else { "0" },
            "avatar": null,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
            "collectibles": null,
            "clan": null,
            "primary_guild": null,
        });
        if user.bot {
            value["bot"] = Value::Bool(true);
        }
        value
    }

    /// The bot's own user object, as `/users/@me` and READY give it.
    pub fn bot_user_json(&self) -> Value {
        let mut value = Self::user_json(&self.bot_user());
        value["verified"] = Value::Bool(true);
        value["mfa_enabled"] = Value::Bool(false);
        value["email"] = Value::Null;
        value["locale"] = Value::String("en-US".to_owned());
        value["bio"] = Value::String(String::new());
        value
    }

    /// A guild member object; `with_user` includes `user`, `with_permissions` (a channel) the
    /// `permissions` string computed for that channel, overwrites included (interactions).
    pub fn member_json(&self, user_id: u64, with_user: bool, with_permissions: Option<u64>) -> Option<Value> {
        let member = self.members.get(&user_id)?;
        let mut value = json!({
            "roles": member.user.roles.iter().map(|r| sid(*r)).collect::<Vec<_>>(),
            "nick": null,
            "avatar": null,
            "banner": null,
            "joined_at": member.joined_at,
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
        });
        if with_user {
            value["user"] = Self::user_json(&member.user);
        }
        if let Some(channel) = with_permissions {
            value["permissions"] = Value::String(self.permissions_in(user_id, channel).to_string());
        }
        Some(value)
    }

    pub fn role_json(role: &Role) -> Value {
        let mut value = json!({
            "id": sid(role.id),
            "name": role.name,
            "description": null,
            "color": role.color,
            "colors": {"primary_color": role.color, "secondary_color": null, "tertiary_color": null},
            "hoist": role.hoist,
            "icon": null,
            "unicode_emoji": null,
            "position": role.position,
            "permissions": role.permissions.to_string(),
            "managed": role.managed,
            "mentionable": false,
            "flags": 0,
        });
        if let Some(bot_id) = role.bot_id {
            value["tags"] = json!({"bot_id": sid(bot_id)});
        }
        value
    }

    /// The guild object of `GET /guilds/{id}`; `full` adds the GUILD_CREATE extras.
    pub fn guild_json(&self, full: bool) -> Value {
        let mut value = json!({
            "id": sid(self.guild_id()),
            "name": self.config.guild_name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": sid(self.config.owner_id),
            "region": null,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": self.roles.iter().map(Self::role_json).collect::<Vec<_>>(),
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500_000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw": false,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
        });
        if full {
            let members: Vec<Value> = self.members.keys().filter_map(|id| self.member_json(*id, true, None)).collect();
            let (threads, channels): (Vec<Value>, Vec<Value>) =
                self.channels.values().cloned().partition(|c| kind::is_thread(c["type"].as_u64().unwrap_or(0)));
            let threads: Vec<Value> =
                threads.into_iter().filter(|t| t["thread_metadata"]["archived"] != Value::Bool(true)).collect();
            let extra = json!({
                "joined_at": self.created,
                "large": false,
                "unavailable": false,
                "member_count": self.members.len(),
                "voice_states": [],
                "members": members,
                "channels": channels,
                "threads": threads,
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "lazy": true,
            });
            if let (Value::Object(base), Value::Object(extra)) = (&mut value, extra) {
                base.extend(extra);
            }
        }
        value
    }

    /// Application info (`/oauth2/applications/@me`).
    pub fn application_json(&self) -> Value {
        let owner = self.members.get(&self.config.owner_id).map(|m| Self::user_json(&m.user));
        json!({
            "id": sid(self.config.application_id),
            "name": self.config.bot_username,
            "icon": null,
            "description": "Textual Chatroulette bot (fake Discord)",
            "summary": "",
            "type": null,
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "1ad3f2cb6e0b1e0c4a8d6f3f1b8d2a0c9e7f5d3b1a9c8e7f6d5c4b3a2e1f0d9c",
            "flags": self.application_flags(),
            "owner": owner,
            "team": null,
            "hook": true,
            "bot": self.bot_user_json(),
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "approximate_guild_count": 1,
            "integration_types_config": {"0": {}},
        })
    }

    /// GATEWAY_PRESENCE_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED
    /// and APPLICATION_COMMAND_BADGE, as for an unverified bot with the intents switched on.
    pub fn application_flags(&self) -> u64 {
        (1 << 13) | (1 << 15) | (1 << 19) | (1 << 23)
    }

    // ---- gateway dispatch ----------------------------------------------------------------

    /// Send an event to every live session (buffered for sessions waiting to RESUME).
    pub fn dispatch(&mut self, event: &str, data: Value) {
        // Invalidated sessions still get events while connected; they just cannot RESUME.
        let targets: Vec<String> =
            self.sessions.values().filter(|s| !s.invalidated || s.conn.is_some()).map(|s| s.id.clone()).collect();
        for session in targets {
            let intents = self.sessions.get(&session).map_or(0, |s| s.intents);
            if let Some(payload) = filter_for_intents(event, &data, intents, self.bot_id()) {
                self.send_dispatch(&session, event, payload);
            }
        }
        self.dispatched.push((event.to_owned(), data));
    }

    /// Send one dispatch to one session with the session's next sequence number.
    pub fn send_dispatch(&mut self, session_id: &str, event: &str, data: Value) {
        let buffer = self.config.replay_buffer;
        let Some(session) = self.sessions.get_mut(session_id) else { return };
        session.seq += 1;
        let frame = json!({"op": 0, "t": event, "s": session.seq, "d": data}).to_string();
        session.events.push_back((session.seq, frame.clone()));
        while session.events.len() > buffer {
            session.events.pop_front();
        }
        if let Some(conn) = session.conn
            && let Some(entry) = self.conns.get(&conn)
        {
            let _ = entry.tx.send(Outbound::Text(frame));
        }
    }

    /// Tell every gateway connection to do something (drop, close, send a frame).
    pub fn tell_all_connections(&mut self, make: impl Fn() -> Outbound) {
        for entry in self.conns.values() {
            let _ = entry.tx.send(make());
        }
    }
}

/// Apply the session's intents: events it did not ask for are not sent; without
/// MESSAGE_CONTENT a message's content, embeds, attachments and components arrive empty unless
/// the bot wrote it or is mentioned in it.
fn filter_for_intents(event: &str, data: &Value, session_intents: u64, bot_id: u64) -> Option<Value> {
    let needed = match event {
        "GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE" | "CHANNEL_CREATE" | "CHANNEL_UPDATE" | "CHANNEL_DELETE"
        | "THREAD_CREATE" | "THREAD_UPDATE" | "THREAD_DELETE" | "THREAD_LIST_SYNC" | "GUILD_ROLE_CREATE"
        | "GUILD_ROLE_UPDATE" | "GUILD_ROLE_DELETE" => intents::GUILDS,
        "MESSAGE_REACTION_ADD" | "MESSAGE_REACTION_REMOVE" => intents::GUILD_MESSAGE_REACTIONS,
        "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" => intents::GUILD_MEMBERS,
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "MESSAGE_DELETE_BULK" => intents::GUILD_MESSAGES,
        _ => 0,
    };
    if session_intents & needed != needed {
        return None;
    }
    if matches!(event, "MESSAGE_CREATE" | "MESSAGE_UPDATE") && session_intents & intents::MESSAGE_CONTENT == 0 {
        let author = parse_id(data["author"].get("id"));
        let mentioned =
            data["mentions"].as_array().is_some_and(|m| m.iter().any(|u| parse_id(u.get("id")) == Some(bot_id)));
        if author != Some(bot_id) && !mentioned {
            let mut blanked = data.clone();
            blanked["content"] = Value::String(String::new());
            for key in ["embeds", "attachments", "components"] {
                blanked[key] = json!([]);
            }
            if let Value::Object(map) = &mut blanked {
                map.remove("poll");
            }
            return Some(blanked);
        }
    }
    Some(data.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn content_is_blanked_without_intent() {
        let message = json!({"author": {"id": "5"}, "content": "secret", "embeds": [{}], "mentions": []});
        let filtered = filter_for_intents("MESSAGE_CREATE", &message, intents::GUILD_MESSAGES, 9).unwrap();
        assert_eq!(filtered["content"], "");
        let own = json!({"author": {"id": "9"}, "content": "mine", "mentions": []});
        assert_eq!(filter_for_intents("MESSAGE_CREATE", &own, intents::GUILD_MESSAGES, 9).unwrap()["content"], "mine");
        assert!(filter_for_intents("MESSAGE_CREATE", &message, intents::GUILDS, 9).is_none());
    }
}
