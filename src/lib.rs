//! `chatroulette`: one binary for every role.
//!
//! With no subcommand it runs everything in one process: by default on embedded defaults
//! (SQLite under `./data/`, the in-process bus, the bot headless), or over Redis when
//! `REDIS_URL` is set. `chatroulette bot` and `chatroulette gateway` run one role each for split
//! deployment (one leading bot, a standby if wanted, and any number of gateways, all on one
//! Redis). The other subcommands (`migrate`, `rooms …`) are operator tools.
//!
//! - [`config`]: every setting declared once (variable, flag, help, default) and checked.
//! - [`shutdown`]: one trigger, any number of waiters.

pub mod config;
pub mod shutdown;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bot::{Bot, BotConfig};
use bus::{Bus, InProcessBus, RedisBus, RedisConfig};
use gateway::ReadinessCheck;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

pub use config::Config;

use crate::config::RedisSettings;
use crate::shutdown::Shutdown;

/// Why a role could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] bot::db::ConnectError),
    #[error("cannot start the bot: {0}")]
    Bot(#[from] bot::BotError),
    #[error(transparent)]
    Gateway(#[from] gateway::GatewayError),
    #[error("cannot reach Redis (REDIS_URL): {0}")]
    Redis(bus::BusError),
    #[error(
        "this gateway has no deployment key: set IP_TAG_SECRET (the same on every process), or start `chatroulette bot` first so it shares its generated one through Redis (waited {0:?})"
    )]
    NoDeploymentKey(Duration),
    #[error(
        "`chatroulette {0}` runs one role of a split deployment and needs REDIS_URL; run `chatroulette` without a subcommand for everything in one process"
    )]
    NeedsRedis(&'static str),
}

/// The bus a process uses.
#[derive(Clone)]
pub enum BusHandle {
    InProcess(Arc<InProcessBus>),
    Redis(Arc<RedisBus>),
}

impl BusHandle {
    pub fn as_dyn(&self) -> Arc<dyn Bus> {
        match self {
            Self::InProcess(b) => b.clone(),
            Self::Redis(b) => b.clone(),
        }
    }
}

/// Connect to the configured bus; Redis is retried with backoff for up to 30 s at start, so
/// processes started together with Redis find it.
pub async fn connect_bus(redis: Option<&RedisSettings>, queue_max: u64) -> Result<BusHandle, StartError> {
    let Some(settings) = redis else {
        return Ok(BusHandle::InProcess(Arc::new(InProcessBus::with_queue_max(queue_max))));
    };
    let config = RedisConfig {
        url: settings.url.expose_secret().clone(),
        prefix: settings.prefix.clone(),
        presence_ttl: settings.presence_ttl,
        queue_max,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut backoff = Duration::from_millis(200);
    loop {
        match RedisBus::connect(config.clone()).await {
            Ok(bus) => return Ok(BusHandle::Redis(Arc::new(bus))),
            Err(e) if tokio::time::Instant::now() + backoff < deadline => {
                tracing::warn!(error = %e, "cannot reach Redis yet; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(StartError::Redis(e)),
        }
    }
}

/// Open the database and bring its schema up to date.
pub async fn open_database(url: &str) -> Result<DatabaseConnection, StartError> {
    let db = bot::db::connect(url).await?;
    bot::db::migrate(&db).await?;
    Ok(db)
}

/// The bot role, ready to run: over Redis it first waits for the leader lock.
#[allow(clippy::large_enum_variant, reason = "one value per process; boxing would buy nothing")]
pub enum BotRole {
    Ready(Bot),
    Leader { bus: Arc<RedisBus>, db: DatabaseConnection, config: BotConfig, leader_ttl: Duration },
}

impl BotRole {
    pub async fn prepare(config: &Config, db: DatabaseConnection, bus: &BusHandle) -> Result<Self, StartError> {
        Ok(match (bus, &config.redis) {
            (BusHandle::Redis(bus), Some(redis)) => {
                Self::Leader { bus: bus.clone(), db, config: config.bot.clone(), leader_ttl: redis.leader_ttl }
            }
            _ => Self::Ready(Bot::build(config.bot.clone(), db, bus.as_dyn()).await?),
        })
    }

    /// Run until `shutdown`; over Redis, only while this process holds the leader lock.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), StartError> {
        match self {
            Self::Ready(bot) => {
                bot.run_until_stopped(shutdown.wait()).await;
                Ok(())
            }
            Self::Leader { bus, db, config, leader_ttl } => {
                let id = format!("bot-{}", ulid::Ulid::new());
                loop {
                    let leadership = tokio::select! {
                        leadership = bus.lead(&id, leader_ttl) => leadership,
                        () = shutdown.wait() => return Ok(()),
                    };
                    let bot = Bot::build(config.clone(), db.clone(), bus.clone()).await?;
                    let lost = Arc::new(AtomicBool::new(false));
                    let stop = {
                        let lost = lost.clone();
                        let lost_lead = leadership.lost();
                        let stopped = shutdown.wait();
                        async move {
                            tokio::select! {
                                () = lost_lead => lost.store(true, Ordering::SeqCst),
                                () = stopped => {}
                            }
                        }
                    };
                    bot.run_until_stopped(stop).await;
                    if !lost.load(Ordering::SeqCst) {
                        leadership.resign().await;
                        return Ok(());
                    }
                    // Only one bot may consume: this one stopped, and stands by until it can
                    // lead again (Redis back, or the other leader gone).
                    tracing::warn!(
                        "this bot lost the leader lock (Redis unreachable or another bot took over); it stopped consuming and stands by"
                    );
                }
            }
        }
    }
}

/// Everything in one process, bound and ready to run.
pub struct AllInOne {
    gateway: gateway::Application,
    bot: BotRole,
}

impl AllInOne {
    /// Open and migrate the database, connect the bus, publish rooms, bind the gateway.
    pub async fn build(mut config: Config) -> Result<Self, StartError> {
        let db = open_database(config.database_url.expose_secret()).await?;
        if config.bot.ip_tag_secret.is_none() {
            // The bot's generated secret, which it also shares through the bus for gateways of
            // a split deployment.
            let tagger = bot::iptag::IpTagger::load(&db, None).await?;
            config.gateway.deployment_key = secrecy::SecretString::new(tagger.deployment_key());
        }
        let bus = connect_bus(config.redis.as_ref(), config.queue_max).await?;
        let bot = BotRole::prepare(&config, db.clone(), &bus).await?;
        let checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(DatabaseReady(db)), Arc::new(BotReady)];
        let gateway = gateway::Application::build(config.gateway, bus.as_dyn(), checks).await?;
        Ok(Self { gateway, bot })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    pub fn port(&self) -> u16 {
        self.gateway.port()
    }

    /// Where `/metrics` and the detailed readiness report are served, if anywhere.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.gateway.admin_addr()
    }

    /// Run until `shutdown` fires, then stop the gateway first and the bot after it, so the
    /// bot logs every message the gateway accepted.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> Result<(), StartError> {
        let gateway_stopped = Shutdown::new();
        let bot = tokio::spawn(self.bot.run(gateway_stopped.clone()));
        self.gateway.run_until_stopped(shutdown.wait()).await;
        gateway_stopped.trigger();
        match bot.await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "the bot task failed");
                Ok(())
            }
        }
    }
}

