//! Fault 4: PostgreSQL cut off from the bot (every connection dropped, new ones refused): chat
//! goes on, the bot stops acknowledging the queue, moderator commands answer that the database
//! is unavailable (and do nothing), and everything is logged and mirrored, in order, once the
//! database is back.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord};
use serde_json::{Value, json};

use super::pg_proxy::PgProxy;
use super::*;
use crate::discord::{answer_of, channel_for, connected};

/// How long the database stays cut: 20 s, as the issue asks (longer than every backoff on the
/// way: the command check gives up after 1.5 s, the consumer's retries back off to 2 s, the
/// pool's reconnect backoff to at most 6 s).
const CUT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_postgres_cut_stops_the_log_commands_say_so_and_everything_is_logged_after_it_returns() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let mut cluster = discord_cluster(&fake, None).await;
    let proxy = PgProxy::start(&cluster.database_url).await;
    cluster.env.push(("DATABASE_URL".to_owned(), proxy.url_for(&cluster.database_url)));
    let bot = cluster.bot().await;
    let gateway = cluster.gateway().await;
    cluster.wait_room(&gateway, "lobby").await;
    connected(&fake).await;
    let lobby = channel_for(&fake, "lobby").await;
    let staff = fake.staff_user();
    let mut alice = gateway.client().await;
    alice.join("lobby", "Alice").await;
    alice.say("lobby 0").await;
    cluster.wait_logged(1).await;

    proxy.cut();
    let cut_at = tokio::time::Instant::now();
    // Chat goes on: accepted into the queue, delivered to the room.
    for i in 1..=20 {
        alice.say(&format!("lobby {i}")).await;
    }
    // Moderators are told, and nothing is done.
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "bans", Value::Null);
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Database unavailable: nothing was done"), "{answer}");
    let kick = json!([{"name": "room", "type": 3, "value": "lobby"}, {"name": "nick", "type": 3, "value": "alice"}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "kick", kick.clone());
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Database unavailable"), "{answer}");
    bot.wait_log("refused a command: the database is unavailable").await;
    // The bot holds the batch it took and acknowledges nothing.
    assert_eq!(cluster.logged().await.0, 1, "nothing is logged while the database is cut");
    assert!(pending(&cluster).await > 0, "the batch the bot took waits unacknowledged");
    tokio::time::sleep(CUT.saturating_sub(cut_at.elapsed())).await;
    assert_eq!(cluster.logged().await.0, 1);

    proxy.restore().await;
    cluster.wait_logged(21).await;
    assert_eq!(logged_texts(&cluster.database_url, "lobby").await, expected_texts("lobby", 21));
    let got = wait_mirrored(&fake, lobby, "lobby", 21, Duration::from_secs(30)).await;
    assert_eq!(got, (0..21).collect::<Vec<_>>(), "mirrored once each, in order");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pending(&cluster).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the bot never acknowledged the queue");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Commands work again, and the kick refused during the cut never happened.
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "bans", Value::Null);
    let answer = answer_of(&fake, interaction).await;
    assert!(!answer.contains("unavailable"), "{answer}");
    alice.say("lobby 21").await;
    cluster.wait_logged(22).await;
    drop(bot);
    cluster.finish().await;
}

/// Queue entries delivered to the bot and not acknowledged.
async fn pending(cluster: &crate::cluster::Cluster) -> i64 {
    let client = redis::Client::open(cluster.redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg(format!("{}:inbound", cluster.prefix))
        .arg("bot")
        .query_async(&mut conn)
        .await
        .unwrap();
    match summary {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n,
            other => panic!("unexpected XPENDING answer: {other:?}"),
        },
        other => panic!("unexpected XPENDING answer: {other:?}"),
    }
}
