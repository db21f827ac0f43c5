//! Redis losing its data under a running split deployment (a private `redis-server` killed and
//! started again empty, or flushed): visitor rooms and pairs live on, waiters are paired,
//! capacity is checked again, no room stays open in the database once it ended, and every
//! acknowledged message is logged exactly once.

use std::collections::HashSet;
use std::time::Duration;

use bus::{Bus, RedisBus, RedisConfig, Seat, SeatClaim, SeatLoss};
use protocol::RoomSlug;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::cluster::{Cluster, Proc};
use crate::redis_server::{Persistence, RedisServer};
use crate::support::*;

/// Longest a recovery may take in these tests.
const RECOVERY: Duration = Duration::from_secs(30);

/// Send `text` until it is acknowledged (the bus may be reconnecting: `unavailable` meanwhile).
pub(crate) async fn say_until_acked(client: &mut Client, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let client_id = ulid::Ulid::new().to_string();
        client.send(json!({"type": "say", "text": text, "client_id": client_id})).await;
        let f = loop {
            let f = client.next().await;
            if f["client_id"] == client_id.as_str() {
                break f;
            }
        };
        if f["type"] == "ack" {
            return f["id"].as_str().unwrap().to_owned();
        }
        assert_eq!(f["code"], "unavailable", "{f}");
        assert!(tokio::time::Instant::now() < deadline, "never acknowledged again: {f}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Send `frame` until its answer is of type `kind` (an `unavailable` error means try again).
pub(crate) async fn send_until(client: &mut Client, frame: Value, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        client.send(frame.clone()).await;
        let f = loop {
            let f = client.next().await;
            if f["type"] == kind || f["type"] == "error" {
                break f;
            }
        };
        if f["type"] == kind {
            return f;
        }
        assert_eq!(f["code"], "unavailable", "{f}");
        assert!(tokio::time::Instant::now() < deadline, "never answered {kind}: {f}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn create_room(client: &mut Client, title: &str, capacity: u32) -> String {
    client.send(json!({"type": "create", "title": title, "capacity": capacity, "listed": false})).await;
    client.expect("created").await["room"].as_str().unwrap().to_owned()
}

/// Wait until `gateway` knows `room` (listed or not).
pub(crate) async fn wait_known(gateway: &Proc, room: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while http_get(gateway.addr.unwrap(), &format!("/api/rooms/{room}")).await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "{room} never reached the gateway");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait for `matched` and the `joined` that follows it.
pub(crate) async fn matched(client: &mut Client) -> Value {
    let m = client.wait_for("matched").await;
    let joined = client.wait_for("joined").await;
    assert_eq!(joined["room"], m["room"]);
    m
}

async fn query_strings(cluster: &Cluster, sql: &str) -> Vec<String> {
    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    let out = rows.iter().map(|row| row.try_get_by_index::<String>(0).unwrap()).collect();
    db.close().await.unwrap();
    out
}

/// Visitor rooms and pairs the database holds open.
async fn open_in_db(cluster: &Cluster) -> Vec<String> {
    query_strings(cluster, "SELECT slug FROM rooms WHERE kind <> 'staff' AND expires_at IS NULL").await
}

async fn wait_open_in_db(cluster: &Cluster, what: impl Fn(&[String]) -> bool, why: &str) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let open = open_in_db(cluster).await;
        if what(&open) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{why}: open in the database: {open:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until every id of `acked` is in `message_log`, each once; returns what is logged.
async fn wait_all_logged(cluster: &Cluster, acked: &HashSet<String>) -> HashSet<String> {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let (rows, distinct) = cluster.logged().await;
        assert_eq!(rows, distinct, "a message was logged twice");
        let logged: HashSet<String> = query_strings(cluster, "SELECT id FROM message_log").await.into_iter().collect();
        let missing = acked.difference(&logged).count();
        if missing == 0 {
            return logged;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} of {} acknowledged messages never logged",
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn visitor_rooms_pairs_and_waiters_live_on_when_redis_comes_back_empty_and_end_cleanly() {
    let mut redis = RedisServer::start(Persistence::None).await;
    let mut cluster = Cluster::with_redis(redis.url()).await;
    cluster.env.push(("VISITOR_ROOM_IDLE_SECS".into(), "1".into()));
    let bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    // A visitor room with a member on each gateway.
    let mut alice = g1.client().await;
    let room = create_room(&mut alice, "Book club", 5).await;
    alice.join(&room, "Alice").await;
    wait_known(&g2, &room).await;
    let mut bob = g2.client().await;
    bob.join(&room, "Bob").await;
    // A roulette pair across the gateways, and a stranger waiting on the first.
    let (mut ron, mut rita) = (g1.client().await, g2.client().await);
    ron.send(json!({"type": "roulette", "nick": "Ron", "interests": []})).await;
    ron.wait_for("waiting").await;
    rita.send(json!({"type": "roulette", "nick": "Rita", "interests": []})).await;
    let pair = matched(&mut ron).await["room"].as_str().unwrap().to_owned();
    matched(&mut rita).await;
    let mut will = g1.client().await;
    will.send(json!({"type": "roulette", "nick": "Will", "interests": []})).await;
    will.wait_for("waiting").await;
    wait_open_in_db(&cluster, |open| open.contains(&room) && open.contains(&pair), "the bot never recorded the rooms")
        .await;
    g1.wait_log("Redis runs without appendonly").await;
    bot.wait_log("Redis runs without appendonly").await;

    redis.restart_empty().await;

    // The visitor room and the pair carry messages across the gateways again.
    let id = say_until_acked(&mut alice, "still reading").await;
    assert_eq!(bob.wait_message(&id).await["nick"], "Alice");
    let id = say_until_acked(&mut ron, "still paired").await;
    assert_eq!(rita.wait_message(&id).await["nick"], "Ron");
    let id = say_until_acked(&mut rita, "me too").await;
    ron.wait_message(&id).await;
    g1.wait_log("put back the rooms, bans and filters the bus lost").await;
    // Both seats are back: the room counts its two members, and nobody else can be Bob.
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while cluster.members(&g1, &room).await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the seats never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut copycat = g1.client().await;
    copycat.send(json!({"type": "join", "room": room, "nick": "bob"})).await;
    copycat.expect_error("nick_taken").await;
    // The waiter's ticket was queued again: a newcomer is paired with him.
    let mut wanda = g2.client().await;
    let m = send_until(&mut wanda, json!({"type": "roulette", "nick": "Wanda", "interests": []}), "matched").await;
    assert_eq!(m["stranger"], "Will", "{m}");
    assert_eq!(matched(&mut will).await["stranger"], "Wanda");

    // Everybody leaves: every room ends, in the database too.
    for client in [&mut alice, &mut bob, &mut ron, &mut rita, &mut will, &mut wanda] {
        client.send(json!({"type": "leave"})).await;
    }
    wait_open_in_db(&cluster, <[String]>::is_empty, "rooms stayed open after they ended").await;
    let ended =
        query_strings(&cluster, "SELECT slug FROM rooms WHERE kind <> 'staff' AND expires_at IS NOT NULL").await;
    assert!(ended.contains(&room) && ended.contains(&pair), "{ended:?}");
    assert_eq!(ended.len(), 3, "the visitor room and two pairs: {ended:?}");
    cluster.finish().await;
}

#[tokio::test]
async fn a_seat_that_no_longer_fits_after_redis_lost_it_is_refused_and_its_holder_told() {
    let redis = RedisServer::start(Persistence::None).await;
    let cluster = Cluster::with_redis(redis.url()).await;
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    let mut alice = g1.client().await;
    let room = create_room(&mut alice, "Duo", 2).await;
    alice.join(&room, "Alice").await;
    let mut bob = g1.client().await;
    bob.join(&room, "Bob").await;
    wait_known(&g2, &room).await;
    let mut carol = g2.client().await;

    // Redis forgets everything; Carol asks for a seat before the first gateway takes its two back.
    redis.flush().await;
    carol.send(json!({"type": "join", "room": room, "nick": "Carol"})).await;
    let answer = loop {
        let f = carol.next().await;
        if matches!(f["type"].as_str(), Some("joined" | "error")) {
            break f;
        }
    };
    if answer["type"] == "error" {
        // The first gateway was faster: capacity held the other way round.
        assert_eq!(answer["code"], "room_full", "{answer}");
    } else {
        // One of Alice and Bob does not fit any more, and is told so, then sent away.
        let mut told = 0;
        for client in [&mut alice, &mut bob] {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while let Ok(f) = tokio::time::timeout_at(deadline, client.next()).await {
                if f["type"] == "error" {
                    assert_eq!(f["code"], "room_full", "{f}");
                    assert!(f["message"].as_str().unwrap().contains("restarted"), "{f}");
                    assert_eq!(client.wait_for("kicked").await["reason"], f["message"]);
                    assert_eq!(client.closed().await, Some(1000));
                    told += 1;
                    break;
                }
            }
        }
        assert_eq!(told, 1, "exactly one seat did not fit");
    }
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while cluster.members(&g2, &room).await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the room did not settle at its capacity");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.finish().await;
}

#[tokio::test]
async fn a_room_no_gateway_knows_after_redis_lost_its_data_is_closed_by_the_bot() {
    let mut redis = RedisServer::start(Persistence::None).await;
    let cluster = Cluster::with_redis(redis.url()).await;
    let bot = cluster.bot().await;
    let mut g1 = cluster.gateway().await;
    let mut alice = g1.client().await;
    let room = create_room(&mut alice, "Orphan", 4).await;
    alice.join(&room, "Alice").await;
    wait_open_in_db(&cluster, |open| open.contains(&room), "the bot never recorded the room").await;
    // Its only gateway dies, and Redis forgets it: nobody will ever close it but the bot.
    g1.kill().await;
    redis.restart_empty().await;
    let _g2 = cluster.gateway().await;
    wait_open_in_db(&cluster, <[String]>::is_empty, "the orphan room stayed open").await;
    bot.wait_log("closing a visitor room or pair that no gateway knows any more").await;
    cluster.finish().await;
}

#[tokio::test]
async fn every_acknowledged_message_is_logged_exactly_once_when_redis_comes_back_empty() {
    let mut redis = RedisServer::start(Persistence::None).await;
    let cluster = Cluster::with_redis(redis.url()).await;
    let mut bot = cluster.bot().await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    let mut acked = HashSet::new();

    // 1. The bot is away: what is queued lives only in Redis and in the gateway.
    bot.stop().await;
    for i in 0..30 {
        acked.insert(alice.say(&format!("while the bot is away {i}")).await);
    }
    redis.restart_empty().await;
    acked.insert(say_until_acked(&mut alice, "after the restart").await);
    let bot = cluster.bot().await;
    let logged = wait_all_logged(&cluster, &acked).await;
    assert_eq!(logged, acked, "nothing but what was acknowledged");
    g1.wait_log("queued again what the bot had not logged when Redis lost it").await;

    // 2. The bot logged them a moment ago: what the gateway still keeps is queued again, and
    // the log skips what it has.
    for i in 0..20 {
        acked.insert(alice.say(&format!("just logged {i}")).await);
    }
    wait_all_logged(&cluster, &acked).await;
    redis.restart_empty().await;

    // 3. A burst through a restart: every message is acknowledged or refused, never both.
    for i in 0..200 {
        alice.send(json!({"type": "say", "text": format!("burst {i}"), "client_id": i.to_string()})).await;
        if i == 60 {
            redis.restart_empty().await;
        }
    }
    let mut answered = 0;
    while answered < 200 {
        let f = alice.next().await;
        match f["type"].as_str() {
            Some("ack") => {
                acked.insert(f["id"].as_str().unwrap().to_owned());
                answered += 1;
            }
            Some("error") => {
                assert_eq!(f["code"], "unavailable", "{f}");
                answered += 1;
            }
            _ => {}
        }
    }
    acked.insert(say_until_acked(&mut alice, "the end").await);
    let logged = wait_all_logged(&cluster, &acked).await;
    // A refused message may still have reached the queue (the reply was lost): logged is a
    // superset of acknowledged, by at most the refused ones.
    assert!(logged.len() >= acked.len());
    assert!(logged.len() - acked.len() <= 200, "{} extra", logged.len() - acked.len());
    drop(bot);
    cluster.finish().await;
}

#[tokio::test]
async fn with_appendonly_a_killed_redis_keeps_the_queue_and_nothing_is_queued_twice() {
    let mut redis = RedisServer::start(Persistence::AppendOnly).await;
    let cluster = Cluster::with_redis(redis.url()).await;
    let mut bot = cluster.bot().await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    bot.stop().await;
    for i in 0..20 {
        alice.say(&format!("kept on disk {i}")).await;
    }
    redis.restart().await;
    say_until_acked(&mut alice, "after the restart").await;
    let bot = cluster.bot().await;
    cluster.wait_logged(21).await;
    // Redis kept its data: nothing was lost, so nothing was queued again.
    assert!(!g1.logs().contains("Redis lost its data"), "{}", g1.logs());
    assert!(!g1.logs().contains("without appendonly"));
    assert!(!bot.logs().contains("without appendonly"));
    cluster.finish().await;
}

fn seat(nick: &str, holder: &str, address: &str) -> Seat {
    Seat { nick: nick.into(), key: nick.to_lowercase(), holder: holder.into(), address: address.into() }
}

#[tokio::test]
async fn the_bus_takes_a_lost_seat_back_only_if_it_still_fits_and_says_so_otherwise() {
    let redis = RedisServer::start(Persistence::None).await;
    let config = RedisConfig {
        url: redis.url(),
        prefix: "cap".into(),
        presence_ttl: Duration::from_secs(30),
        queue_max: bus::DEFAULT_QUEUE_MAX,
    };
    let room = RoomSlug::parse("single").unwrap();
    let first = RedisBus::connect(config.clone()).await.unwrap();
    let mut lost = first.lost_seats();
    let losses = first.watch_data_losses();
    assert_eq!(
        first.claim_seat(&room, &seat("Ann", "a:1", "x"), 1, 5).await.unwrap(),
        SeatClaim::Granted { members: vec!["Ann".into()] }
    );

    redis.flush().await;
    let second = RedisBus::connect(config).await.unwrap();
    let claimed = second.claim_seat(&room, &seat("Ben", "b:1", "y"), 1, 5).await.unwrap();
    if claimed == SeatClaim::Full {
        // The first bus found the loss and re-took its seat in between (a window of
        // milliseconds): the room still holds one.
        assert_eq!(second.members(&room).await.unwrap(), vec!["Ann".to_owned()]);
        return;
    }
    assert_eq!(claimed, SeatClaim::Granted { members: vec!["Ben".into()] });
    // The first bus finds the loss within a second, tries its seat again, and is refused.
    let seat = tokio::time::timeout(WAIT, lost.recv()).await.expect("the lost seat was never announced").unwrap();
    assert_eq!((seat.room.as_str(), seat.key.as_str(), seat.why), ("single", "ann", SeatLoss::Full));
    assert_eq!(*losses.borrow(), 1);
    assert_eq!(first.data_losses().await.unwrap(), 1);
    assert_eq!(second.data_losses().await.unwrap(), 0, "the second bus never knew the old data");
    assert_eq!(second.members(&room).await.unwrap(), vec!["Ben".to_owned()]);
}

/// Read the queue, once more if the first read found the consumer group gone (after a flush).
async fn read_queue(bus: &RedisBus) -> Vec<bus::QueueEntry> {
    match bus.dequeue("test", 100, Duration::ZERO).await {
        Ok(entries) => entries,
        Err(_) => bus.dequeue("test", 100, Duration::ZERO).await.unwrap(),
    }
}

fn closed(entries: &[bus::QueueEntry]) -> Vec<(String, bool)> {
    entries
        .iter()
        .map(|entry| match &entry.event {
            protocol::InboundEvent::RoomClosed { slug } => (slug.to_string(), entry.requeued),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn the_bus_queues_again_what_the_bot_had_not_logged_when_redis_lost_it() {
    let redis = RedisServer::start(Persistence::None).await;
    let config = RedisConfig {
        url: redis.url(),
        prefix: "keep".into(),
        presence_ttl: Duration::from_secs(30),
        queue_max: bus::DEFAULT_QUEUE_MAX,
    };
    let bus = RedisBus::connect(config).await.unwrap();
    for slug in ["room-a", "room-b", "room-c"] {
        bus.enqueue(&protocol::InboundEvent::RoomClosed { slug: RoomSlug::parse(slug).unwrap() }).await.unwrap();
    }
    let first = read_queue(&bus).await;
    assert_eq!(closed(&first), vec![("room-a".into(), false), ("room-b".into(), false), ("room-c".into(), false)]);
    // The bot logged the first entry only.
    assert!(bus.mark_logged(&first[0].id).await.unwrap());
    assert_eq!(bus.data_losses().await.unwrap(), 0);

    redis.flush().await;
    assert_eq!(bus.data_losses().await.unwrap(), 1, "the loss is found at once when asked");
    let again = read_queue(&bus).await;
    assert_eq!(closed(&again), vec![("room-b".into(), true), ("room-c".into(), true)], "in order, marked");

    // Logged this time: a second loss has nothing left to queue again.
    assert!(bus.mark_logged(&again[1].id).await.unwrap());
    bus.data_losses().await.unwrap();
    redis.flush().await;
    assert_eq!(bus.data_losses().await.unwrap(), 2);
    assert!(read_queue(&bus).await.is_empty());
}

/// The web texts a Discord channel or thread shows, in order.
fn discord_texts(fake: &fake_discord::FakeDiscord, channel: u64) -> Vec<String> {
    fake.messages_in(channel)
        .iter()
        .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["description"].as_str().map(str::to_owned))
        .collect()
}

/// The thread titled `title` under `parent`, once there.
async fn thread_titled(fake: &fake_discord::FakeDiscord, parent: u64, title: &str) -> u64 {
    fake.wait_for(|d| d.threads_of(parent).iter().find(|t| t["name"] == title).map(fake_discord::id_of), RECOVERY)
        .await
        .unwrap_or_else(|| panic!("no thread {title}: {:?}", fake.threads_of(parent)))
}

#[tokio::test]
async fn after_redis_came_back_empty_discord_gets_no_duplicate_and_the_thread_of_a_room_left_empty_is_archived() {
    let fake = fake_discord::FakeDiscord::start(fake_discord::FakeConfig::default()).await;
    let mut redis = RedisServer::start(Persistence::None).await;
    let mut cluster = Cluster::with_redis(redis.url()).await;
    cluster.env = crate::discord::discord_env(&fake);
    cluster.env.push(("VISITOR_ROOM_IDLE_SECS".into(), "2".into()));
    let _bot = cluster.bot().await;
    let (g1, mut g2) = (cluster.gateway().await, cluster.gateway().await);
    let mut alice = g1.client().await;
    let kept = create_room(&mut alice, "Kept", 4).await;
    alice.join(&kept, "Alice").await;
    let mut bob = g2.client().await;
    let orphan = create_room(&mut bob, "Orphan", 4).await;
    bob.join(&orphan, "Bob").await;
    alice.say("one").await;
    bob.say("two").await;
    let parent = crate::discord::parent_named(&fake, "visitor-rooms").await;
    let (kept_thread, orphan_thread) =
        (thread_titled(&fake, parent, "Kept").await, thread_titled(&fake, parent, "Orphan").await);
    fake.wait_for(|d| (discord_texts(d, kept_thread) == ["one"]).then_some(()), RECOVERY).await.expect("one mirrored");
    fake.wait_for(|d| (discord_texts(d, orphan_thread) == ["two"]).then_some(()), RECOVERY)
        .await
        .expect("two mirrored");

    // The orphan's gateway dies and Redis forgets everything, at once: g1 may still keep "one"
    // (and its room's opening) and queue them again, which Discord must not show twice. g1
    // puts both rooms back; the orphan, empty once its member's seat is gone, ends after its
    // idle time and its thread is archived.
    g2.kill().await;
    redis.restart_empty().await;
    say_until_acked(&mut alice, "three").await;
    let shown = fake
        .wait_for(|d| (discord_texts(d, kept_thread).len() >= 2).then(|| discord_texts(d, kept_thread)), RECOVERY)
        .await;
    assert_eq!(shown.as_deref(), Some(&["one".to_owned(), "three".to_owned()][..]));
    let archived = fake
        .wait_for(|d| d.channel(orphan_thread).filter(|t| t["thread_metadata"]["archived"] == true), RECOVERY)
        .await;
    assert!(archived.is_some(), "the emptied room's thread was never archived");
    assert_eq!(discord_texts(&fake, kept_thread), ["one", "three"], "nothing posted twice");
    assert!(!open_in_db(&cluster).await.contains(&orphan));
    cluster.finish().await;
}

async fn execute(cluster: &Cluster, sql: &str) {
    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    db.close().await.unwrap();
}

/// Send `text` and read until its answer: `Ok(id)` on `ack`, `Err(code)` on `error`.
async fn say_answer(client: &mut Client, text: &str) -> Result<String, String> {
    client.send(json!({"type": "say", "text": text})).await;
    loop {
        let f = client.next().await;
        match f["type"].as_str() {
            Some("ack") => return Ok(f["id"].as_str().unwrap().to_owned()),
            Some("error") => return Err(f["code"].as_str().unwrap().to_owned()),
            _ => {}
        }
    }
}

/// Wait until the gateway refuses `text` as `filtered` and an upgrade from 198.51.100.7 as
/// `banned`: the filter and the ban are in force there.
async fn wait_filter_and_ban(gateway: &Proc, client: &mut Client) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let said = say_answer(client, "a forbidden word").await;
        let upgrade = Client::connect_from(gateway.addr.unwrap(), "198.51.100.7").await.err();
        let filtered = said == Err("filtered".to_owned());
        let banned = upgrade.as_ref().is_some_and(|(code, body)| *code == 403 && body["code"] == "banned");
        if filtered && banned {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "say: {said:?}, upgrade: {upgrade:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn with_the_bot_away_redis_coming_back_empty_keeps_staff_rooms_bans_and_filters() {
    let mut redis = RedisServer::start(Persistence::None).await;
    let mut cluster = Cluster::with_redis(redis.url()).await;
    cluster.env.push(("TRUSTED_PROXIES".into(), "127.0.0.1".into()));
    let mut bot = cluster.bot().await;
    // Filters come from Discord commands: this one goes straight into the table the bot syncs.
    execute(
        &cluster,
        "INSERT INTO filters (pattern, is_regex, action, created_by, created_at) \
         VALUES ('forbidden', false, 'block', 'test', CURRENT_TIMESTAMP)",
    )
    .await;
    cluster.cli(&["bans", "add", "198.51.100.0/24", "--reason", "spam"]).await;
    let g1 = cluster.gateway().await;
    cluster.wait_room(&g1, "lobby").await;
    let mut alice = g1.client().await;
    alice.join("lobby", "Alice").await;
    let before = alice.say("said before the loss").await;
    wait_filter_and_ban(&g1, &mut alice).await;

    // The bot is away when Redis loses everything: the gateway puts back what it knows, so its
    // snapshot reloads (every second here) neither close the lobby nor lift the ban or filter.
    bot.stop().await;
    redis.restart_empty().await;
    g1.wait_log("put back the rooms, bans and filters the bus lost").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_filter_and_ban(&g1, &mut alice).await;

    // The bot back: the lobby the gateway put back gets its history again from the log (seeding
    // fills an empty history only: nobody spoke there since the loss).
    let _bot = cluster.bot().await;
    let deadline = tokio::time::Instant::now() + RECOVERY;
    for attempt in 0.. {
        let mut bob = g1.client().await;
        let joined = bob.join("lobby", &format!("Bob{attempt}")).await;
        let history: Vec<&str> =
            joined["history"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
        if history.contains(&before.as_str()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lobby's history was never seeded again: {history:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Alice was never sent away.
    say_until_acked(&mut alice, "still in the lobby").await;
    cluster.finish().await;
}
