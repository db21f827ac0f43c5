//! The process configuration: environment variables (and a `.env` file), validated once at
//! start, each error naming its variable. Secrets are never printed.

use std::str::FromStr;
use std::time::Duration;

use bot::BotConfig;
use gateway::GatewayConfig;
use protocol::frames::RateLimit;

/// A configuration problem, phrased for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

/// Everything `chatroulette` reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: SQLite (default, under `./data/`) or PostgreSQL.
    pub database_url: String,
    pub gateway: GatewayConfig,
    pub bot: BotConfig,
    /// `REDIS_URL` and friends; `None` = the in-process bus (one process only).
    pub redis: Option<RedisSettings>,
}

/// Split deployment over Redis.
#[derive(Clone)]
pub struct RedisSettings {
    /// `REDIS_URL` (may hold a password: never printed).
    pub url: String,
    /// `REDIS_PREFIX`, default `chat`.
    pub prefix: String,
    /// `PRESENCE_TTL_SECS`: a crashed gateway's seats are free again after this long.
    pub presence_ttl: Duration,
    /// `LEADER_TTL_SECS`: a standby bot takes over this long after the leader dies.
    pub leader_ttl: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("presence_ttl", &self.presence_ttl)
            .field("leader_ttl", &self.leader_ttl)
            .finish()
    }
}

