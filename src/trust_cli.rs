//! The operator's side of the trust tier for new visitors: `chatroulette trust TAG`,
//! `chatroulette untrust TAG` and `chatroulette links allow|remove|list`, shaped like `bans`:
//! they work against `DATABASE_URL` and publish on Redis at once when `REDIS_URL` is set (else
//! the running process picks them up on its next sync tick, within `ROOM_SYNC_SECS`). A room's
//! own setting is `chatroulette rooms edit ROOM --links refuse|inert|allow`.

use clap::Subcommand;
use secrecy::ExposeSecret;

use chatroulette::Config;

#[derive(Subcommand)]
pub enum LinksCommand {
    /// Always allow links to a domain (and its subdomains), even from new visitors.
    Allow { domain: String },
    /// Stop always allowing a domain.
    Remove { domain: String },
    /// List the allowed domains and the trusted tags.
    List,
}

/// What the operator asked of the trust tier.
pub enum TrustCommand {
    Trust(String),
    Untrust(String),
    Links(LinksCommand),
}

pub async fn run(config: Config, command: TrustCommand, actor: &str) -> anyhow::Result<()> {
    let db = bot::db::connect(config.database_url.expose_secret()).await?;
    bot::db::migrate(&db).await?;
    let bus = super::operator_bus(&config).await?;
    let bus = bus.as_deref();
    let when = if bus.is_some() { "now" } else { "at the running process's next sync" };
    match command {
        TrustCommand::Trust(tag) => {
            let row = bot::trust::trust(&db, bus, &tag, actor).await?;
            println!("trusted tag {} ({}); gateways apply it {when}", row.tag, bot::trust::describe(&row));
        }
        TrustCommand::Untrust(tag) => {
            if !bot::trust::untrust(&db, bus, &tag, actor).await? {
                anyhow::bail!("tag {} was not trusted", tag.trim());
            }
            println!("tag {} is no longer trusted; gateways apply it {when}", tag.trim());
        }
        TrustCommand::Links(LinksCommand::Allow { domain }) => {
            let domain = bot::trust::allow_domain(&db, bus, &domain, actor).await?;
            println!("links to {domain} are allowed from everyone; gateways apply it {when}");
        }
        TrustCommand::Links(LinksCommand::Remove { domain }) => {
            if !bot::trust::remove_domain(&db, bus, &domain, actor).await? {
                anyhow::bail!("{} was not an allowed domain", domain.trim());
            }
            println!("{} is no longer always allowed; gateways apply it {when}", domain.trim());
        }
        TrustCommand::Links(LinksCommand::List) => {
            let (tags, domains) = bot::trust::list(&db).await?;
            println!("allowed link domains:");
            for d in domains {
                println!("  {d}");
            }
            println!("trusted tags:");
            for t in tags {
                println!("  {} ({}; by {} at {})", t.tag, bot::trust::describe(&t), t.moderator, t.created_at);
            }
        }
    }
    Ok(())
}
