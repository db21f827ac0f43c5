//! An appeal round-trips between the visitor's page and Discord: its thread in the private
//! appeals channel with the evidence and the buttons, a moderator's reply reaching the page as
//! "Staff", *Lift* lifting the ban, *Shorten* through its form, and only moderators deciding.

use std::time::Duration;

use fake_discord::{FakeDiscord, id_of, interaction_type};
use serde_json::{Value, json};

use super::*;
use crate::appeals::{appeal_as, banned, read_appeal, request_as, sanctioned};
use crate::support::*;

/// Wait until the appeal of `case` has its thread with the message and buttons: (thread, message).
async fn appeal_thread(fake: &FakeDiscord, case: i64) -> (u64, Value) {
    let channel = channel_for(fake, "appeals").await;
    let name = format!("appeal · case #{case}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let thread = fake.threads_of(channel).into_iter().find(|t| t["name"] == name.as_str());
        if let Some(thread) = thread {
            let message = fake
                .messages_in(id_of(&thread))
                .into_iter()
                .find(|m| m["components"].as_array().is_some_and(|c| !c.is_empty()));
            if let Some(message) = message {
                return (id_of(&thread), message);
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no thread for the appeal of case #{case}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll the appeal until `check` holds.
async fn appeal_until(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (code, body) = read_appeal(app.addr, token).await;
        assert_eq!(code, 200, "{body}");
        if check(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn custom_ids(message: &Value) -> Vec<String> {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["custom_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_appeal_round_trips_between_the_visitors_page_and_its_discord_thread() {
    let fake = FakeDiscord::start(fake_discord::FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let visitor = "203.0.113.9";
    // What the visitor wrote before the ban is the evidence.
    let mut client = Client::connect_from(app.addr, visitor).await.unwrap();
    client.join("lobby", "Spammer").await;
    client.say("buy cheap watches at example.test").await;
    drop(client);
    let case = banned(&app, visitor, visitor, &["--duration", "7d"]).await;

    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": "I will stop posting links."})).await;
    assert_eq!(code, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    // The thread in the private appeals channel: the case, the text, the evidence, the buttons.
    let (thread, message) = appeal_thread(&fake, case).await;
    let appeals = channel_for(&fake, "appeals").await;
    assert!(!fake.everyone_can_view(appeals), "the appeals channel is staff only");
    let shown = message.to_string();
    let case_name = format!("case #{case}");
    for expected in [case_name.as_str(), "I will stop posting links.", "spam links", "buy cheap watches"] {
        assert!(shown.contains(expected), "{expected:?} missing from {shown}");
    }
    assert!(!shown.contains(visitor), "the address is never shown: {shown}");
    let ids = custom_ids(&message);
    assert_eq!(ids.len(), 3, "{ids:?}");
    let lift = ids.iter().find(|id| id.contains(":lift:")).unwrap().clone();

    // A moderator's reply reaches the page as Staff, without the moderator's name.
    let staff = fake.staff_user();
    let reply = fake.inject_message(thread, &staff, "Thanks, we are looking at it.");
    let answered = appeal_until(&app, &token, |a| !a["replies"].as_array().unwrap().is_empty()).await;
    assert_eq!(answered["replies"][0]["text"], "Thanks, we are looking at it.");
    assert!(answered["replies"][0]["at"].as_str().is_some());
    assert!(!answered.to_string().contains(&staff.username), "{answered}");
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.reactions_on(thread, id_of(&reply)).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the delivered reply was never marked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anyone else's message stays in Discord.
    let member = fake.add_user("just-a-member", &[]);
    fake.inject_message(thread, &member, "you are never coming back");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, now) = read_appeal(app.addr, &token).await;
    assert_eq!(now["replies"].as_array().unwrap().len(), 1, "{now}");

    // Only moderators decide.
    let (refused, _) = fake.inject_component(&member, thread, id_of(&message), &lift, None);
    let text = answer_of(&fake, refused).await;
    assert!(text.contains("You may not decide appeals"), "{text}");
    assert_eq!(read_appeal(app.addr, &token).await.1["state"], "open");

    // Lift: the ban goes, the page says so, the message says who decided.
    let (pressed, _) = fake.inject_component(&staff, thread, id_of(&message), &lift, None);
    let lifted = appeal_until(&app, &token, |a| a["state"] == "lifted").await;
    assert_eq!(lifted["case"], case);
    let (_, _, status) = request_as(app.addr, "GET", "/api/status", visitor, None).await;
    assert!(status["ban"].is_null(), "{status}");
    assert!(Client::connect_from(app.addr, visitor).await.is_ok());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let edited = fake.message(thread, id_of(&message)).unwrap();
        if edited["content"].as_str().is_some_and(|c| c.contains("Lifted")) {
            assert!(edited["content"].as_str().unwrap().contains(&staff.id.to_string()), "{edited}");
            assert!(custom_ids(&edited).is_empty(), "the buttons are gone: {edited}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never edited: {edited} {:?}",
            fake.interaction_responses(pressed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Decided: a second press is refused.
    let (again, _) = fake.inject_component(&staff, thread, id_of(&message), &lift, None);
    assert!(answer_of(&fake, again).await.contains("decided already"));
}

#[tokio::test]
async fn shorten_asks_for_a_duration_and_a_muted_visitors_case_ends_that_much_sooner() {
    let fake = FakeDiscord::start(fake_discord::FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    // A mute's case is appealed as a ban's is.
    let visitor = "2001:db8:7:7::5";
    let case = sanctioned(&app, "mute", visitor, visitor, &["--duration", "30d"]).await;
    let (code, body) = appeal_as(app.addr, visitor, &json!({"case": case, "text": "a month is a lot"})).await;
    assert_eq!(code, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (thread, message) = appeal_thread(&fake, case).await;
    let shorten = custom_ids(&message).into_iter().find(|id| id.contains(":shorten:")).unwrap();
    let staff = fake.staff_user();

    // The button opens a form (a modal) …
    let (pressed, _) = fake.inject_component(&staff, thread, id_of(&message), &shorten, None);
    let deadline = tokio::time::Instant::now() + WAIT;
    let modal = loop {
        if let Some(body) = fake.interaction_responses(pressed).into_iter().find(|r| r["type"] == 9) {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "no form opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let form_id = modal["data"]["custom_id"].as_str().unwrap().to_owned();
    let submit = |value: &str| {
        json!({"custom_id": form_id, "components": [{"type": 1, "components": [
            {"type": 4, "custom_id": "duration", "value": value}
        ]}]})
    };
    // … whose nonsense is refused, …
    let (bad, _) =
        fake.inject_interaction(interaction_type::MODAL_SUBMIT, submit("soon"), &staff, thread, Some(id_of(&message)));
    assert!(answer_of(&fake, bad).await.contains("not a duration"));
    // … and whose duration shortens the ban: it ends an hour from now.
    fake.inject_interaction(interaction_type::MODAL_SUBMIT, submit("1h"), &staff, thread, Some(id_of(&message)));
    let shortened = appeal_until(&app, &token, |a| a["state"] == "shortened").await;
    let expires = chrono::DateTime::parse_from_rfc3339(shortened["expires"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(55) && left <= chrono::Duration::hours(1), "{shortened}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, _, status) = request_as(app.addr, "GET", "/api/status", visitor, None).await;
        let now_ends = status["mute"]["expires"].as_str().and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok());
        if now_ends.is_some_and(|e| (e - expires).num_milliseconds().abs() < 1000) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the gateway still has {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let edited = fake.message(thread, id_of(&message)).unwrap();
    assert!(edited["content"].as_str().unwrap().contains("Shortened"), "{edited}");
}
