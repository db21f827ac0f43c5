//! `say {reply_to}`: the reply carries `{id, nick, excerpt}` of a message of the same room.

use serde_json::json;

use super::{answer, delete};
use crate::moderation::spawn_behind_proxy;
use crate::support::Client;

#[tokio::test]
async fn a_reply_names_what_it_answers_and_only_what_this_room_shows() {
    let app = spawn_behind_proxy(&[]).await;
    let mut alice = Client::connect_from(app.addr, "198.51.100.11").await.unwrap();
    assert_eq!(alice.hello["limits"]["edit_window_secs"], 300);
    alice.join("lobby", "Alice").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.12").await.unwrap();
    bob.join("lobby", "Bob").await;
    let long = format!("{} and more", "é".repeat(90));
    let original = alice.say(&long).await;
    bob.wait_message(&original).await;

    bob.send(json!({"type": "say", "text": "agreed", "reply_to": original, "client_id": "r1"})).await;
    let ack = bob.wait_for("ack").await;
    let reply = alice.wait_message(ack["id"].as_str().unwrap()).await;
    assert_eq!(reply["reply_to"]["id"], original.as_str());
    assert_eq!(reply["reply_to"]["nick"], "Alice");
    let excerpt = reply["reply_to"]["excerpt"].as_str().unwrap();
    assert_eq!(excerpt, "é".repeat(80), "the first 80 characters");

    // A joiner answers a message it only saw in the history (looked up there).
    let mut carol = Client::connect_from(app.addr, "198.51.100.13").await.unwrap();
    let joined = carol.join("lobby", "Carol").await;
    assert!(joined["history"].as_array().unwrap().iter().any(|m| m["id"] == original.as_str()));
    carol.send(json!({"type": "say", "text": "me too", "reply_to": original})).await;
    let ack = carol.wait_for("ack").await;
    let reply = alice.wait_message(ack["id"].as_str().unwrap()).await;
    assert_eq!(reply["reply_to"]["nick"], "Alice");
    // The history keeps it.
    let (_, later) = app.joined("lobby", "Dave").await;
    let kept = later["history"].as_array().unwrap().iter().find(|m| m["text"] == "me too").cloned().unwrap();
    assert_eq!(kept["reply_to"]["id"], original.as_str());

    // Unknown, or from another room, or taken down: refused, with the client_id.
    let refused =
        answer(&mut bob, json!({"type": "say", "text": "x", "reply_to": ulid::Ulid::new(), "client_id": "r2"})).await;
    assert_eq!(
        (refused["code"].as_str(), refused["client_id"].as_str()),
        (Some("unknown_message"), Some("r2")),
        "{refused}"
    );
    let mut elsewhere = Client::connect_from(app.addr, "198.51.100.14").await.unwrap();
    elsewhere.join("chill", "Eve").await;
    let refused = answer(&mut elsewhere, json!({"type": "say", "text": "x", "reply_to": original})).await;
    assert_eq!(refused["code"], "unknown_message", "{refused}");
    let gone = alice.say("oops").await;
    bob.wait_message(&gone).await;
    alice.send(delete(&gone)).await;
    super::wait_about(&mut bob, "deleted", &gone).await;
    let refused = answer(&mut bob, json!({"type": "say", "text": "x", "reply_to": gone})).await;
    assert_eq!(refused["code"], "unknown_message", "{refused}");
    // A malformed id is a bad frame.
    let refused = answer(&mut bob, json!({"type": "say", "text": "x", "reply_to": "nope"})).await;
    assert_eq!(refused["code"], "bad_frame", "{refused}");
}
