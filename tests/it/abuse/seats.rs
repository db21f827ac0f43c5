//! Seats and slowmode per address: one address (or /64) cannot fill a room, and slowmode gives
//! it one message per period per seat it holds, whatever it does with its connections.

use serde_json::json;

use super::*;
use crate::moderation::cli;

/// Leave the room and wait until the server confirms it.
async fn leave(client: &mut Client, nick: &str) {
    client.send(json!({"type": "leave"})).await;
    loop {
        let p = client.wait_for("presence").await;
        if p["event"] == "leave" && p["nick"] == nick {
            return;
        }
    }
}

/// Join `room` as `nick` from wherever the client is.
async fn move_to(client: &mut Client, room: &str, nick: &str) {
    client.send(json!({"type": "join", "room": room, "nick": nick})).await;
    client.wait_for("joined").await;
}

/// Join `room` as `nick`, expecting a refusal with `code`.
async fn join_refused(client: &mut Client, room: &str, nick: &str, code: &str) {
    client.send(json!({"type": "join", "room": room, "nick": nick})).await;
    client.expect_error(code).await;
}

#[tokio::test]
async fn one_64_holds_at_most_its_seats_in_a_room() {
    let app = spawn_proxied(&[("SEATS_PER_ADDRESS", "2")]).await;
    let mut calm = from(&app, "198.51.100.1").await;
    calm.join("lobby", "Calm").await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;

    let mut a = from(&app, "2001:db8:5:5::1").await;
    let mut b = from(&app, "2001:db8:5:5::2").await;
    let mut c = from(&app, "2001:db8:5:5::3").await;
    a.join("lobby", "Seat1").await;
    b.join("lobby", "Seat2").await;
    join_refused(&mut c, "lobby", "Seat3", "too_many_seats").await;
    // The cap is per room, and another address is not affected.
    c.join("chill", "Seat3").await;
    from(&app, "2001:db8:5:6::1").await.join("lobby", "Neighbour").await;
    still_delivered(&mut calm, &mut watcher, "still here").await;
    // A freed seat can be taken again.
    leave(&mut a, "Seat1").await;
    move_to(&mut c, "lobby", "Seat3").await;
    join_refused(&mut a, "lobby", "Seat1", "too_many_seats").await;
}

#[tokio::test]
async fn the_seat_cap_holds_across_gateways_over_redis() {
    let prefix = fresh_prefix();
    let settings = [("SEATS_PER_ADDRESS", "2"), ("IP_TAG_SECRET", "one-secret-for-every-gateway")];
    let one = spawn_on_redis(&prefix, &settings).await;
    let two = spawn_on_redis(&prefix, &settings).await;
    let mut calm = from(&two, "198.51.100.1").await;
    calm.join("lobby", "Calm").await;
    let mut watcher = from(&one, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;

    let mut a = from(&one, "2001:db8:7:7::1").await;
    a.join("lobby", "Seat1").await;
    let mut b = from(&two, "2001:db8:7:7::2").await;
    b.join("lobby", "Seat2").await;
    let mut c = from(&two, "2001:db8:7:7::3").await;
    join_refused(&mut c, "lobby", "Seat3", "too_many_seats").await;
    let mut d = from(&one, "2001:db8:7:7::4").await;
    join_refused(&mut d, "lobby", "Seat4", "too_many_seats").await;
    still_delivered(&mut calm, &mut watcher, "across gateways").await;
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}

#[tokio::test]
async fn slowmode_is_per_address_and_seat_and_survives_leaving_and_reconnecting() {
    let app = spawn_proxied(&[]).await;
    cli(&app, &["rooms", "add", "slow", "--capacity", "10"]).await;
    cli(&app, &["rooms", "edit", "slow", "--slowmode", "600"]).await;
    app.eventually("the slow room is there", || async { app.members_of("slow").await.is_some() }).await;
    // A probe of its own address says when the gateway has the slowmode.
    let mut probe = from(&app, "192.0.2.99").await;
    probe.join("slow", "Probe").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        probe.send(json!({"type": "say", "text": "probe"})).await;
        let f = loop {
            let f = probe.next().await;
            if matches!(f["type"].as_str(), Some("ack" | "error")) {
                break f;
            }
        };
        if f["code"] == "slowmode" {
            break;
        }
        assert_eq!(f["type"], "ack", "{f}");
        assert!(tokio::time::Instant::now() < deadline, "the slowmode never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut calm = from(&app, "198.51.100.1").await;
    calm.join("slow", "Calm").await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("slow", "Watcher").await;

    let ip = "2001:db8:9:9::1";
    let mut a = from(&app, ip).await;
    a.join("slow", "First").await;
    a.say("one").await;
    a.send(json!({"type": "say", "text": "two"})).await;
    let e = a.expect_error("slowmode").await;
    assert!(e["retry_after_ms"].as_u64().unwrap() > 500_000, "{e}");

    // Leaving and joining again does not reset it.
    leave(&mut a, "First").await;
    a.join("slow", "First").await;
    a.send(json!({"type": "say", "text": "after rejoining"})).await;
    a.expect_error("slowmode").await;

    // A second seat of the address (another address of its /64) is a second slot, once.
    let mut b = from(&app, "2001:db8:9:9::2").await;
    b.join("slow", "Second").await;
    b.say("second seat").await;
    b.send(json!({"type": "say", "text": "again"})).await;
    b.expect_error("slowmode").await;

    // Reconnecting does not reset it either.
    drop(b);
    app.eventually("the second seat is free", || async { app.members_of("slow").await == Some(4) }).await;
    let mut b = from(&app, "2001:db8:9:9::3").await;
    b.join("slow", "Second").await;
    b.send(json!({"type": "say", "text": "fresh socket"})).await;
    b.expect_error("slowmode").await;

    // The well-behaved visitor has its own slot.
    still_delivered(&mut calm, &mut watcher, "calm under slowmode").await;
}
