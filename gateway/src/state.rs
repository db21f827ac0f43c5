//! What every HTTP handler, connection and background task of one gateway shares: [`State`],
//! and the count of live connections that shutdown waits on.

use std::sync::Arc;

use bus::Bus;

use crate::directory::RoomDirectory;
use crate::hub::Hub;
use crate::ratelimit::{IP_LIMITS_IDLE, IpLimits};
use crate::{GatewayConfig, ReadinessCheck, address, bans, capacity, filters, room_list, sockets, tasks, websocket};

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
    /// closes itself with 1001 at once.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Open WebSocket connections, so shutdown can wait for them to finish.
    pub live: Arc<ConnectionCount>,
    /// Bans in force.
    pub bans: bans::BanList,
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
    pub looking: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
    /// What was put back after the bus lost its data.
    pub recovery: crate::recovery::Recovery,
}

impl State {
    /// A gateway's state with no rooms, bans or filters yet (the caller loads them).
    pub fn new(config: GatewayConfig, bus: Arc<dyn Bus>, readiness: Vec<Arc<dyn ReadinessCheck>>) -> Self {
        let capacity = capacity::Capacity::new(config.max_connections);
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
            filters: filters::Filters::default(),
            capacity,
            sockets: Arc::default(),
            tasks: Arc::default(),
            ip_limits: moka::sync::Cache::builder().max_capacity(1_000_000).time_to_idle(IP_LIMITS_IDLE).build(),
            room_list: room_list::RoomListCache::default(),
            looking: std::sync::Mutex::new(None),
            recovery: crate::recovery::Recovery::default(),
        }
    }

    /// The gateway is stopping: close every socket with 1001 once what is queued for it is
    /// written (sockets registered from now on close themselves, see [`State::stopping`]).
    pub fn stop_sockets(&self) {
        // Before the registry is read: a socket registered after that sees the flag.
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        for handle in self.sockets.matching(|_| true) {
            handle.close(websocket::code::GOING_AWAY, SERVER_RESTARTING, true);
        }
    }
}

/// The reason sockets are given when the gateway stops.
pub(crate) const SERVER_RESTARTING: &str = "server restarting";

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
