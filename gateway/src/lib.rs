//! The gateway: where anonymous visitors connect.
//!
//! A salvo HTTP server that serves the web client (`site/`, embedded), the room list API,
//! health and readiness probes, and the WebSocket chat. It validates everything a browser sends
//! ([`protocol::input`]), enforces per-connection limits, and fans room events out to its own
//! sockets; everything shared between gateways (presence, history, the queue to the bot, room
//! definitions) goes through the [`bus::Bus`]. The gateway never touches the database.
//!
//! Where a visitor is admitted: a socket at the upgrade (`upgrade`: origin, ban, the
//! proof-of-work gate, `capacity`, sockets per address), every frame after that in `session::admission` (bans, nickname and text,
//! locks, filters, rate limits, slowmode; seats when they are claimed).
//!
//! * [`config`]: the gateway's settings and their defaults.
//! * `state`: `State`, what every handler, connection and task of one gateway shares.
//! * `http`: the public HTTP routes, and the operators' listener (metrics, detailed readiness).
//! * `upgrade`: `GET /ws`, where a socket is admitted and handed to its session.
//! * `client`: who is connecting: the address through trusted proxies, the page origin.
//! * `address`: per-address keys (IPv6 by /64) and shared-address budgets.
//! * `device`: the device token (`/ws?device=`) and its keyed hash, the device tag.
//! * `envelope`: the sender envelope of room frames (address and device tags, message id and
//!   nickname, visibility), read and stripped by the hub.
//! * `deliveries`: each room's record of recent message deliveries, for reports, replies,
//!   edits and deletions; `changes`: what the hub reads of a frame for it.
//! * `api_limit`: the per-address budget of the HTTP routes that work per request, and of appeals.
//! * `capacity`: the cap on open sockets per gateway (`MAX_CONNECTIONS`).
//! * `sockets`: every open socket by address, for per-address limits and bans.
//! * `websocket`: RFC 6455 itself: handshake, frame codec, bounded outbox, socket driver.
//! * `session`: one task per connection, speaking the chat contract (`docs/protocol.md`):
//!   * `session::frame`: a text frame parsed, or `bad_frame` / `unknown_type`;
//!   * `session::admission`: the checks every frame passes before it is acted on;
//!   * `session::limits`: the socket's and the address's rate-limit buckets;
//!   * `session::rooms`: `join` and `leave`: seats, presence, history;
//!   * `session::say`: `say` (queued for the bot, then acknowledged) and `typing`;
//!   * `session::reply`: the message a `say` answers (`reply_to`);
//!   * `session::edit`: `edit` and `delete` of one's own message; `session::author`: message
//!     ids that name their author's session;
//!   * `session::roulette`: `roulette` and `next`, and what wakes a connection that waits;
//!   * `session::matchmaker`: pairing a roulette ticket with a waiting stranger;
//!   * `session::visitor_rooms`: `create`;
//!   * `session::resume`, `session::park`, `session::resumes`: resuming a dropped socket's
//!     session (room, nickname, seat, stranger) within `RESUME_SECS`, on any gateway.
//! * `ratelimit`: the token bucket behind every rate limit, and the buckets an address's sockets
//!   share.
//! * `bans`, `mutes`, `filters`: the bans, mutes (plain and shadow) and word/regex filters in force.
//! * `directory`: the room definitions this gateway serves from.
//! * `control`: follows the bot's control events (rooms, bans, mutes, warnings, filters, kicks)
//!   and reloads the bus snapshot; closes the sockets a new ban covers, tells those a new mute or
//!   a warning covers.
//! * `recovery`: after the bus lost its data: visitor rooms, pairs and roulette tickets put
//!   back, holders of seats that could not be taken back told and sent away.
//! * `shield`: the proof-of-work gate: `GET /api/challenge`, `/ws?pow=`, and when it is on.
//! * `refusal`: the JSON body of an HTTP refusal, `{code, message}`.
//! * `room_list`: `GET /api/rooms`, cached at most a second.
//! * `online`: who is online across gateways: this gateway's socket count reported to the bus,
//!   the sum read at most once a second (and the roulette count's cache).
//! * `status`: `GET /api/status`, the sanctions (ban, plain mute) in force on the caller.
//! * `appeals`: `POST /api/appeals` and `GET /api/appeals/{token}`: a sanctioned visitor's
//!   appeal, stored on the bus and queued for the bot.
//! * `visitor`: visitor rooms and pairs opened and closed on the bus, and the sweeper that closes
//!   idle ones.
//! * `hub`: the local fan-out, room → this gateway's sockets; serialise once, share the bytes.
//! * `keepalive`: one task pinging every socket and dropping silent ones.
//! * `tasks`: the background tasks, supervised; one that dies makes the gateway unready.
//! * [`telemetry`]: Prometheus metrics.
//! * `site`: the embedded web client.

mod address;
mod api_limit;
mod appeals;
mod bans;
mod capacity;
mod changes;
mod client;
pub mod config;
mod control;
mod deliveries;
mod device;
mod directory;
mod envelope;
mod filters;
mod http;
mod hub;
mod keepalive;
mod mutes;
mod online;
mod ratelimit;
mod recovery;
mod refusal;
mod room_list;
mod session;
pub mod shield;
mod site;
mod sockets;
mod state;
mod status;
mod tasks;
pub mod telemetry;
mod upgrade;
mod visitor;
mod websocket;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use salvo::conn::tcp::TcpAcceptor;
use salvo::prelude::*;

