//! Admission: what a frame must pass before the connection acts on it. Bans are checked here
//! (sockets are closed when a ban arrives; this covers the moment in between), and the rate limits
//! are kept here: a bucket per socket for messages, and buckets per address (messages, joins,
//! typing) shared by every socket of the address on this gateway.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::ErrorCode;

use super::Conn;
use crate::address::Address;
use crate::ratelimit::TokenBucket;
use crate::state::State;

/// How long an address's limits are kept after their last lookup.
pub(crate) const IP_LIMITS_IDLE: Duration = Duration::from_secs(600);

/// Limits shared by every socket of one address.
pub(crate) struct IpLimits {
    pub say: TokenBucket,
    pub joins: TokenBucket,
    pub typing: TokenBucket,
}

/// The limits shared by every socket of `address`'s key, sized for it (a shared address gets its
/// factor's worth), from the gateway's cache.
fn shared_limits(state: &State, address: &Address) -> Arc<Mutex<IpLimits>> {
    state.ip_limits.get_with(address.key(), || {
        let factor = f64::from(address.factor);
        let joins_per_minute = address.scale(state.config.joins_per_minute.max(1));
        let joins =
            protocol::frames::RateLimit { burst: joins_per_minute, per_second: f64::from(joins_per_minute) / 60.0 };
        let rate = &state.config.ip_say_rate;
        let say =
            protocol::frames::RateLimit { burst: address.scale(rate.burst), per_second: rate.per_second * factor };
        Arc::new(Mutex::new(IpLimits {
            // Typing indicators: as many as messages, in a bucket of their own (typing must not
            // use up what a message needs).
            typing: TokenBucket::new(&say),
            say: TokenBucket::new(&say),
            joins: TokenBucket::new(&joins),
        }))
    })
}

/// The limits shared by every socket of `address`'s key, through the socket's own copy of them. The
/// gateway's cache is asked again at most every tenth of its idle time: a lookup there cost more
/// than all of a message's other checks together, and an entry in use is looked up again long
/// before it could be dropped as idle, so the sockets of an address keep sharing one.
pub(super) fn address_limits<'a>(
    cached: &'a mut Option<(Arc<Mutex<IpLimits>>, Instant)>,
    state: &State,
    address: &Address,
    now: Instant,
) -> &'a Mutex<IpLimits> {
    if cached.as_ref().is_some_and(|(_, at)| now.duration_since(*at) >= IP_LIMITS_IDLE / 10) {
        *cached = None;
    }
    &cached.get_or_insert_with(|| (shared_limits(state, address), now)).0
}

impl Conn {
    /// Refuse (with `banned`) when a ban covers this address. Sockets are closed when a ban
    /// arrives; this covers the moment in between.
    pub(super) fn refuse_banned(&self) -> bool {
        let Some(ban) = self.state.bans.check(self.address.ip) else {
            return false;
        };
        let message =
            if ban.reason.is_empty() { "you are banned".to_owned() } else { format!("you are banned: {}", ban.reason) };
        self.error(ErrorCode::Banned, message, None, None);
        true
    }

    /// Take a token from the address's join bucket (joins, roulette, next, create), or refuse.
    pub(super) fn joins_allowed(&mut self) -> bool {
        let now = Instant::now();
        let join_limit = address_limits(&mut self.ip_limits, &self.state, &self.address, now)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .joins
            .take(now);
        match join_limit {
            Ok(()) => true,
            Err(wait) => {
                self.error(ErrorCode::RateLimited, "too many joins from your address; wait a moment", None, Some(wait));
                false
            }
        }
    }
}
