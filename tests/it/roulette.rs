//! Roulette: pairing strangers, `next`, interests, blocks, and what a stranger hears.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::moderation::{cli, spawn_behind_proxy};
use crate::support::*;

async fn roulette(client: &mut Client, nick: &str, interests: &[&str]) {
    client.send(json!({"type": "roulette", "nick": nick, "interests": interests})).await;
}

/// Wait for `matched` and the `joined` that follows it.
async fn matched(client: &mut Client) -> (Value, Value) {
    let matched = client.wait_for("matched").await;
    let joined = client.expect("joined").await;
    assert_eq!(joined["room"], matched["room"], "{joined}");
    (matched, joined)
}

/// True if no frame of type `kind` arrives within `within` (only used to show that something
/// does not happen; the positive cases always wait for their event).
async fn quiet(client: &mut Client, kind: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Err(_) => return true,
            Ok(frame) if frame["type"] == kind => return false,
            Ok(_) => continue,
        }
    }
}

#[tokio::test]
async fn ten_strangers_queueing_at_once_make_five_private_pairs() {
    let app = spawn_app().await;
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(app.client().await);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        roulette(c, &format!("Stranger{i}"), &[]).await;
    }
    let mut rooms: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let (m, joined) = matched(c).await;
        assert_eq!(m["common"], json!([]), "{m}");
        assert!(joined["members"].as_array().unwrap().len() <= 2, "{joined}");
        let room = m["room"].as_str().unwrap().to_owned();
        assert!(room.starts_with("r-"), "{room}");
        rooms.entry(room).or_default().push((format!("Stranger{i}"), m["stranger"].as_str().unwrap().to_owned()));
    }
    assert_eq!(rooms.len(), 5, "{rooms:?}");
    for (room, pair) in &rooms {
        assert_eq!(pair.len(), 2, "{room}: {pair:?}");
        assert_eq!(pair[0].0, pair[1].1, "{room}: each one's stranger is the other");
        assert_eq!(pair[1].0, pair[0].1, "{room}: each one's stranger is the other");
    }
    // A pair is private: nobody joins it by name, and it is not listed.
    let (room, _) = rooms.iter().next().unwrap();
    let mut outsider = app.client().await;
    outsider.send(json!({"type": "join", "room": room, "nick": "Nosy"})).await;
    outsider.expect_error("unknown_room").await;
    assert!(app.get_json("/api/rooms").await.as_array().unwrap().iter().all(|r| r["slug"] != room.as_str()));
    let (status, _, _) = app.get(&format!("/api/rooms/{room}")).await;
    assert_eq!(status, 404);

    // Messages reach the stranger and nobody else; typing too.
    let pair0 = rooms.values().find(|p| p.iter().any(|(me, _)| me == "Stranger0")).unwrap();
    let partner = pair0.iter().find(|(me, _)| me == "Stranger0").unwrap().1.clone();
    let p: usize = partner.trim_start_matches("Stranger").parse().unwrap();
    let id = clients[0].say("hello stranger").await;
    let got = clients[p].wait_message(&id).await;
    assert_eq!(got["nick"], "Stranger0");
    clients[p].send(json!({"type": "typing"})).await;
    assert_eq!(clients[0].wait_for("typing").await["nick"], partner.as_str());
    for i in (1..10).filter(|i| *i != p) {
        assert!(quiet(&mut clients[i], "message", Duration::from_millis(50)).await, "a message left its pair");
    }
}

