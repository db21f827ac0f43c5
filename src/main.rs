//! The `chatroulette` binary: parses the command line, loads the configuration, and runs the
//! chosen role. `anyhow` lives only here, at the edge.

use anyhow::Context;
use chatroulette::{AllInOne, Config, shutdown};
use clap::{Parser, Subcommand};
use protocol::RoomSlug;

/// Anonymous web chat mirrored into Discord.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
    let cli = Cli::parse();
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => return Err(e).context("cannot read .env"),
    }
    init_tracing();
    let config = Config::from_env().context("invalid configuration")?;
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
                let db = bot::db::connect(&config.database_url).await?;
                bot::db::migrate(&db).await?;
                println!("database is up to date");
                Ok(())
            }
            Some(Command::Rooms(command)) => rooms(config, command).await,
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
    let db = bot::db::connect(&config.database_url).await?;
    bot::db::migrate(&db).await?;
    match command {
        RoomsCommand::Add { slug: raw, capacity, title, topic, unlisted } => {
            let room = bot::rooms::add(
                &db,
                bot::rooms::NewRoom { slug: slug(&raw)?, capacity, title, topic, listed: !unlisted },
            )
            .await?;
            println!("created room {} ({}, capacity {})", room.slug, room.title, room.capacity);
        }
        RoomsCommand::Edit { slug: raw, capacity, title, topic, listed, locked, slowmode } => {
            let patch = bot::rooms::RoomPatch { capacity, title, topic, listed, locked, slowmode_secs: slowmode };
            let room = bot::rooms::edit(&db, &slug(&raw)?, patch).await?;
            println!("updated room {}", room.slug);
        }
        RoomsCommand::Remove { slug: raw } => {
            bot::rooms::remove(&db, &slug(&raw)?).await?;
            println!("removed room {raw}");
        }
        RoomsCommand::List => {
            println!(
                "{:<32} {:<8} {:>8} {:<6} {:<6} {:>8}  title",
                "slug", "kind", "capacity", "listed", "locked", "slowmode"
            );
            for r in bot::rooms::list(&db).await? {
                println!(
                    "{:<32} {:<8} {:>8} {:<6} {:<6} {:>8}  {}",
                    r.slug, r.kind, r.capacity, r.listed, r.locked, r.slowmode_secs, r.title
                );
            }
        }
    }
    Ok(())
}
