//! Reports, staff side: a visitor's `report` frame (or a `ReportEvent` queued on the bus as a
//! gateway queues it) reaches its thread in the reports channel with the 20 messages around it
//! within 10 s; *Ban tag* bans the tag on every gateway; *Dismiss* closes it; each press edits
//! the report and publishes `report_outcome`, which reaches the reporter's socket; only
//! moderators may press; reports go ahead of the mirror's backlog.

use std::time::{Duration, Instant};

use bus::{Bus, ControlMessage, RedisBus, RedisConfig};
use fake_discord::{FakeConfig, FakeDiscord, id_of};
use protocol::{ControlEvent, InboundEvent, ReportEvent, ReportReason, ReportVerdict, RoomSlug};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use super::*;
use crate::cluster::Cluster;
use crate::support::*;

/// A bus handle on the cluster's Redis, as a gateway has.
pub(crate) async fn bus_of(redis_url: &str, prefix: &str) -> RedisBus {
    let config = RedisConfig {
        url: redis_url.to_owned(),
        prefix: prefix.to_owned(),
        presence_ttl: Duration::from_secs(2),
        queue_max: 100_000,
    };
    RedisBus::connect(config).await.unwrap()
}

pub(crate) fn report(message: &str, room: &str, nick: &str, reporter: &str, ip: &str) -> InboundEvent {
    let now = chrono::Utc::now();
    InboundEvent::Report(ReportEvent {
        message: message.parse().unwrap(),
        room: RoomSlug::parse(room).unwrap(),
        nick: nick.to_owned(),
        reason: ReportReason::Spam,
        note: Some("keeps posting links".to_owned()),
        reporter: reporter.to_owned(),
        reporter_ip: ip.parse().unwrap(),
        reporter_device: None,
        reporter_since: now - chrono::Duration::hours(1),
        at: now,
    })
}

/// Wait for the channel named `name`.
pub(crate) async fn channel_named(fake: &FakeDiscord, name: &str) -> u64 {
    fake.wait_for(|d| d.channels().iter().find(|c| c["name"] == name && c["type"] == 0).map(id_of), WAIT)
        .await
        .unwrap_or_else(|| panic!("no channel {name}: {:?}", fake.channels()))
}

/// The report message in `channel` and the thread started from it (waits up to `within`).
async fn posted_report(fake: &FakeDiscord, channel: u64, within: Duration) -> (Value, u64) {
    fake.wait_for(
        |d| {
            let message = d.messages_in(channel).into_iter().find(|m| m.to_string().contains("Report #"))?;
            let thread = d.threads_of(channel).into_iter().find(|t| id_of(t) == id_of(&message))?;
            (!d.messages_in(id_of(&thread)).is_empty()).then(|| (message, id_of(&thread)))
        },
        within,
    )
    .await
    .unwrap_or_else(|| panic!("no report with its thread in {channel}: {:?}", fake.messages_in(channel)))
}

