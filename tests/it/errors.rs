//! Every error code the foundation produces, and the connection staying usable after each.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

#[tokio::test]
async fn malformed_frames_get_bad_frame_or_unknown_type() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    c.send_raw(Message::text("not json")).await;
    c.expect_error("bad_frame").await;
    c.send_raw(Message::text("[1,2]")).await;
    c.expect_error("bad_frame").await;
    c.send(json!({"room": "lobby"})).await;
    c.expect_error("bad_frame").await;
    c.send(json!({"type": "dance"})).await;
    c.expect_error("unknown_type").await;
    c.send(json!({"type": "join", "room": "lobby"})).await;
    let e = c.expect_error("bad_frame").await;
    assert!(e["message"].as_str().unwrap().contains("nick"), "{e}");
    c.send(json!({"type": "join", "room": "lobby", "nick": 42})).await;
    c.expect_error("bad_frame").await;
    c.send(json!({"type": "join", "room": "lobby", "nick": "Al", "since": "not-an-id"})).await;
    c.expect_error("bad_frame").await;
    // Still usable.
    c.send(json!({"type": "ping"})).await;
    c.expect("pong").await;
    c.join("lobby", "Al").await;
}

#[tokio::test]
async fn nickname_rules_are_enforced() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    for bad in [
        "x",
        "   ",
        "Staff",
        "ADM1N",
        "m o d",
        "bad\u{202e}name",
        "zero\u{200b}width",
        "emoji😀",
        "<script>",
        &"n".repeat(25),
    ] {
        c.send(json!({"type": "join", "room": "lobby", "nick": bad})).await;
        c.expect_error("invalid_nick").await;
    }
    let (_alice, _) = app.joined("lobby", "Alice").await;
    c.send(json!({"type": "join", "room": "lobby", "nick": "ALICE"})).await;
    c.expect_error("nick_taken").await;
    // Full-width letters normalise (NFKC) to the same name.
    c.send(json!({"type": "join", "room": "lobby", "nick": "Ａｌｉｃｅ"})).await;
    c.expect_error("nick_taken").await;
    // The same name is free in another room.
    c.join("chill", "alice").await;
}

#[tokio::test]
async fn rooms_must_exist() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    c.send(json!({"type": "join", "room": "no-such-room", "nick": "Al"})).await;
    c.expect_error("unknown_room").await;
    c.send(json!({"type": "join", "room": "Not A Slug!", "nick": "Al"})).await;
    c.expect_error("unknown_room").await;
}

#[tokio::test]
async fn saying_leaving_and_typing_need_a_room() {
    let app = spawn_app().await;
    let mut c = app.client().await;
    c.send(json!({"type": "say", "text": "hi", "client_id": "c1"})).await;
    let e = c.expect_error("not_in_room").await;
    assert_eq!(e["client_id"], "c1", "errors for a say echo its client_id");
    c.send(json!({"type": "leave"})).await;
    c.expect_error("not_in_room").await;
    c.send(json!({"type": "typing"})).await;
    c.expect_error("not_in_room").await;
}

#[tokio::test]
async fn message_text_rules_are_enforced() {
    let app = spawn_app().await;
    let (mut c, _) = app.joined("lobby", "Al").await;
    c.send(json!({"type": "say", "text": "  \n\t ", "client_id": "e"})).await;
    assert_eq!(c.expect_error("empty_message").await["client_id"], "e");
    c.send(json!({"type": "say", "text": "ä".repeat(2001), "client_id": "l"})).await;
    assert_eq!(c.expect_error("too_long").await["client_id"], "l");
    // Exactly at the limit (in characters, not bytes) is fine.
    let id = c.say(&"ä".repeat(2000)).await;
    c.wait_message(&id).await;
    c.send(json!({"type": "say", "text": "x", "client_id": "c".repeat(65)})).await;
    c.expect_error("bad_frame").await;
}

#[tokio::test]
async fn flooding_is_rate_limited_with_a_retry_hint() {
    let app = spawn_app_with(&[("SAY_BURST", "3"), ("SAY_PER_SECOND", "0.5")]).await;
    let (mut c, _) = app.joined("lobby", "Al").await;
    for i in 0..3 {
        c.say(&format!("burst {i}")).await;
    }
    c.send(json!({"type": "say", "text": "one too many", "client_id": "x"})).await;
    let e = c.expect_error("rate_limited").await;
    assert_eq!(e["client_id"], "x");
    let retry = e["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 2000, "{e}");
}

#[tokio::test]
async fn frames_over_64_kib_close_the_socket_with_1009() {
    let app = spawn_app().await;
    let (mut c, _) = app.joined("lobby", "Big").await;
    let huge = json!({"type": "say", "text": "x".repeat(70 * 1024)}).to_string();
    c.send_raw(Message::text(huge)).await;
    assert_eq!(c.closed().await, Some(1009));
    // The seat is freed.
    app.eventually("the seat is free", || async { app.members_of("lobby").await == Some(0) }).await;
}
