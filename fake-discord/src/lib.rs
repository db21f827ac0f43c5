//! A fake Discord for tests: the REST API v10 and the Gateway, on `127.0.0.1`, speaking the
//! documented JSON closely enough that unmodified serenity 0.12.5 / poise 0.7.1 run against it.
//!
//! # What it implements
//! * **One guild** (id [`FakeConfig::guild_id`]) with the roles `@everyone` (id = guild id),
//!   the bot's managed role and `Moderator`; members: the bot, the owner, and whoever tests add
//!   ([`FakeDiscord::add_user`], [`FakeDiscord::staff_user`]).
//! * **REST** under `/api/v10` (`Authorization: Bot <token>` required, else 401):
//!   gateway discovery, `/users/@me`, `/oauth2/applications/@me`, guild, roles, members, guild
//!   channels (create/list/get/modify/delete, permission overwrites), messages (create, edit,
//!   delete, bulk delete, get, list with `limit`/`before`/`after`/`around`), threads (from a
//!   message, without one, forum posts; archive/lock via `PATCH`), application commands (guild
//!   and global: bulk overwrite, create, get, edit, delete), interaction callbacks and the
//!   interaction webhooks (`@original`, follow-ups). Unknown routes answer
//!   `404 {"message":"404: Not Found","code":0}`.
//! * **Discord's rules**: content ≤ 2000 characters, ≤ 10 embeds, embed title 256,
//!   description 4096, 25 fields, field name 256 / value 1024, footer 2048, author 256, all
//!   embeds together 6000 (counted in characters), nonce ≤ 25, `allowed_mentions` parse/list
//!   exclusivity, empty messages (50006), command name rules — answered with Discord's
//!   `50035 Invalid Form Body` shape and nested `errors`. `enforce_nonce` returns the existing
//!   message for a repeated nonce (same channel and author, within [`FakeConfig::nonce_window`]).
//!   An interaction callback later than 3 s gets `10062`, a second one `40060`.
//! * **Rate limits**: per route bucket and major parameter, fixed windows starting at the first
//!   request (create-message: 5 per 5 s per channel by default; thread creation, both routes
//!   together, [`FakeConfig::thread_rate_limit`] per parent channel, answered with scope
//!   `shared`), a global 50 requests/s (interaction routes exempt). Every routed answer carries `X-RateLimit-Limit`, `-Remaining`,
//!   `-Reset`, `-Reset-After`, `-Bucket`; a 429 adds `Retry-After`, `X-RateLimit-Scope` (and
//!   `X-RateLimit-Global` for the global limit) and the body
//!   `{"message":"You are being rate limited.","retry_after":…,"global":…}`.
//! * **Gateway** at `/gateway-ws`: HELLO, heartbeat ACKs, IDENTIFY → READY + GUILD_CREATE,
//!   RESUME with replay of missed dispatches then RESUMED, INVALID_SESSION, the close codes for
//!   bad tokens (4004), unknown opcodes (4001), bad payloads (4002), double IDENTIFY (4005),
//!   disallowed intents (4014). Dispatches follow the session's intents (no MESSAGE_CONTENT →
//!   empty content, as on Discord). Everything the bot does over REST is dispatched back
//!   (CHANNEL_*, THREAD_*, MESSAGE_CREATE/UPDATE/DELETE(_BULK)), like Discord does.
//! * **Injection** of what humans do in the Discord client: messages (in channels and threads),
//!   edits, deletions, slash commands, context menus, components, autocomplete; of gateway
//!   trouble: dropped connections, reconnect requests, invalidated sessions; and of refusals:
//!   [`FakeDiscord::refuse_thread_creation`] makes Discord refuse to start threads.
//! * **Recording** of every request (method, path without `/api/v10`, query, JSON body,
//!   status, time) for assertions.
//!
//! # What it deliberately does not
//! Multipart uploads and attachments, zlib/zstd transport compression and ETF encoding (frames
//! are JSON text even though serenity asks for `compress: true`), voice, presences, DMs,
//! multiple guilds, sharding beyond routing the one guild, OAuth2, channel permission
//! *enforcement* on reading and posting (overwrites are stored and computed into interactions'
//! `member.permissions` and [`FakeDiscord::permissions_in`], but nobody is refused a read or a
//! post by them), audit logs, reactions by others, pins, custom emoji and stickers, heartbeat-timeout enforcement, and Discord's undocumented per-route limits (every
//! route but create-message and thread creation shares [`FakeConfig::route_rate_limit`]).
//!
//! # Discord behaviours reproduced that a bot may trip over
//! * Text channel names are lowercased with spaces turned into dashes (`"Lobby Room"` →
//!   `"lobby-room"`).
//! * A thread started from a message has the message's id; a public thread started without
//!   one posts a THREAD_CREATED system message (type 18) in the parent, which arrives as
//!   MESSAGE_CREATE like any other message. Posting in an archived thread reopens it (locked:
//!   400 code 50083).
//! * The bot's own REST actions come back over the gateway (its MESSAGE_CREATEs included).
//! * Without the MESSAGE_CONTENT intent, others' messages arrive with empty content unless
//!   they mention the bot.
//! * After a deferred interaction response (type 5) the first follow-up *replaces* the
//!   "thinking…" message instead of adding one; ephemeral messages never appear in
//!   [`FakeDiscord::messages_in`] (see [`FakeDiscord::interaction_messages`]).
//! * `mentions` honour `allowed_mentions` (absent = everything pings).
//! * Permissions: guild-level from @everyone and the member's roles (owner and ADMINISTRATOR
//!   have all), then the channel's overwrites (a thread: its parent's), in Discord's order; an
//!   interaction's `member.permissions` and `app_permissions` are computed for its channel.
//!   Creating a channel needs MANAGE_CHANNELS; changing overwrites (`PUT`/`DELETE
//!   /channels/{id}/permissions/{overwrite_id}`, `PATCH` with `permission_overwrites`) needs
//!   MANAGE_ROLES; overwrites may only allow or deny bits the bot has (else 403 50013). A
//!   channel created in a category without overwrites of its own is synced with it.
//! * The bot's own reactions (`PUT /channels/{c}/messages/{m}/reactions/{emoji}/@me`, emoji
//!   percent-encoded) need READ_MESSAGE_HISTORY and, for a new emoji, ADD_REACTIONS in the
//!   channel; see [`FakeDiscord::reactions_on`].
//! * The 429 body has no `code`: serenity reports it as a decode error with status 429.
//!
//! # Pointing serenity / poise at it
//! ```text
//! let http = serenity::HttpBuilder::new(discord.token())
//!     .proxy(discord.base_url())          // http://127.0.0.1:PORT, rewrites https://discord.com
//!     .ratelimiter_disabled(true)         // required: the proxy is ignored otherwise
//!     .build();
//! let client = serenity::ClientBuilder::new_with_http(http, intents).framework(framework).await?;
//! ```
//! `Client::start` asks `GET /gateway` for the WebSocket URL, so nothing else is needed. serenity
//! learns the application id from READY; set `HttpBuilder::application_id` to register commands
//! before that.
//!
//! # How tests use it
//! ```no_run
//! # async fn demo() {
//! use fake_discord::{FakeConfig, FakeDiscord};
//! use std::time::Duration;
//!
//! let discord = FakeDiscord::start(FakeConfig::default()).await;
//! // Point the bot at it: serenity's HttpBuilder::new(token).proxy(discord.base_url())
//! // .ratelimiter_disabled(true); the gateway URL comes from GET /gateway.
//! let room = discord.create_channel("lobby", 0, None);
//! let room_id: u64 = room["id"].as_str().unwrap_or("0").parse().unwrap_or(0);
//! let staff = discord.staff_user();
//! discord.inject_message(room_id, &staff, "hello from Discord");
//! let mirrored = discord
//!     .wait_for(|d| d.messages_in(room_id).into_iter().find(|m| m["author"]["bot"] == true), Duration::from_secs(10))
//!     .await;
//! # let _ = mirrored;
//! # }
//! ```
//! Never assert on speed: wait with generous timeouts ([`FakeDiscord::wait_until`],
//! [`FakeDiscord::wait_for`]).
//!
//! # Modules
//! * `config`: the settings of one fake Discord, and the users it knows.
//! * `wire`: Discord's vocabulary: permission and intent bits, channel kinds, ids, the error answer.
//! * `records`: what is stored besides JSON: roles, members, messages, interactions, seen requests.
//! * `state`: the world behind one mutex (guild, channels, messages, sessions) and its dispatches.
//! * `limits`: Discord's validation rules (`Invalid Form Body`) and rate limits.
//! * `permissions`: permissions from roles, then a channel's overwrites.
//! * `rest`: the REST server: authentication, rate limits, routing, recording.
//! * `channels`: guild channels and threads.
//! * `messages`: the bot's posts, edits and deletions, and injected human messages.
//! * `commands`: application commands, guild and global.
//! * `interactions`: injected interactions, their callbacks and webhook follow-ups.
//! * `gateway`: the Gateway WebSocket: HELLO, IDENTIFY, RESUME, dispatches.

