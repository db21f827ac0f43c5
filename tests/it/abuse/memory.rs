//! Memory that only grows: what a closed pair or visitor room kept in Redis goes with it.

use serde_json::json;

use super::*;

#[tokio::test]
async fn a_closed_pair_and_a_closed_visitor_room_leave_no_key_in_redis() {
    let prefix = fresh_prefix();
    let app = spawn_on_redis(&prefix, &[("VISITOR_ROOM_IDLE_SECS", "1")]).await;
    let mut a = from(&app, "198.51.100.1").await;
    let mut b = from(&app, "198.51.100.2").await;
    a.send(json!({"type": "roulette", "nick": "Ann"})).await;
    b.send(json!({"type": "roulette", "nick": "Ben"})).await;
    let room = a.wait_for("matched").await["room"].as_str().unwrap().to_owned();
    assert_eq!(b.wait_for("matched").await["room"], room.as_str());
    a.wait_for("joined").await;
    b.wait_for("joined").await;
    a.say("hello stranger").await;
    b.wait_for("message").await;
    let pattern = format!("{{{room}}}:*");
    assert!(redis_keys(&prefix, &pattern).await.iter().any(|k| k.ends_with(":history")));
    a.send(json!({"type": "leave"})).await;
    b.wait_for("stranger_left").await;
    b.send(json!({"type": "leave"})).await;
    b.wait_for("presence").await;
    app.eventually("the pair's keys are gone", || async { redis_keys(&prefix, &pattern).await.is_empty() }).await;

    // A visitor room: its history and its owner's entry go once it closes.
    let mut host = from(&app, "203.0.113.20").await;
    host.send(json!({"type": "create", "title": "Short lived", "capacity": 3})).await;
    let room = host.wait_for("created").await["room"].as_str().unwrap().to_owned();
    host.join(&room, "Host").await;
    host.say("anyone?").await;
    assert_eq!(redis_keys(&prefix, "owner:*").await.len(), 1);
    host.send(json!({"type": "leave"})).await;
    let pattern = format!("{{{room}}}:*");
    app.eventually("the visitor room's keys are gone", || async {
        redis_keys(&prefix, &pattern).await.is_empty() && redis_keys(&prefix, "owner:*").await.is_empty()
    })
    .await;
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}
