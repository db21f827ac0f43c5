//! `chatroulette`: one binary for every role.
//!
//! With no subcommand it runs everything in one process on embedded defaults: SQLite under
//! `./data/`, the in-process bus, the bot headless (no Discord) and the gateway serving the web
//! client. The subcommands (`migrate`, `rooms …`) are operator tools against `DATABASE_URL`.

pub mod config;
pub mod shutdown;

use std::net::SocketAddr;
use std::sync::Arc;

use bot::Bot;
use bus::{Bus, InProcessBus};
use gateway::ReadinessCheck;
use sea_orm::DatabaseConnection;

pub use config::Config;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] bot::db::ConnectError),
    #[error("cannot start the bot: {0}")]
    Bot(#[from] bot::BotError),
    #[error(transparent)]
    Gateway(#[from] gateway::GatewayError),
}

/// Everything in one process, bound and ready to run.
pub struct AllInOne {
    gateway: gateway::Application,
    bot: Bot,
}

impl AllInOne {
    /// Open and migrate the database, start the bot's view of rooms, bind the gateway.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let db = bot::db::connect(&config.database_url).await?;
        bot::db::migrate(&db).await?;
        let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
        let bot = Bot::build(config.bot, db.clone(), bus.clone()).await?;
        let gateway =
            gateway::Application::build(config.gateway, bus, vec![Arc::new(DatabaseReady(db))])
                .await?;
        Ok(Self { gateway, bot })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    pub fn port(&self) -> u16 {
        self.gateway.port()
    }

    /// Run until `shutdown` fires, then stop the gateway first and the bot after it, so the
    /// bot logs every message the gateway accepted.
    pub async fn run_until_stopped(self, shutdown: shutdown::Shutdown) {
        let gateway_stopped = shutdown::Shutdown::new();
        let bot = tokio::spawn(self.bot.run_until_stopped(gateway_stopped.wait()));
        self.gateway.run_until_stopped(shutdown.wait()).await;
        gateway_stopped.trigger();
        if let Err(e) = bot.await {
            tracing::error!(error = %e, "the bot task failed");
        }
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
