//! Every setting `chatroulette` reads, one declaration each: the environment variable, the
//! command-line flag and the help line, the default, and the parser that checks its value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gateway::config::AdminListen;
use secrecy::SecretString;

use super::values::{self, Networks, Origins};

/// The settings as declared, each one checked on its own; [`super::Config::from_settings`]
/// checks them together and builds the roles' configurations. A field `foo_bar` is the
/// variable `FOO_BAR` and the flag `--foo-bar` (a flag wins over its variable).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Settings (from the environment, a .env file or these flags)")]
pub struct Settings {
    /// Where the gateway listens.
    #[arg(long, env = "LISTEN_ADDR", default_value = super::DEFAULT_LISTEN_ADDR, value_parser = values::address)]
    pub listen_addr: SocketAddr,
    /// Where /metrics and the detailed readiness report are served, or `off` [default:
    /// 127.0.0.1:9090, skipped with a warning when taken; an address set here must bind].
    #[arg(long, env = "ADMIN_LISTEN_ADDR", value_parser = values::admin_address)]
    pub admin_listen_addr: Option<AdminListen>,
    /// Open sockets per gateway, whatever their addresses [default: 90 % of the open-file limit].
    #[arg(long, env = "MAX_CONNECTIONS", value_parser = values::positive::<usize>)]
    pub max_connections: Option<usize>,
    /// SQLite (sqlite:) or PostgreSQL (postgres:) database.
    #[arg(long, env = "DATABASE_URL", default_value = bot::db::DEFAULT_DATABASE_URL, value_parser = values::database_url)]
    pub database_url: SecretString,

    /// Redis of a split deployment (redis://, rediss:// or unix://); unset = the in-process bus.
    #[arg(long, env = "REDIS_URL", value_parser = values::redis_url)]
    pub redis_url: Option<SecretString>,
    /// Key prefix, so several deployments can share one Redis.
    #[arg(long, env = "REDIS_PREFIX", default_value = "chat", value_parser = values::redis_prefix)]
    pub redis_prefix: String,
    /// Seconds a dead gateway's seats outlive it (1 to 3600).
    #[arg(long, env = "PRESENCE_TTL_SECS", default_value = "30", value_parser = values::seconds(1.0, 3600.0))]
    pub presence_ttl_secs: Duration,
    /// Seconds before a standby bot takes over from a dead leader (1 to 3600).
    #[arg(long, env = "LEADER_TTL_SECS", default_value = "10", value_parser = values::seconds(1.0, 3600.0))]
    pub leader_ttl_secs: Duration,

    /// Discord bot token; unset = headless (messages are logged, not mirrored).
    #[arg(long, env = "DISCORD_TOKEN", value_parser = values::secret)]
    pub discord_token: Option<SecretString>,
    /// The Discord server (guild) to mirror into; required with DISCORD_TOKEN.
    #[arg(long, env = "DISCORD_GUILD_ID", value_parser = values::discord_id("a Discord server id (a number)"))]
    pub discord_guild_id: Option<u64>,
    /// Category the room channels are created under.
    #[arg(long, env = "DISCORD_CATEGORY_ID", value_parser = values::discord_id("a Discord category id (a number)"))]
    pub discord_category_id: Option<u64>,
    /// Parent channel of the visitor rooms' threads [default: visitor-rooms, found or created].
    #[arg(long, env = "DISCORD_VISITOR_CHANNEL_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_visitor_channel_id: Option<u64>,
    /// Parent channel of the roulette pairs' threads [default: roulette, found or created].
    #[arg(long, env = "DISCORD_ROULETTE_CHANNEL_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_roulette_channel_id: Option<u64>,
    /// Channel of the appeals' threads [default: appeals, found or created private].
    #[arg(long, env = "DISCORD_APPEALS_CHANNEL_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_appeals_channel_id: Option<u64>,
    /// Discord's API address; tests point it at a fake Discord.
    #[arg(long, env = "DISCORD_API_BASE", value_parser = values::http_base)]
    pub discord_api_base: Option<String>,
    /// Channel every moderator action is posted to.
    #[arg(long, env = "DISCORD_MODLOG_CHANNEL_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_modlog_channel_id: Option<u64>,
    /// How long reports against one tag from 3 distinct reporters within 10 minutes shadow-mute
    /// that tag, unless a moderator confirms (60 to 86400 seconds).
    #[arg(long, env = "AUTO_MUTE_SECS", default_value = "1800", value_parser = values::seconds(60.0, 86400.0))]
    pub auto_mute_secs: Duration,
    /// Channel visitors' reports are posted to [default: reports, found or created private under
    /// the category].
    #[arg(long, env = "DISCORD_REPORTS_CHANNEL_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_reports_channel_id: Option<u64>,
    /// Role whose members see the room channels and may moderate.
    #[arg(long, env = "DISCORD_MODERATOR_ROLE_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_moderator_role_id: Option<u64>,
    /// Role whose members may also run the destructive commands.
    #[arg(long, env = "DISCORD_ADMIN_ROLE_ID", value_parser = values::discord_id("a Discord id (a number)"))]
    pub discord_admin_role_id: Option<u64>,
    /// Seconds a room may fall behind Discord before it skips ahead with one notice (1 to 86400).
    #[arg(long, env = "DISCORD_MAX_LAG_SECS", default_value = "120", value_parser = values::seconds(1.0, 86400.0))]
    pub discord_max_lag_secs: Duration,
    /// Most word and regex filters kept (1 to 2000).
    #[arg(long, env = "MAX_FILTERS", default_value_t = protocol::filter::MAX_FILTERS_DEFAULT, value_parser = values::max_filters)]
    pub max_filters: usize,
    /// What warnings lead to: rungs COUNT:ACTION[:DURATION] (ACTION mute or ban; no duration =
    /// until lifted), comma-separated, or `off`.
    #[arg(long, env = "WARN_LADDER", default_value = bot::warnings::DEFAULT_LADDER, value_parser = bot::warnings::Ladder::parse)]
    pub warn_ladder: bot::warnings::Ladder,

