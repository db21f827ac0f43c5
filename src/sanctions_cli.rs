//! The operator's `chatroulette mutes …` and `chatroulette cases …`, shaped like `bans`: they
//! work against `DATABASE_URL` and publish on Redis at once when `REDIS_URL` is set (else the
//! running process picks mutes up on its next sync tick, within `ROOM_SYNC_SECS`).

use clap::Subcommand;
use secrecy::ExposeSecret;

use chatroulette::Config;

#[derive(Subcommand)]
pub enum MutesCommand {
    /// Mute an IP address, a CIDR network, or an IP tag: they can read but not speak.
    Add {
        /// `203.0.113.7`, `2001:db8::/64`, or an IP tag from an embed footer.
        target: String,
        /// How long, e.g. 10m, 2h, 7d (default: until lifted).
        #[arg(long)]
        duration: Option<String>,
        /// A shadow mute: never told; their messages reach nobody but themselves.
        #[arg(long)]
        shadow: bool,
        /// Shown to the muted person (not for a shadow mute).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List active mutes (or all, with --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Lift a mute by its number.
    Remove { id: i64 },
}

#[derive(Subcommand)]
pub enum CasesCommand {
    /// The newest cases, newest first.
    List {
        /// How many (at most 200).
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// One case in full.
    Show { number: i64 },
}

pub async fn mutes(config: Config, command: MutesCommand, actor: &str) -> anyhow::Result<()> {
    let db = bot::db::connect(config.database_url.expose_secret()).await?;
    bot::db::migrate(&db).await?;
    let bus = super::operator_bus(&config).await?;
    match command {
        MutesCommand::Add { target, duration, shadow, reason } => {
            let parsed = bot::bans::Target::parse(&target)?;
            let duration = duration.as_deref().map(bot::bans::parse_duration).transpose()?;
            let networks = bot::bans::resolve(&db, &parsed, None).await?;
            let tag = parsed.tag();
            let shown = tag.map(|t| format!("tag {t}"));
            let devices = bot::bans::devices_for(&db, &parsed).await?;
            let mute =
                bot::mutes::NewMute { networks, tag, shown, reason: &reason, by: actor, duration, shadow, devices };
            let imposed = bot::mutes::impose(&db, bus.as_deref(), mute).await?;
            let kind = if shadow { "shadow mute" } else { "mute" };
            for mute in &imposed.mutes {
                let shown = tag.map_or_else(|| mute.network.clone(), |t| format!("tag {t}"));
                let until =
                    mute.expires_at.map_or_else(|| "until lifted".to_owned(), |e| format!("until {}", e.to_rfc3339()));
                println!("{kind} #{} on {shown} {until} (case #{})", mute.id, imposed.case.id);
            }
        }
        MutesCommand::List { all } => {
            println!(
                "{:>6} {:>6}  {:<24} {:<14} {:<12} {:<6} {:<26} {:<26} reason",
                "id", "case", "network", "tag", "device", "shadow", "expires", "lifted"
            );
            for m in bot::mutes::list(&db, all).await? {
                println!(
                    "{:>6} {:>6}  {:<24} {:<14} {:<12} {:<6} {:<26} {:<26} {}",
                    m.id,
                    m.case_id,
                    m.network,
                    m.ip_tag.as_deref().unwrap_or("-"),
                    m.device.as_deref().unwrap_or("-"),
                    if m.shadow { "yes" } else { "no" },
                    m.expires_at.map_or_else(|| "never".to_owned(), |e| e.to_rfc3339()),
                    m.lifted_at.map_or_else(|| "-".to_owned(), |e| e.to_rfc3339()),
                    m.reason
                );
            }
        }
        MutesCommand::Remove { id } => {
            let revoked = bot::mutes::revoke(&db, bus.as_deref(), id, actor).await?;
            println!("lifted mute #{id} (case #{})", revoked.case.id);
        }
    }
    Ok(())
}

pub async fn cases(config: Config, command: CasesCommand) -> anyhow::Result<()> {
    let db = bot::db::connect(config.database_url.expose_secret()).await?;
    bot::db::migrate(&db).await?;
    match command {
        CasesCommand::List { limit } => {
            println!("{:>6}  {:<12} {:<32} {:<26} {:<22} reason", "case", "kind", "target", "at", "until");
            for c in bot::cases::list(&db, limit).await? {
                let until = c.expires_at.map_or_else(|| "-".to_owned(), |e| e.format("%Y-%m-%d %H:%M UTC").to_string());
                println!(
                    "{:>6}  {:<12} {:<32} {:<26} {:<22} {}",
                    c.id,
                    c.kind,
                    c.target,
                    c.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    until,
                    c.reason
                );
            }
        }
        CasesCommand::Show { number } => {
            let Some(case) = bot::cases::get(&db, number).await? else {
                anyhow::bail!("there is no case #{number}");
            };
            println!("{}", bot::cases::describe(&case));
        }
    }
    Ok(())
}
