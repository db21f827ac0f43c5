//! The configuration's unit tests: defaults, refusals naming their variable, secrets never printed.

use std::collections::HashMap;
use std::net::SocketAddr;

use clap::CommandFactory;
use secrecy::ExposeSecret;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_need_no_configuration() {
    let c = config(&[]).unwrap();
    assert_eq!(c.gateway.listen_addr, DEFAULT_LISTEN_ADDR.parse::<SocketAddr>().unwrap());
    assert!(c.database_url.expose_secret().starts_with("sqlite://data/"));
}

#[test]
fn errors_name_the_variable() {
    assert_eq!(config(&[("LISTEN_ADDR", "nope")]).unwrap_err().var, "LISTEN_ADDR");
    assert_eq!(config(&[("ADMIN_LISTEN_ADDR", "9090")]).unwrap_err().var, "ADMIN_LISTEN_ADDR");
    assert_eq!(config(&[("ADMIN_LISTEN_ADDR", "off")]).unwrap().gateway.admin, gateway::config::AdminListen::Off);
    assert_eq!(config(&[("WS_PING_SECS", "-1")]).unwrap_err().var, "WS_PING_SECS");
    // A period that rounds to zero would panic the timer it drives; each has a floor and a
    // ceiling, named in the error.
    for var in
        ["WS_PING_SECS", "ROOM_REFRESH_SECS", "VISITOR_ROOM_IDLE_SECS", "ROULETTE_INTEREST_WAIT_SECS", "ROOM_SYNC_SECS"]
    {
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
    let e = config(&[("WARN_LADDER", "2:kick:10m")]).unwrap_err();
    assert_eq!((e.var.as_str(), e.problem.contains("mute or ban")), ("WARN_LADDER", true), "{}", e.problem);
    assert_eq!(config(&[("WARN_LADDER", "2:mute,2:ban")]).unwrap_err().var, "WARN_LADDER");
    let ladder = config(&discord).unwrap().bot.discord.unwrap().warn_ladder;
    assert_eq!(ladder, bot::warnings::Ladder::parse(bot::warnings::DEFAULT_LADDER).unwrap());
    let c = config(&[discord[0], discord[1], ("WARN_LADDER", "off")]).unwrap();
    assert!(c.bot.discord.unwrap().warn_ladder.rungs.is_empty());
    // A billion days is past chrono's range of dates (about ±262 000 years): refused here.
    let e = config(&[("TEXT_RETENTION_DAYS", "1000000000")]).unwrap_err();
    assert_eq!(
        (e.var.as_str(), e.problem.contains("between 1 and 36500")),
        ("TEXT_RETENTION_DAYS", true),
        "{}",
        e.problem
    );
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

#[test]
fn defaults_are_the_roles_own() {
    let c = config(&[]).unwrap();
    // Debug prints every field but the secrets, which are random or unset here.
    assert_eq!(format!("{:?}", c.gateway), format!("{:?}", GatewayConfig::default()));
    assert_eq!(format!("{:?}", c.bot), format!("{:?}", BotConfig::default()));
    let c = config(&[("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", "1"), ("REDIS_URL", "redis://x")]).unwrap();
    assert_eq!(c.bot.discord.unwrap().mirror.max_lag, Duration::from_secs(120));
    let redis = c.redis.unwrap();
    assert_eq!((redis.presence_ttl, redis.leader_ttl), (Duration::from_secs(30), Duration::from_secs(10)));
}

#[test]
fn blank_variables_are_unset_and_values_are_trimmed() {
    let c = config(&[("LISTEN_ADDR", "  "), ("DISCORD_TOKEN", ""), ("SAY_BURST", " 5 ")]).unwrap();
    assert_eq!(c.gateway.listen_addr, DEFAULT_LISTEN_ADDR.parse::<SocketAddr>().unwrap());
    assert!(c.bot.discord.is_none());
    assert_eq!(c.gateway.say_rate.burst, 5);
}

#[test]
fn admin_listener_is_default_off_or_explicit() {
    use gateway::config::{AdminListen, DEFAULT_ADMIN_ADDR};
    assert_eq!(config(&[]).unwrap().gateway.admin, AdminListen::Default(DEFAULT_ADMIN_ADDR));
    assert_eq!(config(&[("ADMIN_LISTEN_ADDR", "OFF")]).unwrap().gateway.admin, AdminListen::Off);
    let explicit = config(&[("ADMIN_LISTEN_ADDR", "127.0.0.1:9191")]).unwrap().gateway.admin;
    assert_eq!(explicit, AdminListen::Explicit("127.0.0.1:9191".parse().unwrap()));
}

#[test]
fn house_rules_come_from_text_or_file_not_both() {
    let c = config(&[("HOUSE_RULES", "Be kind.\\nNo spam.")]).unwrap();
    assert_eq!(c.gateway.house_rules.as_deref(), Some("Be kind.\nNo spam."));
    let e = config(&[("HOUSE_RULES", "x"), ("HOUSE_RULES_FILE", "/nonexistent")]).unwrap_err();
    assert_eq!(e.var, "HOUSE_RULES_FILE");
    assert_eq!(config(&[("HOUSE_RULES_FILE", "/nonexistent/rules.txt")]).unwrap_err().var, "HOUSE_RULES_FILE");
    assert_eq!(config(&[("HOUSE_RULES", &"x".repeat(4001))]).unwrap_err().var, "HOUSE_RULES");
}

#[test]
fn a_flag_wins_over_its_variable() {
    let args = ["chatroulette", "--listen-addr", "127.0.0.1:7070"];
    let only: SettingsOnly = parse(args, |var| (var == "LISTEN_ADDR").then(|| "127.0.0.1:6060".to_owned())).unwrap();
    assert_eq!(only.settings.listen_addr, "127.0.0.1:7070".parse::<SocketAddr>().unwrap());
    let Err(ParseError::Config(e)) = parse::<SettingsOnly>(["chatroulette", "--ws-ping-secs", "0"], |_| None) else {
        panic!("a refused flag names its variable");
    };
    assert_eq!(e.var, "WS_PING_SECS");
    assert!(matches!(parse::<SettingsOnly>(["chatroulette", "--nonsense"], |_| None), Err(ParseError::Usage(_))));
}

#[test]
fn a_refusal_says_what_was_expected_and_the_help_hides_values() {
    let e = config(&[("LISTEN_ADDR", "nope")]).unwrap_err();
    assert_eq!(e.to_string(), r#"LISTEN_ADDR: expected an address and port such as 127.0.0.1:8080, got "nope""#);
    // The help would otherwise print each variable's value from the process environment.
    let Err(ParseError::Usage(help)) = parse::<SettingsOnly>(["chatroulette", "--help"], |_| None) else {
        panic!("--help is clap's to show");
    };
    assert!(help.to_string().contains("[env: DISCORD_TOKEN]"), "{help}");
}

/// Every declared variable: its flag and field share its name, and the help, `.env.example` and
/// the README's table list it.
#[test]
fn every_variable_is_declared_once_and_documented() {
    let command = SettingsOnly::command();
    let help = command.clone().render_long_help().to_string();
    let example = include_str!("../../.env.example");
    let readme = include_str!("../../README.md");
    let mut declared = std::collections::BTreeSet::new();
    for arg in command.get_arguments() {
        let Some(var) = arg.get_env().and_then(|v| v.to_str()) else { continue };
        assert!(declared.insert(var.to_owned()), "{var} is declared twice");
        assert_eq!(arg.get_id().as_str().to_uppercase(), var);
        assert_eq!(arg.get_long().map(|l| l.replace('-', "_").to_uppercase()).as_deref(), Some(var));
        assert!(help.contains(&format!("[env: {var}")), "--help lacks {var}");
        assert!(example.contains(&format!("{var}=")), ".env.example lacks {var}");
        assert!(readme.contains(&format!("`{var}`")), "README lacks {var}");
    }
    // And the other way: .env.example names no variable that is not declared (a line
    // `NAME=value`, commented out or not).
    let listed: std::collections::BTreeSet<String> = example
        .lines()
        .map(|line| line.trim_start_matches('#').trim_start())
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name)
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        // RUST_LOG is read by the log filter, not by the settings.
        .filter(|name| name != "RUST_LOG")
        .collect();
    assert_eq!(listed, declared, ".env.example and the declarations differ");
    assert!(declared.len() > 40, "only {} variables found", declared.len());
    command.debug_assert();
}

#[test]
fn reactions_are_checked_and_announced() {
    let c = config(&[]).unwrap();
    assert_eq!(c.gateway.reactions, protocol::frames::DEFAULT_REACTIONS);
    let c = config(&[("REACTIONS", " 👍 , 🎉,👨‍👩‍👧‍👦 ")]).unwrap();
    assert_eq!(c.gateway.reactions, ["👍", "🎉", "👨‍👩‍👧‍👦"]);
    let many = vec!["😀"; 21]
        .iter()
        .enumerate()
        .map(|(i, _)| char::from_u32(0x1F600 + i as u32).unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",");
    for bad in [",", "👍,👍", "like", "👍 👍", "\u{7}", many.as_str(), "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"]
    {
        let e = config(&[("REACTIONS", bad)]).unwrap_err();
        assert_eq!(e.var, "REACTIONS", "{bad:?}: {}", e.problem);
    }
}
