//! Web messages mirrored into Discord: one embed each, in order, within the rate limit,
//! without duplicates across a restart, and a notice when a room outruns Discord.

use std::collections::HashMap;
use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use super::*;
use crate::cluster::Cluster;
use crate::support::*;

/// Every "burst N" number found in a channel's messages, in order of appearance.
fn burst_numbers(messages: &[Value]) -> Vec<u32> {
    let mut out = Vec::new();
    for m in messages {
        for e in m["embeds"].as_array().into_iter().flatten() {
            let text = e["description"].as_str().unwrap_or_default();
            for part in text.split("burst ").skip(1) {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse() {
                    out.push(n);
                }
            }
        }
    }
    out
}

async fn wait_bursts(fake: &FakeDiscord, channel: u64, n: u32) -> Vec<u32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let got = burst_numbers(&fake.messages_in(channel));
        if got.len() >= n as usize {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {} of {n} messages reached Discord", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_web_message_arrives_as_exactly_one_embed_with_nothing_parsed() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let id = alice.say("@everyone <@123> **bold**").await;

    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.messages_in(channel).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was mirrored: {:#?}",
            fake.requests()
                .iter()
                .map(|r| format!("{} {} {} {}", r.method, r.path, r.status, r.body))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = fake.messages_in(channel);
    assert_eq!(messages.len(), 1, "exactly one Discord message: {messages:?}");
    let embeds = messages[0]["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    assert_eq!(embed["author"]["name"], "Alice");
    assert_eq!(embed["description"], "\\@everyone \\<\\@123\\> \\*\\*bold\\*\\*");
    let footer = embed["footer"]["text"].as_str().unwrap();
    assert!(footer.ends_with("· #lobby"), "{footer}");
    assert!(!footer.contains("127.0.0.1"), "staff never see the address: {footer}");
    assert!(embed["color"].as_u64().is_some() && embed["timestamp"].is_string());

    let posts = fake.requests_to("POST", &format!("/channels/{channel}/messages"));
    let body = &posts[0].body;
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(body["enforce_nonce"], true);
    let nonce = body["nonce"].as_str().unwrap();
    assert!(nonce.chars().count() <= 25 && id.ends_with(nonce), "nonce {nonce} from id {id}");

    // The log maps the web message to the Discord message carrying it.
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT discord_message_id, ip_tag FROM message_log WHERE id = '{id}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "discord_message_id").unwrap() as u64, id_of(&messages[0]));
    assert!(footer.starts_with(&row.try_get::<String>("", "ip_tag").unwrap()));
}

#[tokio::test]
async fn a_burst_of_200_in_10_s_arrives_complete_in_order_without_duplicates_within_the_rate_limit() {
    let fake = FakeDiscord::start(FakeConfig::default()).await; // 5 messages per 5 s per channel
    let app = app_with_discord(&fake, &[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let started = tokio::time::Instant::now();
    for i in 0..200u32 {
        alice.send(json!({"type": "say", "text": format!("burst {i}")})).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = wait_bursts(&fake, channel, 200).await;
    assert_eq!(got, (0..200).collect::<Vec<_>>(), "complete, in order, no duplicates");
    let windows = started.elapsed().as_secs() / 5 + 1;
    let limited = fake.rate_limited_count() as u64;
    assert!(limited <= windows, "{limited} rate-limited requests in {windows} bucket windows");
}

#[tokio::test]
async fn killing_the_bot_mid_burst_and_restarting_it_duplicates_nothing_in_discord() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let mut cluster = Cluster::new().await;
    cluster.env = discord_env(&fake);
    let mut bot = cluster.bot().await;
    let gateway = cluster.gateway().await;
    cluster.wait_room(&gateway, "lobby").await;
    let channel = channel_for(&fake, "lobby").await;
    let mut alice = gateway.client().await;
    alice.join("lobby", "Alice").await;
    for i in 0..60u32 {
        alice.send(json!({"type": "say", "text": format!("burst {i}")})).await;
    }
    // Kill the bot once part of the burst is in Discord.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while burst_numbers(&fake.messages_in(channel)).len() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "nothing was mirrored before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.kill().await;
    let _bot = cluster.bot().await;
    let got = wait_bursts(&fake, channel, 60).await;
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for n in &got {
        *counts.entry(*n).or_default() += 1;
    }
    assert!(counts.values().all(|c| *c == 1), "duplicates in Discord: {counts:?}");
    assert_eq!(got, (0..60).collect::<Vec<_>>());
    cluster.wait_logged(60).await;
    cluster.finish().await;
}

#[tokio::test]
async fn a_room_that_outruns_discord_gets_one_notice_naming_the_skipped_range() {
    let fake = FakeDiscord::start(FakeConfig {
        message_rate_limit: 1,
        message_rate_window: Duration::from_secs(4),
        ..FakeConfig::default()
    })
    .await;
    let app = app_with_discord(&fake, &[("DISCORD_MAX_LAG_SECS", "1")]).await;
    let channel = channel_for(&fake, "lobby").await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    alice.say("first").await;
    // Wait until the first post used the whole bucket, then outrun it.
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.messages_in(channel).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "nothing was mirrored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(alice.say(&format!("late {i}")).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let notice = loop {
        let notices: Vec<Value> = fake
            .messages_in(channel)
            .into_iter()
            .filter(|m| m["content"].as_str().is_some_and(|c| c.contains("were not mirrored")))
            .collect();
        if let Some(n) = notices.first() {
            break n["content"].as_str().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no lag notice: {:?}", fake.messages_in(channel));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(notice.contains(&ids[0]) && notice.contains(&ids[29]), "{notice}");
    assert!(notice.contains("30 messages"), "{notice}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let notices = fake
        .messages_in(channel)
        .iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains("were not mirrored")))
        .count();
    assert_eq!(notices, 1, "one notice only");
    // The log keeps everything.
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM message_log".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 31);
}
