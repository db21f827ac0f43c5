//! `report` through real sockets: each refusal, and an accepted report in the bot's queue.

use serde_json::{Value, json};

use super::{message_with, token, visitor};
use crate::abuse::{fresh_prefix, redis_url, spawn_on_redis, spawn_proxied};
use crate::support::Client;

pub async fn report(client: &mut Client, id: &str, reason: &str, note: Option<&str>) {
    let mut frame = json!({"type": "report", "id": id, "reason": reason});
    if let Some(note) = note {
        frame["note"] = json!(note);
    }
    client.send(frame).await;
}

/// The answer to a report: `reported`, or the `error` (room traffic skipped).
pub async fn answer(client: &mut Client) -> Value {
    loop {
        let frame = client.next().await;
        if matches!(frame["type"].as_str(), Some("reported" | "error")) {
            return frame;
        }
    }
}

async fn refused_with(client: &mut Client, id: &str, code: &str) {
    report(client, id, "spam", None).await;
    let answer = answer(client).await;
    assert_eq!((answer["type"].as_str(), answer["code"].as_str()), (Some("error"), Some(code)), "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
}

async fn accepted(client: &mut Client, id: &str) {
    report(client, id, "harassment", Some("  said awful things  ")).await;
    let answer = answer(client).await;
    assert_eq!(answer, json!({"type": "reported", "id": id}));
}

#[tokio::test]
async fn every_refusal_has_its_code() {
    let app = spawn_proxied(&[]).await;
    let device = token();
    let mut author = visitor(&app, "203.0.113.1", Some(&device)).await;
    let mut author_tab = visitor(&app, "198.51.100.1", Some(&device)).await;
    let mut early = visitor(&app, "203.0.113.2", Some(&token())).await;
    let mut late = visitor(&app, "203.0.113.3", None).await;
    let mut other_tab = visitor(&app, "203.0.113.2", Some(&token())).await;
    author.join("lobby", "Author").await;
    author_tab.join("lobby", "AuthorTab").await;
    early.join("lobby", "Early").await;
    other_tab.join("lobby", "EarlyTab").await;
    let before = author.say("said before Late came").await;
    message_with(&mut early, "said before Late came").await;
    late.join("lobby", "Late").await;
    let after = author.say("said after").await;
    for client in [&mut early, &mut late, &mut author_tab, &mut other_tab] {
        message_with(client, "said after").await;
    }

    // Not a message this connection received: unknown, or sent before it joined.
    refused_with(&mut late, &ulid::Ulid::new().to_string(), "unknown_message").await;
    refused_with(&mut late, &before, "unknown_message").await;
    // One's own message, from the same connection or another tab of the same device.
    refused_with(&mut author, &after, "cannot_report_self").await;
    refused_with(&mut author_tab, &after, "cannot_report_self").await;
    // A note over 500 characters.
    report(&mut early, &after, "other", Some(&"x".repeat(501))).await;
    assert_eq!(answer(&mut early).await["code"], "bad_frame");
    // Accepted once; again from the same connection: already reported.
    accepted(&mut early, &after).await;
    refused_with(&mut early, &after, "already_reported").await;
    // Another device at the same address may report it too.
    accepted(&mut other_tab, &after).await;
    // A report the frame rules refuse: an unknown reason.
    early.send(json!({"type": "report", "id": after, "reason": "boredom"})).await;
    assert_eq!(answer(&mut early).await["code"], "bad_frame");
}

#[tokio::test]
async fn a_device_reports_a_message_once_and_an_address_five_times_a_minute() {
    let app = spawn_proxied(&[]).await;
    let mut author = visitor(&app, "203.0.113.1", None).await;
    author.join("lobby", "Author").await;
    let device = token();
    let mut tabs = Vec::new();
    for i in 0..2 {
        let mut tab = visitor(&app, "203.0.113.9", Some(&device)).await;
        tab.join("lobby", &format!("Tab{i}")).await;
        tabs.push(tab);
    }
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(author.say(&format!("message {i}")).await);
    }
    for tab in &mut tabs {
        message_with(tab, "message 5").await;
    }
    accepted(&mut tabs[0], &ids[0]).await;
    // The device's other tab: already reported, though this connection never did.
    refused_with(&mut tabs[1], &ids[0], "already_reported").await;
    for id in &ids[1..5] {
        accepted(&mut tabs[1], id).await;
    }
    // Five reports from 203.0.113.9 this minute: the sixth waits.
    report(&mut tabs[1], &ids[5], "spam", None).await;
    let refused = answer(&mut tabs[1]).await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 1_000), "{refused}");
    // Another address is not held back.
    let mut elsewhere = visitor(&app, "198.51.100.9", None).await;
    elsewhere.join("lobby", "Elsewhere").await;
    let last = author.say("one more").await;
    message_with(&mut elsewhere, "one more").await;
    accepted(&mut elsewhere, &last).await;
}

