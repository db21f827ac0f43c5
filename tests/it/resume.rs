//! Resume (issue 25): a client whose socket dropped comes back with its token to the same room,
//! nickname, seat and roulette stranger, with what it missed. Each scenario runs over the
//! in-process bus and over Redis; the last ones cross two gateway processes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::moderation::{cli, spawn_behind_proxy};
use crate::support::{Client, TestApp};

/// Which bus the app runs on.
#[derive(Clone, Copy)]
enum On {
    Memory,
    Redis,
}

/// The app (behind a trusted proxy) with resuming on (`RESUME_SECS` = `window`).
async fn app(on: On, window: &str) -> TestApp {
    app_with(on, &[("RESUME_SECS", window)]).await
}

async fn app_with(on: On, vars: &[(&str, &str)]) -> TestApp {
    match on {
        On::Memory => spawn_behind_proxy(vars).await,
        On::Redis => {
            let prefix = format!("resume-{}", ulid::Ulid::new().to_string().to_lowercase());
            let mut vars = vars.to_vec();
            vars.push(("PRESENCE_TTL_SECS", "3"));
            crate::abuse::spawn_on_redis(&prefix, &vars).await
        }
    }
}

async fn from(app: &TestApp, ip: &str) -> Client {
    crate::abuse::from(app, ip).await
}

/// Join `room` as `nick`; the `joined` frame, whose `resume` token is checked.
pub(crate) async fn join(client: &mut Client, room: &str, nick: &str) -> (Value, String) {
    client.send(json!({"type": "join", "room": room, "nick": nick})).await;
    let joined = client.wait_for("joined").await;
    let token = joined["resume"].as_str().unwrap_or_else(|| panic!("no resume token in {joined}")).to_owned();
    assert_eq!(token.len(), 32, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    (joined, token)
}

pub(crate) async fn resume(client: &mut Client, token: &str, since: Option<&str>) -> Value {
    let mut frame = json!({"type": "resume", "token": token});
    if let Some(since) = since {
        frame["since"] = json!(since);
    }
    client.send(frame).await;
    client.next().await
}

/// Frames `client` receives up to its own message `text` (said now), which are returned.
pub(crate) async fn frames_until_own(client: &mut Client, text: &str) -> Vec<Value> {
    let id = client.say(text).await;
    let mut seen = Vec::new();
    loop {
        let frame = client.next().await;
        if frame["type"] == "message" && frame["id"] == id {
            return seen;
        }
        seen.push(frame);
    }
}

pub(crate) fn texts(messages: &Value) -> Vec<&str> {
    messages.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect()
}

/// True if no frame of type `kind` arrives within `within` (only to show something does not
/// happen; the positive cases wait for their event).
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

macro_rules! on_both_buses {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::On::Memory).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::On::Redis).await;
                }
            )*
        }
    };
}

on_both_buses!(
    a_dropped_visitor_comes_back_as_itself_with_what_it_missed_and_the_room_sees_nothing,
    more_missed_than_the_history_holds_is_a_gap,
    a_token_is_single_use_and_a_spent_one_leaves_the_connection_usable,
    resuming_closes_the_old_socket_if_it_is_still_open,
    a_ban_revokes_a_parked_session_and_a_banned_address_cannot_resume,
    a_roulette_stranger_hears_of_the_reconnect_and_the_return,
    a_roulette_stranger_is_told_left_when_the_window_ends,
    a_visitor_room_whose_only_member_is_away_is_not_torn_down,
);

