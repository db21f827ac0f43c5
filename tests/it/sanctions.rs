//! Mutes and cases from the operator's shell (`chatroulette mutes …`, `chatroulette cases …`):
//! a plain mute refuses `say`, `typing` and `create` with `muted` and tells the visitor on join;
//! it expires by itself; a shadow mute keeps the sender's messages to the sender; `/api/status`
//! names the plain mute and never a shadow one.

use std::time::Duration;

use serde_json::{Value, json};

use crate::moderation::{cli, spawn_behind_proxy};
use crate::support::*;

/// The number after `what #` in `text`.
fn number_after(text: &str, what: &str) -> i64 {
    let rest = text.split(&format!("{what} #")).nth(1).unwrap_or_else(|| panic!("no {what} # in {text}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// `GET /api/status` as `ip` (through the trusted proxy).
pub(crate) async fn status_of(app: &TestApp, ip: &str) -> Value {
    status_at(app.addr, ip).await
}

/// `GET /api/status` of the gateway at `addr`, as `ip` (through the trusted proxy).
pub(crate) async fn status_at(addr: std::net::SocketAddr, ip: &str) -> Value {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request =
        format!("GET /api/status HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: {ip}\r\nConnection: close\r\n\r\n");
    write.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, read.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    let body = if text.to_lowercase().contains("transfer-encoding: chunked") {
        body.split_once("\r\n").unwrap().1.rsplit_once("\r\n0").unwrap().0.to_owned()
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Poll `/api/status` of `ip` until `check` holds.
pub(crate) async fn until_status(app: &TestApp, ip: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let body = status_of(app, ip).await;
        if check(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ip}: still {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn cli_mutes_refuse_speech_are_listed_with_their_cases_and_lift() {
    let app = spawn_behind_proxy(&[]).await;
    let ip = "203.0.113.61";
    let mut muted = Client::connect_from(app.addr, ip).await.unwrap();
    muted.join("lobby", "Loud").await;
    let mut other = Client::connect_from(app.addr, "198.51.100.61").await.unwrap();
    other.join("lobby", "Calm").await;

    let out = cli(&app, &["mutes", "add", ip, "--duration", "10m", "--reason", "calm down"]).await;
    let (mute, case) = (number_after(&out, "mute"), number_after(&out, "case"));
    // Told when the mute reaches the gateway (the CLI has no bus here: the next sync tick).
    let told = muted.wait_for("muted").await;
    assert_eq!((told["case"].as_i64(), told["reason"].as_str()), (Some(case), Some("calm down")), "{told}");
    let expires = chrono::DateTime::parse_from_rfc3339(told["expires"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(9) && left <= chrono::Duration::minutes(10), "{told}");

    // Reading goes on; speaking, typing and opening rooms are refused with the expiry.
    muted.send(json!({"type": "say", "text": "LOUD", "client_id": "m1"})).await;
    let refused = muted.expect_error("muted").await;
    assert_eq!((refused["client_id"].as_str(), &refused["expires"]), (Some("m1"), &told["expires"]), "{refused}");
    muted.send(json!({"type": "typing"})).await;
    assert_eq!(muted.expect_error("muted").await["expires"], told["expires"]);
    muted.send(json!({"type": "create", "title": "my room", "capacity": 4, "listed": true})).await;
    muted.expect_error("muted").await;
    let id = other.say("I can still talk").await;
    assert_eq!(muted.wait_message(&id).await["text"], "I can still talk");

    // Joining again says so again, right after `joined`.
    muted.send(json!({"type": "leave"})).await;
    muted.send(json!({"type": "join", "room": "chill", "nick": "Loud"})).await;
    muted.wait_for("joined").await;
    assert_eq!(muted.next().await["type"], "muted");

    let status = until_status(&app, ip, |b| !b["mute"].is_null()).await;
    assert_eq!(status["mute"], json!({"case": case, "reason": "calm down", "expires": told["expires"]}));
    assert!(status["ban"].is_null());

    let listed = cli(&app, &["mutes", "list"]).await;
    assert!(listed.contains("203.0.113.61/32") && listed.contains("calm down"), "{listed}");
    let cases = cli(&app, &["cases", "list"]).await;
    assert!(cases.lines().any(|l| l.contains(&case.to_string()) && l.contains("mute")), "{cases}");
    let shown = cli(&app, &["cases", "show", &case.to_string()]).await;
    assert!(shown.contains(&format!("Case #{case} · mute")) && shown.contains("reason: calm down"), "{shown}");
    assert!(shown.contains("cli:tester"), "{shown}");

    let out = cli(&app, &["mutes", "remove", &mute.to_string()]).await;
    let unmute_case = number_after(&out, "case");
    assert!(unmute_case > case, "{out}");
    until_status(&app, ip, |b| b["mute"].is_null()).await;
    muted.send(json!({"type": "leave"})).await;
    muted.send(json!({"type": "join", "room": "lobby", "nick": "Loud"})).await;
    muted.wait_for("joined").await;
    assert_eq!(muted.next().await["type"], "presence", "no `muted` after the mute is lifted");
    let id = muted.say("thank you").await;
    other.wait_message(&id).await;
    let listed = cli(&app, &["mutes", "list"]).await;
    assert!(!listed.contains("203.0.113.61/32"), "{listed}");
    assert!(cli(&app, &["mutes", "list", "--all"]).await.contains("203.0.113.61/32"));
    let shown = cli(&app, &["cases", "show", &unmute_case.to_string()]).await;
    assert!(shown.contains("unmute") && shown.contains(&format!("case #{case}")), "{shown}");
}

#[tokio::test]
async fn a_mute_expires_by_itself_and_the_bot_sweeps_it() {
    let app = spawn_behind_proxy(&[]).await;
    let ip = "203.0.113.62";
    let mut c = Client::connect_from(app.addr, ip).await.unwrap();
    c.join("lobby", "Brief").await;
    cli(&app, &["mutes", "add", ip, "--duration", "2s"]).await;
    c.wait_for("muted").await;
    c.send(json!({"type": "say", "text": "now?", "client_id": "x"})).await;
    c.expect_error("muted").await;
    // Two seconds after it was imposed the gateway ignores it, whatever the sweep has done.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let id = c.say("free again").await;
    c.wait_message(&id).await;
    app.eventually("the bot withdraws the expired mute", || async {
        !cli(&app, &["mutes", "list"]).await.contains("203.0.113.62/32")
    })
    .await;
    assert!(status_of(&app, ip).await["mute"].is_null());
}

#[tokio::test]
async fn a_shadow_muted_sender_sees_their_message_sent_and_nobody_else_receives_it() {
    let app = spawn_behind_proxy(&[]).await;
    let shadowed = "203.0.113.63";
    let device = "/ws?device=0123456789abcdef0123456789abcdef";
    let mut sender = Client::connect_to(app.addr, device, &[("x-forwarded-for", shadowed)]).await.unwrap();
    sender.join("lobby", "Sneaky").await;
    // The sender's other tabs: one from the same address, one from another address on the same
    // device (a phone that switched networks).
    let mut same_address = Client::connect_from(app.addr, shadowed).await.unwrap();
    same_address.join("lobby", "Sneaky2").await;
    let mut same_device = Client::connect_to(app.addr, device, &[("x-forwarded-for", "192.0.2.99")]).await.unwrap();
    same_device.join("lobby", "Sneaky3").await;
    let mut other = Client::connect_from(app.addr, "198.51.100.63").await.unwrap();
    other.join("lobby", "Reader").await;
    cli(&app, &["mutes", "add", shadowed, "--shadow", "--reason", "spam wave"]).await;
    // A plain mute added after it is published by the same sync tick or a later one: once it
    // shows, the shadow mute holds too.
    let marker = "192.0.2.63";
    cli(&app, &["mutes", "add", marker]).await;
    until_status(&app, marker, |b| !b["mute"].is_null()).await;

    // Sent, acknowledged and echoed to the sender, with no frame or error telling it anything.
    let id = sender.say("buy my stuff").await;
    let echoed = sender.wait_message(&id).await;
    assert_eq!(echoed["text"], "buy my stuff");
    // So do the sender's other tabs.
    assert_eq!(same_address.wait_message(&id).await["text"], "buy my stuff");
    assert_eq!(same_device.wait_message(&id).await["text"], "buy my stuff");
    sender.send(json!({"type": "typing"})).await;
    sender.send(json!({"type": "ping"})).await;
    assert_eq!(sender.next().await["type"], "pong", "typing is neither refused nor relayed");
    // Nobody else receives it: the next frame the reader gets is its own message.
    let own = other.say("anyone here?").await;
    let next = loop {
        let frame = other.next().await;
        match frame["type"].as_str() {
            Some("presence") => continue,
            Some("typing") => panic!("a shadow-muted visitor's typing reached someone: {frame}"),
            _ => break frame,
        }
    };
    assert_eq!((next["type"].as_str(), next["id"].as_str()), (Some("message"), Some(own.as_str())), "{next}");
    // Nor does anyone joining later, from the history.
    let (_, joined) = app.joined("lobby", "Latecomer").await;
    let history = joined["history"].as_array().unwrap();
    assert!(!history.iter().any(|m| m["text"] == "buy my stuff"), "{history:?}");
    // The visitor's status never shows it.
    assert!(status_of(&app, shadowed).await["mute"].is_null());
    // The message is logged for staff all the same.
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    use sea_orm::{ConnectionTrait, Statement};
    let query = format!("SELECT id FROM message_log WHERE id = '{id}'");
    while db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the shadow message was never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