mod channels;
mod commands;
mod config;
mod gateway;
mod interactions;
mod limits;
mod messages;
mod permissions;
mod records;
mod rest;
mod state;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use salvo::conn::tcp::TcpAcceptor;
use salvo::prelude::*;
use salvo::server::ServerHandle;
use serde_json::{Value, json};

pub use crate::config::{FakeConfig, FakeUser, PRIVILEGED_INTENTS};
pub use crate::interactions::interaction_type;
pub use crate::limits::{
    CONTENT_MAX, EMBED_AUTHOR_MAX, EMBED_DESCRIPTION_MAX, EMBED_FIELD_NAME_MAX, EMBED_FIELD_VALUE_MAX,
    EMBED_FIELDS_MAX, EMBED_FOOTER_MAX, EMBED_TITLE_MAX, EMBED_TOTAL_MAX, EMBEDS_MAX, NONCE_MAX,
};
pub use crate::records::RecordedRequest;
pub use crate::wire::perms;

use crate::messages::MessageDraft;
use crate::state::{Inner, Outbound, Shared};
use crate::wire::parse_id;

/// Channel type numbers, for [`FakeDiscord::create_channel`].
pub mod channel_type {
    /// A text channel.
    pub const TEXT: u64 = 0;
    /// A category.
    pub const CATEGORY: u64 = 4;
    /// A public thread.
    pub const PUBLIC_THREAD: u64 = 11;
    /// A private thread.
    pub const PRIVATE_THREAD: u64 = 12;
    /// A forum.
    pub const FORUM: u64 = 15;
}

