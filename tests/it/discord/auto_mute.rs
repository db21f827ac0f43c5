//! The automatic first response to reports and the *Mute for…* menu: three reports against one
//! tag from one /24 mute nothing; three distinct reporters shadow-mute the tag (its messages
//! reach only the sender); a length chosen in a report's menu mutes the sender for that long,
//! who is told, and the edited report shows it.

use std::time::Duration;

use bus::Bus;
use fake_discord::{FakeConfig, FakeDiscord, id_of};
use protocol::ReportVerdict;
use serde_json::Value;

use super::reports::{bus_of, buttons_disabled, channel_named, mute_menu, outcome, report};
use super::*;
use crate::support::*;

/// Report `n`'s message in `channel` once its thread has its context (and `extra`, if given).
async fn report_number(fake: &FakeDiscord, channel: u64, n: i64, extra: Option<&str>) -> (Value, u64) {
    let title = format!("Report #{n} ");
    fake.wait_for(
        |d| {
            let message = d
                .messages_in(channel)
                .into_iter()
                .find(|m| m["embeds"][0]["title"].as_str().is_some_and(|t| t.contains(&title)))?;
            let thread = id_of(&message);
            let shown: String = d.messages_in(thread).iter().map(Value::to_string).collect();
            (!shown.is_empty() && extra.is_none_or(|e| shown.contains(e))).then_some((message, thread))
        },
        WAIT,
    )
    .await
    .unwrap_or_else(|| panic!("no report #{n} in {channel}: {:?}", fake.messages_in(channel)))
}

#[tokio::test]
async fn three_distinct_reporters_shadow_mute_a_tag_three_from_one_network_do_not_and_mute_mutes() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let redis_url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("it-{}", ulid::Ulid::new());
    let mut env = discord_env(&fake);
    env.push(("REDIS_URL".to_owned(), redis_url.clone()));
    env.push(("REDIS_PREFIX".to_owned(), prefix.clone()));
    env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    connected(&fake).await;
    let bus = bus_of(&redis_url, &prefix).await;

    let mut loud = Client::connect_from(app.addr, "203.0.113.80").await.unwrap();
    loud.join("lobby", "Loud").await;
    let mut rude = Client::connect_from(app.addr, "198.51.100.81").await.unwrap();
    rude.join("lobby", "Rude").await;
    let mut reader = Client::connect_from(app.addr, "192.0.2.82").await.unwrap();
    reader.join("lobby", "Reader").await;
    let rude_id = rude.say("you are all idiots").await;
    let loud_id = loud.say("BUY NOW").await;

    // Three reports against Rude, all from one /24: one reporter, no automatic mute.
    for (n, ip) in ["198.18.7.1", "198.18.7.2", "198.18.7.3"].into_iter().enumerate() {
        bus.enqueue(&report(&rude_id, "lobby", "Rude", &format!("g:{n}"), ip)).await.unwrap();
    }
    let reports = channel_named(&fake, "reports").await;
    report_number(&fake, reports, 3, None).await;
    // Three distinct reporters against Loud (two IPv4 networks and an IPv6 /48).
    for (n, ip) in ["203.0.114.9", "100.64.1.1", "2001:db8:77::1"].into_iter().enumerate() {
        bus.enqueue(&report(&loud_id, "lobby", "Loud", &format!("h:{n}"), ip)).await.unwrap();
    }
    // The report whose count brought the mute says so in its thread and its message (the third
    // recorded, or the one being posted when the third was recorded); the others do not.
    let mut brought = Vec::new();
    for n in 4..=6 {
        let (message, thread) = report_number(&fake, reports, n, None).await;
        if message.to_string().contains("Automatic mute") {
            report_number(&fake, reports, n, Some("Automatic first response")).await;
            brought.push(n);
        } else {
            assert!(!fake.messages_in(thread).iter().any(|m| m.to_string().contains("Automatic first response")));
        }
    }
    assert_eq!(brought.len(), 1, "reports {brought:?} claim the automatic mute");
    for n in 1..=3 {
        assert!(!report_number(&fake, reports, n, None).await.0.to_string().contains("Automatic mute"));
    }

    // Loud's messages now reach only Loud; Rude's still reach everyone.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let id = loud.say("still selling").await;
        assert_eq!(loud.wait_message(&id).await["text"], "still selling");
        let rude_line = rude.say("whatever").await;
        // The reader gets Rude's line; whether Loud's came before it tells if the mute holds.
        let mut saw_loud = false;
        loop {
            let frame = reader.wait_for("message").await;
            if frame["id"] == id {
                saw_loud = true;
            }
            if frame["id"] == rude_line {
                break;
            }
        }
        if !saw_loud {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the automatic shadow mute never held");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let db = app.db().await;
    let mutes = bot::mutes::list(&db, false).await.unwrap();
    assert_eq!(mutes.len(), 1, "{mutes:?}");
    assert!(mutes[0].shadow && mutes[0].moderator == "auto" && mutes[0].expires_at.is_some(), "{mutes:?}");

    // A moderator mutes Rude from report #1 for a length chosen in the menu: Rude is told,
    // with that expiry, and cannot speak.
    let mut feed = bus.subscribe_control().await.unwrap();
    let (first, _) = report_number(&fake, reports, 1, None).await;
    let menu = mute_menu(&first);
    let labels: Vec<&str> = menu["options"].as_array().unwrap().iter().map(|o| o["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["10 minutes", "1 hour", "6 hours", "24 hours", "7 days"]);
    let menu_id = menu["custom_id"].as_str().unwrap();
    let staff = fake.staff_user();
    // A value the menu does not offer, or a press without a value, is refused; nothing happens.
    for values in [Some(vec!["3601".to_owned()]), None] {
        let (refused, _) = fake.inject_component(&staff, reports, id_of(&first), menu_id, values);
        assert!(answer_of(&fake, refused).await.contains("Choose a length"));
    }
    assert_eq!(bot::reports::get(&db, 1).await.unwrap().unwrap().state, "open");
    fake.inject_component(&staff, reports, id_of(&first), menu_id, Some(vec!["3600".to_owned()]));
    let muted = rude.wait_for("muted").await;
    assert!(muted["reason"].as_str().unwrap().contains("report #1"), "{muted}");
    let expires = chrono::DateTime::parse_from_rfc3339(muted["expires"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(59) && left <= chrono::Duration::hours(1), "{muted}");
    rude.send(serde_json::json!({"type": "say", "text": "hello?", "client_id": ulid::Ulid::new().to_string()})).await;
    rude.expect_error("muted").await;
    let edited = fake
        .wait_for(
            |d| d.message(reports, id_of(&first)).filter(|m| m.to_string().contains("Tag muted for 1 h by")),
            WAIT,
        )
        .await
        .expect("the report was not edited to show the length");
    assert!(buttons_disabled(&edited), "{edited}");
    assert_eq!(bot::reports::get(&db, 1).await.unwrap().unwrap().mute_secs, Some(3600));
    assert_eq!(outcome(&mut feed).await, ("g:0".to_owned(), rude_id.clone(), ReportVerdict::Muted));
    db.close().await.unwrap();
    app.stop().await;
}
