//! `GET /ws`: where a socket is admitted before its session starts. In order: the client's
//! address (through trusted proxies only), the page's origin, bans (by address or device tag), the proof-of-work gate
//! (`shield::gate`: `?pow=` when the gate is on for the caller), the gateway's cap on sockets
//! (`capacity`), and the address's cap on sockets (`sockets`); then the upgrade, and the
//! connection's task in `session`. The `device` query parameter becomes the connection's device
//! tag (`device`); the token itself goes no further. The gate comes before the caps so that a flood is refused
//! before it takes places, and after the cheap checks so that a banned or foreign page spends
//! no solution.

use std::sync::Arc;

use salvo::http::StatusCode;
use salvo::prelude::*;
use serde::Serialize;

use crate::client::{origin_allowed, peer_ip, request_ip};
use crate::refusal::Refusal;
use crate::state::State;

pub(crate) struct WsUpgrade(pub Arc<State>);

#[async_trait]
impl Handler for WsUpgrade {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let state = &self.0;
        let Some(peer) = peer_ip(req) else {
            res.status_code(StatusCode::BAD_REQUEST);
            res.render(Json(Refusal { code: "bad_request", message: "cannot tell the client's address" }));
            return;
        };
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let ip = match request_ip(req, peer, &state.config.trusted_proxies) {
            Ok(ip) => ip,
            Err(bad) => {
                crate::telemetry::refused("bad_forwarded_for");
                res.status_code(StatusCode::BAD_REQUEST);
                res.render(Json(Refusal { code: "bad_forwarded_for", message: &bad.to_string() }));
                return;
            }
        };
        if !origin_allowed(header("origin"), header("host"), state.config.allowed_origins.as_deref()) {
            crate::telemetry::refused("bad_origin");
            res.status_code(StatusCode::FORBIDDEN);
            res.render(Json(Refusal { code: "bad_origin", message: "this page may not open the chat" }));
            return;
        }
        // Only the device token's keyed hash is kept; an invalid token counts as none.
        let device = crate::device::from_query(state, req);
        let address =
            crate::address::Address::new(ip, &state.config.shared_addresses, state.config.shared_address_factor);
        if let Some(ban) = state.bans.check_with(ip, device.as_ref()) {
            crate::telemetry::refused("banned");
            // Refused by its device tag from an address the ban does not cover: the visitor
            // came back from elsewhere (`evasion`).
            crate::evasion::refused(state, &address, device.as_ref(), &ban);
            res.status_code(StatusCode::FORBIDDEN);
            let message = if ban.reason.is_empty() {
                "You are banned.".to_owned()
            } else {
                format!("You are banned: {}", ban.reason)
            };
            res.render(Json(BanRefusal { code: "banned", message, expires: ban.expires }));
            return;
        }
        let pow = req.query::<String>("pow");
        if let Err(refusal) = crate::shield::gate::check(state, &address, pow.as_deref()).await {
            crate::telemetry::refused(refusal.code);
            res.status_code(StatusCode::FORBIDDEN);
            res.render(Json(Refusal { code: refusal.code, message: &refusal.message }));
            return;
        }
        let Some(place) = state.capacity.take() else {
            crate::telemetry::refused("busy");
            res.status_code(StatusCode::SERVICE_UNAVAILABLE);
            res.add_header("retry-after", "10", true).ok();
            res.render(Json(Refusal {
                code: "busy",
                message: "the chat is full right now; try again in a few seconds",
            }));
            return;
        };
        let max_connections = address.scale_usize(state.config.max_connections_per_ip);
        let Some(mut slot) = state.sockets.reserve(ip, address.key(), max_connections) else {
            crate::telemetry::refused("too_many_connections");
            state.shield.note_refusal(&address, "rate_limited");
            res.status_code(StatusCode::TOO_MANY_REQUESTS);
            res.render(Json(Refusal { code: "rate_limited", message: "too many connections from your address" }));
            return;
        };
        slot.set_device(device);
        if let Err(e) = crate::session::upgrade(state.clone(), address, device, (slot, place), req, res) {
            res.render(e);
        }
    }
}

/// The body of a refusal for a banned address: `{code, message, expires}`.
#[derive(Serialize)]
struct BanRefusal {
    code: &'static str,
    message: String,
    expires: Option<chrono::DateTime<chrono::Utc>>,
}