/// How Discord refuses to start a thread, for [`FakeDiscord::refuse_thread_creation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadRefusal {
    /// `403 {"code": 50001, "message": "Missing Access"}`: the bot cannot see the parent.
    MissingAccess,
    /// `403 {"code": 50013, "message": "Missing Permissions"}`: no Create Public Threads.
    MissingPermissions,
    /// `400 {"code": 160006, "message": "Maximum number of active threads reached"}`.
    MaxActiveThreads,
    /// Any other answer.
    Other { status: u16, code: u64, message: String },
}

impl ThreadRefusal {
    fn error(&self) -> wire::ApiError {
        match self {
            Self::MissingAccess => wire::ApiError::new(403, 50001, "Missing Access"),
            Self::MissingPermissions => wire::ApiError::new(403, 50013, "Missing Permissions"),
            Self::MaxActiveThreads => wire::ApiError::new(400, 160_006, "Maximum number of active threads reached"),
            Self::Other { status, code, message } => wire::ApiError::new(*status, *code, message),
        }
    }
}

/// A running fake Discord. Cheap to clone; the server stops when the last clone is dropped
/// (or at [`FakeDiscord::shutdown`]).
#[derive(Clone)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    _server: Arc<ServerGuard>,
}

struct ServerGuard {
    handle: ServerHandle,
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl ServerGuard {
    fn stop(&self) {
        self.shared.with(|inner| inner.tell_all_connections(|| Outbound::Drop));
        self.handle.stop_forceful();
        self.task.abort();
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for FakeDiscord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDiscord").field("base_url", &self.shared.base_url).finish_non_exhaustive()
    }
}

/// The id in a Discord JSON object (`"id": "123"`), or 0.
pub fn id_of(value: &Value) -> u64 {
    parse_id(value.get("id")).unwrap_or(0)
}

impl FakeDiscord {
    /// Bind `127.0.0.1:0` and serve REST and the Gateway.
    ///
    /// # Panics
    /// When no loopback port can be bound (a test environment problem); see [`Self::try_start`].
    pub async fn start(config: FakeConfig) -> Self {
        match Self::try_start(config).await {
            Ok(discord) => discord,
            Err(error) => panic!("fake Discord cannot listen on 127.0.0.1: {error}"),
        }
    }

