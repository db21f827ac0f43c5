//! `GET /api/status`: the ban in force on the caller, found as the WebSocket upgrade finds it.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::moderation::{cli, spawn_behind_proxy};
use crate::support::*;

/// `GET /api/status` as `ip` (through the trusted proxy 127.0.0.1), or as the socket's own
/// address when `ip` is `None`: the status code and the JSON body.
async fn status_as(addr: SocketAddr, ip: Option<&str>) -> (u16, Value) {
    let (status, _, body) = get_as(addr, "/api/status", ip).await;
    (status, body)
}

/// `GET path` as `ip` (as [`status_as`]): the status code, the lower-cased head and the JSON body.
async fn get_as(addr: SocketAddr, path: &str, ip: Option<&str>) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let forwarded = ip.map(|ip| format!("X-Forwarded-For: {ip}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{forwarded}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let head = head.to_lowercase();
    assert!(head.contains("cache-control: no-store"), "{head}");
    let body = if head.contains("transfer-encoding: chunked") {
        // One chunk is enough for this small body.
        body.split_once("\r\n").unwrap().1.rsplit_once("\r\n0").unwrap().0.to_owned()
    } else {
        body.to_owned()
    };
    (status, head, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

/// Poll until the status of `ip` satisfies `check` (the gateway picks bans up within a sync).
async fn until_status(app: &TestApp, ip: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (code, body) = status_as(app.addr, Some(ip)).await;
        assert_eq!(code, 200, "{body}");
        if check(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ip}: still {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn status_names_the_ban_of_the_callers_address_exactly_as_the_upgrade_refuses_it() {
    let app = spawn_behind_proxy(&[]).await;
    assert_eq!(status_as(app.addr, Some("203.0.113.9")).await, (200, json!({"ban": null, "mute": null})));

    let out = cli(&app, &["bans", "add", "203.0.113.0/24", "--duration", "2h", "--reason", "spam links"]).await;
    let number = |what: &str| -> i64 {
        out.split(&format!("{what} #"))
            .nth(1)
            .unwrap()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (ban, case) = (number("ban"), number("case"));
    let body = until_status(&app, "203.0.113.9", |b| !b["ban"].is_null()).await;
    assert_eq!(body["ban"]["case"], case, "{body}");
    assert_eq!(body["ban"]["reason"], "spam links");
    assert!(body["mute"].is_null());
    let expires = chrono::DateTime::parse_from_rfc3339(body["ban"]["expires"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(110) && left <= chrono::Duration::hours(2), "{body}");
    // The upgrade refuses the same address with the same ban.
    let (code, refusal) = Client::connect_from(app.addr, "203.0.113.9").await.err().unwrap();
    assert_eq!((code, refusal["code"].as_str()), (403, Some("banned")));
    assert_eq!(refusal["expires"], body["ban"]["expires"]);

    // Another address is not covered.
    assert_eq!(status_as(app.addr, Some("198.51.100.7")).await.1["ban"], Value::Null);
    assert!(Client::connect_from(app.addr, "198.51.100.7").await.is_ok());

    // A permanent ban has no expiry; lifting it clears the status.
    cli(&app, &["bans", "add", "198.51.100.7"]).await;
    let body = until_status(&app, "198.51.100.7", |b| !b["ban"].is_null()).await;
    assert!(body["ban"]["expires"].is_null(), "{body}");
    assert_eq!(body["ban"]["reason"], "");
    cli(&app, &["bans", "remove", &ban.to_string()]).await;
    until_status(&app, "203.0.113.9", |b| b["ban"].is_null()).await;
    assert!(Client::connect_from(app.addr, "203.0.113.9").await.is_ok());
}

#[tokio::test]
async fn status_ignores_forwarded_for_from_an_untrusted_peer() {
    // No trusted proxies: the caller is the socket's peer, 127.0.0.1, whatever the header says.
    let app = spawn_app().await;
    cli(&app, &["bans", "add", "127.0.0.1", "--reason", "local"]).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let body = loop {
        let (code, body) = status_as(app.addr, Some("203.0.113.50")).await;
        assert_eq!(code, 200, "{body}");
        if !body["ban"].is_null() {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(body["ban"]["reason"], "local");
    assert_eq!(status_as(app.addr, None).await.1, body);
    let (code, refusal) = Client::connect_from(app.addr, "203.0.113.50").await.err().unwrap();
    assert_eq!((code, refusal["code"].as_str()), (403, Some("banned")));
}

#[tokio::test]
async fn per_request_routes_refuse_a_flood_from_one_64_and_serve_its_neighbours() {
    // 60 a minute: a burst of 6, then one a second. The two routes share one budget.
    let app = spawn_behind_proxy(&[("API_REQUESTS_PER_MINUTE", "60")]).await;
    let flooder = "2001:db8:1:2::1";
    for i in 0..6 {
        let path = if i % 2 == 0 { "/api/status" } else { "/api/rooms/lobby" };
        let (code, _, body) = get_as(app.addr, path, Some(flooder)).await;
        assert_eq!(code, 200, "request {i}: {body}");
    }
    let (code, head, body) = get_as(app.addr, "/api/rooms/lobby", Some(flooder)).await;
    assert_eq!((code, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    let wait = body["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 1000, "{body}");
    assert!(head.contains("retry-after: 1"), "{head}");
    // Another address of the same /64 shares the spent budget…
    let (code, _, body) = get_as(app.addr, "/api/status", Some("2001:db8:1:2:ffff::7")).await;
    assert_eq!((code, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    // …while the next /64 and an IPv4 caller are served.
    assert_eq!(get_as(app.addr, "/api/status", Some("2001:db8:1:3::1")).await.0, 200);
    assert_eq!(get_as(app.addr, "/api/rooms/lobby", Some("203.0.113.20")).await.0, 200);
    // The cached routes are not counted: the flooder still reads the list.
    assert_eq!(get_as(app.addr, "/api/rooms", Some(flooder)).await.0, 200);
    // The budget refills: one request a second.
    tokio::time::sleep(std::time::Duration::from_millis(wait + 50)).await;
    assert_eq!(get_as(app.addr, "/api/status", Some(flooder)).await.0, 200);
}
