//! The real bot against the fake Discord (REST + Gateway on 127.0.0.1).

use std::collections::HashMap;
use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::support::*;

pub(crate) fn discord_env(fake: &FakeDiscord) -> Vec<(String, String)> {
    vec![
        ("DISCORD_TOKEN".to_owned(), fake.token().to_owned()),
        ("DISCORD_GUILD_ID".to_owned(), fake.guild_id().to_string()),
        ("DISCORD_API_BASE".to_owned(), fake.base_url()),
    ]
}

pub(crate) async fn spawn_with_discord(fake: &FakeDiscord) -> TestApp {
    let env = discord_env(fake);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(&pairs).await
}

/// Wait until the bot created the room's channel; its id.
pub(crate) async fn channel_for(fake: &FakeDiscord, room: &str) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(c) = fake.channels().iter().find(|c| c["name"] == room) {
            return id_of(c);
        }
        assert!(tokio::time::Instant::now() < deadline, "no channel was created for {room}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the bot is connected to the gateway (so injected events reach it).
pub(crate) async fn connected(fake: &FakeDiscord) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.connected_sessions() == 0 || fake.commands().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the bot never connected to the gateway");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
    let app = spawn_with_discord(&fake).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
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
    let app = spawn_with_discord(&fake).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
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
async fn staff_messages_edits_and_deletions_reach_web_clients_and_a_dropped_gateway_is_survived() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;

    let staff = fake.staff_user();
    let posted = fake.inject_message(channel, &staff, "Welcome! Be nice <@999>.");
    let got = alice.wait_for("message").await;
    assert_eq!(got["staff"], true);
    assert!(got["nick"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(got["text"].as_str().unwrap().starts_with("Welcome! Be nice"));
    let staff_id = got["id"].as_str().unwrap().to_owned();

    fake.inject_message_update(channel, id_of(&posted), "Welcome, everyone!");
    let edited = alice.wait_for("edited").await;
    assert_eq!(edited, json!({"type": "edited", "id": staff_id, "text": "Welcome, everyone!"}));

    // A web message, mirrored, then deleted by a moderator in Discord.
    let web_id = alice.say("this will be removed").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mirrored = loop {
        let found = fake
            .messages_in(channel)
            .into_iter()
            .find(|m| m["embeds"].as_array().into_iter().flatten().any(|e| e["description"] == "this will be removed"));
        if let Some(m) = found {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The gateway connection drops; the bot resumes or re-identifies.
    fake.drop_gateway_connections();
    connected(&fake).await;
    fake.inject_message_delete(channel, id_of(&mirrored));
    let deleted = alice.wait_for("deleted").await;
    assert_eq!(deleted, json!({"type": "deleted", "id": web_id}));
    // Joiners no longer see it in history.
    let (_bob, joined) = app.joined("lobby", "Bob").await;
    let history: Vec<&str> =
        joined["history"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert!(!history.contains(&"this will be removed"), "{history:?}");
    assert!(history.contains(&"Welcome, everyone!"), "{history:?}");
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
    let mut env = discord_env(&fake);
    env.push(("DISCORD_MAX_LAG_SECS".to_owned(), "1".to_owned()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
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

/// Everything the bot answered to an interaction, as text.
pub(crate) async fn answer_of(fake: &FakeDiscord, interaction: u64) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text: String = fake.interaction_responses(interaction).iter().map(|r| r.to_string()).collect();
        if text.contains("content") {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to interaction {interaction}: {:?}",
            fake.requests()
                .iter()
                .filter(|r| r.path.contains("interactions") || r.path.contains("webhooks"))
                .map(|r| format!("{} {} {}", r.path, r.status, r.body))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
async fn moderator_commands_create_rooms_kick_lock_and_refuse_members_without_permission() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let visitor = fake.add_user("just-a-member", &[]);
    let (interaction, _) = fake.inject_slash_command(&visitor, lobby, "bans", Value::Null);
    assert!(answer_of(&fake, interaction).await.contains("may not use this command"));

    let staff = fake.staff_user();
    // Room names autocomplete.
    let options = json!([{"name": "room", "type": 3, "value": "lo", "focused": true}]);
    let (interaction, _) = fake.inject_autocomplete(&staff, lobby, "kick", options);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answers = fake.interaction_responses(interaction);
        if let Some(a) = answers.first() {
            assert_eq!(a["type"], 8, "{a}");
            assert_eq!(a["data"]["choices"][0]["value"], "lobby", "{a}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no autocomplete answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let options = json!([{"name": "create", "type": 1, "options": [
        {"name": "slug", "type": 3, "value": "night-owls"},
        {"name": "capacity", "type": 4, "value": 5},
        {"name": "topic", "type": 3, "value": "late talk"}
    ]}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "room", options);
    assert!(answer_of(&fake, interaction).await.contains("Created room night-owls"));
    channel_for(&fake, "night-owls").await;
    app.eventually("the new room is listed", || async { app.members_of("night-owls").await == Some(0) }).await;
    let (mut owl, _) = app.joined("night-owls", "Owl").await;

    let options = json!([
        {"name": "room", "type": 3, "value": "night-owls"},
        {"name": "nick", "type": 3, "value": "owl"},
        {"name": "reason", "type": 3, "value": "cool down"}
    ]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "kick", options);
    assert!(answer_of(&fake, interaction).await.contains("Kicked Owl"));
    let kicked = owl.wait_for("kicked").await;
    assert_eq!(kicked["reason"], "cool down");

    let options = json!([{"name": "edit", "type": 1, "options": [
        {"name": "slug", "type": 3, "value": "night-owls"},
        {"name": "locked", "type": 5, "value": true}
    ]}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "room", options);
    assert!(answer_of(&fake, interaction).await.contains("locked true"));
    let mut late = app.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        late.send(json!({"type": "join", "room": "night-owls", "nick": "Late"})).await;
        let f = late.next().await;
        if f["code"] == "room_locked" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lock never applied: {f}");
        if f["type"] == "joined" {
            late.send(json!({"type": "leave"})).await;
            late.wait_for("presence").await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The audit log has every moderator action, by Discord user.
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT actor, action FROM audit_log ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let actions: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "action").unwrap()).collect();
    assert_eq!(actions, ["room_create", "kick", "room_edit"]);
    assert!(rows.iter().all(|r| r.try_get::<String>("", "actor").unwrap().starts_with("discord:")));
}

#[tokio::test]
async fn lookup_shows_a_tags_messages_without_the_address_and_purge_removes_them_everywhere() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let mut env = discord_env(&fake);
    env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let mut troll = Client::connect_from(app.addr, "203.0.113.66").await.unwrap();
    troll.join("lobby", "Troll").await;
    let mut reader = Client::connect_from(app.addr, "198.51.100.66").await.unwrap();
    reader.join("lobby", "Reader").await;
    let mut ids = Vec::new();
    for text in ["first insult", "second insult"] {
        ids.push(troll.say(text).await);
    }
    // Wait until both are in Discord and mapped.
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let tag: String = loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT ip_tag FROM message_log WHERE id = '{}' AND discord_message_id IS NOT NULL", ids[1]),
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            break row.try_get::<String>("", "ip_tag").unwrap().split(' ').next().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let staff = fake.staff_user();
    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "lookup", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Troll") && answer.contains("second insult"), "{answer}");
    assert!(!answer.contains("203.0.113.66"), "no raw IP: {answer}");
    // The same from a mirrored message's context menu.
    let carrier = fake.messages_in(channel).into_iter().find(|m| m.to_string().contains("first insult")).unwrap();
    let (interaction, _) = fake.inject_message_command(&staff, channel, "Author's recent messages", id_of(&carrier));
    let answer = answer_of(&fake, interaction).await;
    assert!(
        answer.contains("Troll") && answer.contains("first insult") && !answer.contains("203.0.113.66"),
        "{answer}"
    );

    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "purge", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("2 web messages"), "{answer}");
    let mut gone = Vec::new();
    while gone.len() < 2 {
        gone.push(reader.wait_for("deleted").await["id"].as_str().unwrap().to_owned());
    }
    gone.sort();
    ids.sort();
    assert_eq!(gone, ids);
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.messages_in(channel).iter().any(|m| m.to_string().contains("insult")) {
        assert!(tokio::time::Instant::now() < deadline, "the Discord copies were not deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const FLOOD_DELETED: &str = "nickname = 'Flood' AND deleted_at IS NOT NULL";

/// Rows of the message log matching `condition`.
async fn count(db: &sea_orm::DatabaseConnection, condition: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM message_log WHERE {condition}");
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn purge_stops_at_ten_thousand_messages_per_address_and_says_so() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    // 10 001 messages of one address in the last minutes, logged as the bot logs them (from an
    // address that never speaks through the gateway, so the bot's own chain cache stays right).
    let db = app.db().await;
    let tagger = bot::iptag::IpTagger::load(&db, None).await.unwrap();
    let ip: std::net::IpAddr = "203.0.113.77".parse().unwrap();
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let messages: Vec<protocol::LoggedMessage> = (0..10_001i64)
        .map(|i| protocol::LoggedMessage {
            message: protocol::MessageView {
                id: ulid::Ulid::new(),
                room: "lobby".to_owned(),
                nick: "Flood".to_owned(),
                text: format!("flood {i}"),
                at: start + chrono::Duration::milliseconds(i),
                staff: false,
            },
            ip,
        })
        .collect();
    let log = bot::message_log::MessageLog::new(db.clone());
    for batch in messages.chunks(500) {
        log.record(batch, &tagger, bot::message_log::Delivery::First).await.unwrap();
    }
    let tag = tagger.tag(ip);
    let staff = fake.staff_user();
    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "purge", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("10000 web messages") && answer.contains("run /purge again"), "{answer}");
    assert_eq!(count(&db, FLOOD_DELETED).await, 10_000);
    // The newest went first; the oldest is what a second run takes.
    let oldest = &messages[0].message.id.to_string();
    assert_eq!(count(&db, &format!("id = '{oldest}' AND deleted_at IS NULL")).await, 1);

    let (interaction, _) =
        fake.inject_slash_command(&staff, channel, "purge", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains(" 1 web message of") && !answer.contains("run /purge again"), "{answer}");
    assert_eq!(count(&db, FLOOD_DELETED).await, 10_001);
}

#[tokio::test]
async fn filters_block_or_mask_messages_on_the_gateway() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    // Adding filters is an admin's call (the server owner here); listing them a moderator's.
    let admin = fake_discord::FakeUser::new(fake.config().owner_id, "guild-owner");
    let staff = fake.staff_user();
    // poise registers choices as integers: 0 = block, 1 = mask.
    let add = |pattern: &str, action: &str, regex: bool| {
        let action = if action == "mask" { 1 } else { 0 };
        json!([{"name": "add", "type": 1, "options": [
            {"name": "pattern", "type": 3, "value": pattern},
            {"name": "action", "type": 4, "value": action},
            {"name": "regex", "type": 5, "value": regex}
        ]}])
    };
    let (i, _) = fake.inject_slash_command(&admin, channel, "filter", add("casino", "block", false));
    assert!(answer_of(&fake, i).await.contains("added"));
    let (i, _) = fake.inject_slash_command(&admin, channel, "filter", add("d[a4]rn", "mask", true));
    assert!(answer_of(&fake, i).await.contains("added"));
    let (i, _) = fake.inject_slash_command(&admin, channel, "filter", add("(", "block", true));
    assert!(answer_of(&fake, i).await.contains("not a valid regular expression"), "bad regexes are refused");

    let (mut c, _) = app.joined("lobby", "Talker").await;
    c.send(json!({"type": "say", "text": "visit my CASINO today", "client_id": "f"})).await;
    assert_eq!(c.expect_error("filtered").await["client_id"], "f");
    let id = c.say("oh d4rn it").await;
    assert_eq!(c.wait_message(&id).await["text"], "oh **** it");
    let (i, _) =
        fake.inject_slash_command(&staff, channel, "filter", json!([{"name": "list", "type": 1, "options": []}]));
    let listed = answer_of(&fake, i).await;
    assert!(listed.contains("casino") && listed.contains("mask"), "{listed}");
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
    let mut env = discord_env(&fake);
    env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    env.push(("DISCORD_MODLOG_CHANNEL_ID".to_owned(), modlog.to_string()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let channel = channel_for(&fake, "lobby").await;
    connected(&fake).await;
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

// ---- visitor rooms and roulette pairs: threads ------------------------------------------------

/// Two strangers paired by roulette: (first, second, pair room).
pub(crate) async fn roulette_pair(app: &TestApp, a: &str, b: &str) -> (Client, Client, String) {
    let mut first = app.client().await;
    first.send(json!({"type": "roulette", "nick": a, "interests": []})).await;
    first.expect("waiting").await;
    let mut second = app.client().await;
    second.send(json!({"type": "roulette", "nick": b, "interests": []})).await;
    let matched = first.wait_for("matched").await;
    first.expect("joined").await;
    assert_eq!(second.wait_for("matched").await["room"], matched["room"]);
    second.expect("joined").await;
    (first, second, matched["room"].as_str().unwrap().to_owned())
}

/// A visitor room made by `host` (who then joins it as `nick`): its slug.
pub(crate) async fn visitor_room(host: &mut Client, title: &str, nick: &str) -> String {
    host.send(json!({"type": "create", "title": title, "capacity": 4, "listed": false})).await;
    let room = host.expect("created").await["room"].as_str().unwrap().to_owned();
    host.join(&room, nick).await;
    room
}

/// Wait for the text channel the bot uses as a parent of room threads.
pub(crate) async fn parent_named(fake: &FakeDiscord, name: &str) -> u64 {
    fake.wait_for(|d| d.channels().iter().find(|c| c["name"] == name && c["type"] == 0).map(id_of), WAIT)
        .await
        .unwrap_or_else(|| panic!("no parent channel {name}: {:?}", fake.channels()))
}

/// The web texts a Discord channel or thread shows, in order (every embed's description).
pub(crate) fn mirrored_texts(fake: &FakeDiscord, channel: u64) -> Vec<String> {
    fake.messages_in(channel)
        .iter()
        .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["description"].as_str().map(str::to_owned))
        .collect()
}

/// Wait until `channel` shows exactly `texts` (in order); everything it shows.
pub(crate) async fn wait_texts(fake: &FakeDiscord, channel: u64, texts: &[&str]) -> Vec<String> {
    let got = fake.wait_for(|d| (mirrored_texts(d, channel).len() >= texts.len()).then_some(()), WAIT).await;
    let shown = mirrored_texts(fake, channel);
    assert!(got.is_some() && shown == texts, "expected {texts:?} in {channel}, got {shown:?}");
    shown
}

/// The room's (discord_channel_id, discord_thread_id) as the bot recorded them.
pub(crate) async fn room_discord_ids(app: &TestApp, room: &str) -> (Option<i64>, Option<i64>) {
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT discord_channel_id, discord_thread_id FROM rooms WHERE slug = '{room}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    (row.try_get("", "discord_channel_id").unwrap(), row.try_get("", "discord_thread_id").unwrap())
}

#[tokio::test]
async fn a_roulette_pair_chats_in_one_thread_that_staff_answer_in_and_that_is_archived_when_the_pair_ends() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    connected(&fake).await;
    // A pair that never writes gets no thread.
    let (mut quiet_a, mut quiet_b, quiet_room) = roulette_pair(&app, "Quiet", "Silent").await;
    quiet_a.send(json!({"type": "leave"})).await;
    quiet_b.wait_for("stranger_left").await;
    quiet_b.send(json!({"type": "leave"})).await;

    let (mut al, mut bo, room) = roulette_pair(&app, "Al", "Bo").await;
    let first = al.say("hi stranger").await;
    bo.wait_message(&first).await;
    let second = bo.say("hello *you*").await;
    al.wait_message(&second).await;
    let third = al.say("where are you from?").await;
    bo.wait_message(&third).await;

    let parent = parent_named(&fake, "roulette").await;
    let thread = fake
        .wait_for(|d| d.threads_of(parent).first().cloned(), WAIT)
        .await
        .expect("a thread under the roulette channel");
    let thread_id = id_of(&thread);
    assert_eq!(thread["name"], format!("pair {room}"));
    assert_eq!(thread["type"], 11);
    assert_eq!(thread["thread_metadata"]["auto_archive_duration"], 60);
    wait_texts(&fake, thread_id, &["hi stranger", "hello \\*you\\*", "where are you from?"]).await;
    assert_eq!(fake.threads_of(parent).len(), 1, "exactly one thread, none for the quiet pair");
    assert!(mirrored_texts(&fake, parent).is_empty(), "nothing posted in the parent itself");
    let creations = fake.requests_to("POST", &format!("/channels/{parent}/threads"));
    assert_eq!(creations.len(), 1);
    assert_eq!(creations[0].body["type"], 11);
    // Posted like channel posts: nonce, enforce_nonce, no mentions, footer with tag and room.
    let posts = fake.requests_to("POST", &format!("/channels/{thread_id}/messages"));
    assert!(
        posts.iter().all(|p| p.body["enforce_nonce"] == true && p.body["allowed_mentions"] == json!({"parse": []}))
    );
    let embed = &fake.messages_in(thread_id)[0]["embeds"][0];
    assert_eq!(embed["author"]["name"], "Al");
    assert!(embed["footer"]["text"].as_str().unwrap().ends_with(&format!("· #{room}")), "{embed}");
    assert!(embed.get("title").is_none(), "no room title needed inside the room's own thread");
    assert_eq!(room_discord_ids(&app, &room).await, (None, Some(thread_id as i64)));
    assert_eq!(room_discord_ids(&app, &quiet_room).await, (None, None));

    // A staff reply in the thread reaches the pair, marked as staff; an edit follows.
    let staff = fake.staff_user();
    let reply = fake.inject_message(thread_id, &staff, "Welcome, you two!");
    for client in [&mut al, &mut bo] {
        let got = staff_message(client).await;
        assert_eq!((got["text"].as_str(), got["staff"].as_bool()), (Some("Welcome, you two!"), Some(true)), "{got}");
        assert_eq!(got["room"], room.as_str());
    }
    fake.inject_message_update(thread_id, id_of(&reply), "Welcome, both of you!");
    assert_eq!(al.wait_for("edited").await["text"], "Welcome, both of you!");

    // Both leave: the pair ends and its thread is archived (and locked) after its messages.
    let last = al.say("bye!").await;
    bo.wait_message(&last).await;
    al.send(json!({"type": "leave"})).await;
    bo.wait_for("stranger_left").await;
    bo.send(json!({"type": "leave"})).await;
    let archived = fake
        .wait_for(|d| d.channel(thread_id).filter(|t| t["thread_metadata"]["archived"] == true), WAIT)
        .await
        .expect("the ended pair's thread is archived");
    assert_eq!(archived["thread_metadata"]["locked"], true);
    assert_eq!(
        mirrored_texts(&fake, thread_id),
        ["hi stranger", "hello \\*you\\*", "where are you from?", "bye!"],
        "every message was posted before the archive"
    );
    let requests = fake.requests();
    let archive_at = requests
        .iter()
        .position(|r| r.method == "PATCH" && r.path == format!("/channels/{thread_id}"))
        .expect("a PATCH archiving the thread");
    assert_eq!(requests[archive_at].body, json!({"archived": true, "locked": true}));
    assert!(
        requests[archive_at..].iter().all(|r| r.path != format!("/channels/{thread_id}/messages")),
        "nothing posted after the archive"
    );
    assert_eq!(fake.threads_of(parent).len(), 1, "the quiet pair never got a thread");
}

#[tokio::test]
async fn a_visitor_room_is_a_thread_named_after_its_title_and_ban_author_works_on_its_messages() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let mut env = discord_env(&fake);
    env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    env.push(("VISITOR_ROOM_IDLE_SECS".to_owned(), "1".to_owned()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    connected(&fake).await;
    let mut host = Client::connect_from(app.addr, "198.51.100.20").await.unwrap();
    let room = visitor_room(&mut host, "Movie night", "Host").await;
    let spam_ip = "203.0.113.20";
    let mut spammer = Client::connect_from(app.addr, spam_ip).await.unwrap();
    spammer.join(&room, "Spammer").await;
    host.say("popcorn ready").await;
    let parent = parent_named(&fake, "visitor-rooms").await;
    let thread = fake.wait_for(|d| d.threads_of(parent).first().cloned(), WAIT).await.expect("a thread");
    assert_eq!(thread["name"], "Movie night");
    let thread_id = id_of(&thread);
    // Posted before the spam, so the spam's Discord message carries one author (the picker for
    // several authors has its own test).
    wait_texts(&fake, thread_id, &["popcorn ready"]).await;
    let spam = spammer.say("cheap pills").await;
    host.wait_message(&spam).await;
    wait_texts(&fake, thread_id, &["popcorn ready", "cheap pills"]).await;
    assert_eq!(room_discord_ids(&app, &room).await, (None, Some(thread_id as i64)));
    let carrier = fake
        .messages_in(thread_id)
        .into_iter()
        .find(|m| m.to_string().contains("cheap pills"))
        .expect("the spam's Discord message");

    // Ban author, invoked in the thread; the mapping is recorded right after the post.
    let db = app.db().await;
    let query = format!("SELECT id FROM message_log WHERE id = '{spam}' AND discord_message_id = {}", id_of(&carrier));
    let deadline = tokio::time::Instant::now() + WAIT;
    while db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the mirror mapping was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let staff = fake.staff_user();
    let (interaction, _) = fake.inject_message_command(&staff, thread_id, "Ban author", id_of(&carrier));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Banned Spammer (tag"), "{answer}");
    assert!(!answer.contains(spam_ip), "{answer}");
    assert_eq!(spammer.wait_for("kicked").await["type"], "kicked");
    assert_eq!(spammer.closed().await, Some(4003));
    let (status, body) = Client::connect_from(app.addr, spam_ip).await.err().expect("refused");
    assert_eq!((status, body["code"].as_str()), (403, Some("banned")));
    // The host carries on, and a staff message in the thread reaches the room.
    fake.inject_message(thread_id, &staff, "Sorry about that.");
    let got = staff_message(&mut host).await;
    assert_eq!((got["text"].as_str(), got["staff"].as_bool()), (Some("Sorry about that."), Some(true)), "{got}");
    // The host leaves; the empty room ends after its idle time and its thread is archived.
    host.send(json!({"type": "leave"})).await;
    let archived = fake
        .wait_for(|d| d.channel(thread_id).filter(|t| t["thread_metadata"]["archived"] == true), WAIT)
        .await
        .expect("the ended room's thread is archived");
    assert_eq!(archived["thread_metadata"]["locked"], true);
    assert_eq!(mirrored_texts(&fake, thread_id), ["popcorn ready", "cheap pills"]);
}

/// A POST to the fake's REST API as the bot (another client of the same rate-limit buckets).
async fn post_as_bot(fake: &FakeDiscord, path: &str, body: &Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = fake.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST /api/v10{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bot {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        fake.token(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    String::from_utf8_lossy(&answer).split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A staff message sent to the pair reaches `client` (skipping the room's web messages).
async fn staff_message(client: &mut Client) -> Value {
    loop {
        let got = client.wait_for("message").await;
        if got["staff"] == true {
            return got;
        }
    }
}

#[tokio::test]
async fn when_discord_rate_limits_or_refuses_threads_messages_go_to_the_parent_titled_with_the_room() {
    // One thread per minute per parent, and someone else just started one in the roulette
    // channel: the bot's attempt gets a 429 asking for about a minute, beyond its budget.
    let fake = FakeDiscord::start(FakeConfig {
        thread_rate_limit: 1,
        thread_rate_window: Duration::from_secs(60),
        ..FakeConfig::default()
    })
    .await;
    let roulette = id_of(&fake.create_channel("pairs-here", fake_discord::channel_type::TEXT, None));
    let other = post_as_bot(&fake, &format!("/channels/{roulette}/threads"), &json!({"name": "x", "type": 11})).await;
    assert_eq!(other, 201);
    let mut env = discord_env(&fake);
    env.push(("DISCORD_ROULETTE_CHANNEL_ID".to_owned(), roulette.to_string()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    connected(&fake).await;

    let (mut a, mut b, room) = roulette_pair(&app, "Cat", "Dan").await;
    let mut expected = Vec::new();
    for i in 0..8 {
        let text = format!("pair message {i}");
        let id = if i % 2 == 0 { a.say(&text).await } else { b.say(&text).await };
        expected.push(text);
        let _ = id;
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    wait_texts(&fake, roulette, &expected).await;
    let title = format!("Roulette pair \\#{}", room.replace('-', "\\-"));
    for m in fake.messages_in(roulette).iter().filter(|m| m["type"] == 0) {
        for e in m["embeds"].as_array().unwrap() {
            assert_eq!(e["title"].as_str(), Some(title.as_str()), "the room is named on every embed: {e}");
            assert!(e["footer"]["text"].as_str().unwrap().ends_with(&format!("· #{room}")), "{e}");
        }
    }
    let attempts = fake.requests_to("POST", &format!("/channels/{roulette}/threads"));
    assert_eq!(attempts.iter().map(|r| r.status).collect::<Vec<_>>(), [201, 429], "one attempt, then the parent");
    assert_eq!(fake.threads_of(roulette).len(), 1, "only the other client's thread");
    assert_eq!(room_discord_ids(&app, &room).await, (Some(roulette as i64), None));
    // Nothing lost: every message maps to a Discord message.
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM message_log WHERE room = '{room}' AND discord_message_id IS NOT NULL"),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 8);
    // The second pair does not even ask before the bucket resets (the headers said so).
    let (mut c, mut d, second) = roulette_pair(&app, "Eve", "Fay").await;
    let id = c.say("second pair").await;
    d.wait_message(&id).await;
    let mut both = expected.clone();
    both.push("second pair");
    wait_texts(&fake, roulette, &both).await;
    assert_eq!(fake.requests_to("POST", &format!("/channels/{roulette}/threads")).len(), 2);
    assert_eq!(room_discord_ids(&app, &second).await, (Some(roulette as i64), None));
    // Ending a pair that fell back archives nothing.
    a.send(json!({"type": "leave"})).await;
    b.wait_for("stranger_left").await;
    b.send(json!({"type": "leave"})).await;
    app.eventually("the bot marks the pair ended", || {
        let (db, room) = (db.clone(), room.clone());
        async move { bot::rooms::list(&db).await.unwrap().iter().any(|r| r.slug == room && r.expires_at.is_some()) }
    })
    .await;

    // Discord refuses threads outright (403 Missing Access) in the visitor rooms' parent.
    fake.refuse_thread_creation(Some(fake_discord::ThreadRefusal::MissingAccess));
    let mut host = app.client().await;
    let room = visitor_room(&mut host, "Book club", "Reader").await;
    host.say("chapter one").await;
    host.say("chapter two").await;
    let parent = parent_named(&fake, "visitor-rooms").await;
    wait_texts(&fake, parent, &["chapter one", "chapter two"]).await;
    let title = fake.messages_in(parent).into_iter().find(|m| m["type"] == 0).unwrap()["embeds"][0]["title"].clone();
    assert_eq!(title.as_str(), Some(format!("Visitor room Book club · \\#{}", room.replace('-', "\\-")).as_str()));
    assert!(fake.threads_of(parent).is_empty());
    let refused = fake.requests_to("POST", &format!("/channels/{parent}/threads"));
    assert_eq!(refused.iter().map(|r| r.status).collect::<Vec<_>>(), [403], "asked once, then kept to the parent");
    assert!(fake.requests().iter().all(|r| r.method != "PATCH"), "nothing archived");
}
