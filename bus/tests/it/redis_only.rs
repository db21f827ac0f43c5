//! What only the Redis bus can show: several processes sharing one server.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, RedisBus, RedisConfig, Seat, SeatClaim};
use bytes::Bytes;
use protocol::{InboundEvent, LoggedMessage, MessageView, RoomSlug};
use ulid::Ulid;

const WAIT: Duration = Duration::from_secs(10);

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A bus under a prefix of its own, so tests never see each other's keys.
pub async fn connect(ttl: Duration) -> RedisBus {
    connect_prefix(&format!("test-{}", Ulid::new()), ttl).await
}

pub async fn connect_prefix(prefix: &str, ttl: Duration) -> RedisBus {
    let url = redis_url();
    RedisBus::connect(RedisConfig {
        url: url.clone(),
        prefix: prefix.to_owned(),
        presence_ttl: ttl,
        queue_max: bus::DEFAULT_QUEUE_MAX,
    })
    .await
    .unwrap_or_else(|e| panic!("Redis is required for this test ({url}): {e}"))
}

fn room() -> RoomSlug {
    RoomSlug::parse(&format!("r-{}", Ulid::new().to_string().to_lowercase())).unwrap()
}

fn seat(nick: &str, holder: &str) -> Seat {
    // Each holder is an address of its own unless a test says otherwise.
    Seat { nick: nick.into(), key: nick.to_lowercase(), holder: holder.into(), address: holder.into() }
}

#[tokio::test]
async fn two_processes_share_fanout_and_presence() {
    let prefix = format!("test-{}", Ulid::new());
    let one = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let two = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let room = room();
    let mut feed = two.subscribe_room(&room).await.unwrap();
    one.publish(&room, Bytes::from_static(b"{\"type\":\"pong\"}")).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, feed.recv()).await.unwrap().unwrap(), "{\"type\":\"pong\"}");

    // Capacity holds across processes claiming at once.
    let (one, two) = (Arc::new(one), Arc::new(two));
    let claims = (0..6).map(|i| {
        let bus = if i % 2 == 0 { one.clone() } else { two.clone() };
        let room = room.clone();
        tokio::spawn(
            async move { bus.claim_seat(&room, &seat(&format!("n{i}"), &format!("h{i}")), 3, 10).await.unwrap() },
        )
    });
    let mut granted = 0;
    for c in claims {
        if matches!(c.await.unwrap(), SeatClaim::Granted { .. }) {
            granted += 1;
        }
    }
    assert_eq!(granted, 3);
    assert_eq!(two.members(&room).await.unwrap().len(), 3);
    bus::redis::delete_prefix(&redis_url(), &prefix).await.unwrap();
}

#[tokio::test]
async fn seats_of_a_dead_process_lapse_after_the_ttl_and_live_ones_stay() {
    let prefix = format!("test-{}", Ulid::new());
    let ttl = Duration::from_millis(900);
    let dying = connect_prefix(&prefix, ttl).await;
    let living = connect_prefix(&prefix, ttl).await;
    let room = room();
    assert!(matches!(dying.claim_seat(&room, &seat("Ghost", "d1"), 2, 10).await.unwrap(), SeatClaim::Granted { .. }));
    assert!(matches!(living.claim_seat(&room, &seat("Alive", "l1"), 2, 10).await.unwrap(), SeatClaim::Granted { .. }));
    assert_eq!(living.claim_seat(&room, &seat("Third", "l2"), 2, 10).await.unwrap(), SeatClaim::Full);
    drop(dying); // no release, no more refreshes: like a SIGKILL
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if living.members(&room).await.unwrap() == vec!["Alive".to_owned()] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the dead process's seat never lapsed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The living process kept its seat through several TTLs by refreshing it.
    tokio::time::sleep(ttl * 3).await;
    assert_eq!(living.members(&room).await.unwrap(), vec!["Alive".to_owned()]);
    assert_eq!(living.occupancy(std::slice::from_ref(&room)).await.unwrap(), vec![1]);
    bus::redis::delete_prefix(&redis_url(), &prefix).await.unwrap();
}

