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
//!   exclusivity, empty messages (50006), command name rules, message components (5 action
//!   rows of up to 5 buttons or one select menu, custom ids, select options) — answered with Discord's
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
//!   edits, deletions, reactions (MESSAGE_REACTION_ADD/REMOVE), slash commands, context menus,
//!   components, autocomplete; of gateway
//!   trouble: dropped connections, reconnect requests, invalidated sessions; and of refusals:
//!   [`FakeDiscord::refuse_thread_creation`] makes Discord refuse to start threads; and of
//!   outages: [`FakeDiscord::start_outage`] answers every REST request with a 5xx (optionally
//!   after carrying it out) or a 429 storm with Discord's headers and body, for a given time.
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
//! * `server`: the running fake: the server's start-up and routing, the handle, its identity.
//! * `seed`: members, roles, overwrites and channels made as the guild's admins would.
//! * `inspect`: what tests read back (requests, channels, messages, dispatches) and waiting.
//! * `inject`: what humans do in the client, refused threads, and gateway trouble.
//! * `outage`: REST failing on command: 5xx for a while, or a storm of 429s.
//! * `config`: the settings of one fake Discord, and the users it knows.
//! * `wire`: Discord's vocabulary: permission and intent bits, channel kinds, ids, the error answer.
//! * `records`: what is stored besides JSON: roles, members, messages, interactions, seen requests.
//! * `state`: the world behind one mutex (guild, channels, messages, sessions).
//! * `shapes`: the JSON Discord gives users, members, roles, the guild and the application.
//! * `dispatch`: gateway dispatches to the live sessions, filtered by their intents.
//! * `limits`: Discord's validation rules (`Invalid Form Body`) and rate limits.
//! * `components`: the rules of message components (action rows, buttons, select menus).
//! * `permissions`: permissions from roles, then a channel's overwrites.
//! * `rest`: the REST server: authentication, rate limits, recording, routing by resource.
//! * `routes`: the REST routes, one file per resource (guild, channel, command, interaction).
//! * `channels`: guild channels and threads.
//! * `messages`: the bot's posts and injected human messages, with their mentions.
//! * `message_edits`: edits and deletions, the bot's and injected ones.
//! * `commands`: application commands, guild and global.
//! * `interactions`: injected interactions, their callbacks and webhook follow-ups.
//! * `gateway`: the Gateway WebSocket: HELLO, IDENTIFY, RESUME.

mod channels;
mod commands;
mod components;
mod config;
mod dispatch;
mod gateway;
mod inject;
mod inspect;
mod interactions;
mod limits;
mod message_edits;
mod messages;
mod outage;
mod permissions;
mod reactions;
mod records;
mod rest;
mod routes;
mod seed;
mod server;
mod shapes;
mod state;
mod wire;

use serde_json::Value;

pub use crate::config::{FakeConfig, FakeUser, PRIVILEGED_INTENTS};
pub use crate::inject::ThreadRefusal;
pub use crate::interactions::interaction_type;
pub use crate::limits::{
    CONTENT_MAX, EMBED_AUTHOR_MAX, EMBED_DESCRIPTION_MAX, EMBED_FIELD_NAME_MAX, EMBED_FIELD_VALUE_MAX,
    EMBED_FIELDS_MAX, EMBED_FOOTER_MAX, EMBED_TITLE_MAX, EMBED_TOTAL_MAX, EMBEDS_MAX, NONCE_MAX,
};
pub use crate::outage::Outage;
pub use crate::records::RecordedRequest;
pub use crate::server::FakeDiscord;
pub use crate::wire::perms;

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

/// The id in a Discord JSON object (`"id": "123"`), or 0.
pub fn id_of(value: &Value) -> u64 {
    parse_id(value.get("id")).unwrap_or(0)
}
