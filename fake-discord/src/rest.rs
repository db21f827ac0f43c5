//! The REST API under `/api/v10`: authentication, rate limits, routing, recording.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use salvo::http::{HeaderValue, StatusCode};
use salvo::prelude::*;
use serde_json::{Value, json};

use crate::limits::Verdict;
use crate::records::RecordedRequest;
use crate::state::{Inner, Shared};
use crate::wire::{ApiError, ApiResult, kind, parse_id, parse_query, secs_f, sid};

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

fn not_found() -> ApiError {
    ApiError::new(404, 0, "404: Not Found")
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

/// What a matched route does with the state, the JSON body and the query.
type Action<'a> = Box<dyn FnOnce(&mut Inner, &Value, &HashMap<String, String>) -> ApiResult + 'a>;

/// A matched route: its rate-limit bucket and what it does.
struct Matched<'a> {
    /// `POST /channels/{channel_id}/messages`: the bucket's identity.
    template: &'static str,
    /// The top-level id of the path (channel, guild, webhook, interaction), or 0.
    major: u64,
    /// Needs `Authorization: Bot <token>`.
    auth: bool,
    /// Counts against the global limit (interaction routes do not).
    global: bool,
    run: Action<'a>,
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

fn snowflake(value: &str, field: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| {
        ApiError::form_one(&[field], "NUMBER_TYPE_COERCE", &format!("Value \"{value}\" is not snowflake."))
    })
}

fn boxed<'a>(
    template: &'static str,
    major: u64,
    run: impl FnOnce(&mut Inner, &Value, &HashMap<String, String>) -> ApiResult + 'a,
) -> Matched<'a> {
    Matched { template, major, auth: true, global: true, run: Box::new(run) }
}