async fn a_dropped_visitor_comes_back_as_itself_with_what_it_missed_and_the_room_sees_nothing(on: On) {
    let app = app(on, "30").await;
    let mut alice = from(&app, "198.51.100.1").await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    let mut bob = from(&app, "198.51.100.2").await;
    bob.join("lobby", "Bob").await;
    let seen = alice.say("before the tunnel").await;
    drop(alice);
    bob.wait_message(&seen).await;
    bob.say("are you there?").await;
    bob.say("hello?").await;
    // The seat is held: nobody else takes the nickname meanwhile.
    let mut thief = from(&app, "198.51.100.3").await;
    thief.send(json!({"type": "join", "room": "lobby", "nick": "alice"})).await;
    thief.expect_error("nick_taken").await;
    // Back on a new socket (another address: a phone on another network).
    let mut alice = from(&app, "198.51.100.4").await;
    let resumed = resume(&mut alice, &token, Some(&seen)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["room"].as_str(), resumed["nick"].as_str()), (Some("lobby"), Some("Alice")));
    assert_eq!(texts(&resumed["missed"]), ["are you there?", "hello?"]);
    assert_eq!(resumed["gap"], false);
    let members: Vec<&str> = resumed["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(members.contains(&"Alice") && members.contains(&"Bob"), "{members:?}");
    let next = resumed["resume"].as_str().unwrap();
    assert_ne!(next, token, "a new token");
    // The room saw neither a leave nor a join: Bob's frames up to his next message hold none.
    let bobs = frames_until_own(&mut bob, "welcome back").await;
    assert!(bobs.iter().all(|f| f["type"] != "presence"), "{bobs:?}");
    // Alice chats on as before.
    let id = alice.say("I am back").await;
    assert_eq!(bob.wait_message(&id).await["nick"], "Alice");
    assert_eq!(app.members_of("lobby").await, Some(2));
}

async fn more_missed_than_the_history_holds_is_a_gap(on: On) {
    let app = app(on, "30").await;
    let mut alice = from(&app, "198.51.100.1").await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    let seen = alice.say("last one seen").await;
    drop(alice);
    let mut bob = from(&app, "198.51.100.2").await;
    bob.join("lobby", "Bob").await;
    for i in 0..=bus::HISTORY_LEN {
        bob.say(&format!("m{i}")).await;
    }
    let mut alice = from(&app, "198.51.100.1").await;
    let resumed = resume(&mut alice, &token, Some(&seen)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["gap"], true, "{resumed}");
    let missed = texts(&resumed["missed"]);
    assert_eq!(missed.len(), bus::HISTORY_LEN);
    assert_eq!(missed.last(), Some(&format!("m{}", bus::HISTORY_LEN).as_str()));
}

async fn a_token_is_single_use_and_a_spent_one_leaves_the_connection_usable(on: On) {
    let app = app(on, "30").await;
    let mut alice = from(&app, "198.51.100.1").await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    drop(alice);
    let mut back = from(&app, "198.51.100.1").await;
    assert_eq!(resume(&mut back, &token, None).await["type"], "resumed");
    // The same token again, and one that never was: resume_expired, and the socket stays usable.
    for (i, stale) in [token.as_str(), "0123456789abcdef0123456789abcdef", "not a token"].into_iter().enumerate() {
        let mut again = from(&app, "198.51.100.5").await;
        let refused = resume(&mut again, stale, None).await;
        assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("resume_expired")));
        again.join("lobby", &format!("Latecomer{i}")).await;
    }
    // A deliberate leave revokes the token too.
    let (_, token) = join(&mut back, "chill", "Alice").await;
    back.send(json!({"type": "leave"})).await;
    let mut other = from(&app, "198.51.100.1").await;
    assert_eq!(resume(&mut other, &token, None).await["code"], "resume_expired");
}

async fn resuming_closes_the_old_socket_if_it_is_still_open(on: On) {
    let app = app(on, "30").await;
    let mut old = from(&app, "198.51.100.1").await;
    let (_, token) = join(&mut old, "lobby", "Alice").await;
    // The phone switched networks; the old socket has not noticed yet.
    let mut new = from(&app, "198.51.100.9").await;
    assert_eq!(resume(&mut new, &token, None).await["type"], "resumed");
    assert_eq!(old.closed().await, Some(4001));
    // The seat stays with the new socket once the old one is gone.
    let id = new.say("still me").await;
    new.wait_message(&id).await;
    assert_eq!(app.members_of("lobby").await, Some(1));
}

