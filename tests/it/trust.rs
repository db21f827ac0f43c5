//! The trust tier for new visitors (issue 27), through real sockets: links refused for a new
//! visitor (or shown as plain text where the room says `inert`, or accepted where it says
//! `allow`), accepted once the tier ends, after `chatroulette trust`, and to an allowed domain;
//! long pastes and repeats refused; half the message burst; the tier kept across reconnects
//! and, in a split deployment, on a second gateway; the refusals counted in `/metrics` by code.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::moderation::cli;
use crate::support::{Client, TestApp, WAIT, spawn_app_with};

/// The tier on (the test defaults turn it off), with `vars` on top.
async fn app(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("NEW_VISITOR_MINUTES", "10"), ("NEW_VISITOR_MESSAGES", "5")];
    all.extend_from_slice(vars);
    spawn_app_with(&all).await
}

/// A client with device token `token` (as the web client connects).
async fn device_client(addr: std::net::SocketAddr, token: &str) -> Client {
    Client::connect_to(addr, &format!("/ws?device={token}"), &[]).await.unwrap()
}

/// Send `text` and return the answer: the `ack` or the `error` naming it (room traffic skipped).
async fn attempt(c: &mut Client, text: &str) -> Value {
    let client_id = ulid::Ulid::new().to_string();
    c.send(json!({"type": "say", "text": text, "client_id": client_id})).await;
    loop {
        let frame = c.next().await;
        if matches!(frame["type"].as_str(), Some("ack" | "error")) {
            assert_eq!(frame["client_id"], client_id.as_str(), "{frame}");
            return frame;
        }
    }
}

/// Send `text` until it is accepted (what it waits for arrives through the bot's sync).
async fn until_accepted(c: &mut Client, text: &str, refused_as: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = attempt(c, text).await;
        if answer["type"] == "ack" {
            return answer["id"].as_str().unwrap().to_owned();
        }
        assert_eq!(answer["code"], refused_as, "{answer}");
        assert!(tokio::time::Instant::now() < deadline, "{text:?} was never accepted: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A counter of `/metrics` with its labels, e.g. `chat_refusals_total{code="repeated"}`.
async fn counter(app: &TestApp, series: &str) -> u64 {
    let (status, _, body) = app.get_admin("/metrics").await;
    assert_eq!(status, 200);
    body.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse::<f64>().ok())).map_or(0, |v| v as u64)
}

/// The trust tier's refusals so far: links_not_yet, paste_not_yet, repeated.
async fn trust_refusals(app: &TestApp) -> [u64; 3] {
    let mut counts = [0; 3];
    for (count, code) in counts.iter_mut().zip(["links_not_yet", "paste_not_yet", "repeated"]) {
        *count = counter(app, &format!("chat_refusals_total{{code=\"{code}\"}}")).await;
    }
    counts
}

#[tokio::test]
async fn a_new_visitor_is_refused_links_pastes_and_repeats_with_clear_codes() {
    let app = app(&[]).await;
    let before = trust_refusals(&app).await;
    let mut c = device_client(app.addr, "new-visitor-device-0001").await;
    c.join("lobby", "Newbie").await;
    let refused = attempt(&mut c, "buy now at https://spam.example/deal").await;
    assert_eq!(refused["code"], "links_not_yet", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("new visitors"), "{refused}");
    let refused = attempt(&mut c, "go to www.spam.example").await;
    assert_eq!(refused["code"], "links_not_yet", "{refused}");
    let paste = "x".repeat(301);
    assert_eq!(attempt(&mut c, &paste).await["code"], "paste_not_yet");
    assert_eq!(attempt(&mut c, "1\n2\n3\n4\n5\n6\n7").await["code"], "paste_not_yet");
    // 300 characters and 6 lines are fine, once.
    assert_eq!(attempt(&mut c, &"y".repeat(300)).await["type"], "ack");
    assert_eq!(attempt(&mut c, "hello there").await["type"], "ack");
    let repeated = attempt(&mut c, "Hello   THERE").await;
    assert_eq!(repeated["code"], "repeated", "the same text, spacing and case aside: {repeated}");
    // A bare domain is not a link (the client does not make it one).
    assert_eq!(attempt(&mut c, "I use node.js").await["type"], "ack");
    let after = trust_refusals(&app).await;
    assert_eq!(after[0] - before[0], 2, "links_not_yet counted");
    assert_eq!(after[1] - before[1], 2, "paste_not_yet counted");
    assert_eq!(after[2] - before[2], 1, "repeated counted");
}