#[tokio::test]
async fn many_seats_are_all_kept_alive_though_refreshed_in_paced_chunks() {
    // More seats than one refresh chunk, so a round spans several paced chunks: every seat
    // must still be refreshed before its TTL runs out.
    let prefix = format!("test-{}", Ulid::new());
    let ttl = Duration::from_millis(900);
    let bus = connect_prefix(&prefix, ttl).await;
    let room = room();
    let n = 150;
    for i in 0..n {
        let claim = bus.claim_seat(&room, &seat(&format!("Nick{i}"), &format!("h{i}")), 1000, 10).await.unwrap();
        assert!(matches!(claim, SeatClaim::Granted { .. }), "seat {i}: {claim:?}");
    }
    for _ in 0..4 {
        tokio::time::sleep(ttl).await;
        assert_eq!(bus.occupancy(std::slice::from_ref(&room)).await.unwrap(), vec![n], "a seat lapsed");
    }
    bus::redis::delete_prefix(&redis_url(), &prefix).await.unwrap();
}

#[tokio::test]
async fn a_crashed_consumers_entries_are_reclaimed_and_the_queue_is_trimmed_only_below_unacked() {
    let prefix = format!("test-{}", Ulid::new());
    let gateway = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let room = room();
    for i in 0..5 {
        let message = MessageView {
            id: Ulid::new(),
            room: room.to_string(),
            nick: "Al".into(),
            text: format!("m{i}"),
            at: chrono::Utc::now(),
            staff: false,
            ..MessageView::default()
        };
        gateway
            .enqueue(&InboundEvent::Message(LoggedMessage {
                message,
                ip: "192.0.2.1".parse().unwrap(),
                shadow: false,
                device: None,
            }))
            .await
            .unwrap();
    }
    let crashed = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let taken = crashed.dequeue("bot", 3, Duration::from_millis(100)).await.unwrap();
    assert_eq!(taken.len(), 3);
    drop(crashed); // never acknowledges

    let restarted = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let rest = restarted.dequeue("bot", 10, Duration::from_millis(100)).await.unwrap();
    assert_eq!(rest.len(), 2);
    restarted.ack(&rest.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).await.unwrap();
    // Acking later entries must not trim the three still pending.
    let stream_len = || async {
        let client = redis::Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("XLEN").arg(format!("{prefix}:inbound")).query_async::<u64>(&mut conn).await.unwrap()
    };
    assert!(stream_len().await >= 3);
    let again = restarted.reclaim("bot", Duration::ZERO, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        taken.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    restarted.ack(&again.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).await.unwrap();
    assert!(stream_len().await <= 1, "handled entries are trimmed");
    bus::redis::delete_prefix(&redis_url(), &prefix).await.unwrap();
}

#[tokio::test]
async fn a_standby_takes_the_lead_when_the_leader_dies() {
    let prefix = format!("test-{}", Ulid::new());
    let ttl = Duration::from_millis(600);
    let first = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let second = Arc::new(connect_prefix(&prefix, Duration::from_secs(30)).await);
    let lead = first.lead("first", ttl).await;
    let standby = {
        let second = second.clone();
        tokio::spawn(async move { second.lead("second", ttl).await })
    };
    // The leader keeps renewing: the standby waits through several TTLs.
    tokio::time::sleep(ttl * 3).await;
    assert!(!standby.is_finished(), "the standby took over a live leader");
    drop(lead);
    drop(first); // the leader dies without resigning
    let lead2 = tokio::time::timeout(WAIT, standby).await.unwrap().unwrap();
    lead2.resign().await;
    // After a clean resignation the lock is free at once.
    let third = connect_prefix(&prefix, Duration::from_secs(30)).await;
    tokio::time::timeout(Duration::from_secs(2), third.lead("third", ttl)).await.unwrap().resign().await;
    bus::redis::delete_prefix(&redis_url(), &prefix).await.unwrap();
}

#[tokio::test]
async fn a_message_the_queue_refuses_is_neither_remembered_nor_fanned_out() {
    let prefix = format!("test-{}", Ulid::new());
    let bus = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let room = room();
    let mut feed = bus.subscribe_room(&room).await.unwrap();
    // The queue's key holding something that is not a stream makes its XADD fail.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET").arg(format!("{prefix}:inbound")).arg("not a stream").query_async::<()>(&mut conn).await.unwrap();
    let logged = LoggedMessage {
        message: MessageView {
            id: Ulid::new(),
            room: room.to_string(),
            nick: "Al".into(),
            text: "refused".into(),
            at: chrono::Utc::now(),
            staff: false,
            ..MessageView::default()
        },
        ip: "198.51.100.7".parse().unwrap(),
        shadow: false,
        device: None,
    };
    let err = bus.post_message(&room, &logged, Bytes::from_static(b"frame")).await.unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    assert!(bus.history(&room, None).await.unwrap().is_empty(), "a refused message is not in the history");
    // A frame published now arrives first: the refused one was never published.
    bus.publish(&room, Bytes::from_static(b"later")).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, feed.recv()).await.unwrap().unwrap(), "later");
    bus::redis::delete_prefix(&redis_url(), &prefix).await.unwrap();
}

