//! What every HTTP handler, connection and background task of one gateway shares: [`State`],
//! and the count of live connections that shutdown waits on.

use std::sync::Arc;

use bus::Bus;

use crate::directory::RoomDirectory;
use crate::hub::Hub;
use crate::ratelimit::{IP_LIMITS_IDLE, IpLimits};
use crate::{
    GatewayConfig, ReadinessCheck, address, bans, capacity, filters, online, room_list, sockets, tasks, websocket,
};

/// Shared by every handler and connection of one gateway.
pub(crate) struct State {
    pub config: GatewayConfig,
    pub bus: Arc<dyn Bus>,
    pub directory: RoomDirectory,
    pub hub: Hub,
    /// Unique per process: presence holders are `gateway_id:connection`.
    pub gateway_id: String,
    pub readiness: Vec<Arc<dyn ReadinessCheck>>,
    /// Set once at shutdown ([`State::stop_sockets`]); a connection registered after that
    /// is told `restarting` and closes itself with 1012 at once.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Open WebSocket connections, so shutdown can wait for them to finish.
    pub live: Arc<ConnectionCount>,
    /// Bans in force.
    pub bans: bans::BanList,
    /// Mutes in force.
    pub mutes: crate::mutes::MuteList,
    /// Word and regex filters.
    pub filters: filters::Filters,
    /// Open sockets in all, capped by `MAX_CONNECTIONS`.
    pub capacity: Arc<capacity::Capacity>,
    /// Open sockets by address.
    pub sockets: Arc<sockets::Sockets>,
    /// The background tasks, watched: one that dies makes the gateway unready.
    pub tasks: Arc<tasks::Supervisor>,
    /// Per-address limits (message, join and typing buckets) by address key (an IPv6 /64),
    /// forgotten after idle minutes.
    pub ip_limits: moka::sync::Cache<address::AddressKey, Arc<std::sync::Mutex<IpLimits>>>,
    /// `GET /api/rooms`, at most a second old.
    pub room_list: room_list::RoomListCache,
    /// `looking` of `GET /api/info`, counted on the bus at most once a second.
    pub looking: online::CachedCount,
    /// `online` of `GET /api/info` and `waiting`, summed on the bus at most once a second.
    pub online: online::CachedCount,
    /// The budget of the per-request HTTP routes, per address ([`crate::api_limit`]).
    pub api_limits: crate::api_limit::ApiLimits,
    /// The budget of `POST /api/appeals`, per address ([`crate::api_limit::admit_appeal`]).
    pub appeal_limits: crate::api_limit::ApiLimits,
    /// The sessions this gateway holds for resuming, and its inbox for notices about them.
    pub resumes: crate::session::resumes::Resumes,
    /// What was put back after the bus lost its data.
    pub recovery: crate::recovery::Recovery,
    /// The proof-of-work gate.
    pub shield: crate::shield::Shield,
    /// What bounds the evasion alerts this gateway sends ([`crate::evasion`]).
    pub evasion: crate::evasion::Limiter,
    /// The tags and link domains staff trusted.
    pub staff_trust: crate::trust::StaffTrust,
    /// New visitors' last messages, for the repeat check.
    pub recent: crate::trust::Recent,
}

impl State {
    /// A gateway's state with no rooms, bans or filters yet (the caller loads them).
    pub fn new(config: GatewayConfig, bus: Arc<dyn Bus>, readiness: Vec<Arc<dyn ReadinessCheck>>) -> Self {
        let capacity = capacity::Capacity::new(config.max_connections);
        let shield =
            crate::shield::Shield::new(&config.shield, secrecy::ExposeSecret::expose_secret(&config.deployment_key));
        Self {
            config,
            bus,
            directory: RoomDirectory::default(),
            hub: Hub::default(),
            gateway_id: format!("gw-{}", ulid::Ulid::new()),
            readiness,
            stopping: std::sync::atomic::AtomicBool::new(false),
            live: Arc::default(),
            bans: bans::BanList::default(),
            mutes: crate::mutes::MuteList::default(),
            filters: filters::Filters::default(),
            capacity,
            sockets: Arc::default(),
            tasks: Arc::default(),
            ip_limits: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(IP_LIMITS_IDLE).build(),
            room_list: room_list::RoomListCache::default(),
            looking: online::CachedCount::default(),
            online: online::CachedCount::default(),
            api_limits: crate::api_limit::cache(),
            appeal_limits: crate::api_limit::appeal_cache(),
            resumes: crate::session::resumes::Resumes::new(),
            recovery: crate::recovery::Recovery::default(),
            shield,
            evasion: crate::evasion::Limiter::default(),
            staff_trust: crate::trust::StaffTrust::default(),
            recent: crate::trust::Recent::default(),
        }
    }

    /// The gateway is stopping: tell every socket `restarting`, then close it with 1012 once
    /// what is queued for it is written (sockets registered from now on do the same by
    /// themselves, see [`State::stopping`]). Only the first call does anything.
    pub fn stop_sockets(&self) {
        // Before the registry is read: a socket registered after that sees the flag.
        if self.stopping.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        for handle in self.sockets.matching(|_| true) {
            restart_socket(&handle);
        }
    }
}

/// The reason sockets are given when the gateway stops.
pub(crate) const SERVER_RESTARTING: &str = "server restarting";

/// The shortest `retry_after_ms` of a `restarting` frame; each socket adds a random jitter of
/// up to [`RESTART_JITTER_MS`], so a gateway's visitors do not all come back in the same instant.
pub(crate) const RESTART_RETRY_MS: u64 = 1_000;
pub(crate) const RESTART_JITTER_MS: u64 = 2_000;

/// Tell one socket the gateway restarts (`restarting {retry_after_ms}`, 1 to 3 s), then close
/// it with 1012 (service restart) once that is written.
pub(crate) fn restart_socket(handle: &crate::hub::ConnHandle) {
    let retry_after_ms = RESTART_RETRY_MS + rand::random_range(0..=RESTART_JITTER_MS);
    handle.send_frame(&protocol::ServerFrame::Restarting { retry_after_ms });
    handle.close(websocket::code::SERVICE_RESTART, SERVER_RESTARTING, true);
}

/// Counts live connections; shutdown waits for zero.
#[derive(Default)]
pub(crate) struct ConnectionCount {
    count: std::sync::atomic::AtomicUsize,
    zero: tokio::sync::Notify,
}

impl ConnectionCount {
    pub fn enter(self: &Arc<Self>) -> ConnectionGuard {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        metrics::gauge!("chat_connections").increment(1.0);
        ConnectionGuard(self.clone())
    }

    /// Live connections now.
    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            if self.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Held by a connection task for its lifetime.
pub(crate) struct ConnectionGuard(Arc<ConnectionCount>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        metrics::gauge!("chat_connections").decrement(1.0);
        if self.0.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}
