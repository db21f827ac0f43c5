//! Chatting: two clients, presence, typing, history and resume, the message log.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn hello_announces_version_and_limits() {
    let app = spawn_app().await;
    let c = app.client().await;
    let limits = &c.hello["limits"];
    assert_eq!(c.hello["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(limits["nick_min"], 2);
    assert_eq!(limits["nick_max"], 24);
    assert_eq!(limits["message_max"], 2000);
    assert_eq!(limits["frame_max"], 65536);
    assert_eq!(limits["rate"]["burst"], 100);
}

#[tokio::test]
async fn two_clients_chat_both_ways() {
    let app = spawn_app().await;
    let (mut alice, joined) = app.joined("lobby", "Alice").await;
    assert_eq!(joined["room"], "lobby");
    assert_eq!(joined["nick"], "Alice");
    assert_eq!(joined["members"], json!(["Alice"]));
    assert_eq!(joined["history"], json!([]));

    let (mut bob, joined) = app.joined("lobby", "  Bob  ").await;
    assert_eq!(joined["nick"], "Bob", "nicknames are trimmed");
    let mut members: Vec<String> = serde_json::from_value(joined["members"].clone()).unwrap();
    members.sort();
    assert_eq!(members, ["Alice", "Bob"]);
    // Everyone hears about an arrival, the newcomer included, right after its `joined`.
    assert_eq!(bob.next().await, json!({"type": "presence", "event": "join", "nick": "Bob"}));
    loop {
        let presence = alice.wait_for("presence").await;
        if presence["nick"] == "Bob" {
            assert_eq!(presence, json!({"type": "presence", "event": "join", "nick": "Bob"}));
            break;
        }
    }

    let id = bob.say("hello <b>Alice</b>").await;
    let got = alice.wait_for("message").await;
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["room"], "lobby");
    assert_eq!(got["nick"], "Bob");
    assert_eq!(got["text"], "hello <b>Alice</b>");
    assert_eq!(got["staff"], false);
    let at = chrono::DateTime::parse_from_rfc3339(got["at"].as_str().unwrap()).unwrap();
    assert_eq!(at.offset().local_minus_utc(), 0);
    assert!(got["id"].as_str().unwrap().parse::<ulid::Ulid>().is_ok());
    // The sender gets its own message too.
    bob.wait_message(&id).await;

    let reply = alice.say("hi Bob\nsecond line").await;
    let got = bob.wait_for("message").await;
    assert_eq!((got["id"].as_str().unwrap(), got["text"].as_str().unwrap()), (reply.as_str(), "hi Bob\nsecond line"));
}

#[tokio::test]
async fn typing_and_leaving_reach_the_others() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let (mut bob, _) = app.joined("lobby", "Bob").await;
    bob.send(json!({"type": "typing"})).await;
    assert_eq!(alice.wait_for("typing").await, json!({"type": "typing", "nick": "Bob"}));
    bob.send(json!({"type": "leave"})).await;
    // The leaver gets its confirmation, the others the presence line.
    assert_eq!(bob.wait_for("presence").await["event"], "join", "its own arrival");
    assert_eq!(bob.wait_for("presence").await, json!({"type": "presence", "event": "leave", "nick": "Bob"}));
    loop {
        let p = alice.wait_for("presence").await;
        if p["event"] == "leave" {
            assert_eq!(p["nick"], "Bob");
            break;
        }
    }
    // Left means left: saying something now is refused.
    bob.send(json!({"type": "say", "text": "still here?"})).await;
    bob.expect_error("not_in_room").await;
}

#[tokio::test]
async fn joining_another_room_leaves_the_first() {
    let app = spawn_app().await;
    let (mut watcher, _) = app.joined("lobby", "Watcher").await;
    let (mut mover, _) = app.joined("lobby", "Mover").await;
    mover.send(json!({"type": "join", "room": "chill", "nick": "Mover"})).await;
    mover.wait_for("joined").await;
    loop {
        let p = watcher.wait_for("presence").await;
        if p["event"] == "leave" {
            assert_eq!(p["nick"], "Mover");
            break;
        }
    }
    app.eventually("lobby has one member", || async { app.members_of("lobby").await == Some(1) }).await;
    assert_eq!(app.members_of("chill").await, Some(1));
}