impl Config {
    /// Read from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut gateway = GatewayConfig::default();
        if let Some(addr) = get("LISTEN_ADDR") {
            gateway.listen_addr = parse("LISTEN_ADDR", &addr, "an address and port such as 127.0.0.1:8080")?;
        }
        if let Some(addr) = get("ADMIN_LISTEN_ADDR") {
            gateway.admin = if addr.eq_ignore_ascii_case("off") {
                gateway::config::AdminListen::Off
            } else {
                gateway::config::AdminListen::Explicit(parse(
                    "ADMIN_LISTEN_ADDR",
                    &addr,
                    "an address and port such as 127.0.0.1:9090, or off",
                )?)
            };
        }
        if let Some(secs) = get("WS_PING_SECS") {
            gateway.ping_interval = seconds("WS_PING_SECS", &secs, 0.1, 3600.0)?;
        }
        if let Some(secs) = get("ROOM_REFRESH_SECS") {
            gateway.room_refresh = seconds("ROOM_REFRESH_SECS", &secs, 0.1, 3600.0)?;
        }
        let burst = match get("SAY_BURST") {
            Some(v) => parse::<u32>("SAY_BURST", &v, "a whole number of messages ≥ 1")?,
            None => gateway.say_rate.burst,
        };
        let per_second = match get("SAY_PER_SECOND") {
            Some(v) => parse::<f64>("SAY_PER_SECOND", &v, "messages per second, e.g. 1 or 0.5")?,
            None => gateway.say_rate.per_second,
        };
        if burst == 0 {
            return Err(ConfigError { var: "SAY_BURST", problem: "must be at least 1".into() });
        }
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(ConfigError { var: "SAY_PER_SECOND", problem: "must be a positive number".into() });
        }
        gateway.say_rate = RateLimit { burst, per_second };
        gateway.ip_say_rate = RateLimit {
            burst: match get("SAY_IP_BURST") {
                Some(v) => positive::<u32>("SAY_IP_BURST", &v)?,
                None => gateway.ip_say_rate.burst,
            },
            per_second: match get("SAY_IP_PER_SECOND") {
                Some(v) => positive::<f64>("SAY_IP_PER_SECOND", &v)?,
                None => gateway.ip_say_rate.per_second,
            },
        };
        if let Some(v) = get("JOINS_PER_MINUTE") {
            gateway.joins_per_minute = positive("JOINS_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("MAX_CONNECTIONS") {
            gateway.max_connections = positive("MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = get("MAX_CONNECTIONS_PER_IP") {
            gateway.max_connections_per_ip = positive("MAX_CONNECTIONS_PER_IP", &v)?;
        }
        if let Some(v) = get("SEATS_PER_ADDRESS") {
            gateway.seats_per_address = positive("SEATS_PER_ADDRESS", &v)?;
        }
        if let Some(v) = get("SHARED_ADDRESSES") {
            gateway.shared_addresses = networks("SHARED_ADDRESSES", &v)?;
        }
        if let Some(v) = get("SHARED_ADDRESS_FACTOR") {
            gateway.shared_address_factor = positive("SHARED_ADDRESS_FACTOR", &v)?;
            if gateway.shared_address_factor > 1000 {
                return Err(ConfigError { var: "SHARED_ADDRESS_FACTOR", problem: "must be at most 1000".into() });
            }
        }
        if let Some(v) = get("TRUSTED_PROXIES") {
            gateway.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<ipnet::IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| ConfigError {
                            var: "TRUSTED_PROXIES",
                            problem: format!("{s:?} is not an address or CIDR network"),
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("ALLOWED_ORIGINS") {
            let origins: Vec<String> =
                v.split(',').map(|s| s.trim().trim_end_matches('/').to_owned()).filter(|s| !s.is_empty()).collect();
            if let Some(bad) = origins.iter().find(|o| !(o.starts_with("http://") || o.starts_with("https://"))) {
                return Err(ConfigError {
                    var: "ALLOWED_ORIGINS",
                    problem: format!("{bad:?} is not an origin like https://chat.example"),
                });
            }
            gateway.allowed_origins = Some(origins);
        }

        if let Some(v) = get("VISITOR_ROOM_MAX_CAPACITY") {
            gateway.visitor_room_max_capacity = positive("VISITOR_ROOM_MAX_CAPACITY", &v)?;
            if gateway.visitor_room_max_capacity < 2 {
                return Err(ConfigError { var: "VISITOR_ROOM_MAX_CAPACITY", problem: "must be at least 2".into() });
            }
        }
        if let Some(v) = get("VISITOR_ROOMS_PER_IP") {
            gateway.visitor_rooms_per_ip = positive("VISITOR_ROOMS_PER_IP", &v)?;
        }
        if let Some(v) = get("VISITOR_ROOM_IDLE_SECS") {
            gateway.visitor_room_idle = seconds("VISITOR_ROOM_IDLE_SECS", &v, 1.0, 86400.0)?;
        }
        if let Some(v) = get("ROULETTE_INTEREST_WAIT_SECS") {
            gateway.roulette_interest_wait = seconds("ROULETTE_INTEREST_WAIT_SECS", &v, 0.1, 300.0)?;
        }
        if let Some(secret) = get("IP_TAG_SECRET") {
            gateway.owner_secret = gateway::config::Secret(secret);
        }
        gateway.house_rules = match (get("HOUSE_RULES"), get("HOUSE_RULES_FILE")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    var: "HOUSE_RULES_FILE",
                    problem: "set either HOUSE_RULES or HOUSE_RULES_FILE, not both".into(),
                });
            }
            (Some(text), None) => Some(text.replace("\\n", "\n")),
            (None, Some(path)) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError { var: "HOUSE_RULES_FILE", problem: format!("cannot read {path}: {e}") })?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if gateway.house_rules.as_ref().is_some_and(|r| r.chars().count() > 4000) {
            return Err(ConfigError { var: "HOUSE_RULES", problem: "is longer than 4000 characters".into() });
        }

        let mut bot = BotConfig { ip_tag_secret: get("IP_TAG_SECRET"), ..BotConfig::default() };
        if let Some(v) = get("RETENTION_DAYS") {
            bot.retention.ips = days("RETENTION_DAYS", &v)?;
        }
        if let Some(v) = get("TEXT_RETENTION_DAYS") {
            bot.retention.texts = days("TEXT_RETENTION_DAYS", &v)?;
        }
        if bot.ip_tag_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(ConfigError { var: "IP_TAG_SECRET", problem: "must be at least 16 characters".into() });
        }
        let max_filters = match get("MAX_FILTERS") {
            Some(v) => {
                let n: usize = positive("MAX_FILTERS", &v)?;
                // Every message goes through every filter on every gateway.
                if n > MAX_FILTERS_CEILING {
                    return Err(ConfigError {
                        var: "MAX_FILTERS",
                        problem: format!("expected 1 to {MAX_FILTERS_CEILING} filters, got {v:?}"),
                    });
                }
                n
            }
            None => protocol::filter::MAX_FILTERS_DEFAULT,
        };
        bot.discord = match get("DISCORD_TOKEN") {
            None => None,
            Some(token) => {
                let guild = get("DISCORD_GUILD_ID").ok_or_else(|| ConfigError {
                    var: "DISCORD_GUILD_ID",
                    problem: "is required with DISCORD_TOKEN: the id of the Discord server (guild) to mirror into"
                        .into(),
                })?;
                let guild = parse::<u64>("DISCORD_GUILD_ID", &guild, "a Discord server id (a number)")?;
                let api_base = get("DISCORD_API_BASE");
                if let Some(base) = &api_base
                    && !(base.starts_with("http://") || base.starts_with("https://"))
                {
                    return Err(ConfigError {
                        var: "DISCORD_API_BASE",
                        problem: "must start with http:// or https://".into(),
                    });
                }
                let category = match get("DISCORD_CATEGORY_ID") {
                    Some(v) => Some(parse::<u64>("DISCORD_CATEGORY_ID", &v, "a Discord category id (a number)")?),
                    None => None,
                };
                let max_lag = match get("DISCORD_MAX_LAG_SECS") {
                    Some(v) => seconds("DISCORD_MAX_LAG_SECS", &v, 1.0, 86400.0)?,
                    None => Duration::from_secs(120),
                };
                let id = |var: &'static str| -> Result<Option<u64>, ConfigError> {
                    get(var).map(|v| parse::<u64>(var, &v, "a Discord id (a number)")).transpose()
                };
                Some(bot::discord::DiscordConfig {
                    token,
                    guild,
                    api_base,
                    category,
                    modlog: id("DISCORD_MODLOG_CHANNEL_ID")?,
                    moderator_role: id("DISCORD_MODERATOR_ROLE_ID")?,
                    admin_role: id("DISCORD_ADMIN_ROLE_ID")?,
                    visitor_parent: id("DISCORD_VISITOR_CHANNEL_ID")?,
                    roulette_parent: id("DISCORD_ROULETTE_CHANNEL_ID")?,
                    mirror: bot::discord::MirrorConfig { max_lag },
                    max_filters,
                })
            }
        };
        if let Some(secs) = get("ROOM_SYNC_SECS") {
            bot.room_sync_interval = seconds("ROOM_SYNC_SECS", &secs, 0.1, 3600.0)?;
        }
        let database_url = get("DATABASE_URL").unwrap_or_else(|| bot::db::DEFAULT_DATABASE_URL.to_owned());
        if !["sqlite:", "postgres:", "postgresql:"].iter().any(|s| database_url.starts_with(s)) {
            return Err(ConfigError {
                var: "DATABASE_URL",
                problem: "must start with sqlite:, postgres: or postgresql:".into(),
            });
        }
        let redis = match get("REDIS_URL") {
            None => None,
            Some(url) => {
                if !["redis://", "rediss://", "unix://", "redis+unix://"].iter().any(|s| url.starts_with(s)) {
                    return Err(ConfigError {
                        var: "REDIS_URL",
                        problem: "must start with redis://, rediss:// or unix://".into(),
                    });
                }
                let prefix = get("REDIS_PREFIX").unwrap_or_else(|| "chat".to_owned());
                if prefix.is_empty() || prefix.contains(['{', '}', ' ']) {
                    return Err(ConfigError {
                        var: "REDIS_PREFIX",
                        problem: "must be non-empty, without braces or spaces".into(),
                    });
                }
                let presence_ttl = match get("PRESENCE_TTL_SECS") {
                    Some(v) => seconds("PRESENCE_TTL_SECS", &v, 1.0, 3600.0)?,
                    None => Duration::from_secs(30),
                };
                let leader_ttl = match get("LEADER_TTL_SECS") {
                    Some(v) => seconds("LEADER_TTL_SECS", &v, 1.0, 3600.0)?,
                    None => Duration::from_secs(10),
                };
                Some(RedisSettings { url, prefix, presence_ttl, leader_ttl })
            }
        };
        Ok(Self { database_url, gateway, bot, redis })
    }
}