pub(crate) fn custom_id(message: &Value, label: &str) -> String {
    message["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == label)
        .unwrap_or_else(|| panic!("no {label} button: {message}"))["custom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every button and menu of the report is disabled.
pub(crate) fn buttons_disabled(message: &Value) -> bool {
    message["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["components"].as_array().unwrap())
        .all(|c| c["disabled"] == true)
}

/// The report's *Mute for…* menu (a string select in the second row).
pub(crate) fn mute_menu(message: &Value) -> Value {
    let menu = message["components"][1]["components"][0].clone();
    assert_eq!((menu["type"].as_u64(), menu["placeholder"].as_str()), (Some(3), Some("Mute for…")), "{message}");
    menu
}

/// The next `ReportOutcome` on the control channel.
pub(crate) async fn outcome(feed: &mut bus::ControlFeed) -> (String, String, ReportVerdict) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, feed.recv()).await.expect("no report outcome was published") {
            Some(ControlMessage::Event(ControlEvent::ReportOutcome { reporter, id, outcome })) => {
                return (reporter, id.to_string(), outcome);
            }
            Some(_) => continue,
            None => panic!("the control feed ended"),
        }
    }
}

#[tokio::test]
async fn a_report_reaches_its_thread_with_context_and_ban_tag_bans_on_both_gateways() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let mut cluster = Cluster::new().await;
    cluster.env = discord_env(&fake);
    cluster.env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "chill").await;
    connected(&fake).await;
    let bus = bus_of(&cluster.redis_url, &cluster.prefix).await;

    let spam_ip = "203.0.113.70";
    let mut spammer = Client::connect_from(g1.addr.unwrap(), spam_ip).await.unwrap();
    spammer.join("lobby", "Spammer").await;
    let mut elsewhere = Client::connect_from(g2.addr.unwrap(), spam_ip).await.unwrap();
    elsewhere.join("chill", "Spammer").await;
    let mut alice = Client::connect_from(g2.addr.unwrap(), "198.51.100.70").await.unwrap();
    alice.join("lobby", "Alice").await;
    // 15 messages before the reported one and 15 after, from both sides.
    let mut ids = Vec::new();
    for i in 0..31 {
        let id = if i == 15 {
            spammer.say("buy cheap pills at example.test").await
        } else if i % 2 == 0 {
            alice.say(&format!("line {i}")).await
        } else {
            spammer.say(&format!("line {i}")).await
        };
        ids.push(id);
    }
    let reported = ids[15].clone();

    let mut feed = bus.subscribe_control().await.unwrap();
    // Alice, on the other gateway, reports it through her socket.
    let queued = Instant::now();
    let frame = serde_json::json!({"type": "report", "id": reported, "reason": "spam", "note": "keeps posting links"});
    alice.send(frame).await;
    assert_eq!(alice.wait_for("reported").await["id"], reported.as_str());
    let reports = channel_named(&fake, "reports").await;
    let (message, thread) = posted_report(&fake, reports, Duration::from_secs(10)).await;
    assert!(queued.elapsed() < Duration::from_secs(10), "the report took {:?}", queued.elapsed());

    // The report: room, reported nick and tag, the message, the reporter's tag, no address.
    let text = message.to_string();
    assert!(text.contains("lobby") && text.contains("Spammer") && text.contains("cheap pills"), "{text}");
    assert!(text.contains("Reporter") && text.contains("keeps posting links"), "{text}");
    for ip in [spam_ip, "198.51.100.70"] {
        assert!(!fake.requests().iter().any(|r| r.body.to_string().contains(ip)), "an address reached Discord");
    }
    // The thread: the 20 messages around the reported one (10 each side), it marked.
    let context: Vec<String> = fake
        .messages_in(thread)
        .iter()
        .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["description"].as_str().map(str::to_owned))
        .flat_map(|d| d.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert_eq!(context.len(), 21, "{context:#?}");
    assert!(context[0].contains("line 5") && context[20].contains("line 25"), "{context:#?}");
    assert!(context[10].starts_with('▶') && context[10].contains("cheap pills"), "{context:#?}");
    assert!(context.iter().any(|l| l.contains("Alice")) && context.iter().any(|l| l.contains("Spammer")));

    // Someone without the moderator level is refused and nothing happens.
    let visitor = fake.add_user("curious", &[]);
    let (refused, _) = fake.inject_component(&visitor, reports, id_of(&message), &custom_id(&message, "Ban tag"), None);
    let answer = answer_of(&fake, refused).await;
    assert!(answer.contains("Only moderators"), "{answer}");
    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    let state = bot::reports::get(&db, 1).await.unwrap().unwrap().state;
    assert_eq!(state, "open");

    // A moderator bans the tag: the sender is out on both gateways and cannot come back.
    let staff = fake.staff_user();
    let (pressed, _) = fake.inject_component(&staff, reports, id_of(&message), &custom_id(&message, "Ban tag"), None);
    assert_eq!(spammer.wait_for("kicked").await["type"], "kicked");
    assert_eq!(elsewhere.wait_for("kicked").await["type"], "kicked");
    for g in [&g1, &g2] {
        let (status, body) = Client::connect_from(g.addr.unwrap(), spam_ip).await.err().expect("refused");
        assert_eq!((status, body["code"].as_str()), (403, Some("banned")));
    }
    // The report message shows who decided, its buttons disabled; the outcome is published.
    let edited = fake
        .wait_for(|d| d.message(reports, id_of(&message)).filter(|m| m.to_string().contains("Tag banned by")), WAIT)
        .await
        .unwrap_or_else(|| panic!("the report was not edited: {:?}", fake.interaction_responses(pressed)));
    assert!(edited.to_string().contains(&format!("<@{}>", staff.id)) && buttons_disabled(&edited), "{edited}");
    let (reporter, id, verdict) = outcome(&mut feed).await;
    assert!(reporter.starts_with("gw-"), "alice's connection: {reporter}");
    assert_eq!((id, verdict), (reported.clone(), ReportVerdict::Banned));
    // The outcome reaches Alice's socket on her gateway.
    let told = alice.wait_for("report_outcome").await;
    assert_eq!((told["id"].as_str(), told["outcome"].as_str()), (Some(reported.as_str()), Some("banned")), "{told}");
    let row = bot::reports::get(&db, 1).await.unwrap().unwrap();
    assert_eq!(row.state, "banned");
    assert!(row.decided_by.unwrap().contains(&staff.id.to_string()));
    assert_eq!(row.discord_thread_id, Some(i64::try_from(thread).unwrap()));
    db.close().await.unwrap();
    alice.say("calm again").await;
    cluster.finish().await;
}

