//! Moderator commands: rooms, kicks, locks and filters, refused to members without permission.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use super::*;
use crate::support::*;

#[tokio::test]
async fn moderator_commands_create_rooms_kick_lock_and_refuse_members_without_permission() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let lobby = channel_for(&fake, "lobby").await;
    let visitor = fake.add_user("just-a-member", &[]);
    let (interaction, _) = fake.inject_slash_command(&visitor, lobby, "bans", Value::Null);
    assert!(answer_of(&fake, interaction).await.contains("may not use this command"));

    let staff = fake.staff_user();
    // Room names autocomplete.
    let options = json!([{"name": "room", "type": 3, "value": "lo", "focused": true}]);
    let (interaction, _) = fake.inject_autocomplete(&staff, lobby, "kick", options);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answers = fake.interaction_responses(interaction);
        if let Some(a) = answers.first() {
            assert_eq!(a["type"], 8, "{a}");
            assert_eq!(a["data"]["choices"][0]["value"], "lobby", "{a}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no autocomplete answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let options = json!([{"name": "create", "type": 1, "options": [
        {"name": "slug", "type": 3, "value": "night-owls"},
        {"name": "capacity", "type": 4, "value": 5},
        {"name": "topic", "type": 3, "value": "late talk"}
    ]}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "room", options);
    assert!(answer_of(&fake, interaction).await.contains("Created room night-owls"));
    channel_for(&fake, "night-owls").await;
    app.eventually("the new room is listed", || async { app.members_of("night-owls").await == Some(0) }).await;
    let (mut owl, _) = app.joined("night-owls", "Owl").await;

    let options = json!([
        {"name": "room", "type": 3, "value": "night-owls"},
        {"name": "nick", "type": 3, "value": "owl"},
        {"name": "reason", "type": 3, "value": "cool down"}
    ]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "kick", options);
    assert!(answer_of(&fake, interaction).await.contains("Kicked Owl"));
    let kicked = owl.wait_for("kicked").await;
    assert_eq!(kicked["reason"], "cool down");

    let options = json!([{"name": "edit", "type": 1, "options": [
        {"name": "slug", "type": 3, "value": "night-owls"},
        {"name": "locked", "type": 5, "value": true}
    ]}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "room", options);
    assert!(answer_of(&fake, interaction).await.contains("locked true"));
    let mut late = app.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        late.send(json!({"type": "join", "room": "night-owls", "nick": "Late"})).await;
        let f = late.next().await;
        if f["code"] == "room_locked" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lock never applied: {f}");
        if f["type"] == "joined" {
            late.send(json!({"type": "leave"})).await;
            late.wait_for("presence").await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The audit log has every moderator action, by Discord user.
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT actor, action FROM audit_log ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "action").unwrap()).collect();
    assert_eq!(actions, ["room_create", "kick", "room_edit"]);
    assert!(rows.iter().all(|r| r.try_get::<String>("", "actor").unwrap().starts_with("discord:")));
}

#[tokio::test]
async fn filters_block_or_mask_messages_on_the_gateway() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    // Adding filters is an admin's call (the server owner here); listing them a moderator's.
    let admin = fake_discord::FakeUser::new(fake.config().owner_id, "guild-owner");
    let staff = fake.staff_user();
    // poise registers choices as integers: 0 = block, 1 = mask.
    let add = |pattern: &str, action: &str, regex: bool| {
        let action = if action == "mask" { 1 } else { 0 };
        json!([{"name": "add", "type": 1, "options": [
            {"name": "pattern", "type": 3, "value": pattern},
            {"name": "action", "type": 4, "value": action},
            {"name": "regex", "type": 5, "value": regex}
        ]}])
    };
    let (i, _) = fake.inject_slash_command(&admin, channel, "filter", add("casino", "block", false));
    assert!(answer_of(&fake, i).await.contains("added"));
    let (i, _) = fake.inject_slash_command(&admin, channel, "filter", add("d[a4]rn", "mask", true));
    assert!(answer_of(&fake, i).await.contains("added"));
    let (i, _) = fake.inject_slash_command(&admin, channel, "filter", add("(", "block", true));
    assert!(answer_of(&fake, i).await.contains("not a valid regular expression"), "bad regexes are refused");

    let (mut c, _) = app.joined("lobby", "Talker").await;
    c.send(json!({"type": "say", "text": "visit my CASINO today", "client_id": "f"})).await;
    assert_eq!(c.expect_error("filtered").await["client_id"], "f");
    let id = c.say("oh d4rn it").await;
    assert_eq!(c.wait_message(&id).await["text"], "oh **** it");
    let (i, _) =
        fake.inject_slash_command(&staff, channel, "filter", json!([{"name": "list", "type": 1, "options": []}]));
    let listed = answer_of(&fake, i).await;
    assert!(listed.contains("casino") && listed.contains("mask"), "{listed}");
}