/// The report as queued for the bot, read from the Redis stream.
pub async fn queued_report(prefix: &str, id: &str) -> Value {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(format!("{prefix}:inbound")).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    entries
        .iter()
        .flat_map(|(_, fields)| fields.iter().map(|(_, v)| serde_json::from_str::<Value>(v).unwrap()))
        .find(|event| event["type"] == "report" && event["message"] == id)
        .unwrap_or_else(|| panic!("no report of {id} in the queue"))
}

#[tokio::test]
async fn an_accepted_report_is_in_the_bots_queue_with_what_it_needs() {
    let prefix = fresh_prefix();
    let app = spawn_on_redis(&prefix, &[("IP_TAG_SECRET", "one-secret-for-every-gateway")]).await;
    let mut author = visitor(&app, "203.0.113.1", None).await;
    let device = token();
    let mut reporter = visitor(&app, "2001:db8:1:2::7", Some(&device)).await;
    author.join("lobby", "Author").await;
    reporter.join("lobby", "Reporter").await;
    let id = author.say("something awful").await;
    message_with(&mut reporter, "something awful").await;
    let before = chrono::Utc::now();
    accepted(&mut reporter, &id).await;
    let event = queued_report(&prefix, &id).await;
    assert_eq!(event["room"], "lobby");
    assert_eq!(event["nick"], "Author");
    assert_eq!(event["reason"], "harassment");
    assert_eq!(event["note"], "said awful things", "trimmed");
    assert_eq!(event["reporter_ip"], "2001:db8:1:2::7");
    let tag = event["reporter_device"].as_str().unwrap();
    assert_eq!(tag.len(), 12);
    assert!(!device.contains(tag) && !event.to_string().contains(&device), "the token never leaves the gateway");
    let reporter_id = event["reporter"].as_str().unwrap();
    assert!(reporter_id.starts_with("gw-") && reporter_id.contains(':'), "{reporter_id}");
    let at: chrono::DateTime<chrono::Utc> = event["at"].as_str().unwrap().parse().unwrap();
    let since: chrono::DateTime<chrono::Utc> = event["reporter_since"].as_str().unwrap().parse().unwrap();
    assert!(since <= before && at >= before - chrono::Duration::seconds(1), "{event}");
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}

#[tokio::test]
async fn a_device_reports_a_message_once_across_gateways_and_a_refused_report_does_not_count() {
    let prefix = fresh_prefix();
    let settings = [("IP_TAG_SECRET", "one-secret-for-every-gateway")];
    let one = spawn_on_redis(&prefix, &settings).await;
    let two = spawn_on_redis(&prefix, &settings).await;
    let mut author = visitor(&one, "203.0.113.1", None).await;
    author.join("lobby", "Author").await;
    let device = token();
    // One device: a tab on each gateway, from two addresses (a phone that changed networks).
    let mut first = visitor(&one, "198.51.100.11", Some(&device)).await;
    let mut second = visitor(&two, "192.0.2.11", Some(&device)).await;
    let mut someone = visitor(&two, "198.51.100.12", Some(&token())).await;
    for (client, nick) in [(&mut first, "First"), (&mut second, "Second"), (&mut someone, "Someone")] {
        client.join("lobby", nick).await;
    }
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(author.say(&format!("message {i}")).await);
    }
    for client in [&mut first, &mut second, &mut someone] {
        message_with(client, "message 5").await;
    }
    accepted(&mut first, &ids[0]).await;
    refused_with(&mut second, &ids[0], "already_reported").await;
    accepted(&mut someone, &ids[0]).await;
    // The first tab's address spends its five reports of the minute; the sixth is refused
    // `rate_limited`, and that refused report does not count as the device's: its other tab,
    // from another address, may still report the message.
    for id in &ids[1..5] {
        accepted(&mut first, id).await;
    }
    refused_with(&mut first, &ids[5], "rate_limited").await;
    accepted(&mut second, &ids[5]).await;
    refused_with(&mut first, &ids[5], "already_reported").await;
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}
