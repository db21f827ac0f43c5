//! The gateway's settings. The binary fills them from the environment (see `.env.example`);
//! tests build them directly.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use protocol::frames::RateLimit;
use secrecy::SecretString;

/// Everything the gateway can be told.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen (`LISTEN_ADDR`).
    pub listen_addr: SocketAddr,
    /// Where `/metrics` and the detailed readiness report are served (`ADMIN_LISTEN_ADDR`).
    pub admin: AdminListen,
    /// Server ping period (`WS_PING_SECS`); a socket silent for two periods is dropped.
    pub ping_interval: Duration,
    /// Per-connection `say` token bucket (`SAY_BURST`, `SAY_PER_SECOND`).
    pub say_rate: RateLimit,
    /// Frames queued for one socket before it counts as too slow and is dropped (1008); frames a
    /// busy room delivers together count one by one.
    pub outbound_queue: usize,
    /// Shortest gap between two relayed `typing` frames of one connection.
    pub typing_interval: Duration,
    /// How often room definitions are re-read from the bus, as a safety net behind control
    /// events (`ROOM_REFRESH_SECS`).
    pub room_refresh: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// Page origins allowed to open WebSockets (`ALLOWED_ORIGINS`); `None` = this host only.
    pub allowed_origins: Option<Vec<String>>,
    /// Open sockets on this gateway, whatever their addresses (`MAX_CONNECTIONS`); more get HTTP
    /// 503 `busy`. Default: 90 % of the process's open-file limit.
    pub max_connections: usize,
    /// Open sockets per address (`MAX_CONNECTIONS_PER_IP`); more get HTTP 429. Like every
    /// per-address budget, an IPv6 address counts by its /64 (see `address`).
    pub max_connections_per_ip: usize,
    /// Seats one address may hold in one room (`SEATS_PER_ADDRESS`); a join beyond gets
    /// `too_many_seats`. Slowmode gives an address as many messages per period as it holds seats.
    pub seats_per_address: u32,
    /// Shared addresses (`SHARED_ADDRESSES`, CIDRs: campus or carrier NATs) whose per-address
    /// budgets (sockets, seats, messages, joins) are multiplied by `shared_address_factor`.
    pub shared_addresses: Vec<IpNet>,
    /// The multiplier of a shared address's budgets (`SHARED_ADDRESS_FACTOR`).
    pub shared_address_factor: u32,
    /// `say` token bucket shared by all sockets of one address (`SAY_IP_BURST`,
    /// `SAY_IP_PER_SECOND`). Relayed `typing` frames of one address have a bucket of their own
    /// of the same size.
    pub ip_say_rate: RateLimit,
    /// Joins per address per minute (`JOINS_PER_MINUTE`); roulette, next and create count too.
    pub joins_per_minute: u32,
    /// Requests per address per minute to `GET /api/rooms/{slug}` and `GET /api/status`
    /// (`API_REQUESTS_PER_MINUTE`), a tenth of it at once.
    pub api_requests_per_minute: u32,
    /// Appeals (`POST /api/appeals`) per address per hour (`APPEALS_PER_HOUR`), a quarter of
    /// them at once.
    pub appeals_per_hour: u32,
    /// Largest capacity a visitor may give a room (`VISITOR_ROOM_MAX_CAPACITY`).
    pub visitor_room_max_capacity: u32,
    /// Visitor rooms one address may have open at once (`VISITOR_ROOMS_PER_IP`).
    pub visitor_rooms_per_ip: u32,
    /// How long a visitor room stays after its last member left (`VISITOR_ROOM_IDLE_SECS`).
    pub visitor_room_idle: Duration,
    /// How long roulette waits for someone sharing an interest before pairing with anyone
    /// (`ROULETTE_INTEREST_WAIT_SECS`).
    pub roulette_interest_wait: Duration,
    /// How long a new pair waits for the stranger to arrive before reporting `stranger_left`.
    pub roulette_join_grace: Duration,
    /// How long two roulette strangers who just parted are held apart (unless one of them meets
    /// someone else first); after it they are each other's last resort again.
    pub roulette_again_after: Duration,
    /// How long a dropped socket's session may be resumed (`RESUME_SECS`; zero: never).
    pub resume: Duration,
    /// How long after sending a visitor may `edit` or `delete` its message (`EDIT_WINDOW_SECS`;
    /// zero: never).
    pub edit_window: Duration,
    /// How long a seat outlives its holder's last refresh (`PRESENCE_TTL_SECS`): a session
    /// whose gateway died stays resumable this long plus `resume`.
    pub presence_ttl: Duration,
    /// Keys the hash that stands for an address as a room's owner (`IP_TAG_SECRET`; random
    /// per process when unset, which limits rooms per address per gateway only).
    pub owner_secret: SecretString,
    /// Text a visitor accepts before the first message (`HOUSE_RULES` or `HOUSE_RULES_FILE`).
    pub house_rules: Option<String>,
    /// One secret for the whole deployment, from which the proof-of-work gate's key is derived
    /// (`IP_TAG_SECRET`, or the bot's generated secret; see `chatroulette`'s start-up). Every
    /// gateway of a deployment must have the same one; random per process by default.
    pub deployment_key: SecretString,
    /// The proof-of-work gate (`SHIELD_*`).
    pub shield: ShieldConfig,
    /// The emoji `react` accepts, announced in `hello.limits.reactions` (`REACTIONS`).
    pub reactions: Vec<String>,
    /// The trust tier for new visitors (`NEW_VISITOR_*`).
    pub trust: TrustConfig,
}

