//! `POST /api/appeals` and `GET /api/appeals/{token}` over real HTTP: who may appeal, the
//! refusals and their codes, one open appeal per case, the per-address budget, and appeals
//! outliving a restart of the one-process default (the bot puts them back on the bus).

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::moderation::{cli, spawn_behind_proxy};
use crate::support::*;

/// One request as `ip` (through the trusted proxy 127.0.0.1): status, lower-cased head, body.
pub(crate) async fn request_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    ip: &str,
    body: Option<&str>,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: {ip}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let head = head.to_lowercase();
    let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {status} {body}"));
    (status, head, json)
}

/// `POST /api/appeals` as `ip`.
pub(crate) async fn appeal_as(addr: SocketAddr, ip: &str, body: &Value) -> (u16, Value) {
    let (status, head, json) = request_as(addr, "POST", "/api/appeals", ip, Some(&body.to_string())).await;
    assert!(head.contains("cache-control: no-store"), "{head}");
    (status, json)
}

/// `GET /api/appeals/{token}` (from an address of its own: the token is the key).
pub(crate) async fn read_appeal(addr: SocketAddr, token: &str) -> (u16, Value) {
    let (status, _, json) = request_as(addr, "GET", &format!("/api/appeals/{token}"), "192.0.2.200", None).await;
    (status, json)
}

/// Ban `target` with the CLI and wait until the gateway names the ban to `ip`; its case.
pub(crate) async fn banned(app: &TestApp, target: &str, ip: &str, extra: &[&str]) -> i64 {
    sanctioned(app, "ban", target, ip, extra).await
}