    /// Bind `127.0.0.1:0` and serve REST and the Gateway.
    pub async fn try_start(config: FakeConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = TcpAcceptor::try_from(listener)?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}"), format!("ws://{addr}/gateway-ws")));
        let router = Router::new()
            .push(Router::with_path("gateway-ws").goal(gateway::GatewayUpgrade(shared.clone())))
            .push(Router::with_path("{**rest}").goal(rest::Rest(shared.clone())));
        let server = Server::new(acceptor);
        let handle = server.handle();
        let task = tokio::spawn(server.serve(router));
        tracing::debug!(%addr, "fake Discord listening");
        Ok(Self { _server: Arc::new(ServerGuard { handle, task, shared: shared.clone() }), shared })
    }

    /// Stop serving and drop every gateway connection.
    pub fn shutdown(&self) {
        self._server.stop();
    }

    // ---- identity --------------------------------------------------------------------------

    /// `http://127.0.0.1:PORT`: serenity's `HttpBuilder::proxy` value (`DISCORD_API_BASE`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `ws://127.0.0.1:PORT/gateway-ws`, as `GET /gateway` returns it.
    pub fn gateway_url(&self) -> String {
        self.shared.ws_url.clone()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// The accepted bot token (without `Bot `).
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The guild's id.
    pub fn guild_id(&self) -> u64 {
        self.shared.config.guild_id
    }

    /// The application's id.
    pub fn application_id(&self) -> u64 {
        self.shared.config.application_id
    }

    /// The bot user.
    pub fn bot_user(&self) -> FakeUser {
        self.shared.read(Inner::bot_user)
    }

    /// The @everyone role (its id is the guild id).
    pub fn everyone_role_id(&self) -> u64 {
        self.shared.config.guild_id
    }

    /// The "Moderator" role.
    pub fn moderator_role_id(&self) -> u64 {
        self.shared.read(|inner| inner.moderator_role)
    }

    // ---- users -----------------------------------------------------------------------------

    /// A new guild member with a fresh id and the given roles (dispatches GUILD_MEMBER_ADD).
    pub fn add_user(&self, username: &str, roles: &[u64]) -> FakeUser {
        self.shared.with(|inner| {
            let id = inner.next_id();
            let user = FakeUser { roles: roles.to_vec(), ..FakeUser::new(id, username) };
            inner.add_member(user)
        })
    }

    /// Add (or replace) a member as given.
    pub fn add_member(&self, user: FakeUser) -> FakeUser {
        self.shared.with(|inner| inner.add_member(user))
    }

    /// A new member with the Moderator role (`staff-1`, `staff-2`, …).
    pub fn staff_user(&self) -> FakeUser {
        self.shared.with(Inner::new_staff)
    }

    /// A member's guild permissions from its roles (see [`perms`]).
    pub fn permissions_of(&self, user_id: u64) -> u64 {
        self.shared.read(|inner| inner.permissions_of(user_id))
    }

    /// A member's permissions in a channel (a thread: its parent's), overwrites applied, as
    /// Discord computes them for an interaction's `member.permissions`.
    pub fn permissions_in(&self, user_id: u64, channel_id: u64) -> u64 {
        self.shared.read(|inner| inner.permissions_in(user_id, channel_id))
    }

    /// Whether a member who has only the @everyone role could see the channel.
    pub fn everyone_can_view(&self, channel_id: u64) -> bool {
        self.shared.read(|inner| {
            let nobody = inner.next_free_id();
            inner.permissions_in(nobody, channel_id) & perms::VIEW_CHANNEL != 0
        })
    }

    /// Add a role with these permissions (dispatches GUILD_ROLE_CREATE); its id. Give it to
    /// members with [`Self::add_user`].
    pub fn add_role(&self, name: &str, permissions: u64) -> u64 {
        self.shared.with(|inner| inner.add_role(name, permissions))
    }

    /// Change a role's permissions, as an admin would (dispatches GUILD_ROLE_UPDATE); false
    /// for an unknown role. E.g. take MANAGE_ROLES from the bot's role.
    pub fn set_role_permissions(&self, role_id: u64, permissions: u64) -> bool {
        self.shared.with(|inner| inner.set_role_permissions(role_id, permissions))
    }

    /// The bot's managed role.
    pub fn bot_role_id(&self) -> u64 {
        self.shared.read(|inner| inner.bot_role)
    }

    /// Set (or with `None` remove) a permission overwrite as an admin would in the client
    /// (dispatches CHANNEL_UPDATE). `kind` 0 = role, 1 = member.
    pub fn set_overwrite(&self, channel_id: u64, target: u64, overwrite: Option<(u64, u64, u64)>) {
        let body = overwrite
            .map(|(kind, allow, deny)| json!({"type": kind, "allow": allow.to_string(), "deny": deny.to_string()}));
        self.shared.with(|inner| {
            let _ = rest::set_overwrite(inner, channel_id, target, body.as_ref());
        });
    }

    /// The reactions on a stored message (`[{count, me, emoji: {name}}…]`).
    pub fn reactions_on(&self, channel_id: u64, message_id: u64) -> Vec<Value> {
        self.message(channel_id, message_id).and_then(|m| m["reactions"].as_array().cloned()).unwrap_or_default()
    }

    // ---- seeding -----------------------------------------------------------------------------

    /// Create a guild channel as an admin would in the client (dispatches CHANNEL_CREATE).
    /// `kind` is a [`channel_type`]; names of text channels are normalised like Discord does.
    /// Returns the channel object, or the 400 error body when Discord would refuse.
    pub fn create_channel(&self, name: &str, kind: u64, parent_id: Option<u64>) -> Value {
        let body = json!({"name": name, "type": kind, "parent_id": parent_id.map(|p| p.to_string())});
        self.shared.with(|inner| match inner.create_channel(&body) {
            Ok((_, channel)) => channel,
            Err(error) => error.body,
        })
    }

    // ---- inspection --------------------------------------------------------------------------

    /// Every REST request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|inner| inner.requests.clone())
    }

