//! `QUEUE_MAX` on both buses: a message past the limit is refused whole (not queued, not in the
//! history, not fanned out), the backlog reports its depth and age, and messages are taken again
//! once the bot acknowledged enough.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, InProcessBus, QueueStats, RedisBus, RedisConfig};
use bytes::Bytes;
use protocol::{InboundEvent, LoggedMessage, MessageView, RoomSlug};
use ulid::Ulid;

const WAIT: Duration = Duration::from_secs(5);
const MAX: u64 = 3;

fn logged(room: &RoomSlug, text: &str) -> LoggedMessage {
    let message = MessageView {
        id: Ulid::new(),
        room: room.to_string(),
        nick: "Al".into(),
        text: text.into(),
        at: chrono::Utc::now(),
        staff: false,
        ..MessageView::default()
    };
    LoggedMessage { message, ip: "198.51.100.7".parse().unwrap(), shadow: false, device: None }
}

async fn refuses_past_the_limit_and_reports_the_backlog(bus: Arc<dyn Bus>) {
    let room = RoomSlug::parse(&format!("t-{}", Ulid::new().to_string().to_lowercase())).unwrap();
    assert_eq!(bus.queue_stats().await.unwrap(), QueueStats::default());
    let mut feed = bus.subscribe_room(&room).await.unwrap();
    for i in 0..MAX {
        bus.post_message(&room, &logged(&room, &format!("m{i}")), Bytes::from(format!("m{i}"))).await.unwrap();
    }
    let refused = bus.post_message(&room, &logged(&room, "too many"), Bytes::from_static(b"too many")).await;
    assert!(matches!(refused, Err(BusError::Overloaded { depth: MAX, max: MAX })), "{refused:?}");
    // Nothing of the refused message was sent or remembered.
    for i in 0..MAX {
        assert_eq!(tokio::time::timeout(WAIT, feed.recv()).await.unwrap().unwrap(), format!("m{i}"));
    }
    assert!(tokio::time::timeout(Duration::from_millis(200), feed.recv()).await.is_err(), "the refused one was sent");
    let history = bus.history(&room, None).await.unwrap();
    assert_eq!(history.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["m0", "m1", "m2"]);
    let stats = bus.queue_stats().await.unwrap();
    assert_eq!(stats.depth, MAX);
    assert!(stats.oldest_age.is_some_and(|age| age < Duration::from_secs(60)), "{stats:?}");

    // Delivered but not acknowledged still counts.
    let consumer = format!("c-{}", Ulid::new());
    let first = bus.dequeue(&consumer, 2, WAIT).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(bus.queue_stats().await.unwrap().depth, MAX);
    bus.ack(&first.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).await.unwrap();
    assert_eq!(bus.queue_stats().await.unwrap().depth, 1);
    // Taken again once acknowledged (a gateway may trust its last reading for a moment).
    let deadline = tokio::time::Instant::now() + WAIT;
    while bus.post_message(&room, &logged(&room, "again"), Bytes::from_static(b"again")).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "still refused after the backlog shrank");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The queue holds exactly the accepted messages.
    let mut rest = Vec::new();
    while let Ok(more) = bus.dequeue(&consumer, 10, Duration::from_millis(200)).await {
        if more.is_empty() {
            break;
        }
        rest.extend(more);
    }
    let texts: Vec<String> = rest
        .iter()
        .filter_map(|e| match &e.event {
            InboundEvent::Message(m) => Some(m.message.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["m2", "again"]);
    bus.ack(&rest.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).await.unwrap();
    assert_eq!(bus.queue_stats().await.unwrap(), QueueStats::default());
}

#[tokio::test]
async fn in_process_refuses_past_the_limit_and_reports_the_backlog() {
    refuses_past_the_limit_and_reports_the_backlog(Arc::new(InProcessBus::with_queue_max(MAX))).await;
}

#[tokio::test]
async fn redis_refuses_past_the_limit_and_reports_the_backlog() {
    let url = crate::redis_only::redis_url();
    let config = RedisConfig {
        url: url.clone(),
        prefix: format!("test-{}", Ulid::new()),
        presence_ttl: Duration::from_secs(30),
        queue_max: MAX,
    };
    let bus = RedisBus::connect(config).await.unwrap_or_else(|e| panic!("Redis is required ({url}): {e}"));
    refuses_past_the_limit_and_reports_the_backlog(Arc::new(bus)).await;
}
