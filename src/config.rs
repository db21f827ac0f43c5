//! The process configuration: environment variables (and a `.env` file), validated once at
//! start, each error naming its variable. Secrets are `SecretString`s: never printed.
//!
//! Each setting is declared once, in [`Settings`]: its variable, its flag and help line, its
//! default and its value parser, so `chatroulette --help` lists them all. [`Config::from_settings`]
//! then checks what involves several of them and builds the roles' configurations.
//!
//! Clap can read variables only from the process environment, so [`parse`] looks each declared
//! variable up through a function and hands its value to clap as the variable's flag (see
//! `env`): the binary passes the process environment, tests a map ([`Config::from_lookup`]),
//! through the same code.
//!
//! - `settings`: the declarations.
//! - `values`: the value parsers, one per kind of value.
//! - `env`: how variables reach clap, and clap's refusals become [`ConfigError`]s.

mod env;
mod settings;
mod values;

use std::time::Duration;

use bot::BotConfig;
use gateway::GatewayConfig;
use protocol::frames::RateLimit;
use secrecy::{ExposeSecret, SecretString};

pub use env::{ParseError, parse};
pub use settings::Settings;

/// A configuration problem, phrased for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The variable at fault.
    pub var: String,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &str, problem: impl Into<String>) -> Self {
        Self { var: var.to_owned(), problem: problem.into() }
    }
}

/// Everything `chatroulette` reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: SQLite (default, under `./data/`) or PostgreSQL (may hold a password).
    pub database_url: SecretString,
    pub gateway: GatewayConfig,
    pub bot: BotConfig,
    /// `REDIS_URL` and friends; `None` = the in-process bus (one process only).
    pub redis: Option<RedisSettings>,
    /// `QUEUE_MAX`: entries waiting for the bot before messages are refused.
    pub queue_max: u64,
}

/// Split deployment over Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL` (may hold a password).
    pub url: SecretString,
    /// `REDIS_PREFIX`, default `chat`.
    pub prefix: String,
    /// `PRESENCE_TTL_SECS`: a crashed gateway's seats are free again after this long.
    pub presence_ttl: Duration,
    /// `LEADER_TTL_SECS`: a standby bot takes over this long after the leader dies.
    pub leader_ttl: Duration,
}

/// The command line of [`Config::from_lookup`]: the settings alone.
#[derive(clap::Parser)]
#[command(name = "chatroulette")]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

/// Most characters of the house rules.
const MAX_HOUSE_RULES_CHARS: usize = 4000;

