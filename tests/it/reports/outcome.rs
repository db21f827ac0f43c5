//! What comes back to a reporter, and the roulette partner reported after `next`.

use std::time::Duration;

use serde_json::json;

use super::refusals::{answer, queued_report, report};
use super::{message_with, token, visitor};
use crate::abuse::{fresh_prefix, redis_url, spawn_on_redis, spawn_proxied};
use crate::support::Client;

#[tokio::test]
async fn the_outcome_reaches_the_reporter_on_its_gateway_only() {
    let prefix = fresh_prefix();
    let settings = [("IP_TAG_SECRET", "one-secret-for-every-gateway")];
    let one = spawn_on_redis(&prefix, &settings).await;
    let two = spawn_on_redis(&prefix, &settings).await;
    let mut author = visitor(&one, "203.0.113.1", None).await;
    let mut reporter = visitor(&two, "198.51.100.2", Some(&token())).await;
    let mut bystander = visitor(&one, "198.51.100.3", None).await;
    author.join("lobby", "Author").await;
    reporter.join("lobby", "Reporter").await;
    bystander.join("lobby", "Bystander").await;
    let id = author.say("reported across gateways").await;
    message_with(&mut reporter, "reported across gateways").await;
    report(&mut reporter, &id, "spam", None).await;
    assert_eq!(answer(&mut reporter).await["type"], "reported");
    let event = queued_report(&prefix, &id).await;

    // The bot's decision, as it publishes it.
    let outcome = json!({"type": "report_outcome", "reporter": event["reporter"], "id": id, "outcome": "banned"});
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}:control"))
        .arg(outcome.to_string())
        .query_async::<i64>(&mut conn)
        .await
        .unwrap();
    let frame = reporter.wait_for("report_outcome").await;
    assert_eq!(frame, json!({"type": "report_outcome", "id": id, "outcome": "banned"}));
    // Nobody else hears of it: the next frame the bystander gets is the next message.
    let next = author.say("and on").await;
    loop {
        let frame = bystander.next().await;
        assert_ne!(frame["type"], "report_outcome", "{frame}");
        if frame["type"] == "message" && frame["id"] == next.as_str() {
            break;
        }
    }
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}

/// Wait for `matched` and the `joined` after it; the pair's room.
async fn paired(client: &mut Client) -> String {
    let matched = client.wait_for("matched").await;
    client.expect("joined").await;
    matched["room"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_last_stranger_stays_reportable_after_next() {
    let app = spawn_proxied(&[]).await;
    let mut me = visitor(&app, "203.0.113.1", Some(&token())).await;
    let mut stranger = visitor(&app, "198.51.100.2", Some(&token())).await;
    me.send(json!({"type": "roulette", "nick": "Me"})).await;
    stranger.send(json!({"type": "roulette", "nick": "Stranger"})).await;
    let room = paired(&mut me).await;
    assert_eq!(paired(&mut stranger).await, room);
    let first = stranger.say("first line").await;
    let last = stranger.say("last line").await;
    message_with(&mut me, "last line").await;
    let mine = me.say("my line").await;
    // In the pair: the stranger's message is reportable.
    report(&mut me, &first, "sexual", None).await;
    assert_eq!(answer(&mut me).await["type"], "reported");
    // After `next`, the last stranger's last message still is; mine still is not.
    me.send(json!({"type": "next"})).await;
    me.wait_for("waiting").await;
    report(&mut me, &last, "harassment", Some("after next")).await;
    assert_eq!(answer(&mut me).await, json!({"type": "reported", "id": last}));
    report(&mut me, &mine, "spam", None).await;
    assert_eq!(answer(&mut me).await["code"], "cannot_report_self");
    // The stranger, out of the pair too, reports what it received there.
    stranger.send(json!({"type": "leave"})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    report(&mut stranger, &mine, "spam", None).await;
    assert_eq!(answer(&mut stranger).await["type"], "reported");
}
