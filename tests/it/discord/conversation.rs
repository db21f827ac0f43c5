//! Replies, edits and deletions between the web and Discord (issue 29): a web reply is mirrored
//! as a Discord reply to the embed carrying the original, a moderator's Discord reply reaches the
//! web as a reply; an author's edit edits the embed and its deletion marks it, while the log
//! keeps every text.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use super::*;
use crate::conversation::wait_about;
use crate::support::*;

/// The Discord message in `channel` one of whose embeds satisfies `check`.
async fn mirrored(fake: &FakeDiscord, channel: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let found = fake
        .wait_for(
            |f| f.messages_in(channel).into_iter().find(|m| m["embeds"].as_array().into_iter().flatten().any(&check)),
            WAIT,
        )
        .await;
    found.unwrap_or_else(|| panic!("{what}: never seen in Discord: {:#?}", fake.messages_in(channel)))
}

fn described(text: &str) -> impl Fn(&Value) -> bool + '_ {
    move |e| e["description"].as_str().is_some_and(|d| d.ends_with(text))
}

#[tokio::test]
async fn a_reply_is_mirrored_as_a_discord_reply_and_a_moderators_reply_comes_back_as_one() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let (mut bob, _) = app.joined("lobby", "Bob").await;
    let original = alice.say("is anyone here").await;
    let carrier = mirrored(&fake, channel, "the original", described("is anyone here")).await;

    bob.send(json!({"type": "say", "text": "yes, me", "reply_to": original})).await;
    let reply = mirrored(&fake, channel, "the reply", described("yes, me")).await;
    assert_eq!(reply["message_reference"]["message_id"], carrier["id"], "{reply:#}");
    assert_eq!(reply["type"], 19, "a Discord reply");
    let quote = reply["embeds"][0]["description"].as_str().unwrap();
    assert!(quote.starts_with("↪ Alice\\: is anyone here\n"), "{quote}");
    let posted = fake.requests_to("POST", &format!("/channels/{channel}/messages"));
    assert!(posted.iter().all(|r| r.body["allowed_mentions"] == json!({"parse": []})));

    // A moderator answers the original's embed in Discord: the web sees a reply to it.
    let staff = fake.staff_user();
    fake.inject_reply(channel, &staff, "welcome, Alice", id_of(&carrier));
    let got = loop {
        let frame = alice.wait_for("message").await;
        if frame["staff"] == true {
            break frame;
        }
    };
    assert_eq!(got["text"], "welcome, Alice");
    assert_eq!(got["reply_to"], json!({"id": original, "nick": "Alice", "excerpt": "is anyone here"}));
    // A moderator's reply to the reply's Discord message names bob's message.
    fake.inject_reply(channel, &staff, "thanks Bob", id_of(&reply));
    let got = loop {
        let frame = bob.wait_for("message").await;
        if frame["staff"] == true && frame["text"] == "thanks Bob" {
            break frame;
        }
    };
    assert_eq!(got["reply_to"]["nick"], "Bob");
    assert_eq!(got["reply_to"]["excerpt"], "yes, me");
}

#[tokio::test]
async fn an_edit_edits_the_embed_and_a_deletion_marks_it_while_the_log_keeps_the_original() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let (mut bob, _) = app.joined("lobby", "Bob").await;
    let id = alice.say("meet at noon").await;
    let carrier = mirrored(&fake, channel, "the message", described("meet at noon")).await;

    alice.send(json!({"type": "edit", "id": id, "text": "meet at one"})).await;
    assert_eq!(wait_about(&mut bob, "edited", &id).await["text"], "meet at one");
    let edited = mirrored(&fake, channel, "the edit", described("meet at one *(edited)*")).await;
    assert_eq!(edited["id"], carrier["id"], "the same Discord message, edited in place");
    let patches = fake.requests_to("PATCH", &format!("/channels/{channel}/messages/{}", id_of(&carrier)));
    assert_eq!(patches.len(), 1, "one request per change");
    assert_eq!(patches[0].body["allowed_mentions"], json!({"parse": []}));

    alice.send(json!({"type": "delete", "id": id})).await;
    wait_about(&mut bob, "deleted", &id).await;
    let marked = mirrored(&fake, channel, "the deletion", described("~~meet at one~~ *(deleted by its author)*")).await;
    assert_eq!(marked["id"], carrier["id"]);
    let (_, joined) = app.joined("lobby", "Carol").await;
    assert!(!joined["history"].as_array().unwrap().iter().any(|m| m["id"] == id.as_str()));

    // The log kept the original text and every change.
    let db = app.db().await;
    let query = format!("SELECT text_before FROM message_edits WHERE message_id = '{id}' ORDER BY at");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), query)).await.unwrap();
    let before: Vec<Option<String>> = rows.iter().map(|r| r.try_get("", "text_before").unwrap()).collect();
    assert_eq!(before, vec![Some("meet at noon".to_owned()), Some("meet at one".to_owned())]);
    // Nothing else was posted for it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let carrying: Vec<Value> = fake
        .messages_in(channel)
        .into_iter()
        .filter(|m| {
            m["embeds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["description"].as_str().is_some_and(|d| d.contains("meet at")))
        })
        .collect();
    assert_eq!(carrying.len(), 1, "{carrying:#?}");
}
