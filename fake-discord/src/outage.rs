//! Trouble on Discord's side of REST, on command: a period of 5xx answers (Discord or its edge
//! failing) or a storm of 429s, each for a given time. The Gateway WebSocket is not affected.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::server::FakeDiscord;
use crate::state::Inner;
use crate::wire::ApiError;

/// How every REST request is answered while an outage lasts.
#[derive(Debug, Clone, PartialEq)]
pub enum Outage {
    /// `status` (500, 502, 503, 504) with Discord's body `{"message": "502: Bad Gateway",
    /// "code": 0}`. With `processed`, the request is carried out first and only its answer is
    /// lost, as when Discord's edge gives up on a request its backend completed: a client that
    /// retries must rely on the nonce (`enforce_nonce`) not to post twice.
    ServerError { status: u16, processed: bool },
    /// 429 with Discord's headers (`Retry-After`, `X-RateLimit-Scope`, the bucket's headers, and
    /// `X-RateLimit-Global` when `global`) and body `{"message": "You are being rate limited.",
    /// "retry_after": …, "global": …}`, for every request, however few were made. A global
    /// storm spares the interaction routes, as Discord's global limit does.
    RateLimited { retry_after: Duration, global: bool },
}

/// The outage in force and until when.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub outage: Outage,
    pub until: Instant,
    /// Requests it answered.
    pub answered: usize,
}

/// The reason phrase Discord's body carries for a 5xx.
fn reason(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Server Error",
    }
}

/// Discord's answer for a 5xx `status`.
pub(crate) fn server_error(status: u16) -> ApiError {
    ApiError { status, body: json!({"message": format!("{status}: {}", reason(status)), "code": 0}) }
}

impl Inner {
    /// The outage in force at `now` for a request (`counts_globally`: not an interaction
    /// route), counting the request it answers.
    pub(crate) fn outage_at(&mut self, now: Instant, counts_globally: bool) -> Option<Outage> {
        let active = self.outage.as_mut().filter(|a| now < a.until)?;
        if matches!(active.outage, Outage::RateLimited { global: true, .. }) && !counts_globally {
            return None;
        }
        active.answered += 1;
        Some(active.outage.clone())
    }
}

impl FakeDiscord {
    /// From now on and for `lasting`, answer every REST request as `outage` says (a new call
    /// replaces the outage in force).
    pub fn start_outage(&self, outage: Outage, lasting: Duration) {
        self.shared.with(|inner| {
            inner.outage = Some(Active { outage, until: Instant::now() + lasting, answered: 0 });
        });
    }

    /// End the outage in force now.
    pub fn end_outage(&self) {
        self.shared.with(|inner| {
            if let Some(active) = inner.outage.as_mut() {
                active.until = Instant::now();
            }
        });
    }

    /// Whether an outage is in force.
    pub fn in_outage(&self) -> bool {
        self.shared.read(|inner| inner.outage.as_ref().is_some_and(|a| Instant::now() < a.until))
    }

    /// How many requests the current (or last) outage answered.
    pub fn outage_answers(&self) -> usize {
        self.shared.read(|inner| inner.outage.as_ref().map_or(0, |a| a.answered))
    }
}
