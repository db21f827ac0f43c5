//! Settings of one fake Discord, and the users it knows.

use std::time::Duration;

/// Intent bits Discord calls privileged (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT).
pub const PRIVILEGED_INTENTS: u64 = (1 << 1) | (1 << 8) | (1 << 15);

/// How one [`crate::FakeDiscord`] behaves. `FakeConfig::default()` mirrors real Discord's numbers.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// The bot token the fake accepts, without the `Bot ` prefix.
    pub token: String,
    /// The one guild's id.
    pub guild_id: u64,
    /// The one guild's name.
    pub guild_name: String,
    /// The application id (also the id in `/oauth2/applications/@me` and READY).
    pub application_id: u64,
    /// The bot user's id (for applications made since 2019 Discord uses the application id).
    pub bot_user_id: u64,
    /// The bot user's name.
    pub bot_username: String,
    /// The guild and application owner's user id (a member without special roles).
    pub owner_id: u64,
    /// Sent in HELLO (Discord: 41 250 ms). Tests may use a small one to exercise heartbeats.
    pub heartbeat_interval: Duration,
    /// Create-message requests allowed per channel per window (Discord: 5).
    pub message_rate_limit: u32,
    /// The create-message window (Discord: 5 s). Fixed, starting at the first request.
    pub message_rate_window: Duration,
    /// Threads created per parent channel per window (`POST /channels/{id}/threads` and
    /// `POST /channels/{id}/messages/{id}/threads`, one bucket of their own). Discord publishes
    /// no number and answers a burst with a 429 of scope `shared` whose `retry_after` can be
    /// minutes; the default is a guess that real bots rarely reach.
    pub thread_rate_limit: u32,
    /// The window of [`Self::thread_rate_limit`].
    pub thread_rate_window: Duration,
    /// Requests allowed per window on every other route bucket (method + route + major id).
    pub route_rate_limit: u32,
    /// The window of [`Self::route_rate_limit`].
    pub route_rate_window: Duration,
    /// Requests per [`Self::global_rate_window`] across all routes (Discord: 50 per second).
    /// Interaction routes are exempt.
    pub global_rate_limit: u32,
    /// The global window (Discord: 1 s).
    pub global_rate_window: Duration,
    /// How long after injection an interaction may still get its initial callback (Discord: 3 s).
    pub interaction_timeout: Duration,
    /// How long an interaction token stays valid for follow-ups (Discord: 15 min).
    pub interaction_token_lifetime: Duration,
    /// How long a nonce sent with `enforce_nonce` deduplicates (Discord: "a few minutes").
    pub nonce_window: Duration,
    /// Privileged intents "enabled in the developer portal"; IDENTIFY asking for others is
    /// closed with 4014. Default: all of [`PRIVILEGED_INTENTS`].
    pub allowed_privileged_intents: u64,
    /// Dispatched events kept per session for RESUME; an older `seq` gets INVALID_SESSION.
    pub replay_buffer: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            token: "fake-bot-token".to_owned(),
            guild_id: 1_000_000_000_000_000_001,
            guild_name: "Chatroulette Test Guild".to_owned(),
            application_id: 1_000_000_000_000_000_002,
            bot_user_id: 1_000_000_000_000_000_002,
            bot_username: "chatroulette-bot".to_owned(),
            owner_id: 1_000_000_000_000_000_003,
            heartbeat_interval: Duration::from_millis(41_250),
            message_rate_limit: 5,
            message_rate_window: Duration::from_secs(5),
            thread_rate_limit: 10,
            thread_rate_window: Duration::from_secs(60),
            route_rate_limit: 50,
            route_rate_window: Duration::from_secs(1),
            global_rate_limit: 50,
            global_rate_window: Duration::from_secs(1),
            interaction_timeout: Duration::from_secs(3),
            interaction_token_lifetime: Duration::from_secs(15 * 60),
            nonce_window: Duration::from_secs(5 * 60),
            allowed_privileged_intents: PRIVILEGED_INTENTS,
            replay_buffer: 1000,
        }
    }
}

/// A Discord user who is a member of the fake guild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    /// Snowflake id.
    pub id: u64,
    /// Unique username (lowercase by Discord's rules, not enforced here).
    pub username: String,
    /// Display name, if set.
    pub global_name: Option<String>,
    /// Whether this is a bot account.
    pub bot: bool,
    /// The member's role ids in the guild (the implicit @everyone role is not listed, as in
    /// Discord's member objects).
    pub roles: Vec<u64>,
}

impl FakeUser {
    /// A human user with no roles. Use [`crate::FakeDiscord::add_user`] to make it a member.
    pub fn new(id: u64, username: impl Into<String>) -> Self {
        Self { id, username: username.into(), global_name: None, bot: false, roles: Vec::new() }
    }

    /// The mention syntax `<@id>`.
    pub fn mention(&self) -> String {
        format!("<@{}>", self.id)
    }
}
