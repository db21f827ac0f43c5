//! The `chatroulette` binary: parses the command line, loads the configuration, and runs the
//! chosen role. `anyhow` lives only here, at the edge.

use anyhow::Context;
use chatroulette::config::{ParseError, Settings};
use chatroulette::{AllInOne, Config, shutdown};
use clap::{Parser, Subcommand};
use protocol::RoomSlug;
use secrecy::ExposeSecret;

mod sanctions_cli;
mod trust_cli;

/// Anonymous web chat mirrored into Discord.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run only the bot (split deployment; needs REDIS_URL). A second one waits as a standby.
    Bot,
    /// Run only a gateway (split deployment; needs REDIS_URL). Run as many as you like.
    Gateway,
    /// Apply pending database migrations to DATABASE_URL and exit.
    Migrate,
    /// Manage staff rooms in DATABASE_URL (a running process picks changes up within seconds).
    #[command(subcommand)]
    Rooms(RoomsCommand),
    /// Ban addresses, networks or IP tags without Discord (running gateways enforce it within
    /// seconds).
    #[command(subcommand)]
    Bans(BansCommand),
    /// Mute addresses, networks or IP tags without Discord (running gateways enforce it within
    /// seconds).
    #[command(subcommand)]
    Mutes(sanctions_cli::MutesCommand),
    /// Read the numbered cases of moderator and operator actions.
    #[command(subcommand)]
    Cases(sanctions_cli::CasesCommand),
    /// Set the proof-of-work gate for every gateway: `on` (everyone solves a challenge before
    /// connecting), `off`, or `auto` (on by itself under a flood of joins and for addresses that
    /// misbehave). Overrides SHIELD_MODE; running gateways follow within seconds.
    Shield {
        /// on, off or auto.
        #[arg(value_parser = parse_shield_mode)]
        mode: bus::ShieldMode,
        /// A fixed difficulty step, 1 (a phone takes well under a second) to 4; default: it
        /// follows the load.
        #[arg(long)]
        difficulty: Option<u8>,
    },
    /// Let a visitor skip the trust tier for new visitors (links, pastes, repeats): an IP tag
    /// from an embed footer or a device tag. Running gateways follow within seconds.
    Trust { tag: String },
    /// Put a trusted tag back under the trust tier's rules.
    Untrust { tag: String },
    /// Link domains new visitors may always post.
    #[command(subcommand)]
    Links(trust_cli::LinksCommand),
}

fn parse_shield_mode(value: &str) -> Result<bus::ShieldMode, String> {
    value.parse()
}

fn parse_links(value: &str) -> Result<protocol::LinksPolicy, String> {
    protocol::LinksPolicy::parse(value).ok_or_else(|| format!("must be refuse, inert or allow, not {value:?}"))
}

#[derive(Subcommand)]
enum BansCommand {
    /// Ban an IP address, a CIDR network, or an IP tag (every address that tag was seen from).
    Add {
        /// `203.0.113.7`, `2001:db8::/64`, or an IP tag from an embed footer (12 characters, 8 for older ones).
        target: String,
        /// How long, e.g. 30m, 2h, 7d (default: until lifted).
        #[arg(long)]
        duration: Option<String>,
        /// Shown to the banned person.
        #[arg(long, default_value = "")]
        reason: String,
        /// `ip` (the address) or `subnet` (its /24 or /64). Default: ip for IPv4, subnet for IPv6.
        #[arg(long)]
        scope: Option<String>,
    },
    /// List active bans (or all, with --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Lift a ban by its number.
    Remove { id: i64 },
}