impl Config {
    /// Read every variable through `lookup` (tests pass a map; see the module doc).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match parse::<SettingsOnly>(["chatroulette"], lookup) {
            Ok(only) => Self::from_settings(only.settings),
            Err(ParseError::Config(e)) => Err(e),
            // No command line is given, so clap has no other complaint to make.
            Err(ParseError::Usage(e)) => Err(ConfigError::new("command line", e.to_string())),
        }
    }

    /// Check what involves several settings, and build the roles' configurations.
    pub fn from_settings(s: Settings) -> Result<Self, ConfigError> {
        let house_rules = house_rules(s.house_rules, s.house_rules_file)?;
        let defaults = GatewayConfig::default();
        let gateway = GatewayConfig {
            listen_addr: s.listen_addr,
            admin: s.admin_listen_addr.unwrap_or(defaults.admin),
            ping_interval: s.ws_ping_secs,
            say_rate: RateLimit { burst: s.say_burst, per_second: s.say_per_second },
            room_refresh: s.room_refresh_secs,
            trusted_proxies: s.trusted_proxies.unwrap_or_default(),
            allowed_origins: s.allowed_origins,
            max_connections: s.max_connections.unwrap_or(defaults.max_connections),
            max_connections_per_ip: s.max_connections_per_ip,
            seats_per_address: s.seats_per_address,
            shared_addresses: s.shared_addresses.unwrap_or_default(),
            shared_address_factor: s.shared_address_factor,
            ip_say_rate: RateLimit { burst: s.say_ip_burst, per_second: s.say_ip_per_second },
            joins_per_minute: s.joins_per_minute,
            api_requests_per_minute: s.api_requests_per_minute,
            appeals_per_hour: s.appeals_per_hour,
            visitor_room_max_capacity: s.visitor_room_max_capacity,
            visitor_rooms_per_ip: s.visitor_rooms_per_ip,
            visitor_room_idle: s.visitor_room_idle_secs,
            roulette_interest_wait: s.roulette_interest_wait_secs,
            resume: s.resume_secs,
            edit_window: s.edit_window_secs,
            presence_ttl: s.presence_ttl_secs,
            owner_secret: match &s.ip_tag_secret {
                Some(secret) => secret.clone(),
                None => defaults.owner_secret,
            },
            house_rules,
            // Without IP_TAG_SECRET the bot's generated secret is used: read from the database
            // by the one-process start, from the bus by `chatroulette gateway` (see lib.rs).
            deployment_key: match &s.ip_tag_secret {
                Some(secret) => {
                    SecretString::new(bot::iptag::IpTagger::new(secret.expose_secret().as_bytes()).deployment_key())
                }
                None => defaults.deployment_key.clone(),
            },
            shield: gateway::config::ShieldConfig {
                mode: s.shield_mode,
                join_rate: s.shield_join_rate,
                address_refusals: s.shield_address_refusals,
                ..defaults.shield.clone()
            },
            reactions: s.reactions.unwrap_or_else(|| defaults.reactions.clone()),
            ..defaults
        };
        let discord = match s.discord_token {
            None => None,
            Some(token) => Some(bot::discord::DiscordConfig {
                token,
                guild: s.discord_guild_id.ok_or_else(|| {
                    ConfigError::new(
                        "DISCORD_GUILD_ID",
                        "is required with DISCORD_TOKEN: the id of the Discord server (guild) to mirror into",
                    )
                })?,
                api_base: s.discord_api_base,
                category: s.discord_category_id,
                modlog: s.discord_modlog_channel_id,
                moderator_role: s.discord_moderator_role_id,
                admin_role: s.discord_admin_role_id,
                visitor_parent: s.discord_visitor_channel_id,
                roulette_parent: s.discord_roulette_channel_id,
                appeals_channel: s.discord_appeals_channel_id,
                mirror: bot::discord::MirrorConfig { max_lag: s.discord_max_lag_secs },
                max_filters: s.max_filters,
                reports: s.discord_reports_channel_id,
                budget: bot::discord::budget::Limits::default(),
                warn_ladder: s.warn_ladder,
            }),
        };
        let bot = BotConfig {
            room_sync_interval: s.room_sync_secs,
            ip_tag_secret: s.ip_tag_secret,
            discord,
            retention: bot::retention::Retention { ips: s.retention_days, texts: s.text_retention_days },
            auto_mute: s.auto_mute_secs,
            ..BotConfig::default()
        };
        let redis = s.redis_url.map(|url| RedisSettings {
            url,
            prefix: s.redis_prefix,
            presence_ttl: s.presence_ttl_secs,
            leader_ttl: s.leader_ttl_secs,
        });
        Ok(Self { database_url: s.database_url, gateway, bot, redis, queue_max: s.queue_max })
    }
}

/// The house rules, from `HOUSE_RULES` or the file `HOUSE_RULES_FILE` names (not both).
fn house_rules(text: Option<String>, file: Option<std::path::PathBuf>) -> Result<Option<String>, ConfigError> {
    let rules = match (text, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new("HOUSE_RULES_FILE", "set either HOUSE_RULES or HOUSE_RULES_FILE, not both"));
        }
        (Some(text), None) => Some(text),
        (None, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::new("HOUSE_RULES_FILE", format!("cannot read {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    if rules.as_ref().is_some_and(|r| r.chars().count() > MAX_HOUSE_RULES_CHARS) {
        return Err(ConfigError::new("HOUSE_RULES", format!("is longer than {MAX_HOUSE_RULES_CHARS} characters")));
    }
    Ok(rules)
}

/// `LISTEN_ADDR`'s default, kept here for the README's table.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";

#[cfg(test)]
mod tests;