#[tokio::test]
async fn dismiss_edits_the_report_publishes_the_outcome_and_the_first_decision_stands() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let category = id_of(&fake.create_channel("chat", fake_discord::channel_type::CATEGORY, None));
    let mut cluster = Cluster::new().await;
    cluster.env = discord_env(&fake);
    cluster.env.push(("DISCORD_CATEGORY_ID".to_owned(), category.to_string()));
    let _bot = cluster.bot().await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    connected(&fake).await;
    let bus = bus_of(&cluster.redis_url, &cluster.prefix).await;
    let mut bob = g1.client().await;
    bob.join("lobby", "Bob").await;
    let id = bob.say("just a joke").await;

    let mut feed = bus.subscribe_control().await.unwrap();
    bus.enqueue(&report(&id, "lobby", "Bob", "g-x:1", "192.0.2.80")).await.unwrap();
    let reports = channel_named(&fake, "reports").await;
    // Created private under the category.
    let channel = fake.channel(reports).unwrap();
    assert_eq!(channel["parent_id"], category.to_string());
    let (message, _) = posted_report(&fake, reports, Duration::from_secs(10)).await;

    let staff = fake.staff_user();
    fake.inject_component(&staff, reports, id_of(&message), &custom_id(&message, "Dismiss"), None);
    let edited = fake
        .wait_for(|d| d.message(reports, id_of(&message)).filter(|m| m.to_string().contains("Dismissed by")), WAIT)
        .await
        .expect("the report was not edited");
    assert!(buttons_disabled(&edited), "{edited}");
    assert_eq!(outcome(&mut feed).await, ("g-x:1".to_owned(), id.clone(), ReportVerdict::Dismissed));

    // A late Ban tag changes nothing: the message still shows the dismissal, nobody is banned.
    let other = fake.staff_user();
    let (late, _) = fake.inject_component(&other, reports, id_of(&message), &custom_id(&message, "Ban tag"), None);
    fake.wait_for(|d| (!d.interaction_responses(late).is_empty()).then_some(()), WAIT).await.expect("no answer");
    let shown = fake.message(reports, id_of(&message)).unwrap().to_string();
    assert!(shown.contains("Dismissed by") && !shown.contains("Tag banned"), "{shown}");
    bob.say("still here").await;
    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    assert!(bot::bans::list(&db, true).await.unwrap().is_empty());
    assert_eq!(bot::reports::get(&db, 1).await.unwrap().unwrap().state, "dismissed");
    db.close().await.unwrap();
    cluster.finish().await;
}