fn match_route<'a>(
    inner: &Inner,
    ws_url: &'a str,
    method: &str,
    segments: &[&'a str],
) -> Result<Matched<'a>, ApiError> {
    let guild_id = inner.guild_id();
    let app_id = inner.config.application_id;
    let check_guild = |value: &str| -> Result<u64, ApiError> {
        let id = snowflake(value, "guild_id")?;
        if id == guild_id { Ok(id) } else { Err(ApiError::new(404, 10004, "Unknown Guild")) }
    };
    let check_app = |value: &str| -> Result<u64, ApiError> {
        let id = snowflake(value, "application_id")?;
        if id == app_id { Ok(id) } else { Err(ApiError::new(404, 10002, "Unknown Application")) }
    };
    let channel = |value: &str| snowflake(value, "channel_id");
    let message = |value: &str| snowflake(value, "message_id");
    Ok(match (method, segments) {
        ("GET", ["gateway"]) => {
            Matched { auth: false, ..boxed("GET /gateway", 0, move |_, _, _| Ok((200, json!({"url": ws_url})))) }
        }
        ("GET", ["gateway", "bot"]) => boxed("GET /gateway/bot", 0, move |_, _, _| {
            Ok((
                200,
                json!({
                    "url": ws_url,
                    "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
                }),
            ))
        }),
        ("GET", ["users", "@me"]) => boxed("GET /users/@me", 0, |inner, _, _| Ok((200, inner.bot_user_json()))),
        ("GET", ["users", user]) => {
            let user = snowflake(user, "user_id")?;
            boxed("GET /users/{user_id}", 0, move |inner, _, _| {
                inner
                    .members
                    .get(&user)
                    .map(|m| (200, Inner::user_json(&m.user)))
                    .ok_or_else(|| ApiError::new(404, 10013, "Unknown User"))
            })
        }
        ("GET", ["oauth2", "applications", "@me"]) => {
            boxed("GET /oauth2/applications/@me", 0, |inner, _, _| Ok((200, inner.application_json())))
        }
        ("GET", ["applications", "@me"]) => {
            boxed("GET /applications/@me", 0, |inner, _, _| Ok((200, inner.application_json())))
        }
        ("GET", ["guilds", guild]) => {
            let guild = check_guild(guild)?;
            boxed("GET /guilds/{guild_id}", guild, |inner, _, _| Ok((200, inner.guild_json(false))))
        }
        ("GET", ["guilds", guild, "channels"]) => {
            let guild = check_guild(guild)?;
            boxed("GET /guilds/{guild_id}/channels", guild, |inner, _, _| {
                let list: Vec<Value> = inner
                    .channels
                    .values()
                    .filter(|c| !kind::is_thread(c["type"].as_u64().unwrap_or(0)))
                    .cloned()
                    .collect();
                Ok((200, Value::Array(list)))
            })
        }
        ("POST", ["guilds", guild, "channels"]) => {
            let guild = check_guild(guild)?;
            boxed("POST /guilds/{guild_id}/channels", guild, |inner, body, _| inner.bot_creates_channel(body))
        }
        ("GET", ["guilds", guild, "roles"]) => {
            let guild = check_guild(guild)?;
            boxed("GET /guilds/{guild_id}/roles", guild, |inner, _, _| {
                Ok((200, Value::Array(inner.roles.iter().map(Inner::role_json).collect())))
            })
        }
        ("GET", ["guilds", guild, "members", user]) => {
            let guild = check_guild(guild)?;
            let user = snowflake(user, "user_id")?;
            boxed("GET /guilds/{guild_id}/members/{user_id}", guild, move |inner, _, _| {
                inner
                    .member_json(user, true, None)
                    .map(|m| (200, m))
                    .ok_or_else(|| ApiError::new(404, 10007, "Unknown Member"))
            })
        }
        ("GET", ["guilds", guild, "threads", "active"]) => {
            let guild = check_guild(guild)?;
            boxed("GET /guilds/{guild_id}/threads/active", guild, |inner, _, _| {
                let threads: Vec<Value> = inner
                    .channels
                    .values()
                    .filter(|c| {
                        kind::is_thread(c["type"].as_u64().unwrap_or(0))
                            && c["thread_metadata"]["archived"] != Value::Bool(true)
                    })
                    .cloned()
                    .collect();
                Ok((200, json!({"threads": threads, "members": []})))
            })
        }
        ("GET", ["channels", id]) => {
            let id = channel(id)?;
            boxed("GET /channels/{channel_id}", id, move |inner, _, _| Ok((200, inner.channel(id)?.clone())))
        }
        ("PATCH", ["channels", id]) => {
            let id = channel(id)?;
            boxed("PATCH /channels/{channel_id}", id, move |inner, body, _| inner.bot_modifies_channel(id, body))
        }
        ("DELETE", ["channels", id]) => {
            let id = channel(id)?;
            boxed("DELETE /channels/{channel_id}", id, move |inner, _, _| inner.delete_channel(id))
        }
        ("GET", ["channels", id, "messages"]) => {
            let id = channel(id)?;
            boxed("GET /channels/{channel_id}/messages", id, move |inner, _, query| inner.list_messages(id, query))
        }
        ("POST", ["channels", id, "messages"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/messages", id, move |inner, body, _| inner.post_message(id, body))
        }
        ("POST", ["channels", id, "messages", "bulk-delete"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/messages/bulk-delete", id, move |inner, body, _| {
                inner.bulk_delete(id, body)
            })
        }
        ("GET", ["channels", id, "messages", m]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("GET /channels/{channel_id}/messages/{message_id}", id, move |inner, _, _| {
                Ok((200, inner.message(id, m)?.clone()))
            })
        }
        ("PATCH", ["channels", id, "messages", m]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("PATCH /channels/{channel_id}/messages/{message_id}", id, move |inner, body, _| {
                inner.edit_message(id, m, body)
            })
        }
        ("DELETE", ["channels", id, "messages", m]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("DELETE /channels/{channel_id}/messages/{message_id}", id, move |inner, _, _| {
                inner.delete_message(id, m)
            })
        }
        ("PUT", ["channels", id, "messages", m, "reactions", emoji, "@me"]) => {
            let (id, m) = (channel(id)?, message(m)?);
            let emoji =
                crate::permissions::percent_decode(emoji).ok_or_else(|| ApiError::new(400, 10014, "Unknown Emoji"))?;
            boxed("PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", id, move |inner, _, _| {
                inner.add_own_reaction(id, m, &emoji)
            })
        }
        ("POST", ["channels", id, "messages", m, "threads"]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("POST /channels/{channel_id}/messages/{message_id}/threads", id, move |inner, body, _| {
                inner.create_thread(id, Some(m), body)
            })
        }
        ("POST", ["channels", id, "threads"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/threads", id, move |inner, body, _| inner.create_thread(id, None, body))
        }
        ("PUT", ["channels", id, "thread-members", "@me"]) => {
            let id = channel(id)?;
            boxed("PUT /channels/{channel_id}/thread-members/@me", id, move |inner, _, _| {
                let channel_kind = inner.channel(id)?["type"].as_u64().unwrap_or(0);
                if kind::is_thread(channel_kind) { Ok((204, Value::Null)) } else { Err(ApiError::wrong_channel_type()) }
            })
        }
        ("POST", ["channels", id, "typing"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/typing", id, move |inner, _, _| {
                inner.channel(id)?;
                Ok((204, Value::Null))
            })
        }
        ("PUT", ["channels", id, "permissions", target]) => {
            let (id, target) = (channel(id)?, snowflake(target, "overwrite_id")?);
            boxed("PUT /channels/{channel_id}/permissions/{overwrite_id}", id, move |inner, body, _| {
                inner.bot_sets_overwrite(Some(body))?;
                set_overwrite(inner, id, target, Some(body))
            })
        }
        ("DELETE", ["channels", id, "permissions", target]) => {
            let (id, target) = (channel(id)?, snowflake(target, "overwrite_id")?);
            boxed("DELETE /channels/{channel_id}/permissions/{overwrite_id}", id, move |inner, _, _| {
                inner.bot_sets_overwrite(None)?;
                set_overwrite(inner, id, target, None)
            })
        }
        (_, ["applications", app, "commands", rest @ ..]) => {
            let app = check_app(app)?;
            commands_route(method, app, false, rest)?
        }
        (_, ["applications", app, "guilds", guild, "commands", rest @ ..]) => {
            let app = check_app(app)?;
            check_guild(guild)?;
            commands_route(method, app, true, rest)?
        }
        ("POST", ["interactions", id, token, "callback"]) => {
            let id = snowflake(id, "interaction_id")?;
            let token = (*token).to_owned();
            Matched {
                auth: false,
                global: false,
                ..boxed("POST /interactions/{interaction_id}/{token}/callback", id, move |inner, body, _| {
                    inner.interaction_callback(id, &token, body)
                })
            }
        }
        ("POST", ["webhooks", app, token]) => {
            let app = snowflake(app, "webhook_id")?;
            let token = (*token).to_owned();
            Matched {
                auth: false,
                global: false,
                ..boxed("POST /webhooks/{webhook_id}/{token}", app, move |inner, body, _| {
                    inner.webhook_execute(app, &token, body)
                })
            }
        }
        (_, ["webhooks", app, token, "messages", which]) => {
            let app = snowflake(app, "webhook_id")?;
            let token = (*token).to_owned();
            let which = (*which).to_owned();
            let run: Action<'a> = match method {
                "GET" => Box::new(move |inner, _, _| inner.webhook_get(app, &token, &which)),
                "PATCH" => Box::new(move |inner, body, _| inner.webhook_edit(app, &token, &which, body)),
                "DELETE" => Box::new(move |inner, _, _| inner.webhook_delete(app, &token, &which)),
                _ => return Err(ApiError::new(405, 0, "405: Method Not Allowed")),
            };
            Matched {
                template: match method {
                    "GET" => "GET /webhooks/{webhook_id}/{token}/messages/{message_id}",
                    "PATCH" => "PATCH /webhooks/{webhook_id}/{token}/messages/{message_id}",
                    _ => "DELETE /webhooks/{webhook_id}/{token}/messages/{message_id}",
                },
                major: app,
                auth: false,
                global: false,
                run,
            }
        }
        _ => return Err(not_found()),
    })
}

