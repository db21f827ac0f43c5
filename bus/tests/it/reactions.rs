//! Conformance of `Bus::react` against both buses: toggles per reactor, shadow and staff kept
//! apart, the totals written into the history entry, concurrent toggles counted exactly.

use std::sync::Arc;

use bus::{Bus, ReactionChange, ReactionKind, ReactionOutcome};
use protocol::frames::ReactionCounts;
use protocol::{MessageView, RoomSlug};
use ulid::Ulid;

macro_rules! reaction_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            reaction_suite!(@tests $make;
                toggles_count_per_reactor_and_reach_the_history,
                concurrent_toggles_are_counted_exactly,
            );
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let bus = $make;
                super::$name(bus).await;
            }
        )*
    };
}

reaction_suite!(in_process, std::sync::Arc::new(bus::InProcessBus::new()));
reaction_suite!(redis, std::sync::Arc::new(crate::redis_only::connect(std::time::Duration::from_secs(30)).await));

fn fresh_room() -> RoomSlug {
    RoomSlug::parse(&format!("t-{}", Ulid::new().to_string().to_lowercase())).unwrap()
}

fn change(reactor: &str, emoji: &str, kind: ReactionKind) -> ReactionChange {
    ReactionChange { reactor: reactor.into(), emoji: emoji.into(), kind }
}

async fn apply(bus: &Arc<dyn Bus>, room: &RoomSlug, id: Ulid, c: ReactionChange) -> (ReactionCounts, Vec<String>) {
    match bus.react(room, id, &c).await.unwrap() {
        ReactionOutcome::Changed { counts, mine, .. } => (counts, mine),
        ReactionOutcome::Full => panic!("full"),
    }
}

async fn history_reactions(bus: &Arc<dyn Bus>, room: &RoomSlug, id: Ulid) -> Option<ReactionCounts> {
    bus.history(room, None).await.unwrap().into_iter().find(|m| m.id == id).unwrap().reactions
}

pub async fn toggles_count_per_reactor_and_reach_the_history(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let message = MessageView {
        id: Ulid::new(),
        room: room.to_string(),
        nick: "Al".into(),
        text: "quote \"/\" and ünïcode 👍".into(),
        at: chrono::Utc::now(),
        ..MessageView::default()
    };
    let id = message.id;
    bus.record_history(&message).await.unwrap();
    let (counts, mine) = apply(&bus, &room, id, change("d:a", "👍", ReactionKind::Toggle)).await;
    assert_eq!((counts.counts.get("👍"), mine), (Some(&1), vec!["👍".to_owned()]));
    apply(&bus, &room, id, change("d:b", "👍", ReactionKind::Toggle)).await;
    let (counts, mine) = apply(&bus, &room, id, change("d:b", "❤️", ReactionKind::Toggle)).await;
    assert_eq!(mine, vec!["👍".to_owned(), "❤️".to_owned()]);
    assert_eq!(counts.counts.len(), 2);
    // A shadow toggle changes nobody's totals, and not the history.
    let (counts, mine) = apply(&bus, &room, id, change("~d:c", "😂", ReactionKind::ShadowToggle)).await;
    assert_eq!((counts.counts.get("😂"), mine), (None, vec!["😂".to_owned()]));
    // Every later change names the shadow reactors, so they keep seeing their own.
    let outcome = bus.react(&room, id, &change("discord:1", "🎉", ReactionKind::StaffAdd)).await.unwrap();
    let ReactionOutcome::Changed { shadow, .. } = outcome else { panic!("full") };
    assert_eq!(shadow, vec![("~d:c".to_owned(), vec!["😂".to_owned()])]);
    // Staff: idempotent per moderator.
    let (counts, _) = apply(&bus, &room, id, change("discord:1", "🎉", ReactionKind::StaffAdd)).await;
    assert_eq!(counts.staff, vec!["🎉".to_owned()]);
    let shown = history_reactions(&bus, &room, id).await.unwrap();
    assert_eq!(shown, counts);
    let entry = bus.history(&room, None).await.unwrap().pop().unwrap();
    assert_eq!(entry.text, message.text, "the rest of the entry is untouched");
    // Everything taken back: the history entry has no reactions left.
    apply(&bus, &room, id, change("d:a", "👍", ReactionKind::Toggle)).await;
    apply(&bus, &room, id, change("d:b", "👍", ReactionKind::Toggle)).await;
    apply(&bus, &room, id, change("d:b", "❤️", ReactionKind::Toggle)).await;
    let (counts, _) = apply(&bus, &room, id, change("discord:1", "🎉", ReactionKind::StaffRemove)).await;
    assert_eq!(counts, ReactionCounts::default());
    assert_eq!(history_reactions(&bus, &room, id).await, None);
    // A message the history no longer holds still takes reactions.
    let (counts, _) = apply(&bus, &room, Ulid::new(), change("d:a", "👍", ReactionKind::Toggle)).await;
    assert_eq!(counts.counts.get("👍"), Some(&1));
}

pub async fn concurrent_toggles_are_counted_exactly(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let id = Ulid::new();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (bus, room) = (bus.clone(), room.clone());
            tokio::spawn(async move {
                bus.react(&room, id, &change(&format!("d:{i}"), "👍", ReactionKind::Toggle)).await.unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let (counts, _) = apply(&bus, &room, id, change("d:last", "❤️", ReactionKind::Toggle)).await;
    assert_eq!(counts.counts.get("👍"), Some(&40));
}