/// `chatroulette gateway`: a gateway of a split deployment.
pub async fn gateway_role(config: Config) -> Result<(gateway::Application, BusHandle), StartError> {
    if config.redis.is_none() {
        return Err(StartError::NeedsRedis("gateway"));
    }
    if config.bot.ip_tag_secret.is_none() {
        tracing::warn!(
            "IP_TAG_SECRET is unset: each gateway names addresses with a secret of its own, so seats per \
             address, slowmode and visitor rooms per address are counted per gateway, not across them"
        );
    }
    let bus = connect_bus(config.redis.as_ref(), config.queue_max).await?;
    let mut config = config;
    if config.bot.ip_tag_secret.is_none() {
        config.gateway.deployment_key = secrecy::SecretString::new(shared_deployment_key(bus.as_dyn().as_ref()).await?);
    }
    let app = gateway::Application::build(config.gateway, bus.as_dyn(), Vec::new()).await?;
    Ok((app, bus))
}

/// How long a gateway without `IP_TAG_SECRET` waits for the bot to share its deployment key.
const DEPLOYMENT_KEY_WAIT: Duration = Duration::from_secs(30);

/// The deployment key the bot shared on the bus, waited for a while (the bot may be starting
/// beside this gateway).
async fn shared_deployment_key(bus: &dyn Bus) -> Result<String, StartError> {
    let deadline = tokio::time::Instant::now() + DEPLOYMENT_KEY_WAIT;
    let mut said = false;
    loop {
        match bus.deployment_key().await {
            Ok(Some(key)) if !key.is_empty() => return Ok(key),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the deployment key from Redis"),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StartError::NoDeploymentKey(DEPLOYMENT_KEY_WAIT));
        }
        if !said {
            tracing::info!("IP_TAG_SECRET is unset: waiting for the bot to share its deployment key through Redis");
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `chatroulette bot`: the bot of a split deployment (leader or standby).
pub async fn bot_role(config: Config) -> Result<BotRole, StartError> {
    if config.redis.is_none() {
        return Err(StartError::NeedsRedis("bot"));
    }
    let db = open_database(config.database_url.expose_secret()).await?;
    let bus = connect_bus(config.redis.as_ref(), config.queue_max).await?;
    BotRole::prepare(&config, db, &bus).await
}

/// In one process, `/readyz` also reports the bot: tasks that died, channels left public.
struct BotReady;

#[async_trait::async_trait]
impl ReadinessCheck for BotReady {
    fn name(&self) -> &'static str {
        "bot"
    }

    async fn check(&self) -> Result<(), String> {
        let problems = bot::health::problems();
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }

    fn warnings(&self) -> Vec<String> {
        bot::health::warnings()
    }

    fn dead_letters(&self) -> Option<u64> {
        bot::health::dead_letters()
    }
}

/// `/readyz` also needs the database.
struct DatabaseReady(DatabaseConnection);

#[async_trait::async_trait]
impl ReadinessCheck for DatabaseReady {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}