fn commands_route<'a>(method: &str, app: u64, guild: bool, rest: &[&str]) -> Result<Matched<'a>, ApiError> {
    let template = |global: &'static str, in_guild: &'static str| if guild { in_guild } else { global };
    Ok(match (method, rest) {
        ("GET", []) => boxed(
            template(
                "GET /applications/{application_id}/commands",
                "GET /applications/{application_id}/guilds/{guild_id}/commands",
            ),
            app,
            move |inner, _, _| {
                let list = if guild { inner.guild_commands.clone() } else { inner.global_commands.clone() };
                Ok((200, Value::Array(list)))
            },
        ),
        ("PUT", []) => boxed(
            template(
                "PUT /applications/{application_id}/commands",
                "PUT /applications/{application_id}/guilds/{guild_id}/commands",
            ),
            app,
            move |inner, body, _| inner.overwrite_commands(guild, body),
        ),
        ("POST", []) => boxed(
            template(
                "POST /applications/{application_id}/commands",
                "POST /applications/{application_id}/guilds/{guild_id}/commands",
            ),
            app,
            move |inner, body, _| inner.upsert_command(guild, body),
        ),
        (_, [id]) => {
            let id = snowflake(id, "command_id")?;
            let find = move |inner: &Inner| {
                let list = if guild { &inner.guild_commands } else { &inner.global_commands };
                list.iter()
                    .find(|c| parse_id(c.get("id")) == Some(id))
                    .cloned()
                    .ok_or_else(|| ApiError::new(404, 10063, "Unknown application command"))
            };
            match method {
                "GET" => boxed(
                    template(
                        "GET /applications/{application_id}/commands/{command_id}",
                        "GET /applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                    ),
                    app,
                    move |inner, _, _| Ok((200, find(inner)?)),
                ),
                "PATCH" => boxed(
                    template(
                        "PATCH /applications/{application_id}/commands/{command_id}",
                        "PATCH /applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                    ),
                    app,
                    move |inner, body, _| inner.edit_command(guild, id, body),
                ),
                "DELETE" => boxed(
                    template(
                        "DELETE /applications/{application_id}/commands/{command_id}",
                        "DELETE /applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                    ),
                    app,
                    move |inner, _, _| {
                        find(inner)?;
                        let list = if guild { &mut inner.guild_commands } else { &mut inner.global_commands };
                        list.retain(|c| parse_id(c.get("id")) != Some(id));
                        Ok((204, Value::Null))
                    },
                ),
                _ => return Err(ApiError::new(405, 0, "405: Method Not Allowed")),
            }
        }
        _ => return Err(not_found()),
    })
}

/// Set (`Some(body)`) or remove a channel permission overwrite; dispatches CHANNEL_UPDATE.
pub(crate) fn set_overwrite(inner: &mut Inner, channel_id: u64, target: u64, body: Option<&Value>) -> ApiResult {
    inner.channel(channel_id)?;
    if let Some(body) = body {
        let kind = body.get("type").and_then(Value::as_u64);
        if !matches!(kind, Some(0 | 1)) {
            return Err(ApiError::form_one(&["type"], "BASE_TYPE_CHOICES", "Value must be one of {0, 1}."));
        }
    }
    let Some(channel) = inner.channels.get_mut(&channel_id) else { return Err(ApiError::unknown_channel()) };
    let mut list: Vec<Value> = channel["permission_overwrites"].as_array().cloned().unwrap_or_default();
    list.retain(|o| parse_id(o.get("id")) != Some(target));
    if let Some(body) = body {
        let field = |key: &str| {
            body.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())))
        };
        list.push(json!({
            "id": sid(target),
            "type": body["type"],
            "allow": field("allow").unwrap_or_else(|| "0".to_owned()),
            "deny": field("deny").unwrap_or_else(|| "0".to_owned()),
        }));
    }
    channel["permission_overwrites"] = Value::Array(list);
    let updated = channel.clone();
    let event = if kind::is_thread(updated["type"].as_u64().unwrap_or(0)) { "THREAD_UPDATE" } else { "CHANNEL_UPDATE" };
    inner.dispatch(event, updated);
    Ok((204, Value::Null))
}
