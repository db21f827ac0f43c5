//! The REST API under `/api/v10`: authentication, outages on command, rate limits, routing to
//! [`crate::routes`], recording.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use salvo::http::{HeaderValue, StatusCode};
use salvo::prelude::*;
use serde_json::{Value, json};

use crate::limits::Verdict;
use crate::outage::{self, Outage};
use crate::records::RecordedRequest;
use crate::routes::{self, Matched, not_found};
use crate::state::{Inner, Shared};
use crate::wire::{ApiError, ApiResult, parse_query, secs_f};

/// Largest request body read.
const BODY_MAX: usize = 8 * 1024 * 1024;

/// An answer: status, optional JSON body, extra headers.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn from_result(result: ApiResult) -> Self {
        match result {
            Ok((status, Value::Null)) => Self { status, body: None, headers: Vec::new() },
            Ok((status, body)) => Self { status, body: Some(body), headers: Vec::new() },
            Err(error) => Self { status: error.status, body: Some(error.body), headers: Vec::new() },
        }
    }

    fn error(error: ApiError) -> Self {
        Self::from_result(Err(error))
    }
}

/// The salvo handler for every `/api/v10/...` request.
pub struct Rest(pub Arc<Shared>);

#[async_trait]
impl Handler for Rest {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let incoming = Incoming {
            method: req.method().as_str().to_owned(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().unwrap_or("").to_owned(),
            authorization: header("authorization"),
            reason: header("x-audit-log-reason"),
            body: Vec::new(),
        };
        let body = match req.payload_with_max_size(BODY_MAX).await {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => {
                res.status_code(StatusCode::PAYLOAD_TOO_LARGE);
                res.render(Json(json!({"message": "Request entity too large", "code": 40005})));
                return;
            }
        };
        let incoming = Incoming { body, ..incoming };
        let shared = self.0.clone();
        let reply = shared.with(|inner| handle(inner, &shared.ws_url, incoming));
        res.status_code(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        for (name, value) in reply.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                res.headers_mut().insert(name, value);
            }
        }
        if let Some(body) = reply.body {
            res.render(Json(body));
        }
    }
}

struct Incoming {
    method: String,
    path: String,
    query: String,
    authorization: Option<String>,
    reason: Option<String>,
    body: Vec<u8>,
}

fn handle(inner: &mut Inner, ws_url: &str, req: Incoming) -> Reply {
    let now = Instant::now();
    let Some(path) = req.path.strip_prefix("/api/v10") else {
        let reply = Reply::error(not_found());
        record(inner, &req, req.path.clone(), Value::Null, reply.status, now);
        return reply;
    };
    let path = path.to_owned();
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Null)
    } else {
        serde_json::from_slice::<Value>(&req.body)
            .map_err(|_| ApiError::new(400, 50109, "The request body contains invalid JSON."))
    };
    let recorded_body = body.clone().unwrap_or(Value::Null);
    let reply = route_and_run(inner, ws_url, &req, &path, body, now);
    record(inner, &req, path, recorded_body, reply.status, now);
    if reply.status == 429 {
        inner.rate_limited += 1;
    }
    reply
}

fn record(inner: &mut Inner, req: &Incoming, path: String, body: Value, status: u16, at: Instant) {
    inner.requests.push(RecordedRequest {
        method: req.method.clone(),
        path,
        query: req.query.clone(),
        body,
        status,
        at,
        audit_log_reason: req.reason.clone(),
    });
}

