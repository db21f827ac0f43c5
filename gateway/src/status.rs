//! `GET /api/status`: what stands between the caller and the chat, so the web client can say
//! "You are banned until 17:23 — reason: …" instead of retrying a refused upgrade forever.
//!
//! Body: `{ban: {case, reason, expires} | null, mute: {case, reason, expires} | null}`. The ban
//! is looked up exactly as the WebSocket upgrade looks it up: the same client address (the
//! socket's peer, `X-Forwarded-For` only from `TRUSTED_PROXIES`) against the same ban list. There
//! are no mutes yet, so `mute` is always `null`; `case` is the ban's number (as in
//! `chatroulette bans list` and `/bans`).

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

/// The case number of a ban, as the visitor is told it (and appeals it): its ban number.
pub(crate) fn ban_case(ban: &protocol::BanDef) -> i64 {
    ban.id
}

#[async_trait]
impl Handler for Status {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        // Never cached: a ban may be added or lifted at any moment.
        res.add_header("cache-control", "no-store", true).ok();
        let Some(ip) = crate::api_limit::admit(&self.0, req, res) else {
            return;
        };
        let ban = self.0.bans.check(ip).map(|ban| Sanction {
            case: Some(ban_case(&ban)),
            reason: ban.reason.clone(),
            expires: ban.expires,
        });
        res.render(Json(StatusBody { ban, mute: None }));
    }
}
