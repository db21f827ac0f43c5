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
}

impl Config {
    /// Read from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if get("REDIS_URL").is_some() {
            return Err(ConfigError {
                var: "REDIS_URL",
                problem: "this version runs with the in-process bus only; unset REDIS_URL".into(),
            });
        }
        if get("DISCORD_TOKEN").is_some() {
            return Err(ConfigError {
                var: "DISCORD_TOKEN",
                problem:
                    "this version has no Discord bridge yet; unset DISCORD_TOKEN to run headless"
                        .into(),
            });
        }
        let mut gateway = GatewayConfig::default();
        if let Some(addr) = get("LISTEN_ADDR") {
            gateway.listen_addr = parse(
                "LISTEN_ADDR",
                &addr,
                "an address and port such as 127.0.0.1:8080",
            )?;
        }
        if let Some(secs) = get("WS_PING_SECS") {
            gateway.ping_interval = seconds("WS_PING_SECS", &secs)?;
        }
        if let Some(secs) = get("ROOM_REFRESH_SECS") {
            gateway.room_refresh = seconds("ROOM_REFRESH_SECS", &secs)?;
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
            return Err(ConfigError {
                var: "SAY_BURST",
                problem: "must be at least 1".into(),
            });
        }
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(ConfigError {
                var: "SAY_PER_SECOND",
                problem: "must be a positive number".into(),
            });
        }
        gateway.say_rate = RateLimit { burst, per_second };

        let mut bot = BotConfig::default();
        if let Some(secs) = get("ROOM_SYNC_SECS") {
            bot.room_sync_interval = seconds("ROOM_SYNC_SECS", &secs)?;
        }
        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| bot::db::DEFAULT_DATABASE_URL.to_owned());
        if !["sqlite:", "postgres:", "postgresql:"]
            .iter()
            .any(|s| database_url.starts_with(s))
        {
            return Err(ConfigError {
                var: "DATABASE_URL",
                problem: "must start with sqlite:, postgres: or postgresql:".into(),
            });
        }
        Ok(Self {
            database_url,
            gateway,
            bot,
        })
    }
}

fn parse<T: FromStr>(var: &'static str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| ConfigError {
        var,
        problem: format!("expected {expected}, got {value:?}"),
    })
}

fn seconds(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let secs: f64 = parse(var, value, "a number of seconds")?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(ConfigError {
            var,
            problem: format!("expected seconds between 0 and 86400, got {value:?}"),
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `LISTEN_ADDR`'s default, kept here for the README's table.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8080";

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.gateway.listen_addr,
            DEFAULT_LISTEN_ADDR.parse::<SocketAddr>().unwrap()
        );
        assert!(c.database_url.starts_with("sqlite://data/"));
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            config(&[("LISTEN_ADDR", "nope")]).unwrap_err().var,
            "LISTEN_ADDR"
        );
        assert_eq!(
            config(&[("WS_PING_SECS", "-1")]).unwrap_err().var,
            "WS_PING_SECS"
        );
        assert_eq!(config(&[("SAY_BURST", "0")]).unwrap_err().var, "SAY_BURST");
        assert_eq!(
            config(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let e = config(&[("DISCORD_TOKEN", "very-secret-token")]).unwrap_err();
        assert!(!e.to_string().contains("very-secret-token"));
    }
}
