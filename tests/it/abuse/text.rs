//! Invisible characters and look-alikes and filters that the bot accepts
//! but the gateways could not apply, through real sockets.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use serde_json::{Value, json};

use crate::support::*;

/// What must arrive byte for byte: VS16, ZWJ sequences, a tag sequence flag, a keycap.
const EMOJI: &str = "❤️ 👩‍💻 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🏳️‍🌈 1️⃣ 👍🏽 🇫🇷";

async fn spawn_with_discord(fake: &FakeDiscord, extra: &[(&str, &str)]) -> TestApp {
    let (token, guild, base) = (fake.token().to_owned(), fake.guild_id().to_string(), fake.base_url());
    let mut vars = vec![("DISCORD_TOKEN", token.as_str()), ("DISCORD_GUILD_ID", guild.as_str())];
    vars.push(("DISCORD_API_BASE", base.as_str()));
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// The lobby's channel, once the bot is connected and has registered its commands.
async fn lobby_channel(fake: &FakeDiscord) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let lobby = fake.channels().iter().find(|c| c["name"] == "lobby").map(id_of);
        if let Some(id) = lobby
            && fake.connected_sessions() > 0
            && !fake.commands().is_empty()
        {
            return id;
        }
        assert!(tokio::time::Instant::now() < deadline, "the bot never got ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/filter add` as a moderator; the answer's text.
async fn add_filter(fake: &FakeDiscord, channel: u64, pattern: &str, mask: bool, regex: bool) -> String {
    // poise registers choices as integers: 0 = block, 1 = mask.
    let options = json!([{"name": "add", "type": 1, "options": [
        {"name": "pattern", "type": 3, "value": pattern},
        {"name": "action", "type": 4, "value": i32::from(mask)},
        {"name": "regex", "type": 5, "value": regex}
    ]}]);
    let (interaction, _) = fake.inject_slash_command(&admin(fake), channel, "filter", options);
    answer_of(fake, interaction).await
}

/// A member with Manage Server: adding and removing filters is an administrator's command.
fn admin(fake: &FakeDiscord) -> fake_discord::FakeUser {
    const MANAGE_GUILD: u64 = 1 << 5;
    let role = fake.add_role("filter admins", MANAGE_GUILD);
    fake.add_user("filter-admin", &[role])
}

async fn answer_of(fake: &FakeDiscord, interaction: u64) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text: String = fake.interaction_responses(interaction).iter().map(Value::to_string).collect();
        if text.contains("content") {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no answer to interaction {interaction}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the gateway does with `text`: `Err(code)` for a refusal, else the text delivered.
async fn outcome(c: &mut Client, text: &str) -> Result<String, String> {
    let client_id = ulid::Ulid::new().to_string();
    c.send(json!({"type": "say", "text": text, "client_id": client_id})).await;
    loop {
        let frame = c.next().await;
        match frame["type"].as_str() {
            Some("error") if frame["client_id"] == client_id.as_str() => {
                return Err(frame["code"].as_str().unwrap_or_default().to_owned());
            }
            Some("ack") if frame["client_id"] == client_id.as_str() => {
                let id = frame["id"].as_str().unwrap().to_owned();
                return Ok(c.wait_message(&id).await["text"].as_str().unwrap().to_owned());
            }
            _ => continue,
        }
    }
}

/// Send `probe` until the gateway refuses it as `filtered`: the bot answered `/filter add`
/// before the control event reached the gateway's task.
async fn until_filtered(c: &mut Client, probe: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while outcome(c, probe).await != Err("filtered".to_owned()) {
        assert!(tokio::time::Instant::now() < deadline, "the gateway never applied the filter to {probe:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn filters_catch_zero_width_and_full_width_evasions() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake, &[]).await;
    let channel = lobby_channel(&fake).await;
    assert!(add_filter(&fake, channel, r"\bspam\b", false, true).await.contains("added"));
    assert!(add_filter(&fake, channel, "darn", true, false).await.contains("added"));
    let (mut c, _) = app.joined("lobby", "Talker").await;
    until_filtered(&mut c, "spam").await;
    for evasion in [
        "buy sp\u{200B}am now",
        "buy s\u{2060}p\u{00AD}a\u{FEFF}m now",
        "buy s\u{FE0F}pam now",
        "buy ｓｐａｍ now",
        "buy ＳＰＡＭ now",
        "buy 𝐬𝐩𝐚𝐦 now",
        "\u{202E}buy SpAm now",
    ] {
        assert_eq!(outcome(&mut c, evasion).await, Err("filtered".to_owned()), "{evasion:?}");
    }
    assert_eq!(outcome(&mut c, "ｓｐａｍｍｅｒ").await.as_deref(), Ok("ｓｐａｍｍｅｒ"));
    assert_eq!(outcome(&mut c, "oh ｄａｒｎ it ❤️").await.as_deref(), Ok("oh **** it ❤️"));
    assert_eq!(outcome(&mut c, "oh D\u{200B}ARN").await.as_deref(), Ok("oh ****"));
}

#[tokio::test]
async fn a_filter_the_bot_accepts_is_applied_by_the_gateway() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake, &[]).await;
    let channel = lobby_channel(&fake).await;
    // The bot used to compile regexes case-sensitively and the gateways case-insensitively:
    // this one fits the size limit only the first way, so the bot said "added" and every
    // gateway dropped it. Now it is refused up front, with the reason.
    let answer = add_filter(&fake, channel, "spam|[a-z]{3450}", false, true).await;
    assert!(answer.contains("too large"), "{answer}");
    let answer = add_filter(&fake, channel, "(?-i)Spam", false, true).await;
    assert!(answer.contains("ignore case"), "{answer}");
    // What the bot accepts, the gateway applies: matched in any case, and whole.
    let answer = add_filter(&fake, channel, "casino|[a-z]{1000}", false, true).await;
    assert!(answer.contains("added"), "{answer}");
    let (mut c, _) = app.joined("lobby", "Talker").await;
    until_filtered(&mut c, "CASINO").await;
    assert_eq!(outcome(&mut c, "Ｃａｓｉｎｏ night").await, Err("filtered".to_owned()));
    assert_eq!(outcome(&mut c, "spam").await.as_deref(), Ok("spam"), "the refused filter is nowhere");
    let (i, _) = fake.inject_slash_command(
        &fake.staff_user(),
        channel,
        "filter",
        json!([{"name": "list", "type": 1, "options": []}]),
    );
    let listed = answer_of(&fake, i).await;
    assert!(listed.contains("casino") && !listed.contains("Spam") && !listed.contains("3450"), "{listed}");
}

#[tokio::test]
async fn filter_add_beyond_max_filters_is_refused_clearly() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let _app = spawn_with_discord(&fake, &[("MAX_FILTERS", "2")]).await;
    let channel = lobby_channel(&fake).await;
    assert!(add_filter(&fake, channel, "one", false, false).await.contains("added"));
    assert!(add_filter(&fake, channel, "two", false, false).await.contains("added"));
    let answer = add_filter(&fake, channel, "three", false, false).await;
    assert!(answer.contains("MAX_FILTERS=2") && answer.contains("/filter remove"), "{answer}");
    let (i, _) = fake.inject_slash_command(
        &fake.staff_user(),
        channel,
        "filter",
        json!([{"name": "list", "type": 1, "options": []}]),
    );
    let listed = answer_of(&fake, i).await;
    assert!(listed.contains("two") && !listed.contains("three"), "{listed}");
    let (i, _) = fake.inject_slash_command(
        &admin(&fake),
        channel,
        "filter",
        json!([{"name": "remove", "type": 1, "options": [{"name": "id", "type": 4, "value": 1}]}]),
    );
    assert!(answer_of(&fake, i).await.contains("removed"));
    assert!(add_filter(&fake, channel, "three", false, false).await.contains("added"));
}

/// Look-alikes of a seated nickname are `nick_taken`; characters outside the General Security
/// Profile are `invalid_nick`; the nickname is shown as typed.
async fn confusable_nicks_are_refused(app: &TestApp) {
    let mut alice = app.client().await;
    let joined = alice.join("lobby", "Alice").await;
    assert_eq!(joined["nick"], "Alice");
    let mut c = app.client().await;
    for look_alike in ["Аlice", "ALICE", "AIice", "A1ice", "Ａｌｉｃｅ", "аlісе", "𝐀lice"] {
        c.send(json!({"type": "join", "room": "lobby", "nick": look_alike})).await;
        c.expect_error("nick_taken").await;
    }
    for restricted in ["ꜱᴛᴀꜰꜰ", "ᴀʟɪᴄᴇ", "ɑlice", "St4ff", "m o d", "Ѕтаff", "a\u{200B}lice", "Al\u{202E}ice"]
    {
        c.send(json!({"type": "join", "room": "lobby", "nick": restricted})).await;
        c.expect_error("invalid_nick").await;
    }
    // Once Alice leaves, the Cyrillic look-alike may take the name: the release went by the
    // same key as the claim. It is shown as typed, and now Latin "Alice" is the one refused.
    alice.send(json!({"type": "leave"})).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let joined = loop {
        c.send(json!({"type": "join", "room": "lobby", "nick": "Аlice"})).await;
        let frame = c.next().await;
        if frame["type"] == "joined" {
            break frame;
        }
        assert_eq!(frame["code"], "nick_taken", "{frame}");
        assert!(tokio::time::Instant::now() < deadline, "Alice's seat was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(joined["nick"], "Аlice");
    assert!(joined["members"].as_array().unwrap().iter().any(|m| m == "Аlice"), "{joined}");
    let mut late = app.client().await;
    late.send(json!({"type": "join", "room": "lobby", "nick": "Alice"})).await;
    late.expect_error("nick_taken").await;
    // Separators stay allowed, and distinct names are distinct.
    let joined = late.join("lobby", "Dr. Al_ice-2").await;
    assert_eq!(joined["nick"], "Dr. Al_ice-2");
}

#[tokio::test]
async fn a_confusable_nick_is_refused_beside_the_original() {
    let app = spawn_app().await;
    confusable_nicks_are_refused(&app).await;
}

#[tokio::test]
async fn a_confusable_nick_is_refused_beside_the_original_over_redis() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("it-{}", ulid::Ulid::new());
    let app = spawn_app_with(&[("REDIS_URL", &redis), ("REDIS_PREFIX", &prefix)]).await;
    app.eventually("the lobby is listed", || async { app.members_of("lobby").await.is_some() }).await;
    confusable_nicks_are_refused(&app).await;
}

#[tokio::test]
async fn emoji_survive_a_round_trip_and_invisible_characters_do_not() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let (mut bob, _) = app.joined("lobby", "Bob").await;
    let sent = format!("hi\u{200B} {EMOJI} \u{202E}bye\u{2066}\u{E0041}");
    let id = alice.say(&sent).await;
    let expected = format!("hi {EMOJI} bye");
    let got = bob.wait_message(&id).await;
    assert_eq!(got["text"].as_str().unwrap().as_bytes(), expected.as_bytes());
    // And from the history, as a late joiner gets it.
    let (_carol, joined) = app.joined("lobby", "Carol").await;
    let history = joined["history"].as_array().unwrap();
    let kept = history.iter().find(|m| m["id"] == id.as_str()).expect("the message is in the history");
    assert_eq!(kept["text"].as_str().unwrap().as_bytes(), expected.as_bytes());
}