#[tokio::test]
async fn next_tells_the_stranger_and_pairs_with_someone_else_when_anyone_else_waits() {
    let app = spawn_app().await;
    let (mut a, mut b) = (app.client().await, app.client().await);
    assert_eq!(app.get_json("/api/info").await["looking"], 0);
    roulette(&mut a, "Sam", &[]).await;
    let waiting = a.expect("waiting").await;
    assert_eq!((&waiting["interests"], &waiting["looking"]), (&json!([]), &json!(0)), "nobody else waits: {waiting}");
    // The count is cached for up to a second.
    app.eventually("/api/info counts the one waiting", || async { app.get_json("/api/info").await["looking"] == 1 })
        .await;
    roulette(&mut b, "Bea", &[]).await;
    let (mb, _) = matched(&mut b).await;
    let (ma, _) = matched(&mut a).await;
    assert_eq!((ma["stranger"].as_str(), mb["stranger"].as_str()), (Some("Bea"), Some("Sam")));

    // Sam moves on: Bea hears it at once; Sam waits (Bea is not queued).
    a.send(json!({"type": "next"})).await;
    b.wait_for("stranger_left").await;
    a.wait_for("waiting").await;
    // Another "sam" can never sit with Sam (same name), so both wait: Sam first.
    let mut c = app.client().await;
    roulette(&mut c, "sam", &[]).await;
    c.expect("waiting").await;
    // Bea presses next: Sam (her last stranger, waiting longest) and "sam" both wait; she
    // gets the one she has not just talked to.
    b.send(json!({"type": "next"})).await;
    let (m, _) = matched(&mut b).await;
    assert_eq!(m["stranger"], "sam", "{m}");
    assert_eq!(matched(&mut c).await.0["stranger"], "Bea");
    // With nobody else left, the previous stranger is better than waiting forever.
    let mut d = app.client().await;
    roulette(&mut d, "Dee", &[]).await;
    assert_eq!(matched(&mut d).await.0["stranger"], "Sam");
    assert_eq!(matched(&mut a).await.0["stranger"], "Dee");

    // `leave` while waiting takes the ticket out of the queue.
    let mut e = app.client().await;
    roulette(&mut e, "Eve", &[]).await;
    e.expect("waiting").await;
    e.send(json!({"type": "leave"})).await;
    let mut f = app.client().await;
    roulette(&mut f, "Fay", &[]).await;
    f.expect("waiting").await;
    assert!(quiet(&mut e, "matched", Duration::from_millis(300)).await, "a cancelled ticket was paired");
    // next without roulette first is refused in words.
    let mut g = app.client().await;
    g.send(json!({"type": "next"})).await;
    g.expect_error("not_in_room").await;
}

#[tokio::test]
async fn shared_interests_pair_first_and_the_fallback_is_announced() {
    let app = spawn_app_with(&[("ROULETTE_INTEREST_WAIT_SECS", "30")]).await;
    let mut chess = app.client().await;
    roulette(&mut chess, "Kasparov", &["Chess", "opera"]).await;
    assert_eq!(chess.expect("waiting").await["interests"], json!(["chess", "opera"]));
    // Someone without interests does not take the chess player during the wait.
    let mut plain = app.client().await;
    roulette(&mut plain, "Plain", &[]).await;
    plain.expect("waiting").await;
    let mut fan = app.client().await;
    roulette(&mut fan, "Fan", &["go", "chess"]).await;
    let (m, _) = matched(&mut fan).await;
    assert_eq!((m["stranger"].as_str(), &m["common"]), (Some("Kasparov"), &json!(["chess"])));
    assert_eq!(matched(&mut chess).await.0["common"], json!(["chess"]));
    // Bad interests are refused in words.
    let mut bad = app.client().await;
    roulette(&mut bad, "Bad", &["a", "b", "c", "d", "e", "f"]).await;
    bad.expect_error("bad_frame").await;
    roulette(&mut bad, "Bad", &["no spaces"]).await;
    bad.expect_error("bad_frame").await;
    roulette(&mut bad, "x", &[]).await;
    bad.expect_error("invalid_nick").await;

    // With a short wait, two people without a common interest are paired after it, and told so.
    let app = spawn_app_with(&[("ROULETTE_INTEREST_WAIT_SECS", "0.5")]).await;
    let (mut x, mut y) = (app.client().await, app.client().await);
    roulette(&mut x, "Xavier", &["knitting"]).await;
    x.expect("waiting").await;
    roulette(&mut y, "Yara", &["surfing"]).await;
    y.expect("waiting").await;
    let (mx, _) = matched(&mut x).await;
    let (my, _) = matched(&mut y).await;
    assert_eq!((&mx["common"], &my["common"]), (&json!([]), &json!([])));
    assert_eq!(mx["room"], my["room"]);
}

#[tokio::test]
async fn block_ends_the_chat_and_never_pairs_the_two_again_and_a_disconnect_is_told() {
    let app = spawn_app().await;
    let (mut a, mut b) = (app.client().await, app.client().await);
    roulette(&mut a, "Ann", &[]).await;
    roulette(&mut b, "Ben", &[]).await;
    matched(&mut a).await;
    matched(&mut b).await;
    a.send(json!({"type": "next", "block": true})).await;
    b.wait_for("stranger_left").await;
    a.wait_for("waiting").await;
    b.send(json!({"type": "next"})).await;
    b.wait_for("waiting").await;
    assert!(quiet(&mut a, "matched", Duration::from_millis(500)).await, "blocked strangers were paired again");
    // Someone new is paired with one of them, then the other with the next newcomer.
    let mut c = app.client().await;
    roulette(&mut c, "Cat", &[]).await;
    assert_eq!(matched(&mut c).await.0["stranger"], "Ann", "the longest waiting comes first");
    matched(&mut a).await;
    let mut d = app.client().await;
    roulette(&mut d, "Dan", &[]).await;
    assert_eq!(matched(&mut d).await.0["stranger"], "Ben");
    matched(&mut b).await;

    // Closing the socket tells the stranger.
    drop(d);
    b.wait_for("stranger_left").await;
    // And the pair room is gone once empty.
    b.send(json!({"type": "leave"})).await;
    b.wait_for("presence").await;
}

