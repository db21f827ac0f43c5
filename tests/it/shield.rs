//! The proof-of-work gate (issue 27), through real sockets: off at rest, on for everyone under
//! a flood of joins, on for one misbehaving address alone, and a solution that is wrong, spent,
//! another address's or expired refused with `challenge_failed`; across gateways, a solution
//! from one is taken by another and spent for both. Challenges are solved here as a browser
//! solves them, with a low difficulty.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cluster::Cluster;
use crate::support::{Client, TestApp, WAIT, spawn_app_tuned_with};

/// Low difficulty steps, so tests solve in milliseconds.
const TEST_STEPS: [u64; 4] = [2_000, 4_000, 8_000, 16_000];

/// The chat with the gate tuned for a test; `vars` on top of the test defaults.
async fn app(vars: &[(&str, &str)], tune: impl FnOnce(&mut gateway::config::ShieldConfig)) -> TestApp {
    let mut vars = vars.to_vec();
    vars.push(("TRUSTED_PROXIES", "127.0.0.1"));
    spawn_app_tuned_with(&vars, |config| {
        config.gateway.shield.steps = TEST_STEPS;
        tune(&mut config.gateway.shield);
    })
    .await
}

/// `GET path` as if from `ip` (through the trusted proxy 127.0.0.1).
async fn get_from(addr: SocketAddr, path: &str, ip: &str) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: {ip}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        body.split("\r\n").nth(1).unwrap_or_default().to_owned()
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A challenge for `ip`.
async fn challenge(addr: SocketAddr, ip: &str) -> Value {
    let (status, body) = get_from(addr, "/api/challenge", ip).await;
    assert_eq!(status, 200, "{body}");
    for field in ["algorithm", "challenge", "maxnumber", "salt", "signature"] {
        assert!(!body[field].is_null(), "{field} missing: {body}");
    }
    assert_eq!(body["algorithm"], "SHA-256");
    body
}