async fn a_ban_revokes_a_parked_session_and_a_banned_address_cannot_resume(on: On) {
    let app = app(on, "30").await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;
    let mut spammer = from(&app, "203.0.113.40").await;
    let (_, token) = join(&mut spammer, "lobby", "Spammer").await;
    drop(spammer);
    cli(&app, &["bans", "add", "203.0.113.40", "--reason", "spam"]).await;
    // The ban ends the parked session at once: the room is told, the token is gone.
    loop {
        let p = watcher.wait_for("presence").await;
        if p["event"] == "leave" {
            assert_eq!(p["nick"], "Spammer");
            break;
        }
    }
    let mut elsewhere = from(&app, "198.51.100.7").await;
    assert_eq!(resume(&mut elsewhere, &token, None).await["code"], "resume_expired");
    // A session of another address whose new address is banned: refused before the upgrade.
    let mut alice = from(&app, "198.51.100.1").await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    drop(alice);
    let refused = Client::connect_from(app.addr, "203.0.113.40").await.err().unwrap();
    assert_eq!((refused.0, refused.1["code"].as_str()), (403, Some("banned")));
    // Alice's session is still there for an address that is not banned.
    let mut alice = from(&app, "198.51.100.1").await;
    assert_eq!(resume(&mut alice, &token, None).await["type"], "resumed");
}

async fn pair(app: &TestApp) -> (Client, String, Client) {
    let mut ann = from(app, "198.51.100.1").await;
    ann.send(json!({"type": "roulette", "nick": "Ann"})).await;
    ann.expect("waiting").await;
    let mut ben = from(app, "198.51.100.2").await;
    ben.send(json!({"type": "roulette", "nick": "Ben"})).await;
    let matched = ann.wait_for("matched").await;
    let token = matched["resume"].as_str().unwrap().to_owned();
    let joined = ann.expect("joined").await;
    assert_eq!(joined["resume"].as_str(), Some(token.as_str()), "matched and joined carry one token");
    ben.wait_for("matched").await;
    ben.expect("joined").await;
    (ann, token, ben)
}

async fn a_roulette_stranger_hears_of_the_reconnect_and_the_return(on: On) {
    let app = app(on, "30").await;
    let (ann, token, mut ben) = pair(&app).await;
    drop(ann);
    ben.wait_for("stranger_reconnecting").await;
    let mut ann = from(&app, "198.51.100.1").await;
    let resumed = resume(&mut ann, &token, None).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["nick"].as_str(), resumed["stranger"].as_str()), (Some("Ann"), Some("Ben")));
    let frames = frames_until_own(&mut ben, "welcome back").await;
    assert!(frames.iter().any(|f| f["type"] == "stranger_back"), "{frames:?}");
    assert!(frames.iter().all(|f| f["type"] != "stranger_left" && f["type"] != "presence"), "{frames:?}");
    let id = ann.say("my train left the tunnel").await;
    assert_eq!(ben.wait_message(&id).await["nick"], "Ann");
    // Next still works for the resumed side.
    ann.send(json!({"type": "next"})).await;
    ben.wait_for("stranger_left").await;
}

async fn a_roulette_stranger_is_told_left_when_the_window_ends(on: On) {
    let app = app(on, "1").await;
    let (ann, token, mut ben) = pair(&app).await;
    drop(ann);
    ben.wait_for("stranger_reconnecting").await;
    ben.wait_for("stranger_left").await;
    let mut ann = from(&app, "198.51.100.1").await;
    assert_eq!(resume(&mut ann, &token, None).await["code"], "resume_expired");
    assert!(quiet(&mut ben, "stranger_back", Duration::from_millis(300)).await);
}

