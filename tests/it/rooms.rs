//! Rooms: capacity, operator commands reaching a running process, locks, slowmode.

use tokio::process::Command;

use serde_json::json;

use crate::support::*;

/// Run the real binary against the app's database, the app running meanwhile.
pub(crate) async fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chatroulette"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env_remove("REDIS_URL")
        .env_remove("DISCORD_TOKEN")
        .current_dir(&app.dir)
        .output()
        .await
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn default_rooms_are_listed_with_occupancy() {
    let app = spawn_app().await;
    let rooms = app.get_json("/api/rooms").await;
    let lobby = rooms.as_array().unwrap().iter().find(|r| r["slug"] == "lobby").unwrap().clone();
    assert_eq!(lobby["capacity"], 50);
    assert_eq!(lobby["members"], 0);
    assert_eq!(lobby["locked"], false);
    assert!(lobby["title"].is_string() && lobby["topic"].is_string());
    let (_c, _) = app.joined("lobby", "Al").await;
    assert_eq!(app.members_of("lobby").await, Some(1));
}

#[tokio::test]
async fn operator_commands_reach_the_running_process() {
    let app = spawn_app().await;
    let (ok, out) = cli(&app, &["rooms", "add", "night-owls", "--capacity", "2", "--topic", "late talk"]).await;
    assert!(ok, "{out}");
    app.eventually("the new room is listed", || async { app.members_of("night-owls").await == Some(0) }).await;
    let rooms = app.get_json("/api/rooms").await;
    let room = rooms.as_array().unwrap().iter().find(|r| r["slug"] == "night-owls").unwrap().clone();
    assert_eq!(
        (room["title"].as_str(), room["topic"].as_str(), room["capacity"].as_u64()),
        (Some("Night Owls"), Some("late talk"), Some(2))
    );

    let (ok, out) = cli(&app, &["rooms", "list"]).await;
    assert!(ok && out.contains("night-owls") && out.contains("lobby"), "{out}");
    let (ok, out) = cli(&app, &["rooms", "add", "night-owls", "--capacity", "3"]).await;
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = cli(&app, &["rooms", "add", "Bad Slug", "--capacity", "3"]).await;
    assert!(!ok && out.contains("a-z"), "{out}");
    let (ok, out) = cli(&app, &["rooms", "edit", "night-owls", "--capacity", "0"]).await;
    assert!(!ok && out.contains("capacity"), "{out}");

    let (ok, out) = cli(&app, &["rooms", "edit", "night-owls", "--capacity", "5", "--title", "Owls"]).await;
    assert!(ok, "{out}");
    app.eventually("the edit is visible", || async {
        let rooms = app.get_json("/api/rooms").await;
        rooms
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["slug"] == "night-owls" && r["capacity"] == 5 && r["title"] == "Owls")
    })
    .await;

    // Removing a room sends its members away.
    let (mut c, _) = app.joined("night-owls", "Owl").await;
    let (ok, out) = cli(&app, &["rooms", "remove", "night-owls"]).await;
    assert!(ok, "{out}");
    let kicked = c.wait_for("kicked").await;
    assert!(kicked["reason"].as_str().unwrap().contains("closed"), "{kicked}");
    assert_eq!(c.closed().await, Some(1000));
    assert_eq!(app.members_of("night-owls").await, None);
    let (ok, out) = cli(&app, &["rooms", "remove", "night-owls"]).await;
    assert!(!ok && out.contains("no room"), "{out}");
}

#[tokio::test]
async fn a_full_room_refuses_and_a_closed_socket_frees_its_seat() {
    let app = spawn_app().await;
    let (ok, out) = cli(&app, &["rooms", "add", "pair", "--capacity", "2"]).await;
    assert!(ok, "{out}");
    app.eventually("room is there", || async { app.members_of("pair").await.is_some() }).await;
    let (a, _) = app.joined("pair", "One").await;
    let (_b, _) = app.joined("pair", "Two").await;
    let mut c = app.client().await;
    c.send(json!({"type": "join", "room": "pair", "nick": "Three"})).await;
    c.expect_error("room_full").await;
    drop(a); // the socket dies without a leave
    app.eventually("the seat is freed", || async { app.members_of("pair").await == Some(1) }).await;
    c.join("pair", "Three").await;
}

