//! The gateway: where anonymous visitors connect.
//!
//! A salvo HTTP server that serves the web client (`site/`, embedded), the room list API,
//! health and readiness probes, and the WebSocket chat. It validates everything a browser sends
//! ([`protocol::input`]), enforces per-connection limits, and fans room events out to its own
//! sockets; everything shared between gateways (presence, history, the queue to the bot, room
//! definitions) goes through the [`bus::Bus`]. The gateway never touches the database.
//!
//! * [`config`]: the gateway's settings and their defaults.
//! * `directory`: the room definitions this gateway serves from (bus snapshot + control events).
//! * `hub`: the local fan-out, room → this gateway's sockets; serialise once, share the bytes.
//! * `ws`: one task per connection, speaking the WebSocket contract.
//! * `http`: the HTTP routes.

pub mod config;
mod directory;
mod http;
mod hub;
mod ratelimit;
mod site;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use salvo::conn::tcp::TcpAcceptor;
use salvo::prelude::*;

pub use config::GatewayConfig;
pub use http::ReadinessCheck;

use crate::directory::RoomDirectory;
use crate::hub::Hub;

/// Shared by every handler and connection of one gateway.
pub(crate) struct State {
    pub config: GatewayConfig,
    pub bus: Arc<dyn Bus>,
    pub directory: RoomDirectory,
    pub hub: Hub,
    /// Unique per process: presence holders are `gateway_id:connection`.
    pub gateway_id: String,
    pub readiness: Vec<Arc<dyn ReadinessCheck>>,
}

/// Errors while starting the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read room definitions from the bus: {0}")]
    Bus(#[from] bus::BusError),
}

/// A bound, not yet running gateway (zero2prod's `Application`).
pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: Arc<State>,
}

impl Application {
    /// Bind the listener and load room definitions; port 0 picks a free port.
    pub async fn build(
        config: GatewayConfig,
        bus: Arc<dyn Bus>,
        readiness: Vec<Arc<dyn ReadinessCheck>>,
    ) -> Result<Self, GatewayError> {
        let listener = tokio::net::TcpListener::bind(config.listen_addr)
            .await
            .map_err(|source| GatewayError::Bind {
                addr: config.listen_addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            addr: config.listen_addr,
            source,
        })?;
        let acceptor = TcpAcceptor::try_from(listener).map_err(|source| GatewayError::Bind {
            addr: config.listen_addr,
            source,
        })?;
        let directory = RoomDirectory::default();
        directory.replace_all(bus.rooms().await?);
        let gateway_id = format!("gw-{}", ulid::Ulid::new());
        let state = Arc::new(State {
            config,
            bus,
            directory,
            hub: Hub::default(),
            gateway_id,
            readiness,
        });
        Ok(Self {
            acceptor,
            addr,
            state,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serve until `shutdown` resolves, then stop gracefully (open sockets get a moment to
    /// close).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let router = http::router(self.state.clone());
        let server = Server::new(self.acceptor);
        let handle = server.handle();
        let control = tokio::spawn(directory::follow_control(self.state.clone()));
        tracing::info!("listening on http://{}", self.addr);
        tokio::spawn(async move {
            shutdown.await;
            handle.stop_graceful(Duration::from_secs(5));
        });
        server.serve(router).await;
        control.abort();
        tracing::info!("gateway stopped");
    }
}
