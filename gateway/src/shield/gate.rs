//! Where the gate stands: the upgrade's check (`/ws?pow=`, after the origin and ban checks) and
//! `GET /api/challenge`, which tells a caller whether it must solve a challenge now and gives it
//! a fresh one either way.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use salvo::prelude::*;
use serde::Serialize;

use super::challenge::{Challenge, issue};
use super::verify::{Failure, verify};
use crate::address::Address;
use crate::state::State;

/// Why an upgrade was refused: `challenge_required` or `challenge_failed` (HTTP 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GateRefusal {
    pub code: &'static str,
    pub message: String,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The upgrade's check: counts the upgrade towards the join rate, then, when the gate is on for
/// the caller, wants a solution that passes and was not spent before.
pub(crate) async fn check(state: &State, address: &Address, pow: Option<&str>) -> Result<(), GateRefusal> {
    let shield = &state.shield;
    shield.joins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !shield.required(address.key()) {
        return Ok(());
    }
    let refuse = |failure: Failure| {
        shield.note_refusal(address, "challenge_failed");
        GateRefusal { code: "challenge_failed", message: failure.to_string() }
    };
    let Some(pow) = pow.filter(|p| !p.trim().is_empty()) else {
        return Err(GateRefusal {
            code: "challenge_required",
            message: "too many people are connecting right now: solve GET /api/challenge and connect with ?pow="
                .to_owned(),
        });
    };
    let verified = verify(&shield.key, pow, address.key(), now()).map_err(refuse)?;
    match state.bus.spend_challenge(&verified.signature, verified.remaining).await {
        Ok(true) => {
            metrics::counter!("chat_shield_solutions_total").increment(1);
            Ok(())
        }
        Ok(false) => Err(refuse(Failure::Spent)),
        Err(e) => {
            // The solution is signed, fresh and this address's: a bus that cannot say whether it
            // was spent lets it through rather than refusing a visitor who did the work, once
            // per gateway (a replay here is refused; other gateways cannot tell until it is back).
            tracing::warn!(error = %e, "cannot spend a challenge solution on the bus; spending it on this gateway");
            let entry = shield.spent_locally.entry(verified.signature).or_insert(());
            if entry.is_fresh() { Ok(()) } else { Err(refuse(Failure::Spent)) }
        }
    }
}

/// `GET /api/challenge`.
pub(crate) struct ChallengeRoute(pub Arc<State>);

#[derive(Serialize)]
struct ChallengeBody {
    /// Whether the caller must solve it to connect now.
    required: bool,
    #[serde(flatten)]
    challenge: Challenge,
}

/// A challenge for a caller at `ip`.
fn body(state: &State, ip: IpAddr) -> ChallengeBody {
    let address = Address::new(ip, &state.config.shared_addresses, state.config.shared_address_factor);
    let shield = &state.shield;
    let challenge = issue(&shield.key, address.key(), shield.maxnumber(), state.config.shield.challenge_ttl, now());
    ChallengeBody { required: shield.required(address.key()), challenge }
}

#[async_trait]
impl Handler for ChallengeRoute {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        res.add_header("cache-control", "no-store", true).ok();
        let Some(ip) = crate::api_limit::admit(&self.0, req, res) else {
            return;
        };
        res.render(Json(body(&self.0, ip)));
    }
}