fn parse<T: FromStr>(var: &'static str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| ConfigError { var, problem: format!("expected {expected}, got {value:?}") })
}

fn positive<T: FromStr + PartialOrd + Default>(var: &'static str, value: &str) -> Result<T, ConfigError> {
    let n: T = parse(var, value, "a positive number")?;
    if n <= T::default() {
        return Err(ConfigError { var, problem: format!("must be positive, got {value:?}") });
    }
    Ok(n)
}

/// A retention period: whole days, at most a century (a longer one would overflow the
/// calendar arithmetic instead of meaning "keep").
fn days(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    const MAX_DAYS: u64 = 36_500;
    let days: u64 = positive(var, value)?;
    if days > MAX_DAYS {
        return Err(ConfigError { var, problem: format!("expected days between 1 and {MAX_DAYS}, got {value:?}") });
    }
    Ok(Duration::from_secs(days * 86_400))
}

/// A duration in seconds between `min` and `max`: a zero or near-zero period would panic the
/// timers it drives (or spin them), a huge one would overflow the clock arithmetic.
fn seconds(var: &'static str, value: &str, min: f64, max: f64) -> Result<Duration, ConfigError> {
    let secs: f64 = parse(var, value, "a number of seconds")?;
    if !(secs.is_finite() && (min..=max).contains(&secs)) {
        return Err(ConfigError { var, problem: format!("expected seconds between {min} and {max}, got {value:?}") });
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A comma-separated list of CIDR networks (a bare address is its own network).
fn networks(var: &'static str, value: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError { var, problem: format!("{s:?} is not an address or CIDR network") })
        })
        .collect()
}

