//! Cheap CPU: frames that cost the server more than they cost the sender.

use serde_json::json;

use super::*;
use crate::moderation::cli;

#[tokio::test]
async fn a_frame_of_thousands_of_interests_is_refused_before_any_is_parsed() {
    let app = spawn_proxied(&[]).await;
    let mut calm = from(&app, "198.51.100.1").await;
    calm.join("lobby", "Calm").await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;

    let mut hostile = from(&app, "203.0.113.5").await;
    // About 11 000 tags in one frame under the 64 KiB limit; duplicates too, which the server
    // used to fold away one by one before counting.
    let tags: Vec<String> = (0..11_000).map(|i| format!("{}{}", char::from(b'a' + (i % 26) as u8), i % 10)).collect();
    let frame = json!({"type": "roulette", "nick": "Hostile", "interests": tags});
    assert!(frame.to_string().len() < 64 * 1024);
    let parsed = counter("chat_interests_parsed_total");
    hostile.send(frame).await;
    let e = hostile.expect_error("bad_frame").await;
    assert!(e["message"].as_str().unwrap().contains("at most 5"), "{e}");
    let six_duplicates = json!({"type": "roulette", "nick": "Hostile", "interests": vec!["a"; 6]});
    hostile.send(six_duplicates).await;
    hostile.expect_error("bad_frame").await;
    assert_eq!(counter("chat_interests_parsed_total"), parsed, "no interest of a refused frame was parsed");
    still_delivered(&mut calm, &mut watcher, "meanwhile").await;

    // The counter does count what is parsed: five tags are fine.
    hostile.send(json!({"type": "roulette", "nick": "Hostile", "interests": ["a", "b", "c", "d", "A"]})).await;
    let waiting = hostile.wait_for("waiting").await;
    assert_eq!(waiting["interests"], json!(["a", "b", "c", "d"]));
    assert_eq!(counter("chat_interests_parsed_total"), parsed + 5.0);
}

#[tokio::test]
async fn typing_shares_a_budget_per_address_and_is_refused_in_locked_rooms() {
    let app = spawn_proxied(&[("SAY_IP_BURST", "3"), ("SAY_IP_PER_SECOND", "0.01")]).await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;
    // Five sockets of one /64, each typing once (each socket relays at most one typing per
    // interval anyway): the /64's budget is three.
    let mut typists = Vec::new();
    for i in 1..=5 {
        let mut c = from(&app, &format!("2001:db8:3:3::{i}")).await;
        c.join("lobby", &format!("Typist{i}")).await;
        typists.push(c);
    }
    let refused_before = counter("chat_refusals_total{code=\"rate_limited\"}");
    for c in &mut typists {
        c.send(json!({"type": "typing"})).await;
    }
    // Each socket answers in order: a ping's pong comes after the typing's refusal, if any.
    let mut refused = 0;
    for c in &mut typists {
        c.send(json!({"type": "ping"})).await;
        loop {
            let f = c.next().await;
            match f["type"].as_str() {
                Some("pong") => break,
                Some("error") => {
                    assert_eq!(f["code"], "rate_limited", "{f}");
                    refused += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!(refused, 2, "three typing frames of five relayed");
    assert_eq!(counter("chat_refusals_total{code=\"rate_limited\"}"), refused_before + 2.0);
    let mut typing = std::collections::HashSet::new();
    while typing.len() < 3 {
        let t = watcher.wait_for("typing").await;
        typing.insert(t["nick"].as_str().unwrap().to_owned());
    }

    // A locked room relays no typing.
    let mut calm = from(&app, "198.51.100.1").await;
    calm.join("lobby", "Calm").await;
    cli(&app, &["rooms", "edit", "lobby", "--locked", "true"]).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        calm.send(json!({"type": "say", "text": "still open?"})).await;
        let f = loop {
            let f = calm.next().await;
            if matches!(f["type"].as_str(), Some("ack" | "error")) {
                break f;
            }
        };
        if f["code"] == "room_locked" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lock never arrived: {f}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    calm.send(json!({"type": "typing"})).await;
    calm.expect_error("room_locked").await;
}
