//! Fault 2: Redis SIGKILLed and restarted, with its data (append-only file, fsync always) and
//! without (its files deleted): senders are told `unavailable` meanwhile, both gateways and the
//! bot are back within 5 s, every acknowledged message is logged exactly once, and a visitor
//! room and a roulette pair across the gateways live on and a waiting stranger is paired.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::cluster::{Cluster, Proc};
use crate::redis_loss::{create_room, matched, send_until, wait_known};
use crate::redis_server::{Persistence, RedisServer};
use crate::support::Client;

/// Say `text`; the id when acknowledged, the error frame when refused.
async fn try_say(client: &mut Client, text: &str) -> Result<String, Value> {
    let client_id = ulid::Ulid::new().to_string();
    client.send(json!({"type": "say", "text": text, "client_id": client_id})).await;
    loop {
        let frame = client.next().await;
        if frame["client_id"] != client_id.as_str() {
            continue;
        }
        return match frame["type"].as_str() {
            Some("ack") => Ok(frame["id"].as_str().unwrap().to_owned()),
            _ => Err(frame),
        };
    }
}

/// Say `text` until it is acknowledged, for at most `within`; each refusal must be `unavailable`.
async fn say_until_acked(client: &mut Client, text: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match try_say(client, text).await {
            Ok(_) => return,
            Err(frame) => assert_eq!(frame["code"], "unavailable", "{frame}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "still refused after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_killed_and_restarted_with_its_data_loses_no_acknowledged_message() {
    redis_killed_and_restarted(true).await;
}

/// The same without Redis's data: the gateways queue again what the bot had not logged and
/// put back the rooms, seats and tickets the bus lost.
#[tokio::test]
async fn redis_killed_and_restarted_empty_loses_no_acknowledged_message() {
    redis_killed_and_restarted(false).await;
}

async fn redis_killed_and_restarted(with_data: bool) {
    let mut redis = RedisServer::start(Persistence::AppendOnly).await;
    let cluster = Cluster::with_redis(redis.url()).await;
    let bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    let mut bob = g2.client().await;
    bob.join("lobby", "Bob").await;
    let mut others = Others::start(&g1, &g2).await;

    // A burst, then the kill right behind it: some of it is acknowledged but not yet logged.
    for i in 0..50 {
        alice.send(json!({"type": "say", "text": format!("lobby {i}"), "client_id": i.to_string()})).await;
    }
    let mut acked = 0;
    while acked < 50 {
        let frame = alice.next().await;
        match frame["type"].as_str() {
            Some("ack") => acked += 1,
            Some("error") => panic!("{frame}"),
            _ => {}
        }
    }
    redis.kill().await;
    for client in [&mut alice, &mut bob] {
        let refused = try_say(client, "while Redis is away").await.unwrap_err();
        assert_eq!(refused["code"], "unavailable", "{refused}");
    }

    if with_data {
        redis.restart().await;
    } else {
        redis.restart_empty().await;
    }
    // Both gateways take messages again within 5 s, on the sockets they had.
    say_until_acked(&mut alice, "lobby 50", Duration::from_secs(5)).await;
    say_until_acked(&mut bob, "lobby 51", Duration::from_secs(5)).await;
    // The bot is back too: the last one is logged within 5 s of its acknowledgement.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !logged_texts(&cluster.database_url, "lobby").await.contains(&"lobby 51".to_owned()) {
        assert!(tokio::time::Instant::now() < deadline, "the bot did not log within 5 s:\n{}", bot.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    others.live_on().await;
    cluster.wait_logged(52 + Others::SAID).await;
    // Once each (the last two came through different gateways: their ids need not be in order).
    let mut logged = logged_texts(&cluster.database_url, "lobby").await;
    assert_eq!(logged.len(), 52, "{logged:?}");
    let mut expected = expected_texts("lobby", 52);
    logged.sort();
    expected.sort();
    assert_eq!(logged, expected);
    drop((bot, g1, g2));
    cluster.finish().await;
}

/// A visitor room and a roulette pair, each with a member on either gateway, and a stranger
/// waiting on the first gateway.
struct Others {
    alice: Client,
    bob: Client,
    ron: Client,
    rita: Client,
    will: Client,
    wanda: Client,
}

impl Others {
    /// Messages [`Others::live_on`] has acknowledged.
    const SAID: i64 = 2;

    async fn start(g1: &Proc, g2: &Proc) -> Self {
        let mut alice = g1.client().await;
        let room = create_room(&mut alice, "Book club", 5).await;
        alice.join(&room, "Alice").await;
        wait_known(g2, &room).await;
        let mut bob = g2.client().await;
        bob.join(&room, "Bob").await;
        let (mut ron, mut rita) = (g1.client().await, g2.client().await);
        ron.send(json!({"type": "roulette", "nick": "Ron", "interests": []})).await;
        ron.wait_for("waiting").await;
        rita.send(json!({"type": "roulette", "nick": "Rita", "interests": []})).await;
        matched(&mut ron).await;
        matched(&mut rita).await;
        let mut will = g1.client().await;
        will.send(json!({"type": "roulette", "nick": "Will", "interests": []})).await;
        will.wait_for("waiting").await;
        let wanda = g2.client().await;
        Self { alice, bob, ron, rita, will, wanda }
    }

    /// The room and the pair carry messages across the gateways, and a newcomer is paired
    /// with the stranger who was waiting.
    async fn live_on(&mut self) {
        let id = crate::redis_loss::say_until_acked(&mut self.alice, "still reading").await;
        assert_eq!(self.bob.wait_message(&id).await["nick"], "Alice");
        let id = crate::redis_loss::say_until_acked(&mut self.ron, "still paired").await;
        assert_eq!(self.rita.wait_message(&id).await["nick"], "Ron");
        let frame = json!({"type": "roulette", "nick": "Wanda", "interests": []});
        let m = send_until(&mut self.wanda, frame, "matched").await;
        assert_eq!(m["stranger"], "Will", "{m}");
        assert_eq!(matched(&mut self.will).await["stranger"], "Wanda");
    }
}