/// Most `MAX_FILTERS` may be.
const MAX_FILTERS_CEILING: usize = 2000;

/// `LISTEN_ADDR`'s default, kept here for the README's table.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = config(&[]).unwrap();
        assert_eq!(c.gateway.listen_addr, DEFAULT_LISTEN_ADDR.parse::<SocketAddr>().unwrap());
        assert!(c.database_url.starts_with("sqlite://data/"));
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(config(&[("LISTEN_ADDR", "nope")]).unwrap_err().var, "LISTEN_ADDR");
        assert_eq!(config(&[("ADMIN_LISTEN_ADDR", "9090")]).unwrap_err().var, "ADMIN_LISTEN_ADDR");
        assert_eq!(config(&[("ADMIN_LISTEN_ADDR", "off")]).unwrap().gateway.admin, gateway::config::AdminListen::Off);
        assert_eq!(config(&[("WS_PING_SECS", "-1")]).unwrap_err().var, "WS_PING_SECS");
        // A period that rounds to zero would panic the timer it drives; each has a floor and a
        // ceiling, named in the error.
        for var in [
            "WS_PING_SECS",
            "ROOM_REFRESH_SECS",
            "VISITOR_ROOM_IDLE_SECS",
            "ROULETTE_INTEREST_WAIT_SECS",
            "ROOM_SYNC_SECS",
        ] {
            for bad in ["1e-10", "0", "1e12", "NaN", "inf"] {
                let e = config(&[(var, bad)]).unwrap_err();
                assert_eq!(e.var, var, "{bad}");
                assert!(e.problem.contains("between"), "{var}={bad}: {}", e.problem);
            }
        }
        let discord = [("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", "1"), ("DISCORD_MAX_LAG_SECS", "1e-10")];
        assert_eq!(config(&discord).unwrap_err().var, "DISCORD_MAX_LAG_SECS");
        for var in ["PRESENCE_TTL_SECS", "LEADER_TTL_SECS"] {
            assert_eq!(config(&[("REDIS_URL", "redis://x"), (var, "1e-10")]).unwrap_err().var, var);
        }
        assert_eq!(config(&[("SAY_BURST", "0")]).unwrap_err().var, "SAY_BURST");
        assert_eq!(config(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var, "DATABASE_URL");
        assert_eq!(config(&[("TRUSTED_PROXIES", "10.0.0.0/8, nonsense")]).unwrap_err().var, "TRUSTED_PROXIES");
        assert_eq!(config(&[("ALLOWED_ORIGINS", "chat.example")]).unwrap_err().var, "ALLOWED_ORIGINS");
        assert_eq!(config(&[("MAX_CONNECTIONS_PER_IP", "0")]).unwrap_err().var, "MAX_CONNECTIONS_PER_IP");
        assert_eq!(config(&[("MAX_CONNECTIONS", "0")]).unwrap_err().var, "MAX_CONNECTIONS");

        assert_eq!(config(&[("MAX_FILTERS", "0")]).unwrap_err().var, "MAX_FILTERS");
        assert_eq!(config(&[("MAX_FILTERS", "2001")]).unwrap_err().var, "MAX_FILTERS");
        assert_eq!(config(&[("MAX_FILTERS", "many")]).unwrap_err().var, "MAX_FILTERS");
        let discord = [("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", "1")];
        assert_eq!(config(&discord).unwrap().bot.discord.unwrap().max_filters, 200);
        let c = config(&[discord[0], discord[1], ("MAX_FILTERS", "3")]).unwrap();
        assert_eq!(c.bot.discord.unwrap().max_filters, 3);
        // A billion days is past chrono's range of dates (about ±262 000 years): refused here.
        let e = config(&[("TEXT_RETENTION_DAYS", "1000000000")]).unwrap_err();
        assert_eq!((e.var, e.problem.contains("between 1 and 36500")), ("TEXT_RETENTION_DAYS", true), "{}", e.problem);
        assert_eq!(config(&[("RETENTION_DAYS", "0")]).unwrap_err().var, "RETENTION_DAYS");
        let c = config(&[("RETENTION_DAYS", "36500")]).unwrap();
        assert_eq!(c.bot.retention.ips, Duration::from_secs(36_500 * 86_400));
        let c = config(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")]).unwrap();
        assert_eq!(c.gateway.trusted_proxies.len(), 2);
    }

    #[test]
    fn per_address_budgets_and_shared_addresses() {
        let c = config(&[]).unwrap();
        assert_eq!((c.gateway.seats_per_address, c.gateway.shared_address_factor), (3, 10));
        assert!(c.gateway.shared_addresses.is_empty());
        let c = config(&[
            ("SEATS_PER_ADDRESS", "2"),
            ("SHARED_ADDRESSES", "198.51.100.0/24, 2001:db8:aa::/48, 192.0.2.7"),
            ("SHARED_ADDRESS_FACTOR", "25"),
        ])
        .unwrap();
        assert_eq!((c.gateway.seats_per_address, c.gateway.shared_address_factor), (2, 25));
        assert_eq!(c.gateway.shared_addresses.len(), 3);
        assert_eq!(config(&[("SEATS_PER_ADDRESS", "0")]).unwrap_err().var, "SEATS_PER_ADDRESS");
        assert_eq!(config(&[("SHARED_ADDRESSES", "10.0.0.0/33")]).unwrap_err().var, "SHARED_ADDRESSES");
        assert_eq!(config(&[("SHARED_ADDRESS_FACTOR", "0")]).unwrap_err().var, "SHARED_ADDRESS_FACTOR");
        assert_eq!(config(&[("SHARED_ADDRESS_FACTOR", "1001")]).unwrap_err().var, "SHARED_ADDRESS_FACTOR");
    }

    #[test]
    fn redis_settings_are_validated_and_the_url_is_never_printed() {
        assert!(config(&[]).unwrap().redis.is_none());
        let c = config(&[("REDIS_URL", "redis://:hunter2@10.0.0.1:6379"), ("PRESENCE_TTL_SECS", "5")]).unwrap();
        let redis = c.redis.clone().unwrap();
        assert_eq!((redis.prefix.as_str(), redis.presence_ttl), ("chat", Duration::from_secs(5)));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(config(&[("REDIS_URL", "http://x")]).unwrap_err().var, "REDIS_URL");
        assert_eq!(config(&[("REDIS_URL", "redis://x"), ("REDIS_PREFIX", "a{b}")]).unwrap_err().var, "REDIS_PREFIX");
    }

    #[test]
    fn discord_needs_a_guild_and_never_prints_the_token() {
        let e = config(&[("DISCORD_TOKEN", "very-secret-token")]).unwrap_err();
        assert_eq!(e.var, "DISCORD_GUILD_ID");
        assert!(!e.to_string().contains("very-secret-token"));
        let c = config(&[("DISCORD_TOKEN", "very-secret-token"), ("DISCORD_GUILD_ID", "42")]).unwrap();
        assert!(!format!("{c:?}").contains("very-secret-token"));
        assert_eq!(c.bot.discord.as_ref().unwrap().guild, 42);
        let c = config(&[("IP_TAG_SECRET", "a-long-enough-secret")]).unwrap();
        assert!(!format!("{c:?}").contains("a-long-enough-secret"));
        assert_eq!(config(&[("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", "x")]).unwrap_err().var, "DISCORD_GUILD_ID");
        assert_eq!(config(&[("IP_TAG_SECRET", "short")]).unwrap_err().var, "IP_TAG_SECRET");
    }
}