/// Ban or mute (`kind`) `target` with the CLI, with the reason "spam links", and wait until the
/// gateway names the sanction to `ip`; its case.
pub(crate) async fn sanctioned(app: &TestApp, kind: &str, target: &str, ip: &str, extra: &[&str]) -> i64 {
    let command = if kind == "ban" { "bans" } else { "mutes" };
    let mut args = vec![command, "add", target, "--reason", "spam links"];
    args.extend_from_slice(extra);
    cli(app, &args).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (code, _, body) = request_as(app.addr, "GET", "/api/status", ip, None).await;
        assert_eq!(code, 200, "{body}");
        if let Some(case) = body[kind]["case"].as_i64() {
            return case;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ban never reached the gateway: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn only_the_banned_visitor_appeals_their_case_once_and_bad_bodies_get_clear_codes() {
    let app = spawn_behind_proxy(&[("APPEALS_PER_HOUR", "1000")]).await;
    let visitor = "203.0.113.9";
    let case = banned(&app, "203.0.113.9", visitor, &["--duration", "2h"]).await;

    // Not the caller's case: another address, or a case number that is not theirs.
    let text = "I shared one link, by mistake.";
    let (code, body) = appeal_as(app.addr, "198.51.100.7", &json!({"case": case, "text": text})).await;
    assert_eq!((code, body["code"].as_str()), (403, Some("not_your_case")), "{body}");
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case + 1000, "text": text})).await;
    assert_eq!((code, body["code"].as_str()), (403, Some("not_your_case")), "{body}");

    // Bodies that are not an appeal.
    for (raw, expected) in [
        ("not json", "bad_request"),
        (r#"{"case": 1}"#, "bad_request"),
        (r#"{"case": "one", "text": "x"}"#, "bad_request"),
    ] {
        let (code, _, body) = request_as(app.addr, "POST", "/api/appeals", visitor, Some(raw)).await;
        assert_eq!((code, body["code"].as_str()), (400, Some(expected)), "{raw}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": " \u{200b}\n\t "})).await;
    assert_eq!((code, body["code"].as_str()), (400, Some("empty_text")), "{body}");
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": "x".repeat(2001)})).await;
    assert_eq!((code, body["code"].as_str()), (400, Some("too_long")), "{body}");
    let huge = json!({"case": case, "text": "x".repeat(40 * 1024)}).to_string();
    let (code, _, body) = request_as(app.addr, "POST", "/api/appeals", visitor, Some(&huge)).await;
    assert_eq!((code, body["code"].as_str()), (413, Some("too_large")), "{body}");

    // The appeal: 201 with a token of 128 random bits, readable at once.
    let written = "  I shared one link,\u{202e} by mistake.  ";
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": written})).await;
    assert_eq!(code, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    let (code, appeal) = read_appeal(app.addr, &token).await;
    assert_eq!(code, 200, "{appeal}");
    assert_eq!(appeal["state"], "open");
    assert_eq!(appeal["case"], case);
    assert_eq!(appeal["text"], "I shared one link, by mistake.", "cleaned as a message");
    assert_eq!(appeal["replies"], json!([]));
    assert!(appeal.get("token").is_none(), "{appeal}");

    // A second appeal of the same case: refused, and the first one's token is not given away.
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": "please?"})).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("appeal_open")), "{body}");
    assert!(!body.to_string().contains(&token), "{body}");

    // Unknown and malformed tokens.
    for bad in ["0123456789abcdef0123456789abcdef", "not-a-token", "0123"] {
        let (code, body) = read_appeal(app.addr, bad).await;
        assert_eq!((code, body["code"].as_str()), (404, Some("unknown_appeal")), "{bad}: {body}");
    }

    // The bot recorded it (the database is the record).
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(row) = bot::appeals::by_token(&db, &token).await.unwrap() {
            assert_eq!(row.case_no, case);
            assert!(row.ban_id.is_some() && row.mute_id.is_none(), "{row:?}");
            assert_eq!(row.ip.as_deref(), Some(visitor));
            assert_eq!(row.state, "open");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the bot never recorded the appeal");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn appeals_are_rate_limited_per_address_with_ipv6_by_its_64() {
    // 4 an hour: one at once. Refused attempts count too, so nobody probes cases for free.
    let app = spawn_behind_proxy(&[("APPEALS_PER_HOUR", "4")]).await;
    let body = json!({"case": 1, "text": "let me back in"});
    let (code, refused) = appeal_as(app.addr, "2001:db8:1:2::1", &body).await;
    assert_eq!((code, refused["code"].as_str()), (403, Some("not_your_case")), "{refused}");
    let (code, _, limited) =
        request_as(app.addr, "POST", "/api/appeals", "2001:db8:1:2:ffff::7", Some(&body.to_string())).await;
    assert_eq!((code, limited["code"].as_str()), (429, Some("rate_limited")), "same /64: {limited}");
    assert!(limited["retry_after_ms"].as_u64().is_some_and(|ms| ms > 60_000), "{limited}");
    // The next /64 and an IPv4 caller have budgets of their own.
    assert_eq!(appeal_as(app.addr, "2001:db8:1:3::1", &body).await.0, 403);
    assert_eq!(appeal_as(app.addr, "203.0.113.20", &body).await.0, 403);
    // Reading an appeal is not counted against the appeal budget.
    assert_eq!(read_appeal(app.addr, &"a".repeat(32)).await.0, 404);
}

#[tokio::test]
async fn an_appeal_survives_a_restart_of_the_one_process_default() {
    let app = spawn_behind_proxy(&[]).await;
    let visitor = "203.0.113.44";
    let case = banned(&app, visitor, visitor, &[]).await;
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": "it was my brother"})).await;
    assert_eq!(code, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while bot::appeals::by_token(&db, &token).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the bot never recorded the appeal");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(db);
    // The in-process bus goes with the process; the bot puts the appeal back from the database.
    let (dir, url) = app.stop().await;
    let app = spawn_app_on(dir, &url, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let (code, appeal) = read_appeal(app.addr, &token).await;
    assert_eq!(code, 200, "{appeal}");
    assert_eq!((appeal["state"].as_str(), appeal["case"].as_i64()), (Some("open"), Some(case)));
    assert_eq!(appeal["text"], "it was my brother");
    // …and it is still the case's open appeal.
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": "hello?"})).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("appeal_open")), "{body}");
}

/// An appeal the database refuses every time becomes a dead letter (kind `appeal`, its address
/// kept apart from the payload) instead of blocking the queue, and the next appeal is recorded.
#[tokio::test]
async fn an_appeal_the_database_refuses_becomes_a_dead_letter() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_behind_proxy(&[("APPEALS_PER_HOUR", "1000")]).await;
    let db = app.db().await;
    crate::backlog::refuse_inserts(&db, "poison_appeal", "appeals", Some("poison")).await;
    let (first, second) = ("203.0.113.61", "203.0.113.62");
    let poisoned = banned(&app, first, first, &[]).await;
    let fine = banned(&app, second, second, &[]).await;
    let (code, body) = appeal_as(app.addr, first, &json!({"case": poisoned, "text": "poison"})).await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = appeal_as(app.addr, second, &json!({"case": fine, "text": "not me"})).await;
    assert_eq!(code, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let sql = "SELECT kind, payload, ip, attempts FROM dead_letters";
    let backend = db.get_database_backend();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let rows = loop {
        let rows = db.query_all_raw(Statement::from_string(backend, sql.to_owned())).await.unwrap();
        if !rows.is_empty() {
            break rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "the refused appeal never became a dead letter");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<String>("", "kind").unwrap(), "appeal");
    let payload = rows[0].try_get::<String>("", "payload").unwrap();
    assert!(payload.contains("poison") && !payload.contains(first), "{payload}");
    assert_eq!(rows[0].try_get::<Option<String>>("", "ip").unwrap().as_deref(), Some(first));
    assert!(rows[0].try_get::<i32>("", "attempts").unwrap() >= 5);
    let deadline = tokio::time::Instant::now() + WAIT;
    while bot::appeals::by_token(&db, &token).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the appeal after the refused one was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
