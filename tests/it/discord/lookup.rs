//! `/lookup` and `/purge`: a tag's messages without the address, removed everywhere, within
//! the purge's limit.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use super::*;
use crate::support::*;

#[tokio::test]
async fn lookup_shows_a_tags_messages_without_the_address_and_purge_removes_them_everywhere() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let channel = channel_for(&fake, "lobby").await;
    let mut troll = Client::connect_from(app.addr, "203.0.113.66").await.unwrap();
    troll.join("lobby", "Troll").await;
    let mut reader = Client::connect_from(app.addr, "198.51.100.66").await.unwrap();
    reader.join("lobby", "Reader").await;
    let mut ids = Vec::new();
    for text in ["first insult", "second insult"] {
        ids.push(troll.say(text).await);
    }
    // Wait until both are in Discord and mapped.
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let tag: String = loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT ip_tag FROM message_log WHERE id = '{}' AND discord_message_id IS NOT NULL", ids[1]),
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            break row.try_get::<String>("", "ip_tag").unwrap().split(' ').next().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let staff = fake.staff_user();
    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "lookup", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Troll") && answer.contains("second insult"), "{answer}");
    assert!(!answer.contains("203.0.113.66"), "no raw IP: {answer}");
    // The same from a mirrored message's context menu.
    let carrier = fake.messages_in(channel).into_iter().find(|m| m.to_string().contains("first insult")).unwrap();
    let (interaction, _) = fake.inject_message_command(&staff, channel, "Author's recent messages", id_of(&carrier));
    let answer = answer_of(&fake, interaction).await;
    assert!(
        answer.contains("Troll") && answer.contains("first insult") && !answer.contains("203.0.113.66"),
        "{answer}"
    );

    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "purge", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("2 web messages"), "{answer}");
    let mut gone = Vec::new();
    while gone.len() < 2 {
        gone.push(reader.wait_for("deleted").await["id"].as_str().unwrap().to_owned());
    }
    gone.sort();
    ids.sort();
    assert_eq!(gone, ids);
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.messages_in(channel).iter().any(|m| m.to_string().contains("insult")) {
        assert!(tokio::time::Instant::now() < deadline, "the Discord copies were not deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const FLOOD_DELETED: &str = "nickname = 'Flood' AND deleted_at IS NOT NULL";

/// Rows of the message log matching `condition`.
async fn count(db: &sea_orm::DatabaseConnection, condition: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM message_log WHERE {condition}");
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn purge_stops_at_ten_thousand_messages_per_address_and_says_so() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    // 10 001 messages of one address in the last minutes, logged as the bot logs them (from an
    // address that never speaks through the gateway, so the bot's own chain cache stays right).
    let db = app.db().await;
    let tagger = bot::iptag::IpTagger::load(&db, None).await.unwrap();
    let ip: std::net::IpAddr = "203.0.113.77".parse().unwrap();
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let messages: Vec<protocol::LoggedMessage> = (0..10_001i64)
        .map(|i| protocol::LoggedMessage {
            message: protocol::MessageView {
                id: ulid::Ulid::new(),
                room: "lobby".to_owned(),
                nick: "Flood".to_owned(),
                text: format!("flood {i}"),
                at: start + chrono::Duration::milliseconds(i),
                staff: false,
                ..protocol::MessageView::default()
            },
            ip,
            shadow: false,
            device: None,
        })
        .collect();
    let log = bot::message_log::MessageLog::new(db.clone());
    for batch in messages.chunks(500) {
        log.record(batch, &tagger, bot::message_log::Delivery::First).await.unwrap();
    }
    let tag = tagger.tag(ip);
    let staff = fake.staff_user();
    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "purge", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("10000 web messages") && answer.contains("run /purge again"), "{answer}");
    assert_eq!(count(&db, FLOOD_DELETED).await, 10_000);
    // The newest went first; the oldest is what a second run takes.
    let oldest = &messages[0].message.id.to_string();
    assert_eq!(count(&db, &format!("id = '{oldest}' AND deleted_at IS NULL")).await, 1);

    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "purge", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains(" 1 web message of") && !answer.contains("run /purge again"), "{answer}");
    assert_eq!(count(&db, FLOOD_DELETED).await, 10_001);
}