#[tokio::test]
async fn a_banned_address_cannot_queue_and_its_waiting_ticket_is_dropped() {
    let app = spawn_behind_proxy(&[]).await;
    let mut banned = Client::connect_from(app.addr, "203.0.113.40").await.unwrap();
    roulette(&mut banned, "Spammer", &[]).await;
    banned.expect("waiting").await;
    cli(&app, &["bans", "add", "203.0.113.40", "--reason", "spam"]).await;
    // The ban reaches the gateway on the next sync: the socket is closed as banned.
    assert_eq!(banned.closed().await, Some(4003));
    let refused = Client::connect_from(app.addr, "203.0.113.40").await.err().unwrap();
    assert_eq!((refused.0, refused.1["code"].as_str()), (403, Some("banned")));
    // Nobody is paired with the banned ticket.
    let mut other = Client::connect_from(app.addr, "198.51.100.2").await.unwrap();
    roulette(&mut other, "Honest", &[]).await;
    other.expect("waiting").await;
    assert!(quiet(&mut other, "matched", Duration::from_millis(300)).await);
}

#[tokio::test]
async fn a_pair_split_across_two_gateways_chats_and_hears_a_disconnect() {
    let cluster = Cluster::new().await;
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    let mut a = g1.client().await;
    roulette(&mut a, "Left", &["music"]).await;
    a.expect("waiting").await;
    let mut b = g2.client().await;
    roulette(&mut b, "Right", &["music"]).await;
    let (mb, _) = matched(&mut b).await;
    let (ma, ja) = matched(&mut a).await;
    assert_eq!(ma["room"], mb["room"]);
    assert_eq!((&ma["common"], ma["stranger"].as_str()), (&json!(["music"]), Some("Right")));
    // The one who waited finds the stranger already seated.
    assert_eq!(ja["members"].as_array().unwrap().len(), 2, "{ja}");
    let id = a.say("across gateways").await;
    assert_eq!(b.wait_message(&id).await["text"], "across gateways");
    let id = b.say("and back").await;
    assert_eq!(a.wait_message(&id).await["nick"], "Right");
    drop(b);
    a.wait_for("stranger_left").await;
    // Both messages were logged under the pair's room.
    let room = ma["room"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let db = bot::db::connect(&cluster.database_url).await.unwrap();
        let rows = bot::message_log::recent(&db, &protocol::RoomSlug::parse(&room).unwrap(), 10).await.unwrap();
        if rows.len() == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "pair messages not logged: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.finish().await;
}

#[tokio::test]
async fn after_next_with_nobody_else_looking_the_two_wait_apart_until_someone_arrives() {
    let app = spawn_app().await;
    let (mut a, mut b) = (app.client().await, app.client().await);
    roulette(&mut a, "Ann", &[]).await;
    roulette(&mut b, "Ben", &[]).await;
    matched(&mut a).await;
    matched(&mut b).await;
    // Ann moves on: nobody else is looking, so she waits, told so (and who is online).
    a.send(json!({"type": "next"})).await;
    let waiting = a.wait_for("waiting").await;
    assert_eq!(waiting["looking"], 0, "{waiting}");
    assert!(waiting["online"].as_u64().is_some_and(|n| n >= 2), "Ann and Ben are online: {waiting}");
    b.wait_for("stranger_left").await;
    // Ben looks again: Ann waits, but she just left him; nobody else is looking for him either.
    b.send(json!({"type": "next"})).await;
    assert_eq!(b.wait_for("waiting").await["looking"], 0);
    assert!(quiet(&mut a, "matched", Duration::from_millis(500)).await, "the two who just parted were paired again");
    assert!(quiet(&mut b, "matched", Duration::from_millis(1)).await);
    // Someone arrives: paired with the one waiting longest.
    let mut c = app.client().await;
    roulette(&mut c, "Cy", &[]).await;
    assert_eq!(matched(&mut c).await.0["stranger"], "Ann");
    assert_eq!(matched(&mut a).await.0["stranger"], "Cy");
    // Ann met someone else since: she and Ben are no longer held apart, and Ben (her previous
    // stranger, the only one waiting) is better than waiting.
    a.send(json!({"type": "next"})).await;
    assert_eq!(matched(&mut a).await.0["stranger"], "Ben");
    assert_eq!(matched(&mut b).await.0["stranger"], "Ann");
    c.wait_for("stranger_left").await;
}

#[tokio::test]
async fn two_held_apart_are_paired_again_once_the_hold_ends() {
    let app = spawn_app_tuned(|config| config.gateway.roulette_again_after = Duration::from_secs(1)).await;
    let (mut a, mut b) = (app.client().await, app.client().await);
    roulette(&mut a, "Ann", &[]).await;
    roulette(&mut b, "Ben", &[]).await;
    matched(&mut a).await;
    matched(&mut b).await;
    a.send(json!({"type": "next"})).await;
    assert_eq!(a.wait_for("waiting").await["looking"], 0);
    b.wait_for("stranger_left").await;
    b.send(json!({"type": "next"})).await;
    assert_eq!(b.wait_for("waiting").await["looking"], 0);
    // Nobody else came: once the hold ends they meet again, with nothing more sent by either.
    assert_eq!(matched(&mut a).await.0["stranger"], "Ben");
    assert_eq!(matched(&mut b).await.0["stranger"], "Ann");
}

#[tokio::test]
async fn two_who_just_parted_across_gateways_wait_apart_until_someone_arrives() {
    let cluster = Cluster::new().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    let mut a = g1.client().await;
    roulette(&mut a, "East", &[]).await;
    a.expect("waiting").await;
    let mut b = g2.client().await;
    roulette(&mut b, "West", &[]).await;
    matched(&mut b).await;
    matched(&mut a).await;
    b.send(json!({"type": "next"})).await;
    assert_eq!(b.wait_for("waiting").await["looking"], 0);
    a.wait_for("stranger_left").await;
    a.send(json!({"type": "next"})).await;
    let waiting = a.wait_for("waiting").await;
    assert_eq!(waiting["looking"], 0, "{waiting}");
    assert!(waiting["online"].as_u64().is_some_and(|n| n >= 1), "{waiting}");
    assert!(quiet(&mut b, "matched", Duration::from_millis(500)).await, "the two who just parted were paired again");
    // A newcomer on the first gateway is paired with West, who waited longest.
    let mut c = g1.client().await;
    roulette(&mut c, "North", &[]).await;
    assert_eq!(matched(&mut c).await.0["stranger"], "West");
    assert_eq!(matched(&mut b).await.0["stranger"], "North");
    assert!(quiet(&mut a, "matched", Duration::from_millis(1)).await);
    cluster.finish().await;
}

/// Frames until `joined` (or the socket's end) within `within`; `Err(reason)` when the server
/// sent `kicked` or closed the socket.
async fn until_joined_unkicked(client: &mut Client, within: Duration) -> Result<bool, String> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let Ok(message) = tokio::time::timeout_at(deadline, client.ws.next()).await else { return Ok(false) };
        match message {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                match frame["type"].as_str() {
                    Some("kicked") => return Err(frame["reason"].as_str().unwrap_or_default().to_owned()),
                    Some("joined") => return Ok(true),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Err("socket ended".to_owned()),
        }
    }
}