#[tokio::test]
async fn the_tier_ends_after_its_messages_and_holds_across_reconnects() {
    let app = app(&[("NEW_VISITOR_MESSAGES", "3")]).await;
    let (mut other, _) = app.joined("lobby", "Watcher").await;
    let token = "reconnecting-device-0001";
    let mut c = device_client(app.addr, token).await;
    c.join("lobby", "Comer").await;
    c.say("one").await;
    c.say("two").await;
    drop(c);
    // Reconnected: still new (two of three messages), the link still refused.
    let mut c = device_client(app.addr, token).await;
    c.join("lobby", "Comer").await;
    assert_eq!(attempt(&mut c, "see https://example.net").await["code"], "links_not_yet");
    c.say("three").await;
    // The third message ended the tier: links are as anyone's.
    let id = c.say("see https://example.net").await;
    let seen = other.wait_message(&id).await;
    assert!(seen.get("links").is_none(), "a link from a visitor past the tier: {seen}");
    // A new device at the same address is new again (the device is, though the address is not).
    let mut fresh = device_client(app.addr, "another-device-00000001").await;
    fresh.join("lobby", "Fresh").await;
    assert_eq!(attempt(&mut fresh, "see https://example.net").await["code"], "links_not_yet");
}

#[tokio::test]
async fn the_tier_ends_after_its_minutes() {
    // NEW_VISITOR_MINUTES counts minutes; the gateway's setting is a duration, shortened here.
    let vars = [("NEW_VISITOR_MESSAGES", "1000")];
    let app = crate::support::spawn_app_tuned_with(&vars, |config| {
        config.gateway.trust.new_visitor_for = Duration::from_secs(2);
    })
    .await;
    let mut c = device_client(app.addr, "minutes-device-000000001").await;
    c.join("lobby", "Patient").await;
    let refused = attempt(&mut c, "https://example.net").await;
    assert_eq!(refused["code"], "links_not_yet");
    assert!(refused["message"].as_str().unwrap().contains("2 seconds"), "{refused}");
    // Two seconds after its arrival the same connection may post links.
    until_accepted(&mut c, "https://example.net", "links_not_yet").await;
}

#[tokio::test]
async fn a_new_visitor_gets_half_the_message_burst() {
    let app = app(&[("SAY_BURST", "8"), ("SAY_PER_SECOND", "0.01"), ("NEW_VISITOR_MESSAGES", "100")]).await;
    let mut c = device_client(app.addr, "bursting-device-00000001").await;
    c.join("lobby", "Burst").await;
    for i in 0..4 {
        assert_eq!(attempt(&mut c, &format!("message {i}")).await["type"], "ack", "message {i}");
    }
    let refused = attempt(&mut c, "message 4").await;
    assert_eq!(refused["code"], "rate_limited", "the fifth of a burst of 8 halved: {refused}");
    assert!(refused["retry_after_ms"].as_u64().is_some(), "{refused}");
    // A visitor past the tier has the whole burst.
    let app = app_off(&[("SAY_BURST", "8"), ("SAY_PER_SECOND", "0.01")]).await;
    let mut c = device_client(app.addr, "bursting-device-00000002").await;
    c.join("lobby", "Burst").await;
    for i in 0..8 {
        assert_eq!(attempt(&mut c, &format!("message {i}")).await["type"], "ack", "message {i}");
    }
    assert_eq!(attempt(&mut c, "message 8").await["code"], "rate_limited");
}

/// The tier off (the test default).
async fn app_off(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_with(vars).await
}

#[tokio::test]
async fn inert_rooms_show_new_visitors_links_as_plain_text_and_allow_rooms_deliver_them() {
    let app = app(&[]).await;
    let out = cli(&app, &["rooms", "edit", "lobby", "--links", "inert"]).await;
    assert!(out.contains("updated room lobby"), "{out}");
    cli(&app, &["rooms", "edit", "chill", "--links", "allow"]).await;
    assert!(cli(&app, &["rooms", "list"]).await.contains("inert"));
    let (mut other, _) = app.joined("lobby", "Watcher").await;
    let mut c = device_client(app.addr, "inert-room-device-000001").await;
    c.join("lobby", "Linker").await;
    // The room sync brings the setting within ROOM_SYNC_SECS.
    let id = until_accepted(&mut c, "look https://example.net/page", "links_not_yet").await;
    let seen = other.wait_message(&id).await;
    assert_eq!(seen["links"], false, "{seen}");
    assert_eq!(seen["text"], "look https://example.net/page");
    // In history too.
    let (_, joined) = app.joined("lobby", "Late").await;
    let kept = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).cloned().unwrap();
    assert_eq!(kept["links"], false, "{kept}");
    // A message without links carries no flag.
    let id = c.say("no links here").await;
    assert!(other.wait_message(&id).await.get("links").is_none());
    // `allow`: delivered as anyone's.
    let (mut watcher, _) = app.joined("chill", "Watcher").await;
    c.send(json!({"type": "join", "room": "chill", "nick": "Linker"})).await;
    c.wait_for("joined").await;
    let id = until_accepted(&mut c, "chill https://example.net/x", "links_not_yet").await;
    assert!(watcher.wait_message(&id).await.get("links").is_none());
}

