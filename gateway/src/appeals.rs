//! `POST /api/appeals` and `GET /api/appeals/{token}`: a banned visitor asks staff to
//! reconsider, and reads the answer.
//!
//! The gateway never touches the database: it checks the appeal (the caller's own case, one open
//! appeal per case, the address's budget, the text), stores it on the bus as `open` (so a `GET`
//! right after the `POST` finds it, on any gateway) and queues an `InboundEvent::Appeal` for the
//! bot, which posts it to Discord and writes every change back to the bus. A case is one that
//! `GET /api/status` names to the caller (the ban's or the mute's), resolved from the same
//! address the same way.

use std::sync::Arc;

use chrono::Utc;
use protocol::InboundEvent;
use protocol::appeals::{APPEAL_TTL, AppealEvent, AppealRecord, AppealReply, AppealState};
use protocol::input::{MessageText, TextError};
use salvo::http::StatusCode;
use salvo::http::errors::ParseError;
use salvo::prelude::*;
use serde::{Deserialize, Serialize};

use crate::client::origin_allowed;
use crate::refusal::Refusal;
use crate::state::State;

/// Largest request body: 2 000 characters of text, each up to a 12-byte JSON escape, and room.
pub(crate) const APPEAL_BODY_MAX: usize = 32 * 1024;

/// `POST /api/appeals {case, text}` → 201 `{token}`.
pub(crate) struct OpenAppeal(pub Arc<State>);

/// `GET /api/appeals/{token}` → the appeal as the bus has it.
pub(crate) struct ReadAppeal(pub Arc<State>);

#[derive(Deserialize)]
struct AppealBody {
    case: i64,
    text: String,
}

#[derive(Serialize)]
struct Opened {
    token: String,
}

/// What `GET` shows: everything but the token the caller already has.
#[derive(Serialize)]
struct AppealView<'a> {
    case: i64,
    state: AppealState,
    text: &'a str,
    replies: &'a [AppealReply],
    at: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<chrono::DateTime<Utc>>,
}

fn refuse(res: &mut Response, status: StatusCode, code: &'static str, message: &str) {
    crate::telemetry::refused(code);
    res.status_code(status);
    res.render(Json(Refusal { code, message }));
}

#[async_trait]
impl Handler for OpenAppeal {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let state = &self.0;
        res.add_header("cache-control", "no-store", true).ok();
        // The budget first: every attempt counts, so nobody probes cases or texts for free.
        let Some(ip) = crate::api_limit::admit_appeal(state, req, res) else {
            return;
        };
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        if !origin_allowed(header("origin"), header("host"), state.config.allowed_origins.as_deref()) {
            refuse(res, StatusCode::FORBIDDEN, "bad_origin", "this page may not send appeals");
            return;
        }
        let body = match req.payload_with_max_size(APPEAL_BODY_MAX).await {
            Ok(bytes) => serde_json::from_slice::<AppealBody>(bytes),
            Err(ParseError::PayloadTooLarge) => {
                refuse(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the appeal is too large");
                return;
            }
            Err(_) => {
                refuse(res, StatusCode::BAD_REQUEST, "bad_request", "cannot read the request");
                return;
            }
        };
        let Ok(body) = body else {
            refuse(res, StatusCode::BAD_REQUEST, "bad_request", "send a JSON object {case, text}");
            return;
        };
        let text = match MessageText::parse(&body.text) {
            Ok(text) => text.into_string(),
            Err(TextError::Empty) => {
                refuse(res, StatusCode::BAD_REQUEST, "empty_text", "write why the case should be reconsidered");
                return;
            }
            Err(e @ TextError::TooLong(_)) => {
                refuse(res, StatusCode::BAD_REQUEST, "too_long", &e.to_string());
                return;
            }
        };
        // Only a sanction in force on the caller's address, as `GET /api/status` names it: the
        // ban's case, or a mute's (never a shadow mute: its visitor is never told of it).
        let device = crate::device::from_query(state, req);
        let ban = state.bans.check_with(ip, device.as_ref()).filter(|ban| ban.case == Some(body.case));
        let mute = state.mutes.check_with(ip, device.as_ref()).filter(|mute| !mute.shadow && mute.case == body.case);
        if ban.is_none() && mute.is_none() {
            let message = "no sanction with this case number is in force on your address";
            refuse(res, StatusCode::FORBIDDEN, "not_your_case", message);
            return;
        }
        let at = Utc::now();
        let record = AppealRecord {
            token: bus::resume::new_token(),
            case: body.case,
            state: AppealState::Open,
            text: text.clone(),
            replies: Vec::new(),
            at,
            expires: None,
        };
        match state.bus.open_appeal(&record, APPEAL_TTL).await {
            Ok(true) => {}
            Ok(false) => {
                refuse(
                    res,
                    StatusCode::CONFLICT,
                    "appeal_open",
                    "this case has an open appeal already; staff will answer it",
                );
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot store an appeal");
                refuse(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable", "appeals are temporarily unavailable");
                return;
            }
        }
        let event = AppealEvent {
            token: record.token.clone(),
            case: body.case,
            ban: ban.map(|b| b.id),
            mute: mute.map(|m| m.id),
            text,
            ip,
            at,
        };
        if let Err(e) = state.bus.enqueue(&InboundEvent::Appeal(event)).await {
            tracing::error!(error = %e, "cannot queue an appeal");
            if let Err(e) = state.bus.remove_appeal(&record).await {
                tracing::warn!(error = %e, "cannot withdraw an appeal the queue did not take");
            }
            refuse(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable", "appeals are temporarily unavailable");
            return;
        }
        metrics::counter!("chat_appeals_total").increment(1);
        res.status_code(StatusCode::CREATED);
        res.render(Json(Opened { token: record.token }));
    }
}

#[async_trait]
impl Handler for ReadAppeal {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let state = &self.0;
        res.add_header("cache-control", "no-store", true).ok();
        if crate::api_limit::admit(state, req, res).is_none() {
            return;
        }
        let token = req.param::<String>("token").unwrap_or_default();
        let found = if protocol::appeals::is_token(&token) { state.bus.appeal(&token).await } else { Ok(None) };
        match found {
            Ok(Some(appeal)) => res.render(Json(AppealView {
                case: appeal.case,
                state: appeal.state,
                text: &appeal.text,
                replies: &appeal.replies,
                at: appeal.at,
                expires: appeal.expires,
            })),
            Ok(None) => refuse(res, StatusCode::NOT_FOUND, "unknown_appeal", "no appeal has this token (any more)"),
            Err(e) => {
                tracing::error!(error = %e, "cannot read an appeal");
                refuse(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable", "appeals are temporarily unavailable");
            }
        }
    }
}
