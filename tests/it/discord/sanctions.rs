//! `/mute`, `/warn`, `/reason` and `/duration` through the fake Discord: a mute holds on every
//! gateway within a second, the warning ladder climbs by itself, and a case's mod-log post is
//! edited when the case changes.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, FakeUser, id_of};
use serde_json::{Value, json};

use super::*;
use crate::cluster::Cluster;
use crate::support::*;

/// The number after `what #` in `text`.
fn number_after(text: &str, what: &str) -> i64 {
    let rest = text.split(&format!("{what} #")).nth(1).unwrap_or_else(|| panic!("no {what} # in {text}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

fn option(name: &str, value: Value) -> Value {
    let kind = match &value {
        Value::Bool(_) => 5,
        Value::Number(_) => 4,
        _ => 3,
    };
    json!({"name": name, "type": kind, "value": value})
}

/// Wait until the mod-log channel holds a post whose text contains every one of `needles`.
async fn modlog_post(fake: &FakeDiscord, modlog: u64, needles: &[&str]) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let posts = fake.messages_in(modlog);
        if let Some(post) = posts.iter().find(|p| needles.iter().all(|n| p.to_string().contains(n))) {
            return post.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no mod-log post with {needles:?}: {posts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_discord_mute_holds_on_both_gateways_within_a_second() {
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

    let ip = "203.0.113.71";
    let mut on1 = Client::connect_from(g1.addr.unwrap(), ip).await.unwrap();
    on1.join("lobby", "Shouty").await;
    let mut on2 = Client::connect_from(g2.addr.unwrap(), ip).await.unwrap();
    on2.join("chill", "Shouty").await;
    let mut bob = Client::connect_from(g2.addr.unwrap(), "198.51.100.71").await.unwrap();
    bob.join("lobby", "Bob").await;

    // Aiming at an address is an administrator's call: the server owner.
    let admin = FakeUser::new(fake.config().owner_id, "guild-owner");
    let options =
        json!([option("target", json!(ip)), option("duration", json!("1h")), option("reason", json!("too loud"))]);
    let (interaction, _) = fake.inject_slash_command(&admin, channel, "mute", options);
    let answer = answer_of(&fake, interaction).await;
    let answered = tokio::time::Instant::now();
    assert!(answer.contains("Muted") && !answer.contains(ip), "{answer}");
    let case = number_after(&answer, "case");
    for client in [&mut on1, &mut on2] {
        let told = client.wait_for("muted").await;
        assert_eq!((told["case"].as_i64(), told["reason"].as_str()), (Some(case), Some("too loud")), "{told}");
    }
    assert!(answered.elapsed() < Duration::from_secs(1), "the mute took {:?} to hold", answered.elapsed());
    for client in [&mut on1, &mut on2] {
        client.send(json!({"type": "say", "text": "HEY", "client_id": "h"})).await;
        assert!(client.expect_error("muted").await["expires"].is_string());
    }
    let id = bob.say("quiet now").await;
    on1.wait_message(&id).await;
    cluster.finish().await;
}

#[tokio::test]
async fn two_warnings_climb_the_ladder_to_a_mute_and_reason_and_duration_edit_the_case_and_its_post() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let modlog = id_of(&fake.create_channel("mod-log", fake_discord::channel_type::TEXT, None));
    let app = app_with_discord(
        &fake,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("DISCORD_MODLOG_CHANNEL_ID", &modlog.to_string()),
            ("WARN_LADDER", "2:mute:10m,3:ban:1d"),
        ],
    )
    .await;
    let channel = channel_for(&fake, "lobby").await;
    let ip = "203.0.113.72";
    let mut visitor = Client::connect_from(app.addr, ip).await.unwrap();
    visitor.join("lobby", "Rude").await;
    let admin = FakeUser::new(fake.config().owner_id, "guild-owner");

    let warn = |reason: &str| json!([option("target", json!(ip)), option("reason", json!(reason))]);
    let (interaction, _) = fake.inject_slash_command(&admin, channel, "warn", warn("mind your words"));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("warning 1") && !answer.contains("ladder"), "{answer}");
    let first = number_after(&answer, "case");
    let warned = visitor.wait_for("warned").await;
    assert_eq!(warned, json!({"type": "warned", "case": first, "reason": "mind your words"}));
    modlog_post(&fake, modlog, &[&format!("Case #{first}"), "warn", "mind your words"]).await;
    // Still free to speak after one warning.
    let id = visitor.say("sorry").await;
    visitor.wait_message(&id).await;

    let (interaction, _) = fake.inject_slash_command(&admin, channel, "warn", warn("last warning"));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("warning 2") && answer.contains("warning ladder applied a mute"), "{answer}");
    let mute_case = number_after(answer.split("ladder").nth(1).unwrap(), "case");
    assert_eq!(visitor.wait_for("warned").await["reason"], "last warning");
    let muted = visitor.wait_for("muted").await;
    assert_eq!(muted["case"], mute_case, "{muted}");
    let expires = chrono::DateTime::parse_from_rfc3339(muted["expires"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(9) && left <= chrono::Duration::minutes(10), "{muted}");
    visitor.send(json!({"type": "say", "text": "unfair", "client_id": "u"})).await;
    visitor.expect_error("muted").await;
    let post = modlog_post(&fake, modlog, &[&format!("Case #{mute_case}"), "applied by the warning ladder"]).await;
    assert!(!post.to_string().contains(ip), "{post}");

    // /reason changes the case, the mute's reason and the mod-log post.
    let options = json!([option("number", json!(mute_case)), option("text", json!("two warnings in a row"))]);
    let (interaction, _) = fake.inject_slash_command(&admin, channel, "reason", options);
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("mod-log post was edited"), "{answer}");
    let edited = fake.message(modlog, id_of(&post)).unwrap();
    assert!(edited.to_string().contains("two warnings in a row"), "{edited}");
    // The mute is published again with the new reason: a fresh join is told it.
    visitor.send(json!({"type": "leave"})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        visitor.send(json!({"type": "join", "room": "chill", "nick": "Rude"})).await;
        visitor.wait_for("joined").await;
        let told = visitor.next().await;
        assert_eq!(told["type"], "muted", "{told}");
        if told["reason"] == "two warnings in a row" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the new reason never reached the gateway: {told}");
        visitor.send(json!({"type": "leave"})).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // /duration changes the expiry everywhere, counted from when the mute was imposed.
    let options = json!([option("number", json!(mute_case)), option("duration", json!("2h"))]);
    let (interaction, _) = fake.inject_slash_command(&admin, channel, "duration", options);
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("mod-log post was edited"), "{answer}");
    // Told again with the new expiry (an earlier `muted`, of the new reason, may come first).
    let (longer, expires) = loop {
        let told = visitor.wait_for("muted").await;
        let expires = chrono::DateTime::parse_from_rfc3339(told["expires"].as_str().unwrap()).unwrap();
        if expires.with_timezone(&chrono::Utc) - chrono::Utc::now() > chrono::Duration::minutes(30) {
            break (told, expires);
        }
    };
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(110) && left <= chrono::Duration::hours(2), "{longer}");
    let edited = fake.message(modlog, id_of(&post)).unwrap();
    assert!(edited.to_string().contains(&format!("<t:{}:f>", expires.timestamp())), "{edited}");
    // A warning's duration cannot change.
    let options = json!([option("number", json!(first)), option("duration", json!("2h"))]);
    let (interaction, _) = fake.inject_slash_command(&admin, channel, "duration", options);
    assert!(answer_of(&fake, interaction).await.contains("only the duration of a ban or a mute"));

    // /case shows it all.
    let (interaction, _) =
        fake.inject_slash_command(&admin, channel, "case", json!([option("number", json!(mute_case))]));
    let shown = answer_of(&fake, interaction).await;
    assert!(shown.contains(&format!("Case #{mute_case}")) && shown.contains("two warnings in a row"), "{shown}");
    assert!(shown.contains("mute #"), "{shown}");
}

