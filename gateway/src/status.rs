//! `GET /api/status`: what stands between the caller and the chat, so the web client can say
//! "You are banned until 17:23 — reason: …" instead of retrying a refused upgrade forever.
//!
//! Body: `{ban: {case, reason, expires} | null, mute: {case, reason, expires} | null}`. The ban
//! is looked up exactly as the WebSocket upgrade looks it up: the same client address (the
//! socket's peer, `X-Forwarded-For` only from `TRUSTED_PROXIES`) against the same ban list, and
//! the mute likewise against the mutes in force (never a shadow mute: `null` then). With
//! `?device=<token>` (the web client's device token) a ban or mute aimed at that device counts
//! too, from any address. `case` is the
//! case number (`/case`, `chatroulette cases show`); a ban made before cases existed has none.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use salvo::prelude::*;
use serde::Serialize;

use crate::state::State;

pub(crate) struct Status(pub Arc<State>);

#[derive(Serialize)]
struct StatusBody {
    ban: Option<Sanction>,
    mute: Option<Sanction>,
}

/// One sanction in force on the caller.
#[derive(Serialize)]
struct Sanction {
    case: Option<i64>,
    reason: String,
    /// RFC 3339 UTC; `null` = until lifted.
    expires: Option<DateTime<Utc>>,
}

#[async_trait]
impl Handler for Status {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        // Never cached: a ban may be added or lifted at any moment.
        res.add_header("cache-control", "no-store", true).ok();
        let Some(ip) = crate::api_limit::admit(&self.0, req, res) else {
            return;
        };
        // `?device=<token>`: a ban or mute aimed at the device holds from any address.
        let device = crate::device::from_query(&self.0, req);
        let ban = self.0.bans.check_with(ip, device.as_ref()).map(|ban| Sanction {
            case: ban.case,
            reason: ban.reason.clone(),
            expires: ban.expires,
        });
        let mute = self.0.mutes.check_with(ip, device.as_ref()).filter(|m| !m.shadow).map(|mute| Sanction {
            case: Some(mute.case),
            reason: mute.reason.clone(),
            expires: mute.expires,
        });
        res.render(Json(StatusBody { ban, mute }));
    }
}
