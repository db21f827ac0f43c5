//! Staff messages, edits and deletions in Discord reaching web rooms.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use serde_json::json;

use super::*;
use crate::support::*;

#[tokio::test]
async fn staff_messages_edits_and_deletions_reach_web_clients_and_a_dropped_gateway_is_survived() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;

    let staff = fake.staff_user();
    let posted = fake.inject_message(channel, &staff, "Welcome! Be nice <@999>.");
    let got = alice.wait_for("message").await;
    assert_eq!(got["staff"], true);
    assert!(got["nick"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(got["text"].as_str().unwrap().starts_with("Welcome! Be nice"));
    let staff_id = got["id"].as_str().unwrap().to_owned();

    fake.inject_message_update(channel, id_of(&posted), "Welcome, everyone!");
    let edited = alice.wait_for("edited").await;
    assert_eq!((&edited["id"], &edited["text"]), (&json!(staff_id), &json!("Welcome, everyone!")), "{edited}");
    assert!(edited["at"].is_string(), "{edited}");

    // A web message, mirrored, then deleted by a moderator in Discord.
    let web_id = alice.say("this will be removed").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mirrored = loop {
        let found = fake
            .messages_in(channel)
            .into_iter()
            .find(|m| m["embeds"].as_array().into_iter().flatten().any(|e| e["description"] == "this will be removed"));
        if let Some(m) = found {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The gateway connection drops; the bot resumes or re-identifies.
    fake.drop_gateway_connections();
    connected(&fake).await;
    fake.inject_message_delete(channel, id_of(&mirrored));
    let deleted = alice.wait_for("deleted").await;
    assert_eq!(deleted, json!({"type": "deleted", "id": web_id}));
    // Joiners no longer see it in history.
    let (_bob, joined) = app.joined("lobby", "Bob").await;
    let history: Vec<&str> =
        joined["history"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert!(!history.contains(&"this will be removed"), "{history:?}");
    assert!(history.contains(&"Welcome, everyone!"), "{history:?}");
}