fn route_and_run(
    inner: &mut Inner,
    ws_url: &str,
    req: &Incoming,
    path: &str,
    body: Result<Value, ApiError>,
    now: Instant,
) -> Reply {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let matched = match match_route(inner, ws_url, &req.method, &segments) {
        Ok(matched) => matched,
        Err(error) => return Reply::error(error),
    };
    if matched.auth {
        let expected = format!("Bot {}", inner.config.token);
        if req.authorization.as_deref() != Some(expected.as_str()) {
            return Reply::error(ApiError::new(401, 0, "401: Unauthorized"));
        }
    }
    if matched.global
        && let Verdict::Limited { retry_after, .. } =
            inner.limiter.global_hit(inner.config.global_rate_limit, inner.config.global_rate_window, now)
    {
        return limited(retry_after, true, None);
    }
    let thread_route = THREAD_ROUTES.contains(&matched.template);
    let (limit, window) = if matched.template == "POST /channels/{channel_id}/messages" {
        (inner.config.message_rate_limit, inner.config.message_rate_window)
    } else if thread_route {
        (inner.config.thread_rate_limit, inner.config.thread_rate_window)
    } else {
        (inner.config.route_rate_limit, inner.config.route_rate_window)
    };
    // Both ways of starting a thread count against one bucket per parent channel.
    let (bucket_name, scope) = if thread_route { (THREAD_BUCKET, "shared") } else { (matched.template, "user") };
    let bucket = bucket_hash(bucket_name);
    let mut lose_answer = None;
    match inner.outage_at(now, matched.global) {
        None => {}
        Some(Outage::RateLimited { retry_after, global }) => {
            return limited(retry_after, global, (!global).then_some((limit, bucket, scope)));
        }
        Some(Outage::ServerError { status, processed: false }) => return Reply::error(outage::server_error(status)),
        Some(Outage::ServerError { status, processed: true }) => lose_answer = Some(status),
    }
    let verdict = inner.limiter.hit(bucket_name, matched.major, limit, window, now);
    let (limit, remaining, reset_after) = match verdict {
        Verdict::Limited { limit, retry_after } => {
            return limited(retry_after, false, Some((limit, bucket, scope)));
        }
        Verdict::Allowed { limit, remaining, reset_after } => (limit, remaining, reset_after),
    };
    let query = parse_query(&req.query);
    let result = match body {
        Ok(body) => (matched.run)(inner, &body, &query),
        Err(error) => Err(error),
    };
    if let Some(status) = lose_answer {
        // Carried out, but the client never learns it.
        return Reply::error(outage::server_error(status));
    }
    let mut reply = Reply::from_result(result);
    reply.headers.extend(bucket_headers(limit, remaining, reset_after, &bucket));
    reply
}

fn bucket_headers(limit: u32, remaining: u32, reset_after: Duration, bucket: &str) -> Vec<(&'static str, String)> {
    let reset_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + reset_after;
    vec![
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", format!("{:.3}", reset_at.as_secs_f64())),
        ("x-ratelimit-reset-after", format!("{:.3}", secs_f(reset_after))),
        ("x-ratelimit-bucket", bucket.to_owned()),
    ]
}

/// The routes that start a thread: they share [`THREAD_BUCKET`].
const THREAD_ROUTES: [&str; 2] =
    ["POST /channels/{channel_id}/threads", "POST /channels/{channel_id}/messages/{message_id}/threads"];

/// The rate-limit bucket of thread creation (per parent channel).
const THREAD_BUCKET: &str = "thread creation";

/// A 429 as Discord sends it. `bucket` is (limit, bucket id, scope): `user` for the bot's own
/// per-route limits, `shared` for a resource's limit shared by everyone (thread creation).
fn limited(retry_after: Duration, global: bool, bucket: Option<(u32, String, &str)>) -> Reply {
    let seconds = secs_f(retry_after);
    let mut headers = vec![("retry-after", format!("{}", seconds.ceil() as u64))];
    if global {
        headers.push(("x-ratelimit-global", "true".to_owned()));
        headers.push(("x-ratelimit-scope", "global".to_owned()));
    } else {
        let scope = bucket.as_ref().map_or("user", |(_, _, scope)| *scope);
        headers.push(("x-ratelimit-scope", scope.to_owned()));
    }
    if let Some((limit, bucket, _)) = bucket {
        headers.extend(bucket_headers(limit, 0, retry_after, &bucket));
    }
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": (seconds * 1000.0).round() / 1000.0,
        "global": global,
    });
    Reply { status: 429, body: Some(body), headers }
}

/// An opaque bucket id per route (like Discord's, it does not include the major parameter;
/// limits apply per bucket *and* major parameter).
fn bucket_hash(template: &str) -> String {
    let fnv =
        |seed: u64| template.bytes().fold(seed, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4))
}

/// The route a request's method and path segments (after `/api/v10`) name, by resource.
fn match_route<'a>(
    inner: &Inner,
    ws_url: &'a str,
    method: &str,
    segments: &[&'a str],
) -> Result<Matched<'a>, ApiError> {
    match segments {
        ["gateway", ..] | ["users", ..] | ["oauth2", ..] | ["applications", "@me"] | ["guilds", ..] => {
            routes::guild::route(inner, ws_url, method, segments)
        }
        ["channels", ..] => routes::channel::route(method, segments),
        ["applications", ..] => routes::command::route(inner, method, segments),
        ["interactions", ..] | ["webhooks", ..] => routes::interaction::route(method, segments),
        _ => Err(not_found()),
    }
}