/// Solve `c` as the web client does and encode the solution for `?pow=`; `offset` spoils it.
fn solve(c: &Value, offset: u64) -> String {
    let (salt, target) = (c["salt"].as_str().unwrap(), c["challenge"].as_str().unwrap());
    let number = gateway::shield::solve(salt, target, c["maxnumber"].as_u64().unwrap()).expect("solvable") + offset;
    let payload = json!({
        "algorithm": c["algorithm"], "challenge": target, "number": number,
        "salt": salt, "signature": c["signature"],
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(payload.to_string());
    // Percent-encoded as encodeURIComponent does.
    encoded.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

async fn connect(addr: SocketAddr, ip: &str, pow: Option<&str>) -> Result<Client, (u16, Value)> {
    let path = pow.map_or_else(|| "/ws".to_owned(), |p| format!("/ws?pow={p}"));
    Client::connect_to(addr, &path, &[("x-forwarded-for", ip)]).await
}

fn refused(result: Result<Client, (u16, Value)>, code: &str) -> String {
    match result {
        Ok(_) => panic!("connected, but {code} was expected"),
        Err((status, body)) => {
            assert_eq!((status, body["code"].as_str()), (403, Some(code)), "{body}");
            body["message"].as_str().unwrap().to_owned()
        }
    }
}

/// A value of `/metrics` (a gauge, or a counter with its labels in `name`).
async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let (_, _, body) = app.get_admin("/metrics").await;
    body.lines().find_map(|line| line.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

async fn until_required(addr: SocketAddr, ip: &str, required: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while challenge(addr, ip).await["required"] != required {
        assert!(tokio::time::Instant::now() < deadline, "required never became {required}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_gate_is_off_at_rest() {
    let app = app(&[("SHIELD_JOIN_RATE", "300"), ("SHIELD_ADDRESS_REFUSALS", "30")], |_| {}).await;
    let c = challenge(app.addr, "203.0.113.1").await;
    assert_eq!(c["required"], false, "{c}");
    assert!(c["salt"].as_str().unwrap().contains("?expires="), "{c}");
    // A few visitors arriving at an ordinary pace connect without solving anything.
    for i in 0..20 {
        let mut client = connect(app.addr, &format!("203.0.113.{}", 10 + i), None).await.unwrap();
        client.join("lobby", &format!("Visitor{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(challenge(app.addr, "203.0.113.1").await["required"], false);
    assert_eq!(metric(&app, "chat_shield_on").await, Some(0.0));
    assert_eq!(metric(&app, "chat_shield_difficulty").await, Some(TEST_STEPS[0] as f64));
    app.stop().await;
}

#[tokio::test]
async fn a_flood_turns_the_gate_on_for_everyone_and_a_solution_opens_one_connection() {
    let app = app(&[("SHIELD_JOIN_RATE", "3")], |shield| shield.cooldown = Duration::from_secs(1)).await;
    // The flood: 100 connections from 100 addresses within a second (the rate is 3 a second).
    for i in 0..100 {
        drop(connect(app.addr, &format!("198.51.100.{}", i + 1), None).await);
    }
    until_required(app.addr, "203.0.113.5", true).await;
    assert_eq!(metric(&app, "chat_shield_on").await, Some(1.0));
    let message = refused(connect(app.addr, "203.0.113.5", None).await, "challenge_required");
    assert!(message.contains("/api/challenge"), "{message}");

    // A wrong number, then the right one: it connects, once.
    let c = challenge(app.addr, "203.0.113.5").await;
    assert!(c["maxnumber"].as_u64().unwrap() >= TEST_STEPS[0]);
    refused(connect(app.addr, "203.0.113.5", Some(&solve(&c, 1))).await, "challenge_failed");
    let pow = solve(&c, 0);
    let mut alice = connect(app.addr, "203.0.113.5", Some(&pow)).await.unwrap();
    alice.join("lobby", "Alice").await;
    let message = refused(connect(app.addr, "203.0.113.5", Some(&pow)).await, "challenge_failed");
    assert!(message.contains("used already"), "{message}");
    // Garbage is refused the same way, never with a server error.
    refused(connect(app.addr, "203.0.113.5", Some("bm90IGpzb24%3D")).await, "challenge_failed");
    assert!(metric(&app, r#"chat_refusals_total{code="challenge_required"}"#).await.unwrap() >= 1.0);
    assert!(metric(&app, r#"chat_refusals_total{code="challenge_failed"}"#).await.unwrap() >= 3.0);
    assert_eq!(metric(&app, "chat_shield_solutions_total").await, Some(1.0));

    // The flood is over: once the rate has stayed low for the cool-down, the gate turns off.
    until_required(app.addr, "203.0.113.5", false).await;
    connect(app.addr, "203.0.113.6", None).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn one_misbehaving_address_alone_must_solve() {
    let app = app(&[("SHIELD_ADDRESS_REFUSALS", "5")], |_| {}).await;
    let mut noisy = connect(app.addr, "2001:db8:7:7::1", None).await.unwrap();
    for _ in 0..5 {
        noisy.send_raw(tokio_tungstenite::tungstenite::Message::text("{not json")).await;
        noisy.expect_error("bad_frame").await;
    }
    // Its whole /64 must solve now; nobody else must.
    let c = challenge(app.addr, "2001:db8:7:7::2").await;
    assert_eq!(c["required"], true, "{c}");
    assert_eq!(challenge(app.addr, "2001:db8:7:8::1").await["required"], false);
    assert_eq!(challenge(app.addr, "203.0.113.9").await["required"], false);
    refused(connect(app.addr, "2001:db8:7:7::3", None).await, "challenge_required");
    connect(app.addr, "2001:db8:7:8::1", None).await.unwrap();
    connect(app.addr, "203.0.113.9", None).await.unwrap();
    // A solved challenge lets it in; the gate stays off for everyone.
    let mut back = connect(app.addr, "2001:db8:7:7::2", Some(&solve(&c, 0))).await.unwrap();
    back.join("lobby", "Back").await;
    assert_eq!(metric(&app, "chat_shield_on").await, Some(0.0));
    app.stop().await;
}

#[tokio::test]
async fn another_addresss_or_an_expired_solution_is_refused() {
    let app = app(&[("SHIELD_MODE", "on")], |shield| shield.challenge_ttl = Duration::from_secs(3)).await;
    assert_eq!(challenge(app.addr, "203.0.113.20").await["required"], true, "SHIELD_MODE=on");
    // Solved for one address, used from another (an IPv4 /24 neighbour is another address).
    let c = challenge(app.addr, "203.0.113.20").await;
    let message = refused(connect(app.addr, "203.0.113.21", Some(&solve(&c, 0))).await, "challenge_failed");
    assert!(message.contains("another address"), "{message}");
    // Solved, then kept past its life.
    let c = challenge(app.addr, "203.0.113.20").await;
    let pow = solve(&c, 0);
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let message = refused(connect(app.addr, "203.0.113.20", Some(&pow)).await, "challenge_failed");
    assert!(message.contains("expired"), "{message}");
    // IPv6: a challenge binds the /64, so another address of the same /64 may use it.
    let c = challenge(app.addr, "2001:db8:5:5::1").await;
    connect(app.addr, "2001:db8:5:5::2", Some(&solve(&c, 0))).await.unwrap();
    app.stop().await;
}

/// Over Redis, with no `IP_TAG_SECRET`: the gateways take the bot's deployment key from the
/// bus, so a challenge one issued is taken by the other, and spent for both. The operator
/// switches the gate with `chatroulette shield`.
#[tokio::test]
async fn a_solution_from_one_gateway_is_accepted_by_another_and_spent_for_both() {
    let mut cluster = Cluster::new().await;
    cluster.env.push(("IP_TAG_SECRET".into(), String::new()));
    cluster.env.push(("TRUSTED_PROXIES".into(), "127.0.0.1".into()));
    cluster.cli(&["migrate"]).await;
    cluster.cli(&["shield", "on", "--difficulty", "1"]).await;
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    let (a1, a2) = (g1.addr.unwrap(), g2.addr.unwrap());
    until_required(a1, "203.0.113.30", true).await;
    until_required(a2, "203.0.113.30", true).await;
    refused(connect(a2, "203.0.113.30", None).await, "challenge_required");

    let c = challenge(a1, "203.0.113.30").await;
    assert_eq!(c["maxnumber"], 50_000, "step 1 of the default steps");
    let pow = solve(&c, 0);
    let mut visitor = connect(a2, "203.0.113.30", Some(&pow)).await.unwrap();
    visitor.join("lobby", "Crossed").await;
    refused(connect(a1, "203.0.113.30", Some(&pow)).await, "challenge_failed");

    cluster.cli(&["shield", "off"]).await;
    until_required(a1, "203.0.113.30", false).await;
    until_required(a2, "203.0.113.30", false).await;
    connect(a1, "203.0.113.31", None).await.unwrap();
    cluster.finish().await;
}

/// With Redis gone, a gateway cannot ask the bus whether a solution was spent: it takes the
/// solution (signed, fresh, this address's) once and refuses its replay on this gateway.
#[tokio::test]
async fn while_redis_is_down_a_solution_still_opens_one_connection() {
    let mut redis = crate::redis_server::RedisServer::start(crate::redis_server::Persistence::None).await;
    let mut cluster = Cluster::with_redis(redis.url()).await;
    cluster.env.push(("TRUSTED_PROXIES".into(), "127.0.0.1".into()));
    cluster.cli(&["migrate"]).await;
    cluster.cli(&["shield", "on", "--difficulty", "1"]).await;
    let _bot = cluster.bot().await;
    let gateway = cluster.gateway().await;
    let addr = gateway.addr.unwrap();
    until_required(addr, "203.0.113.40", true).await;
    let pow = solve(&challenge(addr, "203.0.113.40").await, 0);

    redis.kill().await;
    let first = tokio::time::timeout(WAIT * 2, connect(addr, "203.0.113.40", Some(&pow))).await.unwrap();
    assert!(first.is_ok(), "a good solution was refused while Redis was down: {:?}", first.err());
    let replay = tokio::time::timeout(WAIT * 2, connect(addr, "203.0.113.40", Some(&pow))).await.unwrap();
    refused(replay, "challenge_failed");
    gateway.wait_log("spending it on this gateway").await;
    drop(first);
    redis.restart().await;
    cluster.finish().await;
}