#[tokio::test]
async fn a_dead_socket_that_misses_two_pings_is_dropped() {
    let app = spawn_app_with(&[("WS_PING_SECS", "0.2")]).await;
    // This client never reads, so it never answers the server's pings.
    let (silent, _) = app.joined("lobby", "Silent").await;
    app.eventually("the silent socket is dropped", || async { app.members_of("lobby").await == Some(0) }).await;
    drop(silent);
    // A client that keeps reading answers the pings and stays across many ping periods.
    let (mut alive, _) = app.joined("lobby", "Alive").await;
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        alive.send(json!({"type": "ping"})).await;
        alive.wait_for("pong").await;
    }
    assert_eq!(app.members_of("lobby").await, Some(1));
}

#[tokio::test]
async fn locked_rooms_and_slowmode() {
    let app = spawn_app().await;
    let (mut c, _) = app.joined("games", "Gamer").await;
    let (ok, out) = cli(&app, &["rooms", "edit", "games", "--slowmode", "30"]).await;
    assert!(ok, "{out}");
    let e = probe_until_error(&mut c, "slowmode").await;
    assert!(e["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0 && ms <= 30_000), "{e}");
    let (ok, out) = cli(&app, &["rooms", "edit", "games", "--locked", "true", "--slowmode", "0"]).await;
    assert!(ok, "{out}");
    probe_until_error(&mut c, "room_locked").await;
    let mut other = app.client().await;
    other.send(json!({"type": "join", "room": "games", "nick": "Late"})).await;
    other.expect_error("room_locked").await;
}

#[tokio::test]
async fn members_hear_of_locks_and_slowmode_as_they_change() {
    let app = spawn_app().await;
    let (mut c, joined) = app.joined("games", "Gamer").await;
    assert_eq!((joined["locked"].clone(), joined["slowmode_secs"].clone()), (json!(false), json!(0)), "{joined}");
    let (ok, out) = cli(&app, &["rooms", "edit", "games", "--slowmode", "30"]).await;
    assert!(ok, "{out}");
    let f = c.wait_for("room_updated").await;
    assert_eq!(f, json!({"type": "room_updated", "room": "games", "locked": false, "slowmode_secs": 30}));
    assert_eq!(app.get_json("/api/rooms/games").await["slowmode_secs"], 30);
    let (ok, out) = cli(&app, &["rooms", "edit", "games", "--locked", "true", "--slowmode", "0"]).await;
    assert!(ok, "{out}");
    let f = c.wait_for("room_updated").await;
    assert_eq!(f, json!({"type": "room_updated", "room": "games", "locked": true, "slowmode_secs": 0}));
    // A member who joins now learns the state from `joined` itself.
    let (ok, out) = cli(&app, &["rooms", "edit", "games", "--locked", "false", "--slowmode", "5"]).await;
    assert!(ok, "{out}");
    c.wait_for("room_updated").await;
    let (_late, joined) = app.joined("games", "Late").await;
    assert_eq!((joined["locked"].clone(), joined["slowmode_secs"].clone()), (json!(false), json!(5)), "{joined}");
}

/// Say something until the room's new settings refuse it with `code` (the change reaches the
/// gateway within a room-sync period).
async fn probe_until_error(c: &mut Client, code: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        c.send(json!({"type": "say", "text": "probe"})).await;
        loop {
            let f = c.next().await;
            match f["type"].as_str() {
                Some("error") if f["code"] == code => return f,
                Some("error" | "ack") => break,
                _ => continue,
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "never refused with {code}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
