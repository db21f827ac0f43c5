//! HTTP routes: the web client, the room list, probes, and the WebSocket upgrade (`upgrade`).

use std::sync::Arc;

use salvo::http::StatusCode;
use salvo::prelude::*;
use salvo::serve_static::static_embed;
use serde::Serialize;

use crate::refusal::Refusal;
use crate::room_list::RoomEntry;
use crate::site::Assets;
use crate::state::State;

/// Something `/readyz` must find reachable besides the bus (the binary adds the database).
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// Short name shown in the readiness report.
    fn name(&self) -> &'static str;
    /// `Err` with a reason when not ready.
    async fn check(&self) -> Result<(), String>;
    /// What operators should fix although the process is ready (shown in the detailed report).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Queue entries the bot gave up on (`dead_letters`), when this check knows (the bot's).
    fn dead_letters(&self) -> Option<u64> {
        None
    }
}

/// The web client asks for resources of this origin only.
/// The proof-of-work solver runs in a worker from this origin (`worker-src 'self'`).
const CSP: &str = "default-src 'self'; img-src 'self' data:; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .hoop(SecurityHeaders)
        .push(Router::with_path("healthz").get(Healthz).head(Healthz))
        .push(Router::with_path("readyz").get(Readyz { state: state.clone(), detailed: false }))
        .push(Router::with_path("api/rooms").get(RoomList(state.clone())))
        .push(Router::with_path("api/rooms/{slug}").get(RoomInfo(state.clone())))
        .push(Router::with_path("api/info").get(Info(state.clone())))
        .push(Router::with_path("api/status").get(crate::status::Status(state.clone())))
        .push(Router::with_path("api/appeals").post(crate::appeals::OpenAppeal(state.clone())))
        .push(Router::with_path("api/appeals/{token}").get(crate::appeals::ReadAppeal(state.clone())))
        .push(Router::with_path("api/challenge").get(crate::shield::gate::ChallengeRoute(state.clone())))
        .push(Router::with_path("ws").goal(crate::upgrade::WsUpgrade(state)))
        .push(
            Router::with_path("{**path}")
                .get(static_embed::<Assets>().defaults("index.html"))
                .head(static_embed::<Assets>().defaults("index.html")),
        )
}

/// The operators' listener (`ADMIN_LISTEN_ADDR`): metrics and the detailed readiness report,
/// which names backends and their errors and so stays off the public port.
pub fn admin_router(state: Arc<State>) -> Router {
    Router::new()
        .push(Router::with_path("healthz").get(Healthz))
        .push(Router::with_path("readyz").get(Readyz { state: state.clone(), detailed: true }))
        .push(Router::with_path("metrics").get(Metrics(state)))
}

struct SecurityHeaders;

#[async_trait]
impl Handler for SecurityHeaders {
    async fn handle(&self, req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
        ctrl.call_next(req, depot, res).await;
        let headers = res.headers_mut();
        for (name, value) in [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
    }
}

struct Healthz;

#[async_trait]
impl Handler for Healthz {
    async fn handle(&self, _req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        res.render(Text::Plain("ok"));
    }
}

struct Metrics(Arc<State>);

#[async_trait]
impl Handler for Metrics {
    async fn handle(&self, _req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        crate::telemetry::record_backlog(&self.0).await;
        let body = crate::telemetry::handle().map(|h| h.render()).unwrap_or_default();
        res.add_header("content-type", "text/plain; version=0.0.4", true).ok();
        res.render(body);
    }
}

/// Readiness: the bus, the other checks (the database), and the background tasks. The public
/// probe says only whether; the admin one says what is wrong.
struct Readyz {
    state: Arc<State>,
    detailed: bool,
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Vec<String>>,
    /// The bot's queue (detailed report only; `null` while the bus cannot tell).
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<Option<crate::telemetry::Backlog>>,
}

#[async_trait]
impl Handler for Readyz {
    async fn handle(&self, _req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let state = &self.state;
        let mut problems = Vec::new();
        if let Err(e) = state.bus.ping().await {
            problems.push(format!("bus: {e}"));
        }
        for check in &state.readiness {
            if let Err(e) = check.check().await {
                problems.push(format!("{}: {e}", check.name()));
            }
        }
        problems.extend(state.tasks.dead().into_iter().map(|dead| format!("background task: {dead}")));
        let warnings: Vec<String> = state.readiness.iter().flat_map(|check| check.warnings()).collect();
        let ready = problems.is_empty();
        res.add_header("cache-control", "no-store", true).ok();
        res.status_code(if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE });
        let detailed = self.detailed;
        let queue = if detailed { Some(crate::telemetry::backlog(state).await) } else { None };
        res.render(Json(Readiness {
            ready,
            problems: detailed.then_some(problems),
            warnings: detailed.then_some(warnings),
            queue,
        }));
    }
}

