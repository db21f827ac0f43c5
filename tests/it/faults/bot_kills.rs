//! Fault 1: the bot SIGKILLed mid-burst three times in a row, with two rooms chatting and the
//! mirror busy: every accepted message is logged once and posted to Discord once, each room in
//! its order.

use std::collections::HashMap;
use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord};

use super::*;
use crate::discord::channel_for;

#[tokio::test]
async fn a_bot_killed_three_times_mid_burst_logs_and_mirrors_every_message_once_in_order() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let cluster = discord_cluster(&fake, None).await;
    let mut bot = cluster.bot().await;
    let gateway = cluster.gateway().await;
    cluster.cli(&["rooms", "add", "second", "--capacity", "10"]).await;
    cluster.wait_room(&gateway, "lobby").await;
    cluster.wait_room(&gateway, "second").await;
    let channels = [channel_for(&fake, "lobby").await, channel_for(&fake, "second").await];

    let every = Duration::from_millis(15);
    let senders = [
        Sender::start(gateway.addr.unwrap(), "lobby", "One", every).await,
        Sender::start(gateway.addr.unwrap(), "second", "Two", every).await,
    ];
    for kill in 1..=3 {
        // Let the bot get some of the burst logged and into Discord, then kill it mid-way.
        let before = cluster.logged().await.0;
        let mirrored = numbers_in(&fake.messages_in(channels[0]), "lobby").len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while cluster.logged().await.0 < before + 20
            || numbers_in(&fake.messages_in(channels[0]), "lobby").len() <= mirrored
        {
            assert!(tokio::time::Instant::now() < deadline, "the bot made no progress before kill {kill}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bot.kill().await;
        bot = cluster.bot().await;
    }
    let mut sent = Vec::new();
    for sender in senders {
        sent.push(sender.stop().await);
    }

    for ((room, channel), sent) in ["lobby", "second"].into_iter().zip(channels).zip(sent.iter().copied()) {
        assert_eq!((sent.acked, sent.unavailable), (sent.sent, 0), "{room}: every message was accepted");
        let got = wait_mirrored(&fake, channel, room, sent.sent as usize, Duration::from_secs(60)).await;
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for n in &got {
            *counts.entry(*n).or_default() += 1;
        }
        assert!(counts.values().all(|c| *c == 1), "{room}: duplicates in Discord: {got:?}");
        assert_eq!(got, (0..sent.sent).collect::<Vec<_>>(), "{room}: complete and in order in Discord");
    }
    cluster.wait_logged(i64::from(sent[0].sent + sent[1].sent)).await;
    for (room, sent) in ["lobby", "second"].into_iter().zip(&sent) {
        assert_eq!(
            logged_texts(&cluster.database_url, room).await,
            expected_texts(room, sent.sent),
            "{room} in the log"
        );
    }
    drop(bot);
    cluster.finish().await;
}