#[derive(Subcommand)]
enum RoomsCommand {
    /// Create a room.
    Add {
        /// Room name in URLs: 2-32 characters of a-z, 0-9 and -.
        slug: String,
        /// Most people in the room at once.
        #[arg(long)]
        capacity: u32,
        /// Title shown to visitors (default: from the slug).
        #[arg(long)]
        title: Option<String>,
        /// One-line topic shown in the room list.
        #[arg(long)]
        topic: Option<String>,
        /// Keep the room out of the public room list.
        #[arg(long)]
        unlisted: bool,
    },
    /// Change a room; only the options given change.
    Edit {
        slug: String,
        #[arg(long)]
        capacity: Option<u32>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        /// Show in the public room list (true/false).
        #[arg(long)]
        listed: Option<bool>,
        /// Refuse joins and messages (true/false).
        #[arg(long)]
        locked: Option<bool>,
        /// Seconds between two messages of one person (0 = off).
        #[arg(long)]
        slowmode: Option<u32>,
        /// Links from new visitors: refuse (the default), inert (shown as plain text) or allow.
        #[arg(long, value_parser = parse_links)]
        links: Option<protocol::LinksPolicy>,
    },
    /// Delete a room; people in it are sent back to the room list.
    Remove { slug: String },
    /// List every room.
    List,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    // The settings are read while the command line is parsed: `.env` first.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => return Err(e).context("cannot read .env"),
    }
    let cli: Cli = match chatroulette::config::parse(std::env::args_os(), |var| std::env::var(var).ok()) {
        Ok(cli) => cli,
        Err(ParseError::Usage(e)) => e.exit(),
        Err(ParseError::Config(e)) => return Err(e).context("invalid configuration"),
    };
    init_tracing();
    let config = Config::from_settings(cli.settings).context("invalid configuration")?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(async move {
        match cli.command {
            None => serve(config).await,
            Some(Command::Bot) => {
                let role = chatroulette::bot_role(config).await?;
                tracing::info!("bot started");
                let stop = shutdown_on_signal();
                role.run(stop).await?;
                Ok(())
            }
            Some(Command::Gateway) => {
                let (app, _bus) = chatroulette::gateway_role(config).await?;
                let stop = shutdown_on_signal();
                app.run_until_stopped(stop.wait()).await;
                Ok(())
            }
            Some(Command::Migrate) => {
                let db = bot::db::connect(config.database_url.expose_secret()).await?;
                bot::db::migrate(&db).await?;
                println!("database is up to date");
                Ok(())
            }
            Some(Command::Rooms(command)) => rooms(config, command).await,
            Some(Command::Bans(command)) => bans(config, command).await,
            Some(Command::Mutes(command)) => sanctions_cli::mutes(config, command, &operator()).await,
            Some(Command::Cases(command)) => sanctions_cli::cases(config, command).await,
            Some(Command::Shield { mode, difficulty }) => shield(config, mode, difficulty).await,
            Some(Command::Trust { tag }) => {
                trust_cli::run(config, trust_cli::TrustCommand::Trust(tag), &operator()).await
            }
            Some(Command::Untrust { tag }) => {
                trust_cli::run(config, trust_cli::TrustCommand::Untrust(tag), &operator()).await
            }
            Some(Command::Links(command)) => {
                trust_cli::run(config, trust_cli::TrustCommand::Links(command), &operator()).await
            }
        }
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,salvo_core=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = AllInOne::build(config).await?;
    let addr = app.local_addr();
    tracing::info!("chat is ready: open http://{addr}/ in your browser");
    app.run_until_stopped(shutdown_on_signal()).await?;
    Ok(())
}

/// A shutdown handle triggered by SIGINT or SIGTERM.
fn shutdown_on_signal() -> shutdown::Shutdown {
    let stop = shutdown::Shutdown::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown::signal().await;
        tracing::info!("shutting down");
        trigger.trigger();
    });
    stop
}

fn slug(raw: &str) -> anyhow::Result<RoomSlug> {
    RoomSlug::parse(raw).map_err(|e| anyhow::anyhow!("{raw:?}: {e}"))
}

async fn rooms(config: Config, command: RoomsCommand) -> anyhow::Result<()> {
    let db = bot::db::connect(config.database_url.expose_secret()).await?;
    bot::db::migrate(&db).await?;
    let bus = operator_bus(&config).await?;
    let bus = bus.as_deref();
    let actor = operator();
    match command {
        RoomsCommand::Add { slug: raw, capacity, title, topic, unlisted } => {
            let new = bot::rooms::NewRoom { slug: slug(&raw)?, capacity, title, topic, listed: !unlisted };
            let room = bot::rooms::create(&db, new, &actor).await?;
            println!("created room {} ({}, capacity {})", room.slug, room.title, room.capacity);
        }
        RoomsCommand::Edit { slug: raw, capacity, title, topic, listed, locked, slowmode, links } => {
            let patch =
                bot::rooms::RoomPatch { capacity, title, topic, listed, locked, slowmode_secs: slowmode, links };
            let Some(room) = bot::rooms::change(&db, bus, &slug(&raw)?, patch, &actor).await? else {
                anyhow::bail!("room {raw} has already ended; there is nothing to change");
            };
            println!("updated room {}", room.slug);
        }
        RoomsCommand::Remove { slug: raw } => {
            if !bot::rooms::delete(&db, bus, &slug(&raw)?, &actor).await? {
                anyhow::bail!("room {raw} has already ended");
            }
            println!("removed room {raw}");
        }
        RoomsCommand::List => {
            println!(
                "{:<32} {:<8} {:>8} {:<6} {:<6} {:>8} {:<6}  title",
                "slug", "kind", "capacity", "listed", "locked", "slowmode", "links"
            );
            for r in bot::rooms::list_live(&db).await? {
                println!(
                    "{:<32} {:<8} {:>8} {:<6} {:<6} {:>8} {:<6}  {}",
                    r.slug,
                    r.kind,
                    r.capacity,
                    r.listed,
                    r.locked,
                    r.slowmode_secs,
                    bot::rooms::links_of(&r),
                    r.title
                );
            }
        }
    }
    Ok(())
}

