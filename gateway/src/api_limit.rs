//! A per-address budget for the HTTP routes that do work per request (`GET /api/rooms/{slug}`
//! asks the bus, `GET /api/status` walks the ban list): a flood of them from one address (an
//! IPv6 /64 counts as one) is refused with 429 `rate_limited` before it reaches Redis. The
//! cached routes (`/api/rooms`, `/api/info`) need none: a flood of them costs one bus call a
//! second per gateway. `POST /api/appeals` has a budget of its own, per hour
//! (`APPEALS_PER_HOUR`), kept as long.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use salvo::http::StatusCode;
use salvo::prelude::*;
use serde::Serialize;

use crate::address::{Address, AddressKey};
use crate::client::{peer_ip, request_ip};
use crate::ratelimit::TokenBucket;
use crate::state::State;

/// How long an address's budget is kept after its last request.
pub(crate) const API_LIMITS_IDLE: Duration = Duration::from_secs(120);
/// Addresses remembered at most (an attacker spraying addresses evicts, never grows, the map).
pub(crate) const API_LIMITS_MAX: u64 = 200_000;

/// The buckets of every address seen lately.
pub(crate) type ApiLimits = moka::sync::Cache<AddressKey, Arc<Mutex<TokenBucket>>>;

pub(crate) fn cache() -> ApiLimits {
    moka::sync::Cache::builder().max_capacity(API_LIMITS_MAX).time_to_idle(API_LIMITS_IDLE).build()
}

/// How long an address's appeal budget is kept after its last appeal: an hour, the period of
/// `APPEALS_PER_HOUR` (forgotten sooner, a spent budget would refill early).
pub(crate) const APPEAL_LIMITS_IDLE: Duration = Duration::from_secs(3600);

/// The appeal budgets of every address seen within the hour.
pub(crate) fn appeal_cache() -> ApiLimits {
    moka::sync::Cache::builder().max_capacity(API_LIMITS_MAX).time_to_idle(APPEAL_LIMITS_IDLE).build()
}

#[derive(Serialize)]
struct Refused<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

/// The caller's address, or the response already rendered: 400 when it cannot be told (or an
/// untrusted `X-Forwarded-For` is malformed), 429 when its budget is spent.
pub(crate) fn admit(state: &State, req: &Request, res: &mut Response) -> Option<IpAddr> {
    admit_to(state, req, res, &state.api_limits, |address| {
        // `API_REQUESTS_PER_MINUTE`, a tenth of it at once; a shared address gets its factor's
        // worth of both.
        let per_minute = address.scale(state.config.api_requests_per_minute.max(1));
        protocol::frames::RateLimit { burst: (per_minute / 10).max(1), per_second: f64::from(per_minute) / 60.0 }
    })
}

/// As [`admit`], against the address's appeal budget: `APPEALS_PER_HOUR`, a quarter of it at
/// once (at least one).
pub(crate) fn admit_appeal(state: &State, req: &Request, res: &mut Response) -> Option<IpAddr> {
    admit_to(state, req, res, &state.appeal_limits, |address| {
        let per_hour = address.scale(state.config.appeals_per_hour.max(1));
        protocol::frames::RateLimit { burst: (per_hour / 4).max(1), per_second: f64::from(per_hour) / 3600.0 }
    })
}

fn admit_to(
    state: &State,
    req: &Request,
    res: &mut Response,
    limits: &ApiLimits,
    rate: impl Fn(&Address) -> protocol::frames::RateLimit,
) -> Option<IpAddr> {
    let refuse = |res: &mut Response, status, code, message: &str, retry_after_ms| {
        res.status_code(status);
        res.render(Json(Refused { code, message, retry_after_ms }));
    };
    let Some(peer) = peer_ip(req) else {
        refuse(res, StatusCode::BAD_REQUEST, "bad_request", "cannot tell the client's address", None);
        return None;
    };
    let ip = match request_ip(req, peer, &state.config.trusted_proxies) {
        Ok(ip) => ip,
        Err(bad) => {
            refuse(res, StatusCode::BAD_REQUEST, "bad_forwarded_for", &bad.to_string(), None);
            return None;
        }
    };
    let address = Address::new(ip, &state.config.shared_addresses, state.config.shared_address_factor);
    let bucket = limits.get_with(address.key(), || Arc::new(Mutex::new(TokenBucket::new(&rate(&address)))));
    let taken = bucket.lock().unwrap_or_else(PoisonError::into_inner).take(Instant::now());
    match taken {
        Ok(()) => Some(ip),
        Err(wait) => {
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            crate::telemetry::refused("api_rate_limited");
            res.add_header("retry-after", ms.div_ceil(1000).to_string(), true).ok();
            refuse(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests from your address", Some(ms));
            None
        }
    }
}