pub use config::GatewayConfig;
pub use http::ReadinessCheck;

use crate::state::State;

/// Errors while starting the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("ADMIN_LISTEN_ADDR: cannot listen on {addr}: {source}")]
    AdminBind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot read room definitions from the bus: {0}")]
    Bus(#[from] bus::BusError),
}

/// Bind with `TCP_NODELAY` on the listening socket, which accepted sockets inherit (Linux):
/// chat frames are small and must leave at once, not wait for the peer's delayed ACK (Nagle's
/// algorithm costs up to 40 ms per frame otherwise).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A bound, not yet running gateway (zero2prod's `Application`).
pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    /// The operators' listener, if it is served.
    admin: Option<(TcpAcceptor, SocketAddr)>,
    state: Arc<State>,
}

/// Bind the operators' listener as configured: an explicit address must bind, the default one
/// may be taken (a second gateway on one host), which is logged.
fn bind_admin(admin: config::AdminListen) -> Result<Option<(TcpAcceptor, SocketAddr)>, GatewayError> {
    let (addr, explicit) = match admin {
        config::AdminListen::Off => return Ok(None),
        config::AdminListen::Default(addr) => (addr, false),
        config::AdminListen::Explicit(addr) => (addr, true),
    };
    let bound = listen(addr).and_then(|l| {
        let local = l.local_addr()?;
        Ok((TcpAcceptor::try_from(l)?, local))
    });
    match bound {
        Ok(bound) => Ok(Some(bound)),
        Err(source) if explicit => Err(GatewayError::AdminBind { addr, source }),
        Err(error) => {
            tracing::warn!(
                %addr, %error,
                "the default admin address (metrics, detailed readiness) is taken; running without it: set ADMIN_LISTEN_ADDR to serve it elsewhere"
            );
            Ok(None)
        }
    }
}

impl Application {
    /// Bind the listener and load room definitions; port 0 picks a free port.
    pub async fn build(
        config: GatewayConfig,
        bus: Arc<dyn Bus>,
        readiness: Vec<Arc<dyn ReadinessCheck>>,
    ) -> Result<Self, GatewayError> {
        let listener =
            listen(config.listen_addr).map_err(|source| GatewayError::Bind { addr: config.listen_addr, source })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind { addr: config.listen_addr, source })?;
        let acceptor = TcpAcceptor::try_from(listener)
            .map_err(|source| GatewayError::Bind { addr: config.listen_addr, source })?;
        let admin = bind_admin(config.admin)?;
        let state = Arc::new(State::new(config, bus, readiness));
        state.directory.replace_all(state.bus.rooms().await?);
        state.bans.replace_all(state.bus.bans().await?);
        state.mutes.replace_all(state.bus.mutes().await?);
        state.filters.replace_all(&state.bus.filters().await?);
        Ok(Self { acceptor, addr, admin, state })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where `/metrics` and the detailed readiness report are served, if anywhere.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// Serve until `shutdown` resolves, then stop gracefully: every socket is told `restarting`
    /// and closed with 1012 (clients reconnect elsewhere or later) and this returns once they
    /// are gone, so nothing is accepted after it returns.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        telemetry::handle();
        let router = http::router(self.state.clone());
        let server = Server::new(self.acceptor);
        let handle = server.handle();
        let tasks = &self.state.tasks;
        let control = tasks.spawn("control follower", control::follow(self.state.clone()));
        let sweeper = tasks.spawn("visitor-room sweeper", visitor::sweep(self.state.clone()));
        let keepalive = tasks.spawn("keepalive", keepalive::run(self.state.clone()));
        let reporter = tasks.spawn("online reporter", online::report(self.state.clone()));
        let resumes = tasks.spawn("resume inbox", session::resumes::run(self.state.clone()));
        let recovery = tasks.spawn("bus recovery", recovery::follow(self.state.clone()));
        let lost_seats = tasks.spawn("lost seats", recovery::tell_lost_seats(self.state.clone()));
        let shield = tasks.spawn("shield", shield::mode::run(self.state.clone()));
        let admin = self.admin.map(|(acceptor, addr)| {
            tracing::info!("admin (metrics, detailed readiness) on http://{addr}");
            let server = Server::new(acceptor);
            let handle = server.handle();
            let task = tokio::spawn(server.serve(http::admin_router(self.state.clone())));
            (handle, task)
        });
        tracing::info!("listening on http://{}", self.addr);
        let state = self.state.clone();
        tokio::spawn(async move {
            shutdown.await;
            state.stop_sockets();
            handle.stop_graceful(Duration::from_secs(5));
        });
        server.serve(router).await;
        self.state.stop_sockets();
        if tokio::time::timeout(Duration::from_secs(10), self.state.live.wait_zero()).await.is_err() {
            tracing::warn!("some connections did not close in time");
        }
        control.abort();
        sweeper.abort();
        keepalive.abort();
        reporter.abort();
        online::withdraw(&self.state).await;
        resumes.abort();
        recovery.abort();
        lost_seats.abort();
        shield.abort();
        if let Some((handle, task)) = admin {
            handle.stop_forceful();
            task.abort();
        }
        tracing::info!("gateway stopped");
    }
}