async fn a_visitor_room_whose_only_member_is_away_is_not_torn_down(on: On) {
    let app = app_with(on, &[("RESUME_SECS", "30"), ("VISITOR_ROOM_IDLE_SECS", "1")]).await;
    let mut host = from(&app, "198.51.100.1").await;
    host.send(json!({"type": "create", "title": "Book club", "capacity": 5})).await;
    let room = host.expect("created").await["room"].as_str().unwrap().to_owned();
    let (_, token) = join(&mut host, &room, "Host").await;
    drop(host);
    // Well past the idle time (and a sweep or two): the held seat keeps the room open.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.members_of(&room).await, Some(1));
    let mut host = from(&app, "198.51.100.1").await;
    let resumed = resume(&mut host, &token, None).await;
    assert_eq!((resumed["type"].as_str(), resumed["room"].as_str()), (Some("resumed"), Some(room.as_str())));
}

/// A kick as the bot publishes it (a moderator's `/kick`) revokes a parked session: the room is
/// told at once and the token is gone.
#[tokio::test]
async fn a_kick_revokes_a_parked_session() {
    let prefix = format!("resume-{}", ulid::Ulid::new().to_string().to_lowercase());
    let app = crate::abuse::spawn_on_redis(&prefix, &[("RESUME_SECS", "30")]).await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;
    let mut alice = from(&app, "198.51.100.1").await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    drop(alice);
    let kick = protocol::ControlEvent::Kick {
        room: protocol::RoomSlug::parse("lobby").unwrap(),
        nick: "alice".into(),
        reason: "rude".into(),
    };
    let client = ::redis::Client::open(crate::abuse::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = ::redis::cmd("PUBLISH")
        .arg(format!("{prefix}:control"))
        .arg(serde_json::to_string(&kick).unwrap())
        .query_async(&mut conn)
        .await
        .unwrap();
    loop {
        let p = watcher.wait_for("presence").await;
        if p["event"] == "leave" {
            assert_eq!(p["nick"], "Alice");
            break;
        }
    }
    let mut back = from(&app, "198.51.100.1").await;
    assert_eq!(resume(&mut back, &token, None).await["code"], "resume_expired");
}

#[tokio::test]
async fn a_session_moves_to_another_gateway_which_closes_the_old_socket_and_survives_a_killed_gateway() {
    let mut cluster = Cluster::new().await;
    cluster.env.push(("RESUME_SECS".into(), "30".into()));
    let _bot = cluster.bot().await;
    let (mut g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    let mut alice = g1.client().await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    let mut bob = g2.client().await;
    bob.join("lobby", "Bob").await;
    // Resumed on the other gateway while the old socket is open: that gateway closes it.
    let mut moved = g2.client().await;
    let resumed = resume(&mut moved, &token, None).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(alice.closed().await, Some(4001));
    let frames = frames_until_own(&mut bob, "hi").await;
    assert!(frames.iter().all(|f| f["type"] != "presence" || f["nick"] == "Bob"), "{frames:?}");
    let token = resumed["resume"].as_str().unwrap().to_owned();
    // Back to the first gateway, which then dies: the session resumes on the second one.
    let mut back = g1.client().await;
    let resumed = resume(&mut back, &token, None).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(moved.closed().await, Some(4001));
    let token = resumed["resume"].as_str().unwrap().to_owned();
    let seen = back.say("before the crash").await;
    bob.wait_message(&seen).await;
    g1.kill().await;
    let after = bob.say("after the crash").await;
    let mut again = g2.client().await;
    let resumed = resume(&mut again, &token, Some(&seen)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["missed"][0]["id"], after.as_str());
    let id = again.say("on the survivor").await;
    assert_eq!(bob.wait_message(&id).await["nick"], "Alice");
    // The seat stays held past the dead gateway's presence TTL: the survivor refreshes it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cluster.members(&g2, "lobby").await, 2);
}