#[tokio::test]
async fn reports_go_ahead_of_the_mirrors_backlog() {
    // Discord's per-channel limits out of the way: the bot's global budget (4 requests a second,
    // 1 reserved) is the bottleneck, and 12 visitor rooms need 24 requests (thread + post).
    let fake = FakeDiscord::start(FakeConfig {
        message_rate_limit: 1000,
        message_rate_window: Duration::from_secs(1),
        thread_rate_limit: 1000,
        thread_rate_window: Duration::from_secs(1),
        ..FakeConfig::default()
    })
    .await;
    let reports = id_of(&fake.create_channel("reports", fake_discord::channel_type::TEXT, None));
    let redis_url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("it-{}", ulid::Ulid::new());
    let mut env = discord_env(&fake);
    env.push(("DISCORD_REPORTS_CHANNEL_ID".to_owned(), reports.to_string()));
    env.push(("REDIS_URL".to_owned(), redis_url.clone()));
    env.push(("REDIS_PREFIX".to_owned(), prefix.clone()));
    env.push(("VISITOR_ROOMS_PER_IP".to_owned(), "100".to_owned()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_tuned_with(&pairs, |config| {
        if let Some(discord) = config.bot.discord.as_mut() {
            discord.budget = bot::discord::budget::Limits { limit: 4, window: Duration::from_secs(1), reserve: 1 };
        }
    })
    .await;
    connected(&fake).await;
    let bus = bus_of(&redis_url, &prefix).await;

    let mut hosts = Vec::new();
    for i in 0..12 {
        let mut host = app.client().await;
        let room = visitor_room(&mut host, &format!("room {i}"), &format!("Host{i}")).await;
        host.say(&format!("hello from room {i}")).await;
        hosts.push((host, room));
    }
    let reported_room = hosts[0].1.clone();
    let reported = hosts[0].0.say("the reported one").await;
    let queued = Instant::now();
    bus.enqueue(&report(&reported, &reported_room, "Host0", "g-r:1", "198.51.100.90")).await.unwrap();
    let (message, thread) = posted_report(&fake, reports, Duration::from_secs(10)).await;
    // When the report and its thread were in Discord, the mirror was still behind: messages
    // logged before the report was queued had not reached Discord yet.
    let db = app.db().await;
    let waiting = bot::entities::message_log::Entity::find()
        .filter(bot::entities::message_log::Column::DiscordMessageId.is_null())
        .filter(bot::entities::message_log::Column::Id.lt(reported.as_str()))
        .count(&db)
        .await
        .unwrap();
    assert!(waiting > 0, "the mirror had caught up before the report went out: no backlog to go ahead of");
    // The report's three requests (message, thread, context) went ahead of the waiting mirror
    // requests: at most the bulk share of the windows they fell in (3 a second) went between
    // (in a first-come budget, each of them would wait behind about a dozen).
    let requests = fake.requests();
    let report_done = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == format!("/channels/{thread}/messages"))
        .map(|r| r.at)
        .min()
        .expect("the context request");
    let between = requests
        .iter()
        .filter(|r| r.at > queued && r.at < report_done)
        .filter(|r| !r.path.contains(&reports.to_string()) && !r.path.contains(&thread.to_string()))
        .filter(|r| !r.path.starts_with("/interactions") && !r.path.starts_with("/webhooks"))
        .count();
    assert!(between <= 6, "{between} other requests went before the report's; waiting: {waiting}");
    assert!(message.to_string().contains("the reported one"));
    // And the backlog still drains.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = bot::entities::message_log::Entity::find()
            .filter(bot::entities::message_log::Column::DiscordMessageId.is_null())
            .count(&db)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} messages never reached Discord");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    db.close().await.unwrap();
    drop(hosts);
    app.stop().await;
}
