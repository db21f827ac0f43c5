//! Split deployment with the real binaries: gateways and bots as separate processes on real
//! Redis and real PostgreSQL.

use std::time::Duration;

use serde_json::json;

use crate::cluster::Cluster;
use crate::redis_server::{Persistence, RedisServer};
use crate::support::*;

#[tokio::test]
async fn clients_on_two_gateways_chat_and_capacity_holds_across_them() {
    let cluster = Cluster::new().await;
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;

    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    let mut bob = g2.client().await;
    let joined = bob.join("lobby", "Bob").await;
    assert_eq!(joined["members"].as_array().unwrap().len(), 2, "members span gateways: {joined}");
    loop {
        let p = alice.wait_for("presence").await;
        if p["nick"] == "Bob" {
            break;
        }
    }
    let id = alice.say("from gateway one").await;
    let got = bob.wait_for("message").await;
    assert_eq!((got["id"].as_str(), got["text"].as_str()), (Some(id.as_str()), Some("from gateway one")));
    let id = bob.say("and back from two").await;
    loop {
        // Alice's own message may still be ahead of Bob's.
        let m = alice.wait_for("message").await;
        if m["id"] == id.as_str() {
            assert_eq!(m["nick"], "Bob");
            break;
        }
    }
    // Nicknames are unique across gateways too.
    let mut copycat = g2.client().await;
    copycat.send(json!({"type": "join", "room": "lobby", "nick": "alice"})).await;
    copycat.expect_error("nick_taken").await;

    // A room of 3, five people joining at once through both gateways: exactly 3 get in.
    cluster.cli(&["rooms", "add", "trio", "--capacity", "3"]).await;
    cluster.wait_room(&g1, "trio").await;
    cluster.wait_room(&g2, "trio").await;
    let mut clients = Vec::new();
    for i in 0..5 {
        clients.push(if i % 2 == 0 { g1.client().await } else { g2.client().await });
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(json!({"type": "join", "room": "trio", "nick": format!("P{i}")})).await;
    }
    let (mut joined, mut full) = (0, 0);
    for c in &mut clients {
        loop {
            let f = c.next().await;
            match f["type"].as_str() {
                Some("joined") => {
                    joined += 1;
                    break;
                }
                Some("error") => {
                    assert_eq!(f["code"], "room_full", "{f}");
                    full += 1;
                    break;
                }
                _ => continue,
            }
        }
    }
    assert_eq!((joined, full), (3, 2));
    assert_eq!(cluster.members(&g1, "trio").await, 3);
    cluster.wait_logged(2).await;
    cluster.finish().await;
}

#[tokio::test]
async fn a_killed_gateway_frees_its_seats_within_the_presence_ttl() {
    let cluster = Cluster::new().await;
    let _bot = cluster.bot().await;
    let (mut g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    let (mut a, mut b) = (g1.client().await, g1.client().await);
    a.join("lobby", "Doomed1").await;
    b.join("lobby", "Doomed2").await;
    let mut c = g2.client().await;
    c.join("lobby", "Survivor").await;
    assert_eq!(cluster.members(&g2, "lobby").await, 3);
    g1.kill().await;
    // PRESENCE_TTL_SECS is 2 in these tests.
    let deadline = tokio::time::Instant::now() + WAIT;
    while cluster.members(&g2, "lobby").await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the dead gateway's seats never lapsed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The nickname is free again.
    let mut d = g2.client().await;
    d.join("lobby", "Doomed1").await;
    cluster.finish().await;
}

#[tokio::test]
async fn chat_goes_on_while_the_bot_is_down_and_everything_is_logged_after_it_returns() {
    let cluster = Cluster::new().await;
    let mut bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    let mut bob = g2.client().await;
    bob.join("lobby", "Bob").await;
    bot.stop().await;
    for i in 0..20 {
        let id = alice.say(&format!("while the bot is away {i}")).await;
        loop {
            let m = bob.wait_for("message").await;
            if m["id"] == id.as_str() {
                break;
            }
        }
    }
    assert_eq!(cluster.logged().await.0, 0, "nobody logs while the bot is down");
    let _bot = cluster.bot().await;
    cluster.wait_logged(20).await;
    cluster.finish().await;
}

#[tokio::test]
async fn a_bot_killed_mid_burst_of_500_logs_every_message_exactly_once_after_restart() {
    let cluster = Cluster::new().await;
    let mut bot = cluster.bot().await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Burst").await;
    for i in 0..500 {
        alice.send(json!({"type": "say", "text": format!("burst {i}"), "client_id": i.to_string()})).await;
    }
    let mut acked = 0;
    let mut killed = false;
    while acked < 500 {
        let f = alice.next().await;
        match f["type"].as_str() {
            Some("ack") => acked += 1,
            Some("error") => panic!("a burst message was refused: {f}"),
            _ => {}
        }
        if acked == 150 && !killed {
            bot.kill().await;
            killed = true;
        }
    }
    let logged_before_restart = cluster.logged().await.0;
    assert!(logged_before_restart < 500, "the bot was killed before logging everything");
    let _bot = cluster.bot().await;
    cluster.wait_logged(500).await;
    cluster.finish().await;
}

#[tokio::test]
async fn a_standby_bot_takes_over_when_the_leader_is_killed() {
    let cluster = Cluster::new().await;
    let mut leader = cluster.bot().await;
    let standby = cluster.standby_bot().await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    alice.say("before the takeover").await;
    cluster.wait_logged(1).await;
    leader.kill().await;
    standby.wait_log("this bot now leads").await;
    alice.say("after the takeover").await;
    cluster.wait_logged(2).await;
    cluster.finish().await;
}

#[tokio::test]
async fn gateways_refuse_honestly_while_redis_is_away_and_recover_when_it_returns() {
    let mut redis = RedisServer::start(Persistence::None).await;
    let cluster = Cluster::with_redis(redis.url()).await;
    let _bot = cluster.bot().await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    alice.say("before the outage").await;
    let (status, _, _) = http_get(g1.addr.unwrap(), "/readyz").await;
    assert_eq!(status, 200);

    redis.kill().await;
    alice.send(json!({"type": "say", "text": "during the outage", "client_id": "x"})).await;
    let e = alice.expect_error("unavailable").await;
    assert_eq!(e["client_id"], "x");
    let (status, _, body) = http_get(g1.addr.unwrap(), "/readyz").await;
    assert_eq!(status, 503, "{body}");

    redis.restart().await;
    // Back within the reconnect backoff: the same socket can chat again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        alice.send(json!({"type": "say", "text": "after the outage", "client_id": "y"})).await;
        let f = loop {
            let f = alice.next().await;
            if matches!(f["type"].as_str(), Some("ack" | "error")) {
                break f;
            }
        };
        if f["type"] == "ack" {
            break;
        }
        assert_eq!(f["code"], "unavailable", "{f}");
        assert!(tokio::time::Instant::now() < deadline, "never recovered from the outage");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while http_get(g1.addr.unwrap(), "/readyz").await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "readyz never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.wait_logged(2).await;
    cluster.finish().await;
}