/// Every key under `prefix` that matches `pattern`.
async fn keys(prefix: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS").arg(format!("{prefix}:{pattern}")).query_async(&mut conn).await.unwrap()
}

#[tokio::test]
async fn a_closed_room_leaves_no_key_behind_and_seats_are_counted_after_a_script_flush() {
    let prefix = format!("test-{}", Ulid::new());
    let bus = connect_prefix(&prefix, Duration::from_secs(30)).await;
    let room = protocol::RoomDef {
        slug: room(),
        kind: protocol::RoomKind::Roulette,
        title: "pair".into(),
        topic: String::new(),
        capacity: 2,
        listed: false,
        locked: false,
        slowmode_secs: 5,
        owner: Some("owner-tag".into()),
        links: protocol::LinksPolicy::default(),
    };
    assert!(bus.open_room(&room, 3).await.unwrap());
    assert!(matches!(bus.claim_seat(&room.slug, &seat("Al", "h1"), 2, 2).await.unwrap(), SeatClaim::Granted { .. }));
    let message = MessageView {
        id: Ulid::new(),
        room: room.slug.to_string(),
        nick: "Al".into(),
        text: "hi".into(),
        at: chrono::Utc::now(),
        staff: false,
        ..MessageView::default()
    };
    bus.record_history(&message).await.unwrap();
    assert_eq!(bus.slowmode(&room.slug, "h1", Duration::from_secs(5)).await.unwrap(), None);
    let room_keys = format!("{{{}}}:*", room.slug);
    assert_eq!(keys(&prefix, &room_keys).await.len(), 4, "presence, members, history, slowmode");
    assert_eq!(keys(&prefix, "owner:*").await.len(), 1);

    assert!(bus.remove_room(&room.slug).await.unwrap());
    // What is left lapses by itself: the slowmode log within its period.
    let left: Vec<String> = keys(&prefix, &room_keys).await;
    assert!(left.iter().all(|k| k.contains(":slow:")), "{left:?}");
    assert!(keys(&prefix, "owner:*").await.is_empty(), "the owner set of a closed room");

    // Seats of many rooms in one pipeline, also after Redis forgot its scripts.
    let rooms: Vec<RoomSlug> = (0..40).map(|_| self::room()).collect();
    for (i, r) in rooms.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        assert!(matches!(
            bus.claim_seat(r, &seat(&format!("n{i}"), "h"), 5, 5).await.unwrap(),
            SeatClaim::Granted { .. }
        ));
    }
    let expected: Vec<u32> = (0..40).map(|i| u32::from(i % 3 == 0)).collect();
    assert_eq!(bus.occupancy(&rooms).await.unwrap(), expected);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut conn).await.unwrap();
    assert_eq!(bus.occupancy(&rooms).await.unwrap(), expected);
    assert!(bus.occupancy(&[]).await.unwrap().is_empty());
}