#[tokio::test]
async fn trusted_tags_and_allowed_domains_pass_the_tier() {
    let app = app(&[]).await;
    let mut c = device_client(app.addr, "trusted-device-000000001").await;
    c.join("lobby", "Regular").await;
    c.say("hello, I am new").await;
    // An allowed domain passes, its subdomains too; others do not.
    let out = cli(&app, &["links", "allow", "Example.ORG"]).await;
    assert!(out.contains("example.org"), "{out}");
    until_accepted(&mut c, "docs at https://docs.example.org/guide", "links_not_yet").await;
    assert_eq!(attempt(&mut c, "https://example.org.evil.test").await["code"], "links_not_yet");
    assert!(cli(&app, &["links", "list"]).await.contains("example.org"));
    // Trusting the visitor's IP tag (as staff see it in footers) lifts the tier for it.
    let tag = ip_tag_of(&app, "Regular").await;
    let out = cli(&app, &["trust", &tag]).await;
    assert!(out.contains(&format!("trusted tag {tag}")), "{out}");
    until_accepted(&mut c, "now https://anything.example", "links_not_yet").await;
    assert_eq!(attempt(&mut c, &"z".repeat(400)).await["type"], "ack", "pastes too");
    assert!(cli(&app, &["links", "list"]).await.contains(&tag));
    // Untrusted again: the tier applies again (the visitor is still within its minutes).
    cli(&app, &["untrust", &tag]).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut c = device_client(app.addr, "trusted-device-000000002").await;
    c.join("lobby", "Regular2").await;
    loop {
        let answer = attempt(&mut c, &format!("again https://anything.example/{}", ulid::Ulid::new())).await;
        if answer["code"] == "links_not_yet" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the untrust never arrived: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Unknown tags and domains are refused with a reason.
    let out = cli_failing(&app, &["trust", "abcdefabcdef"]).await;
    assert!(out.contains("no message in the log"), "{out}");
    let out = cli_failing(&app, &["links", "allow", "not a domain"]).await;
    assert!(out.contains("not a domain"), "{out}");
}

/// Run an operator command that must fail; returns what it printed.
async fn cli_failing(app: &TestApp, args: &[&str]) -> String {
    let (ok, text) = crate::rooms::cli(app, args).await;
    assert!(!ok, "{args:?} succeeded: {text}");
    text
}

/// The IP tag the message log gives `nick`'s messages.
async fn ip_tag_of(app: &TestApp, nick: &str) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let row = bot::entities::message_log::Entity::find()
            .filter(bot::entities::message_log::Column::Nickname.eq(nick))
            .one(&db)
            .await
            .unwrap();
        if let Some(tag) = row.and_then(|r| r.ip_tag) {
            return tag.split_whitespace().next().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "{nick}'s message was never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_tier_holds_on_a_second_gateway() {
    let mut cluster = Cluster::new().await;
    cluster.env.push(("NEW_VISITOR_MESSAGES".into(), "2".into()));
    let _bot = cluster.bot().await;
    let a = cluster.gateway().await;
    let b = cluster.gateway().await;
    cluster.wait_room(&a, "lobby").await;
    cluster.wait_room(&b, "lobby").await;
    let token = "two-gateways-device-0001";
    let mut on_a = device_client(a.addr.unwrap(), token).await;
    on_a.join("lobby", "Roamer").await;
    on_a.say("first, on a").await;
    assert_eq!(attempt(&mut on_a, "https://example.net").await["code"], "links_not_yet");
    drop(on_a);
    // On the other gateway the visitor is as new: one message of two sent.
    let mut on_b = device_client(b.addr.unwrap(), token).await;
    on_b.join("lobby", "RoamerB").await;
    assert_eq!(attempt(&mut on_b, "https://example.net").await["code"], "links_not_yet");
    on_b.say("second, on b").await;
    // The second message (counted on Redis) ended the tier on every gateway.
    assert_eq!(attempt(&mut on_b, "https://example.net").await["type"], "ack");
    let mut back_on_a = device_client(a.addr.unwrap(), token).await;
    back_on_a.join("lobby", "Roamer2").await;
    assert_eq!(attempt(&mut back_on_a, "https://example.net/a").await["type"], "ack");
    // Staff trust reaches every gateway at once over Redis.
    cluster.cli(&["links", "allow", "example.com"]).await;
    let mut fresh = device_client(b.addr.unwrap(), "two-gateways-device-0002").await;
    fresh.join("lobby", "Fresh").await;
    until_accepted(&mut fresh, "https://www.example.com/x", "links_not_yet").await;
    drop((on_b, back_on_a, fresh, a, b, _bot));
    cluster.finish().await;
}