#[tokio::test]
async fn staff_see_a_shadow_muted_visitors_messages_marked_and_the_visitor_is_never_told() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let channel = channel_for(&fake, "lobby").await;
    let ip = "203.0.113.73";
    let mut sender = Client::connect_from(app.addr, ip).await.unwrap();
    sender.join("lobby", "Sly").await;
    let mut reader = Client::connect_from(app.addr, "198.51.100.73").await.unwrap();
    reader.join("lobby", "Reader").await;
    let admin = FakeUser::new(fake.config().owner_id, "guild-owner");
    let options = json!([option("target", json!(ip)), option("shadow", json!(true))]);
    let (interaction, _) = fake.inject_slash_command(&admin, channel, "mute", options);
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Shadow-muted"), "{answer}");

    let id = sender.say("nobody hears this").await;
    assert_eq!(sender.wait_message(&id).await["text"], "nobody hears this");
    let open = reader.say("plain words").await;
    // The reader's next message is its own: the shadow message never reached it.
    loop {
        let frame = reader.next().await;
        if frame["type"] == "presence" {
            continue;
        }
        assert_eq!(frame["id"], open.as_str(), "{frame}");
        break;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let (marked, plain) = loop {
        let posts = fake.messages_in(channel).iter().map(ToString::to_string).collect::<Vec<_>>();
        let marked = posts.iter().find(|p| p.contains("nobody hears this")).cloned();
        let plain = posts.iter().find(|p| p.contains("plain words")).cloned();
        if let (Some(m), Some(p)) = (marked, plain) {
            break (m, p);
        }
        assert!(tokio::time::Instant::now() < deadline, "not mirrored: {posts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(marked.contains("shadow-muted"), "{marked}");
    if !plain.contains("nobody hears this") {
        assert!(!plain.contains("shadow-muted"), "{plain}");
    }
    // The sender was never told: no `muted` frame, no error (the next frame answers a ping).
    sender.send(json!({"type": "ping"})).await;
    loop {
        let frame = sender.next().await;
        assert!(frame["type"] != "muted" && frame["type"] != "error", "{frame}");
        if frame["type"] == "pong" {
            break;
        }
    }
}