struct RoomList(Arc<State>);

#[async_trait]
impl Handler for RoomList {
    async fn handle(&self, _req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        res.add_header("cache-control", "no-store", true).ok();
        match crate::room_list::body(&self.0).await {
            Ok(body) => {
                res.add_header("content-type", "application/json; charset=utf-8", true).ok();
                res.write_body(body).ok();
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read room occupancy");
                res.status_code(StatusCode::SERVICE_UNAVAILABLE);
                res.render(Json(Refusal { code: "unavailable", message: "the room list is temporarily unavailable" }));
            }
        }
    }
}

/// `GET /api/rooms/{slug}`: one room, listed or not (an invite link names it), never a pair.
struct RoomInfo(Arc<State>);

#[async_trait]
impl Handler for RoomInfo {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        res.add_header("cache-control", "no-store", true).ok();
        if crate::api_limit::admit(&self.0, req, res).is_none() {
            return;
        }
        let slug = req.param::<String>("slug").unwrap_or_default();
        let Some(room) = protocol::RoomSlug::parse(&slug)
            .ok()
            .and_then(|slug| self.0.directory.get(&slug))
            .filter(|r| r.kind != protocol::RoomKind::Roulette)
        else {
            res.status_code(StatusCode::NOT_FOUND);
            res.render(Json(Refusal { code: "unknown_room", message: "this room does not exist (any more)" }));
            return;
        };
        match self.0.bus.occupancy(std::slice::from_ref(&room.slug)).await {
            Ok(counts) => res.render(Json(RoomEntry {
                slug: room.slug.as_str(),
                title: &room.title,
                topic: &room.topic,
                members: counts.first().copied().unwrap_or(0),
                capacity: room.capacity,
                locked: room.locked,
                slowmode_secs: room.slowmode_secs,
                kind: room.kind.as_str(),
            })),
            Err(e) => {
                tracing::error!(error = %e, "cannot read room occupancy");
                res.status_code(StatusCode::SERVICE_UNAVAILABLE);
                res.render(Json(Refusal { code: "unavailable", message: "the room is temporarily unavailable" }));
            }
        }
    }
}

/// `GET /api/info`: what the landing page shows besides rooms.
struct Info(Arc<State>);

#[derive(Serialize)]
struct InfoBody<'a> {
    /// The operator's house rules, accepted by visitors before their first message.
    house_rules: Option<&'a str>,
    max_room_capacity: u32,
    /// Seconds roulette waits for a shared interest before pairing with anyone.
    roulette_interest_wait_secs: u64,
    /// Visitors waiting for a roulette stranger now (absent while the bus is unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    looking: Option<u64>,
    /// People connected now across every gateway (absent while the bus is unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    online: Option<u64>,
}

#[async_trait]
impl Handler for Info {
    async fn handle(&self, _req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let config = &self.0.config;
        res.add_header("cache-control", "no-cache", true).ok();
        res.render(Json(InfoBody {
            house_rules: config.house_rules.as_deref(),
            max_room_capacity: config.visitor_room_max_capacity,
            roulette_interest_wait_secs: config.roulette_interest_wait.as_secs(),
            looking: self.0.looking.get(|| self.0.bus.roulette_waiting()).await,
            online: crate::online::online(&self.0).await,
        }));
    }
}
