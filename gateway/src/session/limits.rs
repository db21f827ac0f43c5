//! The rate limits frames take tokens from: a message bucket per socket, and buckets per address
//! (messages, joins, typing, reports, reactions) shared by every socket of the address on this gateway. Only
//! `admission` takes from them.
//!
//! The address's buckets live in the gateway's cache ([`State::ip_limits`]), but each socket keeps
//! its own handle on them and asks the cache again only every tenth of the cache's idle time (see
//! [`SocketLimits::address`]): a cache lookup per message would cost more than all of the
//! message's other checks together.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::GatewayConfig;
use crate::address::Address;
use crate::ratelimit::{IP_LIMITS_IDLE, IpLimits, TokenBucket};
use crate::state::State;

/// The limits shared by every socket of `address`'s key, sized for it (a shared address gets its
/// factor's worth), from the gateway's cache.
fn shared_limits(state: &State, address: &Address) -> Arc<Mutex<IpLimits>> {
    state.ip_limits.get_with(address.key(), || {
        let factor = f64::from(address.factor);
        let joins_per_minute = address.scale(state.config.joins_per_minute.max(1));
        let joins =
            protocol::frames::RateLimit { burst: joins_per_minute, per_second: f64::from(joins_per_minute) / 60.0 };
        let per_minute = address.scale(super::report::REPORTS_PER_MINUTE);
        let reports = protocol::frames::RateLimit { burst: per_minute, per_second: f64::from(per_minute) / 60.0 };
        let rate = &state.config.ip_say_rate;
        let say =
            protocol::frames::RateLimit { burst: address.scale(rate.burst), per_second: rate.per_second * factor };
        Arc::new(Mutex::new(IpLimits {
            // Typing indicators: as many as messages, in a bucket of their own (typing must not
            // use up what a message needs).
            typing: TokenBucket::new(&say),
            say: TokenBucket::new(&say),
            joins: TokenBucket::new(&joins),
            reports: TokenBucket::new(&reports),
            reactions: TokenBucket::new(&super::react::address_rate(address)),
        }))
    })
}

/// One socket's limits: its own message bucket, its copy of its address's shared ones, and when
/// it last relayed a typing indicator.
pub(super) struct SocketLimits {
    say: TokenBucket,
    /// The address's limits as last looked up, and when (see [`SocketLimits::address`]).
    address: Option<(Arc<Mutex<IpLimits>>, Instant)>,
    /// When a typing indicator was last relayed (or refused for a lock); a message resets it.
    pub last_typing: Option<Instant>,
}

impl SocketLimits {
    pub fn new(config: &GatewayConfig) -> Self {
        Self { say: TokenBucket::new(&config.say_rate), address: None, last_typing: None }
    }

    /// Take a token from this socket's message bucket, or say how long until one is available.
    pub fn take_say(&mut self, now: Instant) -> Result<(), Duration> {
        self.say.take(now)
    }

    /// The limits shared by every socket of `address`'s key, through the socket's own copy of
    /// them. The gateway's cache is asked again at most every tenth of its idle time: a lookup
    /// there costs more than all of a message's other checks together, and an entry in use is
    /// looked up again long before it could be dropped as idle, so the sockets of an address keep
    /// sharing one.
    pub fn address(&mut self, state: &State, address: &Address, now: Instant) -> MutexGuard<'_, IpLimits> {
        if self.address.as_ref().is_some_and(|(_, at)| now.duration_since(*at) >= IP_LIMITS_IDLE / 10) {
            self.address = None;
        }
        let (limits, _) = self.address.get_or_insert_with(|| (shared_limits(state, address), now));
        limits.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