    /// Requests with this method whose path (without `/api/v10`) is exactly `path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.shared
            .read(|inner| inner.requests.iter().filter(|r| r.method == method && r.path == path).cloned().collect())
    }

    /// How many requests got 429 (route and global limits).
    pub fn rate_limited_count(&self) -> usize {
        self.shared.read(|inner| inner.rate_limited)
    }

    /// Every channel and thread of the guild, by id.
    pub fn channels(&self) -> Vec<Value> {
        self.shared.read(|inner| inner.channels.values().cloned().collect())
    }

    /// One channel or thread.
    pub fn channel(&self, channel_id: u64) -> Option<Value> {
        self.shared.read(|inner| inner.channels.get(&channel_id).cloned())
    }

    /// A channel's current (not deleted) messages, oldest first, as REST returns them.
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        self.shared.read(|inner| inner.messages_in(channel_id))
    }

    /// The threads (archived ones included) whose parent is `parent_id`, oldest first.
    pub fn threads_of(&self, parent_id: u64) -> Vec<Value> {
        self.shared.read(|inner| {
            inner
                .channels
                .values()
                .filter(|c| {
                    wire::kind::is_thread(c["type"].as_u64().unwrap_or(0))
                        && parse_id(c.get("parent_id")) == Some(parent_id)
                })
                .cloned()
                .collect()
        })
    }

    /// One current message.
    pub fn message(&self, channel_id: u64, message_id: u64) -> Option<Value> {
        self.shared.read(|inner| inner.message(channel_id, message_id).ok().cloned())
    }

    /// The guild's application commands as last registered.
    pub fn commands(&self) -> Vec<Value> {
        self.shared.read(|inner| inner.guild_commands.clone())
    }

    /// The global application commands as last registered.
    pub fn global_commands(&self) -> Vec<Value> {
        self.shared.read(|inner| inner.global_commands.clone())
    }

    /// Every accepted body the bot sent for an interaction, in order: the callback
    /// (`{"type":4,"data":{…}}`), then follow-ups and edits of its messages.
    pub fn interaction_responses(&self, interaction_id: u64) -> Vec<Value> {
        self.shared.read(|inner| inner.interactions.get(&interaction_id).map(|s| s.bodies.clone()).unwrap_or_default())
    }

    /// The messages an interaction produced (original response first), ephemeral ones included.
    pub fn interaction_messages(&self, interaction_id: u64) -> Vec<Value> {
        self.shared.read(|inner| inner.interaction_messages(interaction_id))
    }

    /// Every gateway dispatch so far (event name, payload before intent filtering), once each
    /// however many sessions got it. READY, GUILD_CREATE and RESUMED are per session and not
    /// listed.
    pub fn dispatched_events(&self) -> Vec<(String, Value)> {
        self.shared.read(|inner| inner.dispatched.clone())
    }

    /// How many IDENTIFYs succeeded.
    pub fn identify_count(&self) -> usize {
        self.shared.read(|inner| inner.identifies)
    }

    /// How many RESUMEs succeeded.
    pub fn resume_count(&self) -> usize {
        self.shared.read(|inner| inner.resumes)
    }

    /// Gateway connections that are identified (or resumed) right now.
    pub fn connected_sessions(&self) -> usize {
        self.shared.read(|inner| inner.conns.values().filter(|c| c.session.is_some()).count())
    }

    // ---- injection ---------------------------------------------------------------------------

    /// A user writes in a channel or thread: stores the message and dispatches MESSAGE_CREATE
    /// (with `guild_id` and `member`). The user becomes a member if it was not. Writing in an
    /// archived thread reopens it (THREAD_UPDATE); in a locked one only members with Manage
    /// Threads may, others get Discord's error body back (`50083`) and nothing is posted.
    /// Returns the message.
    pub fn inject_message(&self, channel_id: u64, author: &FakeUser, content: &str) -> Value {
        self.shared.with(|inner| inner.inject_message(channel_id, author, content))
    }

    /// Like [`Self::inject_message`], as a reply to `reply_to` (type 19, `message_reference`).
    pub fn inject_reply(&self, channel_id: u64, author: &FakeUser, content: &str, reply_to: u64) -> Value {
        self.shared.with(|inner| {
            let referenced = inner.message(channel_id, reply_to).ok().cloned();
            let draft = MessageDraft {
                content: content.to_owned(),
                kind: if referenced.is_some() { 19 } else { 0 },
                reference: referenced.as_ref().map(|r| {
                    json!({"type": 0, "message_id": r["id"], "channel_id": r["channel_id"], "guild_id": inner.guild_id().to_string()})
                }),
                referenced,
                ..MessageDraft::default()
            };
            inner.store_message(channel_id, author, draft)
        })
    }

    /// A user edits their message: dispatches MESSAGE_UPDATE with the full message. `None` if
    /// there is no such message.
    pub fn inject_message_update(&self, channel_id: u64, message_id: u64, new_content: &str) -> Option<Value> {
        self.shared.with(|inner| inner.apply_edit(channel_id, message_id, &json!({"content": new_content})))
    }

    /// Someone deletes a message: dispatches MESSAGE_DELETE `{id, channel_id, guild_id}`.
    /// `false` if there was no such message.
    pub fn inject_message_delete(&self, channel_id: u64, message_id: u64) -> bool {
        self.shared.with(|inner| inner.delete_message(channel_id, message_id).is_ok())
    }

    /// Dispatch a full INTERACTION_CREATE of `kind` ([`interaction_type`]) with this `data`,
    /// from `user` in `channel_id`; `message_id` is the message a component or modal belongs
    /// to. For commands, missing `data.id`/`type`/`guild_id` are filled from the registered
    /// command, and `resolved` from `target_id`. Returns `(interaction id, token)`; the 3 s
    /// callback deadline starts now.
    pub fn inject_interaction(
        &self,
        kind: u64,
        data: Value,
        user: &FakeUser,
        channel_id: u64,
        message_id: Option<u64>,
    ) -> (u64, String) {
        self.shared.with(|inner| inner.inject_interaction(kind, data, user, channel_id, message_id))
    }

    /// A slash command `/name` with `options` (`[{"name","type","value"}]`, or `Value::Null`).
    pub fn inject_slash_command(&self, user: &FakeUser, channel_id: u64, name: &str, options: Value) -> (u64, String) {
        let mut data = json!({"name": name, "type": 1});
        if !options.is_null() {
            data["options"] = options;
        }
        self.inject_interaction(interaction_type::APPLICATION_COMMAND, data, user, channel_id, None)
    }

    /// A message context-menu command `name` on `target_message_id` (in `channel_id`).
    pub fn inject_message_command(
        &self,
        user: &FakeUser,
        channel_id: u64,
        name: &str,
        target_message_id: u64,
    ) -> (u64, String) {
        let data = json!({"name": name, "type": 3, "target_id": target_message_id.to_string()});
        self.inject_interaction(interaction_type::APPLICATION_COMMAND, data, user, channel_id, None)
    }

    /// A click on a button (`values: None`, component type 2) or a choice in a string select
    /// (component type 3) of message `message_id`.
    pub fn inject_component(
        &self,
        user: &FakeUser,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> (u64, String) {
        let data = match values {
            None => json!({"custom_id": custom_id, "component_type": 2}),
            Some(values) => json!({"custom_id": custom_id, "component_type": 3, "values": values}),
        };
        self.inject_interaction(interaction_type::MESSAGE_COMPONENT, data, user, channel_id, Some(message_id))
    }

    /// Autocomplete for `/name`; one option in `options` should have `"focused": true`.
    pub fn inject_autocomplete(&self, user: &FakeUser, channel_id: u64, name: &str, options: Value) -> (u64, String) {
        let data = json!({"name": name, "type": 1, "options": options});
        self.inject_interaction(interaction_type::AUTOCOMPLETE, data, user, channel_id, None)
    }

    /// From now on, answer every attempt to start a thread with `refusal` (`None`: create
    /// threads again). The request is still routed and rate limited first, as on Discord.
    pub fn refuse_thread_creation(&self, refusal: Option<ThreadRefusal>) {
        self.shared.with(|inner| inner.thread_refusal = refusal.as_ref().map(ThreadRefusal::error));
    }

    // ---- gateway trouble ------------------------------------------------------------------------

    /// End every gateway connection abruptly (TCP closed, no close frame). Sessions stay
    /// resumable; events dispatched meanwhile are replayed on RESUME.
    pub fn drop_gateway_connections(&self) {
        self.shared.with(|inner| inner.tell_all_connections(|| Outbound::Drop));
    }

    /// Close every gateway connection with `code` (e.g. 4000 "unknown error": resumable).
    pub fn close_gateway_connections(&self, code: u16) {
        self.shared
            .with(|inner| inner.tell_all_connections(|| Outbound::Close(code, "fake-discord closed".to_owned())));
    }

    /// Send op 7 RECONNECT on every connection (the client should reconnect and RESUME).
    pub fn request_reconnect(&self) {
        let frame = json!({"op": 7, "d": null, "s": null, "t": null}).to_string();
        self.shared.with(|inner| inner.tell_all_connections(|| Outbound::Text(frame.clone())));
    }

    /// Invalidate every session: the next RESUME gets op 9 INVALID_SESSION `d: false` and the
    /// client has to IDENTIFY again (serenity waits about 5 s first).
    pub fn invalidate_sessions(&self) {
        self.shared.with(Inner::invalidate_sessions);
    }

    // ---- waiting -----------------------------------------------------------------------------

    /// Wait until `check` returns `Some`, re-checking at every state change (and at least every
    /// 50 ms); `None` after `timeout`.
    pub async fn wait_for<T>(&self, mut check: impl FnMut(&FakeDiscord) -> Option<T>, timeout: Duration) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed();
            if let Some(found) = check(self) {
                return Some(found);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), changed).await;
        }
    }

    /// Wait until `predicate` holds; `false` after `timeout`.
    pub async fn wait_until(&self, mut predicate: impl FnMut(&FakeDiscord) -> bool, timeout: Duration) -> bool {
        self.wait_for(|d| predicate(d).then_some(()), timeout).await.is_some()
    }
}