/// The soak saw strangers sent `kicked` ("this chat has ended", "this room was closed") in the
/// middle of a chat: the pairer left (or `next`, or dropped) right after being matched, so the
/// pair was ended as empty while the stranger was still taking its seat; or the room snapshot
/// reload, read before the pair opened, dropped it as gone. Many strangers pairing and parting
/// at once, with the snapshot reloaded every few milliseconds: nobody arriving in a pair is sent
/// away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strangers_pairing_and_parting_at_once_are_never_kicked() {
    let app = spawn_app_tuned(|config| config.gateway.room_refresh = Duration::from_millis(5)).await;
    let kicks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let matches = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..24u32 {
        let (addr, kicks, matches) = (app.addr, kicks.clone(), matches.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..40u32 {
                let mut c = Client::connect(addr).await;
                roulette(&mut c, &format!("T{t}r{round}"), &[]).await;
                let matched = loop {
                    let Ok(frame) = tokio::time::timeout(Duration::from_secs(2), c.next()).await else { break false };
                    if frame["type"] == "matched" {
                        break true;
                    }
                };
                if !matched {
                    continue;
                }
                matches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match until_joined_unkicked(&mut c, WAIT).await {
                    Ok(_) => {}
                    Err(reason) => {
                        kicks.lock().unwrap().push(reason);
                        continue;
                    }
                }
                // Part at once: the stranger may still be on the way in.
                match (t + round) % 3 {
                    0 => c.send(json!({"type": "leave"})).await,
                    1 => c.send(json!({"type": "next"})).await,
                    _ => {
                        drop(c);
                        continue;
                    }
                }
                if let Err(reason) = until_joined_unkicked(&mut c, Duration::from_millis(50)).await {
                    kicks.lock().unwrap().push(reason);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let matches = matches.load(std::sync::atomic::Ordering::Relaxed);
    assert!(matches >= 300, "only {matches} matches");
    let kicks = kicks.lock().unwrap();
    assert!(kicks.is_empty(), "{} of {matches} matched strangers were sent away: {kicks:?}", kicks.len());
}
