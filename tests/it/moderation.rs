//! Bans from the operator's shell, per-address limits, Origin checks, the audit log.

use std::time::Duration;
use tokio::process::Command;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::support::*;

/// The app trusts 127.0.0.1 as a proxy, so tests can speak from any address.
pub(crate) async fn spawn_behind_proxy(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("TRUSTED_PROXIES", "127.0.0.1")];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// Run the real binary against the app's database. The app keeps running meanwhile (its tests
/// share one thread with it: a blocking wait here would freeze a write it has half done).
pub(crate) async fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chatroulette"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("USER", "tester")
        .env_remove("REDIS_URL")
        .env_remove("DISCORD_TOKEN")
        .current_dir(&app.dir)
        .output()
        .await
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

/// Wait until connecting from `ip` gets `status` (0 = accepted).
async fn until_connect_status(app: &TestApp, ip: &str, status: u16) -> serde_json::Value {
    until_connect_status_at(app.addr, ip, status).await
}

/// [`until_connect_status`] on any listener.
async fn until_connect_status_at(addr: std::net::SocketAddr, ip: &str, status: u16) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = match Client::connect_from(addr, ip).await {
            Ok(_) => (0, json!(null)),
            Err(refusal) => refusal,
        };
        if got.0 == status {
            return got.1;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ip}: still {got:?}, expected {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_operator_ban_drops_the_banned_socket_refuses_it_and_spares_the_others() {
    let app = spawn_behind_proxy(&[]).await;
    let mut spammer = Client::connect_from(app.addr, "203.0.113.5").await.unwrap();
    spammer.join("lobby", "Spammer").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.7").await.unwrap();
    bob.join("lobby", "Bob").await;
    spammer.say("buy my stuff").await;

    let out = cli(&app, &["bans", "add", "203.0.113.5", "--reason", "spam"]).await;
    assert!(out.contains("ban #"), "{out}");
    let kicked = spammer.wait_for("kicked").await;
    assert!(kicked["reason"].as_str().unwrap().contains("spam"), "{kicked}");
    assert_eq!(spammer.closed().await, Some(4003));
    let body = until_connect_status(&app, "203.0.113.5", 403).await;
    assert_eq!(body["code"], "banned");
    assert!(body["message"].as_str().unwrap().contains("spam"));
    assert!(body.get("expires").is_some(), "{body}");
    // Others carry on.
    let id = bob.say("still here").await;
    bob.wait_message(&id).await;

    // Lifted: welcome back.
    let list = cli(&app, &["bans", "list"]).await;
    let ban_id = list.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    cli(&app, &["bans", "remove", &ban_id]).await;
    until_connect_status(&app, "203.0.113.5", 0).await;

    // Every action is in the audit log, with the operator's name.
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT actor, action FROM audit_log ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let actions: Vec<(String, String)> =
        rows.iter().map(|r| (r.try_get("", "actor").unwrap(), r.try_get("", "action").unwrap())).collect();
    assert_eq!(actions, [("cli:tester".to_owned(), "ban".to_owned()), ("cli:tester".to_owned(), "unban".to_owned())]);
}

/// Over Redis, `chatroulette bans add` publishes the ban on the bus itself, as `/ban` does: a
/// gateway enforces it with no bot running at all, and `bans remove` withdraws it the same way.
#[tokio::test]
async fn an_operator_ban_over_redis_is_published_at_once_without_waiting_for_a_bot() {
    let mut cluster = crate::cluster::Cluster::new().await;
    cluster.env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    cluster.cli(&["migrate"]).await;
    let gateway = cluster.gateway().await;
    let addr = gateway.addr.unwrap();
    until_connect_status_at(addr, "203.0.113.5", 0).await;

    cluster.cli(&["bans", "add", "203.0.113.5", "--reason", "spam"]).await;
    let body = until_connect_status_at(addr, "203.0.113.5", 403).await;
    assert_eq!(body["code"], "banned");
    assert!(body["message"].as_str().unwrap().contains("spam"), "{body}");
    until_connect_status_at(addr, "198.51.100.7", 0).await;

    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    let id = bot::bans::list(&db, false).await.unwrap()[0].id;
    db.close().await.unwrap();
    cluster.cli(&["bans", "remove", &id.to_string()]).await;
    until_connect_status_at(addr, "203.0.113.5", 0).await;
    drop(gateway);
    cluster.finish().await;
}

#[tokio::test]
async fn ipv6_bans_cover_the_64_tags_ban_without_the_address_and_timed_bans_lapse() {
    let app = spawn_behind_proxy(&[]).await;
    cli(&app, &["bans", "add", "2001:db8:1:2::5"]).await;
    let refused = until_connect_status(&app, "2001:db8:1:2::99", 403).await;
    assert_eq!(refused["code"], "banned");
    assert!(Client::connect_from(app.addr, "2001:db8:1:3::1").await.is_ok(), "another /64 is not covered");

    // A tag from the message log stands for the address it was seen from.
    let mut tagged = Client::connect_from(app.addr, "192.0.2.44").await.unwrap();
    tagged.join("lobby", "Tagged").await;
    let id = tagged.say("hello").await;
    let db = app.db().await;
    let query = format!("SELECT ip_tag FROM message_log WHERE id = '{id}'");
    let deadline = tokio::time::Instant::now() + WAIT;
    let tag: String = loop {
        if let Some(row) =
            db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap()
        {
            break row.try_get("", "ip_tag").unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out =
        cli(&app, &["bans", "add", tag.split(' ').next().unwrap(), "--duration", "2s", "--reason", "timeout"]).await;
    assert!(
        out.contains(&format!("tag {}", tag.split(' ').next().unwrap())) && !out.contains("192.0.2.44"),
        "the address stays hidden: {out}"
    );
    assert_eq!(tagged.wait_for("kicked").await["type"], "kicked");
    until_connect_status(&app, "192.0.2.44", 403).await;
    // The two-second ban lapses by itself.
    until_connect_status(&app, "192.0.2.44", 0).await;
}

#[tokio::test]
async fn one_address_is_capped_in_connections_joins_and_messages_while_others_flow() {
    let app = spawn_behind_proxy(&[
        ("MAX_CONNECTIONS_PER_IP", "3"),
        ("JOINS_PER_MINUTE", "4"),
        ("SAY_IP_BURST", "5"),
        ("SAY_IP_PER_SECOND", "1"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect_from(app.addr, "203.0.113.9").await.unwrap());
    }
    let (status, body) = Client::connect_from(app.addr, "203.0.113.9").await.err().unwrap();
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // A freed slot can be used again.
    drop(held.pop());
    until_connect_status(&app, "203.0.113.9", 0).await;

    // Joins per minute: the fifth join from one address waits, whichever of its sockets joined.
    // The first socket ends in the lobby, where the flood below must reach the other address.
    for (i, room) in ["chill", "games", "lobby", "chill"].into_iter().enumerate() {
        let socket = &mut held[i % 2];
        socket.send(json!({"type": "join", "room": room, "nick": format!("Flood{}", i % 2)})).await;
        socket.wait_for("joined").await;
    }
    let flooder = &mut held[0];
    flooder.send(json!({"type": "join", "room": "games", "nick": "Flood0"})).await;
    let e = flooder.expect_error("rate_limited").await;
    assert!(e["retry_after_ms"].as_u64().unwrap() > 0);

    // A flood of messages is cut off, while another address's messages keep arriving.
    let mut other = Client::connect_from(app.addr, "198.51.100.1").await.unwrap();
    other.join("lobby", "Calm").await;
    let mut watcher = Client::connect_from(app.addr, "198.51.100.2").await.unwrap();
    watcher.join("lobby", "Watcher").await;
    for i in 0..1000 {
        flooder.send(json!({"type": "say", "text": format!("flood {i}")})).await;
    }
    let calm = other.say("calm message").await;
    let (mut accepted, mut limited) = (0, 0);
    while accepted + limited < 1000 {
        let f = flooder.next().await;
        match (f["type"].as_str(), f["code"].as_str()) {
            (Some("ack"), _) => accepted += 1,
            (Some("error"), Some("rate_limited")) => limited += 1,
            _ => {}
        }
    }
    assert!(accepted <= 10, "the flood was capped: {accepted} accepted");
    assert!(limited >= 990);
    loop {
        let m = watcher.wait_for("message").await;
        if m["id"] == calm.as_str() {
            break;
        }
    }
}

#[tokio::test]
async fn websockets_from_foreign_pages_are_refused() {
    let app = spawn_app().await;
    let (status, body) =
        Client::connect_with(app.addr, &[("origin", "https://evil.example")]).await.err().expect("refused");
    assert_eq!((status, body["code"].as_str()), (403, Some("bad_origin")));
    let same = format!("http://{}", app.addr);
    assert!(Client::connect_with(app.addr, &[("origin", &same)]).await.is_ok());
    // An untrusted peer cannot pick its address with X-Forwarded-For.
    cli(&app, &["bans", "add", "203.0.113.77"]).await;
    assert!(Client::connect_from(app.addr, "203.0.113.77").await.is_ok(), "the header is ignored from untrusted peers");

    let app = spawn_app_with(&[("ALLOWED_ORIGINS", "https://chat.example")]).await;
    assert!(Client::connect_with(app.addr, &[("origin", "https://chat.example")]).await.is_ok());
    assert_eq!(
        Client::connect_with(app.addr, &[("origin", &format!("http://{}", app.addr))]).await.err().unwrap().0,
        403
    );
}

#[tokio::test]
async fn ips_and_texts_are_erased_after_their_retention() {
    let app = spawn_app().await;
    let (mut c, _) = app.joined("lobby", "Old").await;
    let id = c.say("recent").await;
    let db = app.db().await;
    let backend = db.get_database_backend();
    let deadline = tokio::time::Instant::now() + WAIT;
    while db
        .query_one_raw(Statement::from_string(backend, format!("SELECT id FROM message_log WHERE id = '{id}'")))
        .await
        .unwrap()
        .is_none()
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.execute_unprepared(
        "INSERT INTO message_log (id, room, nickname, ip, ip_tag, text, sent_at) VALUES \
         ('01JA0000000000000000000001', 'lobby', 'A', '203.0.113.1', 'aaaa0000', 'forty days ago', '2020-01-01T00:00:00Z')",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO visitor_tails (ip_tag, ip, last_id, last_at) VALUES \
         ('aaaa0000', '203.0.113.1', '01JA0000000000000000000001', '2020-01-01T00:00:00Z')",
    )
    .await
    .unwrap();
    // A room that has been quiet since then (a closed visitor room, say).
    db.execute_unprepared("INSERT INTO room_tails (room, last_id) VALUES ('gone', '01JA0000000000000000000001')")
        .await
        .unwrap();
    // A ban that expired in 2020, one lifted in 2020, and a permanent one from 2020 still on.
    db.execute_unprepared(
        "INSERT INTO bans (network, reason, moderator, created_at, expires_at) VALUES \
         ('203.0.113.7/32', '', 'op', '2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z'), \
         ('203.0.113.8/32', '', 'op', '2020-01-01T00:00:00Z', NULL), \
         ('203.0.113.9/32', '', 'op', '2020-01-01T00:00:00Z', NULL)",
    )
    .await
    .unwrap();
    db.execute_unprepared("UPDATE bans SET lifted_at = '2020-01-03T00:00:00Z' WHERE network = '203.0.113.8/32'")
        .await
        .unwrap();
    let retention =
        bot::retention::Retention { ips: Duration::from_secs(30 * 86_400), texts: Duration::from_secs(90 * 86_400) };
    assert_eq!(bot::retention::purge(&db, retention).await.unwrap(), (3, 1));
    // Ended bans keep their number and times, not the address; the active one keeps it.
    let networks = db
        .query_all_raw(Statement::from_string(backend, "SELECT network FROM bans ORDER BY id".to_owned()))
        .await
        .unwrap();
    let networks: Vec<String> = networks.iter().map(|r| r.try_get("", "network").unwrap()).collect();
    assert_eq!(networks, ["erased", "erased", "203.0.113.9/32"]);
    // The old sender no longer resolves (its address is gone); the recent one still does.
    let column = async |column: &str, table: &str| -> Vec<String> {
        let sql = format!("SELECT {column} FROM {table} ORDER BY {column}");
        let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
        rows.iter().map(|row| row.try_get("", column).unwrap()).collect()
    };
    assert_eq!(column("ip", "visitor_tails").await, ["127.0.0.1"]);
    // Its room's tail goes with its text; the lobby's, at the recent message, stays.
    assert_eq!(column("room", "room_tails").await, ["lobby"]);
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, ip, ip_tag, text FROM message_log ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let old = &rows[0];
    assert_eq!(old.try_get::<String>("", "ip").unwrap(), "erased");
    assert_eq!(old.try_get::<Option<String>>("", "ip_tag").unwrap(), None);
    assert_eq!(old.try_get::<String>("", "text").unwrap(), "");
    let recent = &rows[1];
    assert_eq!(recent.try_get::<String>("", "ip").unwrap(), "127.0.0.1", "recent rows keep their IP");
    assert_eq!(recent.try_get::<String>("", "text").unwrap(), "recent");
    // Idempotent.
    assert_eq!(bot::retention::purge(&db, retention).await.unwrap(), (0, 0));
}