/// The bus the operator's changes are published on at once: Redis when `REDIS_URL` is set.
/// Without it the bus lives inside the running process, which picks changes up from the
/// database on its next sync tick.
pub(crate) async fn operator_bus(config: &Config) -> anyhow::Result<Option<std::sync::Arc<dyn bus::Bus>>> {
    if config.redis.is_none() {
        return Ok(None);
    }
    Ok(Some(chatroulette::connect_bus(config.redis.as_ref(), config.queue_max).await?.as_dyn()))
}

/// Who acts, for the audit log: the operating-system user at the shell.
fn operator() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()))
}

async fn bans(config: Config, command: BansCommand) -> anyhow::Result<()> {
    use bot::bans::{Scope, Target};
    let db = bot::db::connect(config.database_url.expose_secret()).await?;
    bot::db::migrate(&db).await?;
    let bus = operator_bus(&config).await?;
    let actor = operator();
    match command {
        BansCommand::Add { target, duration, reason, scope } => {
            let parsed = Target::parse(&target)?;
            let scope = match scope.as_deref() {
                None => None,
                Some("ip") => Some(Scope::Ip),
                Some("subnet") => Some(Scope::Subnet),
                Some(other) => anyhow::bail!("--scope must be ip or subnet, not {other:?}"),
            };
            let duration = duration.as_deref().map(bot::bans::parse_duration).transpose()?;
            let networks = bot::bans::resolve(&db, &parsed, scope).await?;
            let tag = parsed.tag();
            // A tag's networks are shown as the tag: operators and staff never need the address.
            let shown = tag.map(|t| format!("tag {t}"));
            let devices = bot::bans::devices_for(&db, &parsed).await?;
            let ban = bot::bans::NewBan { networks, tag, shown, reason: &reason, by: &actor, duration, devices };
            let imposed = bot::bans::impose(&db, bus.as_deref(), ban).await?;
            for ban in &imposed.bans {
                let shown = tag.map_or_else(|| ban.network.clone(), |t| format!("tag {t}"));
                let until =
                    ban.expires_at.map_or_else(|| "until lifted".to_owned(), |e| format!("until {}", e.to_rfc3339()));
                println!("ban #{} on {shown} {until} (case #{})", ban.id, imposed.case.id);
            }
        }
        BansCommand::List { all } => {
            println!(
                "{:>6}  {:<24} {:<14} {:<12} {:<26} {:<26} reason",
                "id", "network", "tag", "device", "expires", "lifted"
            );
            for b in bot::bans::list(&db, all).await? {
                println!(
                    "{:>6}  {:<24} {:<14} {:<12} {:<26} {:<26} {}",
                    b.id,
                    b.network,
                    b.ip_tag.as_deref().unwrap_or("-"),
                    b.device.as_deref().unwrap_or("-"),
                    b.expires_at.map_or_else(|| "never".to_owned(), |e| e.to_rfc3339()),
                    b.lifted_at.map_or_else(|| "-".to_owned(), |e| e.to_rfc3339()),
                    b.reason
                );
            }
        }
        BansCommand::Remove { id } => {
            let revoked = bot::bans::revoke(&db, bus.as_deref(), id, &actor).await?;
            println!("lifted ban #{id} (case #{})", revoked.case.id);
        }
    }
    Ok(())
}

async fn shield(config: Config, mode: bus::ShieldMode, difficulty: Option<u8>) -> anyhow::Result<()> {
    let setting = bot::shield::setting(mode, difficulty)?;
    let db = bot::db::connect(config.database_url.expose_secret()).await?;
    bot::db::migrate(&db).await?;
    let bus = operator_bus(&config).await?;
    bot::shield::set(&db, bus.as_deref(), setting, &operator()).await?;
    let when = if bus.is_some() { "now" } else { "at the running process's next sync" };
    println!("proof-of-work gate: {} (gateways follow {when})", bot::shield::describe(&setting));
    Ok(())
}
