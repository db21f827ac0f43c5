//! Moderators' reactions in Discord shown on the web as staff reactions (issue 29): on the last
//! web message a mirrored Discord message carries, taken back when removed; nobody else's count.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use super::*;
use crate::support::*;

/// The Discord message that carries `text`, once the log knows it carries it.
async fn carrier(app: &TestApp, fake: &FakeDiscord, channel: u64, id: &str, text: &str) -> Value {
    let db = app.db().await;
    let sql = format!("SELECT discord_message_id FROM message_log WHERE id = '{id}'");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let logged = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql.clone()))
            .await
            .unwrap()
            .and_then(|row| row.try_get::<Option<i64>>("", "discord_message_id").ok().flatten());
        let found = fake.messages_in(channel).into_iter().find(|m| m["embeds"].to_string().contains(text));
        if let (Some(discord), Some(m)) = (logged, found)
            && u64::try_from(discord).ok() == Some(id_of(&m))
        {
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text} was never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Skip frames until a `reactions` frame arrives.
async fn next_reactions(client: &mut Client) -> Value {
    client.wait_for("reactions").await
}

#[tokio::test]
async fn a_moderators_discord_reaction_shows_on_the_web_as_staff_and_goes_when_removed() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    // Three quick messages: the mirror may carry several in one Discord message.
    let texts = ["first of three", "second of three", "third of three"];
    let mut ids = Vec::new();
    for text in texts {
        ids.push(alice.say(text).await);
    }
    let last = carrier(&app, &fake, channel, &ids[2], texts[2]).await;
    // The web message a reaction on it lands on: the last one it carries.
    let carried = texts.iter().zip(&ids).filter(|(t, _)| last["embeds"].to_string().contains(*t));
    let target = carried.map(|(_, id)| id.clone()).max().unwrap();
    assert_eq!(target, ids[2]);

    // Someone who is no moderator, and the bot itself: nothing reaches the web.
    let visitor = fake.add_user("lurker", &[]);
    assert!(fake.inject_reaction_add(channel, id_of(&last), &visitor, "👎"));
    let staff = fake.staff_user();
    assert!(fake.inject_reaction_add(channel, id_of(&last), &staff, "👍"));
    let shown = next_reactions(&mut alice).await;
    assert_eq!(shown, json!({"type": "reactions", "id": target, "counts": {}, "staff": ["👍"]}));
    // A custom emoji shows by its name.
    assert!(fake.inject_reaction_add(channel, id_of(&last), &staff, "party:4242"));
    assert_eq!(next_reactions(&mut alice).await["staff"], json!([":party:", "👍"]));

    // A joiner's history shows them; visitors' counts are apart from staff's.
    let (mut bob, joined) = app.joined("lobby", "Bob").await;
    let message = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == target.as_str()).unwrap().clone();
    assert_eq!(message["reactions"], json!({"counts": {}, "staff": [":party:", "👍"]}));
    bob.send(json!({"type": "react", "id": target, "emoji": "👍"})).await;
    let both = loop {
        let frame = next_reactions(&mut alice).await;
        if frame["counts"] == json!({"👍": 1}) {
            break frame;
        }
    };
    assert_eq!(both["staff"], json!([":party:", "👍"]));

    // Removed in Discord: gone from the web.
    assert!(fake.inject_reaction_remove(channel, id_of(&last), &staff, "👍"));
    let after = loop {
        let frame = next_reactions(&mut alice).await;
        if frame["staff"] == json!([":party:"]) {
            break frame;
        }
    };
    assert_eq!(after["counts"], json!({"👍": 1}));
    assert!(fake.inject_reaction_remove(channel, id_of(&last), &staff, "party:4242"));
    let cleared = loop {
        let frame = next_reactions(&mut alice).await;
        if frame.get("staff").is_none() {
            break frame;
        }
    };
    assert_eq!(cleared, json!({"type": "reactions", "id": target, "counts": {"👍": 1}}));
    // The lurker's reaction never counted.
    let (_carol, joined) = app.joined("lobby", "Carol").await;
    let message = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == target.as_str()).unwrap().clone();
    assert_eq!(message["reactions"], json!({"counts": {"👍": 1}}));
}