/// The trust tier for new visitors (`gateway::trust`): a visitor is new until either limit is
/// reached, whichever comes first; either at 0 turns the tier off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustConfig {
    /// `NEW_VISITOR_MINUTES`: how long after its first sight a device or address is new.
    pub new_visitor_for: Duration,
    /// `NEW_VISITOR_MESSAGES`: how many accepted messages end the tier sooner.
    pub new_visitor_messages: u32,
}

impl TrustConfig {
    /// Whether the tier applies at all.
    pub fn enabled(&self) -> bool {
        !self.new_visitor_for.is_zero() && self.new_visitor_messages > 0
    }
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self { new_visitor_for: Duration::from_secs(600), new_visitor_messages: 5 }
    }
}

/// The proof-of-work gate's settings (`gateway::shield`).
#[derive(Debug, Clone)]
pub struct ShieldConfig {
    /// `SHIELD_MODE`: `auto` (default), `on` or `off`; staff's `/shield` overrides it.
    pub mode: bus::ShieldMode,
    /// `SHIELD_JOIN_RATE`: upgrades per second (averaged over 10 s, summed across gateways)
    /// past which `auto` turns the gate on for everyone.
    pub join_rate: u32,
    /// `SHIELD_ADDRESS_REFUSALS`: refusals per minute past which one address (an IPv6 /64) must
    /// solve challenges alone; 0 never gates an address alone.
    pub address_refusals: u32,
    /// How long the join rate must stay at or under half the threshold before `auto` turns the
    /// gate off again.
    pub cooldown: Duration,
    /// How long a challenge may be solved and used.
    pub challenge_ttl: Duration,
    /// `maxnumber` of each difficulty step, easiest first.
    pub steps: [u64; bus::SHIELD_STEPS as usize],
}

/// `maxnumber` of each step: a visitor tries half of it on average. The first step costs a
/// phone well under a second (BENCHMARKS.md, "Scenario 6: the proof-of-work gate").
pub const SHIELD_STEPS: [u64; bus::SHIELD_STEPS as usize] = [50_000, 200_000, 1_000_000, 5_000_000];

impl Default for ShieldConfig {
    fn default() -> Self {
        Self {
            mode: bus::ShieldMode::Auto,
            join_rate: 300,
            address_refusals: 30,
            cooldown: Duration::from_secs(60),
            challenge_ttl: Duration::from_secs(300),
            steps: SHIELD_STEPS,
        }
    }
}

/// The operators' listener: `/metrics` and the detailed readiness report, kept off the chat's
/// public port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminListen {
    /// Not served (`ADMIN_LISTEN_ADDR=off`).
    Off,
    /// The default address: when it is taken (a second gateway on one host), the gateway logs a
    /// warning and runs without it.
    Default(SocketAddr),
    /// Set by the operator: it must bind, or the gateway does not start.
    Explicit(SocketAddr),
}

/// `ADMIN_LISTEN_ADDR`'s default.
pub const DEFAULT_ADMIN_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9090);

/// 32 random bytes, hex: the owner key of a gateway that was given no `IP_TAG_SECRET`.
pub fn random_secret() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::new(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin: AdminListen::Default(DEFAULT_ADMIN_ADDR),
            ping_interval: Duration::from_secs(20),
            say_rate: RateLimit { burst: 8, per_second: 1.0 },
            outbound_queue: 512,
            typing_interval: Duration::from_secs(2),
            room_refresh: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            allowed_origins: None,
            max_connections: crate::capacity::default_max_connections(),
            max_connections_per_ip: 20,
            seats_per_address: 3,
            shared_addresses: Vec::new(),
            shared_address_factor: 10,
            ip_say_rate: RateLimit { burst: 20, per_second: 4.0 },
            joins_per_minute: 30,
            api_requests_per_minute: 300,
            appeals_per_hour: 12,
            visitor_room_max_capacity: 25,
            visitor_rooms_per_ip: 3,
            visitor_room_idle: Duration::from_secs(300),
            roulette_interest_wait: Duration::from_secs(5),
            roulette_join_grace: Duration::from_secs(5),
            roulette_again_after: Duration::from_secs(30),
            resume: Duration::from_secs(30),
            edit_window: Duration::from_secs(protocol::frames::DEFAULT_EDIT_WINDOW_SECS),
            presence_ttl: Duration::from_secs(30),
            owner_secret: random_secret(),
            house_rules: None,
            deployment_key: random_secret(),
            shield: ShieldConfig::default(),
            reactions: protocol::frames::DEFAULT_REACTIONS.iter().map(|e| (*e).to_owned()).collect(),
            trust: TrustConfig::default(),
        }
    }
}