#[tokio::test]
async fn joiners_get_history_and_since_resumes_after_the_last_seen_message() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(alice.say(&format!("message {i}")).await);
    }
    let (_bob, joined) = app.joined("lobby", "Bob").await;
    let history: Vec<String> =
        joined["history"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(history, ids);
    assert_eq!(joined["history"][0]["text"], "message 0");

    // A reconnecting client names the last message it saw and gets only what came after.
    let mut carol = app.client().await;
    carol.send(json!({"type": "join", "room": "lobby", "nick": "Carol", "since": ids[2]})).await;
    let joined = carol.expect("joined").await;
    let resumed: Vec<&str> = joined["history"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(resumed, [ids[3].as_str(), ids[4].as_str()]);
}

#[tokio::test]
async fn history_keeps_the_last_50_messages() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let mut ids = Vec::new();
    for i in 0..55 {
        ids.push(alice.say(&format!("m{i}")).await);
    }
    let (_bob, joined) = app.joined("lobby", "Bob").await;
    let history: Vec<&str> = joined["history"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(history.len(), 50);
    assert_eq!(history, ids[5..].iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn every_accepted_message_lands_in_the_message_log_with_the_ip() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let id = alice.say("for the record").await;
    let db = app.db().await;
    let query = format!("SELECT room, nickname, ip, text FROM message_log WHERE id = '{id}'");
    let deadline = tokio::time::Instant::now() + WAIT;
    let row = loop {
        if let Some(row) =
            db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap()
        {
            break Some(row);
        }
        assert!(tokio::time::Instant::now() < deadline, "the message was never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let row = row.unwrap();
    assert_eq!(row.try_get::<String>("", "room").unwrap(), "lobby");
    assert_eq!(row.try_get::<String>("", "nickname").unwrap(), "Alice");
    assert_eq!(row.try_get::<String>("", "ip").unwrap(), "127.0.0.1");
    assert_eq!(row.try_get::<String>("", "text").unwrap(), "for the record");
}

#[tokio::test]
async fn history_is_reloaded_from_the_message_log_after_a_restart() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let first = alice.say("before the restart").await;
    let second = alice.say("also before").await;
    // Wait until the bot logged both, then stop everything.
    let db = app.db().await;
    app.eventually("both messages logged", || async {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM message_log".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap() == 2
    })
    .await;
    drop(alice);
    db.close().await.unwrap();
    let (dir, url) = app.stop().await;

    let app = spawn_app_on(dir, &url, &[]).await;
    let (_bob, joined) = app.joined("lobby", "Bob").await;
    let history: Vec<&str> = joined["history"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(history, [first.as_str(), second.as_str()]);
    assert_eq!(joined["history"][0]["text"], "before the restart");
}

#[tokio::test]
async fn the_whole_chat_runs_on_postgresql_too() {
    let (url, drop_db) = fresh_postgres_database().await;
    let app = spawn_app_on(temp_dir(), &url, &[]).await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let (mut bob, _) = app.joined("lobby", "Bob").await;
    let id = alice.say("over postgres").await;
    bob.wait_message(&id).await;
    let db = app.db().await;
    let query = format!("SELECT ip FROM message_log WHERE id = '{id}'");
    app.eventually("the message is logged in PostgreSQL", || async {
        db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_some()
    })
    .await;
    db.close().await.unwrap();
    drop((alice, bob));
    app.stop().await;
    drop_db.await;
}

/// A database of its own on the machine's PostgreSQL (`TEST_DATABASE_URL`), and a future that
/// drops it.
pub async fn fresh_postgres_database() -> (String, impl std::future::Future<Output = ()> + Send + 'static) {
    let admin_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin_url}): {e}"));
    let name = format!("cr_it_{}", ulid::Ulid::new().to_string().to_lowercase());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    let url = format!("{base}/{name}");
    let drop = async move {
        // Connections of the stopped app may linger for a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
    };
    (url, drop)
}

/// A client may send its first frame right behind the upgrade request, before the 101 comes
/// back; the server has read those bytes with the request and must not lose them.
#[tokio::test]
async fn a_frame_sent_with_the_upgrade_request_is_not_lost() {
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    let app = spawn_app().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let payload = json!({"type": "join", "room": "lobby", "nick": "Early"}).to_string();
    let mut bytes = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        app.addr
    )
    .into_bytes();
    // A masked text frame, as a client sends it.
    let mask = [0x12, 0x34, 0x56, 0x78];
    bytes.push(0x81);
    bytes.push(0x80 | u8::try_from(payload.len()).unwrap());
    bytes.extend_from_slice(&mask);
    bytes.extend(payload.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&bytes).await.unwrap();

    // The response head, byte by byte so nothing after it is consumed here.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tokio::time::timeout(WAIT, stream.read_u8()).await.unwrap().unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(stream, Role::Client, None).await;
    let mut next = async || -> serde_json::Value {
        let message = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        serde_json::from_str(message.to_text().unwrap()).unwrap()
    };
    assert_eq!(next().await["type"], "hello");
    let joined = next().await;
    assert_eq!(joined["type"], "joined", "{joined}");
    assert_eq!(joined["nick"], "Early");
}

/// Members who join at the same moment, on two gateways over Redis, each see all the others: in
/// `joined`'s member list or in a presence `join` after it (a seat taken between another's seat
/// and its listening to the room was lost).
#[tokio::test]
async fn members_who_join_at_once_all_see_each_other() {
    let cluster = crate::cluster::Cluster::new().await;
    let _bot = cluster.bot().await;
    let gateways = [cluster.gateway().await, cluster.gateway().await];
    cluster.wait_room(&gateways[0], "lobby").await;
    cluster.wait_room(&gateways[1], "lobby").await;
    let nicks: Vec<String> = (0..16).map(|i| format!("Racer{i}")).collect();
    let mut clients = Vec::new();
    for i in 0..nicks.len() {
        clients.push(gateways[i % 2].client().await);
    }
    // Every join is sent before any answer is read, so the gateways handle them together.
    for (client, nick) in clients.iter_mut().zip(&nicks) {
        client.send(json!({"type": "join", "room": "lobby", "nick": nick})).await;
    }
    for client in &mut clients {
        let joined = client.wait_for("joined").await;
        let mut seen: std::collections::HashSet<String> =
            joined["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
        // `next` fails the test after its timeout if someone is never heard of.
        while seen.len() < nicks.len() {
            let frame = client.next().await;
            if frame["type"] == "presence" && frame["event"] == "join" {
                seen.insert(frame["nick"].as_str().unwrap().to_owned());
            }
        }
    }
    cluster.finish().await;
}
