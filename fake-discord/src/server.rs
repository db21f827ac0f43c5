//! The running fake: the salvo server on `127.0.0.1` (the Gateway at `/gateway-ws`, REST
//! everywhere else), the handle tests hold, and what it is called and reached at.

use std::sync::Arc;

use salvo::conn::tcp::TcpAcceptor;
use salvo::prelude::*;
use salvo::server::ServerHandle;

use crate::config::{FakeConfig, FakeUser};
use crate::state::{Inner, Outbound, Shared};
use crate::{gateway, rest};

/// A running fake Discord. Cheap to clone; the server stops when the last clone is dropped
/// (or at [`FakeDiscord::shutdown`]).
#[derive(Clone)]
pub struct FakeDiscord {
    pub(crate) shared: Arc<Shared>,
    _server: Arc<ServerGuard>,
}

struct ServerGuard {
    handle: ServerHandle,
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl ServerGuard {
    fn stop(&self) {
        self.shared.with(|inner| inner.tell_all_connections(|| Outbound::Drop));
        self.handle.stop_forceful();
        self.task.abort();
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for FakeDiscord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDiscord").field("base_url", &self.shared.base_url).finish_non_exhaustive()
    }
}

impl FakeDiscord {
    /// Bind `127.0.0.1:0` and serve REST and the Gateway.
    ///
    /// # Panics
    /// When no loopback port can be bound (a test environment problem); see [`Self::try_start`].
    pub async fn start(config: FakeConfig) -> Self {
        match Self::try_start(config).await {
            Ok(discord) => discord,
            Err(error) => panic!("fake Discord cannot listen on 127.0.0.1: {error}"),
        }
    }

    /// Bind `127.0.0.1:0` and serve REST and the Gateway.
    pub async fn try_start(config: FakeConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = TcpAcceptor::try_from(listener)?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}"), format!("ws://{addr}/gateway-ws")));
        let router = Router::new()
            .push(Router::with_path("gateway-ws").goal(gateway::GatewayUpgrade(shared.clone())))
            .push(Router::with_path("{**rest}").goal(rest::Rest(shared.clone())));
        let server = Server::new(acceptor);
        let handle = server.handle();
        let task = tokio::spawn(server.serve(router));
        tracing::debug!(%addr, "fake Discord listening");
        Ok(Self { _server: Arc::new(ServerGuard { handle, task, shared: shared.clone() }), shared })
    }

    /// Stop serving and drop every gateway connection.
    pub fn shutdown(&self) {
        self._server.stop();
    }

    /// `http://127.0.0.1:PORT`: serenity's `HttpBuilder::proxy` value (`DISCORD_API_BASE`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `ws://127.0.0.1:PORT/gateway-ws`, as `GET /gateway` returns it.
    pub fn gateway_url(&self) -> String {
        self.shared.ws_url.clone()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// The accepted bot token (without `Bot `).
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The guild's id.
    pub fn guild_id(&self) -> u64 {
        self.shared.config.guild_id
    }

    /// The application's id.
    pub fn application_id(&self) -> u64 {
        self.shared.config.application_id
    }

    /// The bot user.
    pub fn bot_user(&self) -> FakeUser {
        self.shared.read(Inner::bot_user)
    }

    /// The @everyone role (its id is the guild id).
    pub fn everyone_role_id(&self) -> u64 {
        self.shared.config.guild_id
    }

    /// The "Moderator" role.
    pub fn moderator_role_id(&self) -> u64 {
        self.shared.read(|inner| inner.moderator_role)
    }
}