    /// Key of the IP tags staff see instead of addresses (at least 16 characters) [default: one
    /// generated once and kept in the database].
    #[arg(long, env = "IP_TAG_SECRET", value_parser = values::ip_tag_secret)]
    pub ip_tag_secret: Option<SecretString>,

    /// Server WebSocket ping period in seconds (0.1 to 3600); two silent periods drop a socket.
    #[arg(long, env = "WS_PING_SECS", default_value = "20", value_parser = values::seconds(0.1, 3600.0))]
    pub ws_ping_secs: Duration,
    /// Per-connection message burst.
    #[arg(long, env = "SAY_BURST", default_value = "8", value_parser = values::say_burst)]
    pub say_burst: u32,
    /// Per-connection messages per second, refilling the burst.
    #[arg(long, env = "SAY_PER_SECOND", default_value = "1", value_parser = values::say_per_second)]
    pub say_per_second: f64,
    /// Open sockets per client address (an IPv6 address counts by its /64).
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value = "20", value_parser = values::positive::<usize>)]
    pub max_connections_per_ip: usize,
    /// Message burst shared by all sockets of one address.
    #[arg(long, env = "SAY_IP_BURST", default_value = "20", value_parser = values::positive::<u32>)]
    pub say_ip_burst: u32,
    /// Messages per second of one address, refilling its burst.
    #[arg(long, env = "SAY_IP_PER_SECOND", default_value = "4", value_parser = values::positive::<f64>)]
    pub say_ip_per_second: f64,
    /// The emoji visitors may react with, comma-separated (1 to 20) [default: 👍,❤️,😂,😮,😢,👎].
    #[arg(long, env = "REACTIONS", value_parser = values::reactions)]
    pub reactions: Option<values::Emojis>,
    /// Joins per address per minute (roulette, next and creating a room count too).
    #[arg(long, env = "JOINS_PER_MINUTE", default_value = "30", value_parser = values::positive::<u32>)]
    pub joins_per_minute: u32,
    /// Requests per address per minute to the HTTP routes that work per request
    /// (`GET /api/rooms/{slug}`, `GET /api/status`); a tenth of it may come at once.
    #[arg(long, env = "API_REQUESTS_PER_MINUTE", default_value = "300", value_parser = values::positive::<u32>)]
    pub api_requests_per_minute: u32,
    /// Appeals (`POST /api/appeals`) per address per hour; a quarter of them may come at once.
    #[arg(long, env = "APPEALS_PER_HOUR", default_value = "12", value_parser = values::positive::<u32>)]
    pub appeals_per_hour: u32,
    /// Seats one address may hold in one room.
    #[arg(long, env = "SEATS_PER_ADDRESS", default_value = "3", value_parser = values::positive::<u32>)]
    pub seats_per_address: u32,
    /// Shared addresses (CIDRs, comma-separated) whose per-address budgets are multiplied.
    #[arg(long, env = "SHARED_ADDRESSES", value_parser = values::networks)]
    pub shared_addresses: Option<Networks>,
    /// The multiplier of a shared address's budgets (1 to 1000).
    #[arg(long, env = "SHARED_ADDRESS_FACTOR", default_value = "10", value_parser = values::shared_address_factor)]
    pub shared_address_factor: u32,

    /// The proof-of-work gate: `auto` (on under a flood, and for an address that misbehaves),
    /// `on` or `off`. Staff's `/shield` and `chatroulette shield` override it.
    #[arg(long, env = "SHIELD_MODE", default_value = "auto", value_parser = values::shield_mode)]
    pub shield_mode: bus::ShieldMode,
    /// Upgrades per second (10-second average, summed across gateways) past which `auto` turns
    /// the gate on for everyone.
    #[arg(long, env = "SHIELD_JOIN_RATE", default_value = "300", value_parser = values::positive::<u32>)]
    pub shield_join_rate: u32,
    /// Refusals per minute (floods, malformed frames) past which one address alone must solve
    /// challenges for 10 minutes; 0 = never.
    #[arg(long, env = "SHIELD_ADDRESS_REFUSALS", default_value = "30", value_parser = values::count)]
    pub shield_address_refusals: u32,

    /// Largest capacity a visitor may give a room (at least 2).
    #[arg(long, env = "VISITOR_ROOM_MAX_CAPACITY", default_value = "25", value_parser = values::visitor_room_capacity)]
    pub visitor_room_max_capacity: u32,
    /// Visitor rooms one address may have open at once.
    #[arg(long, env = "VISITOR_ROOMS_PER_IP", default_value = "3", value_parser = values::positive::<u32>)]
    pub visitor_rooms_per_ip: u32,
    /// Seconds an empty visitor room lives on (1 to 86400).
    #[arg(long, env = "VISITOR_ROOM_IDLE_SECS", default_value = "300", value_parser = values::seconds(1.0, 86400.0))]
    pub visitor_room_idle_secs: Duration,
    /// Seconds roulette waits for a shared interest before pairing with anyone (0.1 to 300).
    #[arg(long, env = "ROULETTE_INTEREST_WAIT_SECS", default_value = "5", value_parser = values::seconds(0.1, 300.0))]
    pub roulette_interest_wait_secs: Duration,
    /// Seconds a dropped socket's session (room, nickname, roulette stranger) may be resumed,
    /// on any gateway (0 to 3600; 0: never).
    #[arg(long, env = "RESUME_SECS", default_value = "30", value_parser = values::seconds(0.0, 3600.0))]
    pub resume_secs: Duration,
    /// Seconds after sending during which visitors may edit or delete their message (0 to
    /// 86400; 0: never).
    #[arg(long, env = "EDIT_WINDOW_SECS", default_value = "300", value_parser = values::seconds(0.0, 86400.0))]
    pub edit_window_secs: Duration,

    /// House rules accepted before the first message (`\n` for a line break).
    #[arg(long, env = "HOUSE_RULES", value_parser = values::house_rules)]
    pub house_rules: Option<String>,
    /// A file holding the house rules (instead of HOUSE_RULES).
    #[arg(long, env = "HOUSE_RULES_FILE")]
    pub house_rules_file: Option<PathBuf>,

    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", value_parser = values::networks)]
    pub trusted_proxies: Option<Networks>,
    /// Page origins (comma-separated) allowed to open the WebSocket [default: this host].
    #[arg(long, env = "ALLOWED_ORIGINS", value_parser = values::origins)]
    pub allowed_origins: Option<Origins>,

    /// Days (1 to 36500) before raw IPs are erased from the message log.
    #[arg(long, env = "RETENTION_DAYS", default_value = "30", value_parser = values::days)]
    pub retention_days: Duration,
    /// Days (1 to 36500) before message texts are erased from the message log.
    #[arg(long, env = "TEXT_RETENTION_DAYS", default_value = "365", value_parser = values::days)]
    pub text_retention_days: Duration,

    /// Queue entries waiting for the bot before messages are refused as `unavailable`.
    #[arg(long, env = "QUEUE_MAX", default_value = "100000", value_parser = values::positive::<u64>)]
    pub queue_max: u64,

    /// Seconds between the bot's re-reads of rooms and bans from the database (0.1 to 3600).
    #[arg(long, env = "ROOM_SYNC_SECS", default_value = "3", value_parser = values::seconds(0.1, 3600.0))]
    pub room_sync_secs: Duration,
    /// Seconds between a gateway's reloads of room snapshots from the bus (0.1 to 3600).
    #[arg(long, env = "ROOM_REFRESH_SECS", default_value = "30", value_parser = values::seconds(0.1, 3600.0))]
    pub room_refresh_secs: Duration,
}
