//! "Ban author" on mirrored messages: sockets closed on every gateway, the right author
//! asked for, actions in the mod log.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};

use super::*;
use crate::cluster::Cluster;
use crate::support::*;

#[tokio::test]
async fn ban_author_closes_the_authors_sockets_on_both_gateways_and_shows_no_raw_ip() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let mut cluster = Cluster::new().await;
    cluster.env = discord_env(&fake);
    cluster.env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;

    let spam_ip = "203.0.113.50";
    let mut spam1 = Client::connect_from(g1.addr.unwrap(), spam_ip).await.unwrap();
    spam1.join("lobby", "Spammer").await;
    let mut spam2 = Client::connect_from(g2.addr.unwrap(), spam_ip).await.unwrap();
    spam2.join("chill", "Spammer").await;
    let mut bob = Client::connect_from(g2.addr.unwrap(), "198.51.100.50").await.unwrap();
    bob.join("lobby", "Bob").await;
    spam1.say("cheap pills").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mirrored = loop {
        if let Some(m) = fake.messages_in(channel).into_iter().next() {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The bot records which Discord message carries the web message right after posting it.
    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    let query = format!("SELECT id FROM message_log WHERE discord_message_id = {}", id_of(&mirrored));
    let deadline = tokio::time::Instant::now() + WAIT;
    while db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the mirror mapping was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await.unwrap();
    let staff = fake.staff_user();
    let (interaction, _) = fake.inject_message_command(&staff, channel, "Ban author", id_of(&mirrored));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Banned Spammer (tag"), "{answer}");
    assert_eq!(spam1.wait_for("kicked").await["type"], "kicked");
    assert_eq!(spam2.wait_for("kicked").await["type"], "kicked");
    assert_eq!(spam1.closed().await, Some(4003));
    assert_eq!(spam2.closed().await, Some(4003));
    for g in [&g1, &g2] {
        let (status, body) = Client::connect_from(g.addr.unwrap(), spam_ip).await.err().expect("refused");
        assert_eq!((status, body["code"].as_str()), (403, Some("banned")));
    }
    let id = bob.say("peace at last").await;
    bob.wait_message(&id).await;

    // Staff never saw the address.
    for request in fake.requests() {
        assert!(
            !request.body.to_string().contains(spam_ip),
            "raw IP sent to Discord: {} {}",
            request.path,
            request.body
        );
    }
    cluster.finish().await;
}

#[tokio::test]
async fn ban_author_asks_which_author_when_a_message_carries_several_and_actions_reach_the_mod_log() {
    // One message per 3 s per channel: a burst from two people coalesces into shared embeds.
    let fake = FakeDiscord::start(FakeConfig {
        message_rate_limit: 1,
        message_rate_window: Duration::from_secs(3),
        ..FakeConfig::default()
    })
    .await;
    let modlog = id_of(&fake.create_channel("mod-log", fake_discord::channel_type::TEXT, None));
    let app = app_with_discord(
        &fake,
        &[("TRUSTED_PROXIES", "127.0.0.1"), ("DISCORD_MODLOG_CHANNEL_ID", &modlog.to_string())],
    )
    .await;
    let channel = channel_for(&fake, "lobby").await;
    let mut alice = Client::connect_from(app.addr, "203.0.113.10").await.unwrap();
    alice.join("lobby", "Alice").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.10").await.unwrap();
    bob.join("lobby", "Bob").await;
    alice.say("warm-up").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.messages_in(channel).is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut last = String::new();
    for i in 0..6 {
        alice.say(&format!("from alice {i}")).await;
        last = bob.say(&format!("from bob {i}")).await;
    }
    // Wait until everything is in Discord and mapped, then pick a message carrying both.
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let query =
        format!("SELECT discord_message_id FROM message_log WHERE id = '{last}' AND discord_message_id IS NOT NULL");
    while db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the burst never reached Discord");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shared = fake
        .messages_in(channel)
        .into_iter()
        .find(|m| {
            let s = m.to_string();
            s.contains("from alice") && s.contains("from bob")
        })
        .expect("a Discord message carrying both authors");

    let staff = fake.staff_user();
    let (interaction, _) = fake.inject_message_command(&staff, channel, "Ban author", id_of(&shared));
    let deadline = tokio::time::Instant::now() + WAIT;
    let menu = loop {
        let responses = fake.interaction_responses(interaction);
        if let Some(r) = responses.iter().find(|r| r.to_string().contains("custom_id")) {
            break r.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no author picker: {responses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let select = &menu["data"]["components"][0]["components"][0];
    let custom_id = select["custom_id"].as_str().unwrap().to_owned();
    let options = select["options"].as_array().unwrap();
    assert_eq!(options.len(), 2, "{select}");
    let bob_tag = options.iter().find(|o| o["label"].as_str().unwrap().starts_with("Bob (")).unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply_message = fake.interaction_messages(interaction).first().map(id_of).unwrap_or_default();
    fake.inject_component(&staff, channel, reply_message, &custom_id, Some(vec![bob_tag.clone()]));

    assert_eq!(bob.wait_for("kicked").await["type"], "kicked");
    assert_eq!(bob.closed().await, Some(4003));
    alice.say("alice is still here").await;
    // The action is in the mod-log channel, by tag, never by address.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let logged = fake.messages_in(modlog);
        if let Some(m) = logged.iter().find(|m| m.to_string().contains(&bob_tag)) {
            let text = m.to_string();
            assert!(text.contains("ban") && !text.contains("198.51.100.10"), "{text}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing in the mod-log channel: {logged:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
