//! The settings' value parsers: each turns one variable's text into its value, or says what is
//! wrong with it in words for the operator (the caller adds the variable's name).

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use gateway::config::AdminListen;
use secrecy::SecretString;

/// A comma-separated list of CIDR networks (an alias, so clap takes the list as one value).
pub type Networks = Vec<ipnet::IpNet>;

/// A comma-separated list of page origins (an alias, so clap takes the list as one value).
pub type Origins = Vec<String>;

/// A comma-separated list of reaction emoji (an alias, so clap takes the list as one value).
pub type Emojis = Vec<String>;

/// Most emoji `REACTIONS` may offer.
pub const REACTIONS_MAX: usize = 20;
/// Longest emoji `REACTIONS` may offer, in characters (a family ZWJ sequence is 7).
pub const REACTION_CHARS_MAX: usize = 16;

/// Most `MAX_FILTERS` may be: every message goes through every filter on every gateway.
const MAX_FILTERS_CEILING: usize = 2000;

/// Longest retention, in days: a longer one would overflow the calendar arithmetic instead of
/// meaning "keep".
const MAX_DAYS: u64 = 36_500;

fn parse<T: FromStr>(value: &str, expected: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("expected {expected}, got {value:?}"))
}

/// A number above zero.
pub fn positive<T: FromStr + PartialOrd + Default>(value: &str) -> Result<T, String> {
    let n: T = parse(value, "a positive number")?;
    if n <= T::default() {
        return Err(format!("must be positive, got {value:?}"));
    }
    Ok(n)
}

/// A count, zero included.
pub fn count(value: &str) -> Result<u32, String> {
    value.parse().map_err(|_| "must be a whole number, 0 or more".to_owned())
}

pub fn shield_mode(value: &str) -> Result<bus::ShieldMode, String> {
    value.parse()
}

pub fn address(value: &str) -> Result<SocketAddr, String> {
    parse(value, "an address and port such as 127.0.0.1:8080")
}

/// `off`, or an address the operator chose (which must bind).
pub fn admin_address(value: &str) -> Result<AdminListen, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(AdminListen::Off);
    }
    parse(value, "an address and port such as 127.0.0.1:9090, or off").map(AdminListen::Explicit)
}

pub fn say_burst(value: &str) -> Result<u32, String> {
    let burst: u32 = parse(value, "a whole number of messages ≥ 1")?;
    if burst == 0 {
        return Err("must be at least 1".into());
    }
    Ok(burst)
}

pub fn say_per_second(value: &str) -> Result<f64, String> {
    let rate: f64 = parse(value, "messages per second, e.g. 1 or 0.5")?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err("must be a positive number".into());
    }
    Ok(rate)
}

pub fn shared_address_factor(value: &str) -> Result<u32, String> {
    let factor = positive(value)?;
    if factor > 1000 {
        return Err("must be at most 1000".into());
    }
    Ok(factor)
}

pub fn visitor_room_capacity(value: &str) -> Result<u32, String> {
    let capacity = positive(value)?;
    if capacity < 2 {
        return Err("must be at least 2".into());
    }
    Ok(capacity)
}

pub fn max_filters(value: &str) -> Result<usize, String> {
    let n = positive(value)?;
    if n > MAX_FILTERS_CEILING {
        return Err(format!("expected 1 to {MAX_FILTERS_CEILING} filters, got {value:?}"));
    }
    Ok(n)
}

/// A duration in seconds between `min` and `max`: a zero or near-zero period would panic the
/// timers it drives (or spin them), a huge one would overflow the clock arithmetic.
pub fn seconds(min: f64, max: f64) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |value| {
        let secs: f64 = parse(value, "a number of seconds")?;
        if !(secs.is_finite() && (min..=max).contains(&secs)) {
            return Err(format!("expected seconds between {min} and {max}, got {value:?}"));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

/// A retention period: whole days, 1 to [`MAX_DAYS`].
pub fn days(value: &str) -> Result<Duration, String> {
    let days: u64 = positive(value)?;
    if days > MAX_DAYS {
        return Err(format!("expected days between 1 and {MAX_DAYS}, got {value:?}"));
    }
    Ok(Duration::from_secs(days * 86_400))
}

/// A comma-separated list of CIDR networks (a bare address is its own network).
pub fn networks(value: &str) -> Result<Networks, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{s:?} is not an address or CIDR network"))
        })
        .collect()
}

/// Comma-separated page origins, without a trailing slash.
/// `REACTIONS`: 1 to [`REACTIONS_MAX`] distinct emoji, comma-separated, each at most
/// [`REACTION_CHARS_MAX`] characters with no spaces, controls or ASCII letters (an emoji, not a
/// word).
pub fn reactions(value: &str) -> Result<Emojis, String> {
    let emoji: Emojis = value.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect();
    if emoji.is_empty() || emoji.len() > REACTIONS_MAX {
        return Err(format!("expected 1 to {REACTIONS_MAX} emoji, comma-separated, got {}", emoji.len()));
    }
    for e in &emoji {
        let bad = |c: char| c.is_whitespace() || c.is_control() || c.is_ascii_alphabetic() || c == '"' || c == '\\';
        if e.chars().count() > REACTION_CHARS_MAX || e.len() > bus::reactions::EMOJI_BYTES_MAX || e.chars().any(bad) {
            let shown: String = e.chars().take(20).collect();
            return Err(format!(
                "{shown:?} is not an emoji (at most {REACTION_CHARS_MAX} characters, no letters, spaces or controls)"
            ));
        }
    }
    if let Some((i, e)) = emoji.iter().enumerate().find(|(i, e)| emoji[..*i].contains(e)) {
        return Err(format!("{e} is offered twice (position {})", i + 1));
    }
    Ok(emoji)
}

pub fn origins(value: &str) -> Result<Origins, String> {
    let origins: Origins =
        value.split(',').map(|s| s.trim().trim_end_matches('/').to_owned()).filter(|s| !s.is_empty()).collect();
    if let Some(bad) = origins.iter().find(|o| !(o.starts_with("http://") || o.starts_with("https://"))) {
        return Err(format!("{bad:?} is not an origin like https://chat.example"));
    }
    Ok(origins)
}

/// House rules as text, `\n` standing for a line break.
pub fn house_rules(value: &str) -> Result<String, String> {
    Ok(value.replace("\\n", "\n"))
}

pub fn discord_id(expected: &'static str) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |value| parse(value, expected)
}

pub fn http_base(value: &str) -> Result<String, String> {
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        return Err("must start with http:// or https://".into());
    }
    Ok(value.to_owned())
}

/// A secret taken as it is (problems are never shown with the value).
pub fn secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::new(value.to_owned()))
}

pub fn ip_tag_secret(value: &str) -> Result<SecretString, String> {
    if value.len() < 16 {
        return Err("must be at least 16 characters".into());
    }
    secret(value)
}

pub fn database_url(value: &str) -> Result<SecretString, String> {
    if !["sqlite:", "postgres:", "postgresql:"].iter().any(|s| value.starts_with(s)) {
        return Err("must start with sqlite:, postgres: or postgresql:".into());
    }
    secret(value)
}

pub fn redis_url(value: &str) -> Result<SecretString, String> {
    if !["redis://", "rediss://", "unix://", "redis+unix://"].iter().any(|s| value.starts_with(s)) {
        return Err("must start with redis://, rediss:// or unix://".into());
    }
    secret(value)
}

pub fn redis_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() || value.contains(['{', '}', ' ']) {
        return Err("must be non-empty, without braces or spaces".into());
    }
    Ok(value.to_owned())
}
