use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, ControlMessage, HISTORY_LEN, Seat, SeatClaim};
use bytes::Bytes;
use protocol::{
    BanDef, ControlEvent, InboundEvent, LoggedMessage, MessageView, RoomDef, RoomKind, RoomSlug, RouletteTicket,
};
use ulid::Ulid;

const WAIT: Duration = Duration::from_secs(5);

/// A room name no other test (or test run sharing a server) uses.
fn fresh_room() -> RoomSlug {
    RoomSlug::parse(&format!("t-{}", Ulid::new().to_string().to_lowercase())).unwrap()
}

fn seat(nick: &str, holder: &str) -> Seat {
    // Each holder is an address of its own unless a test says otherwise.
    Seat { nick: nick.into(), key: nick.to_lowercase(), holder: holder.into(), address: holder.into() }
}

fn message(room: &RoomSlug, text: &str) -> MessageView {
    MessageView {
        id: Ulid::new(),
        room: room.to_string(),
        nick: "Al".into(),
        text: text.into(),
        at: chrono::Utc::now(),
        staff: false,
        ..MessageView::default()
    }
}

pub async fn fanout_reaches_every_subscriber_of_the_room_only(bus: Arc<dyn Bus>) {
    let (a, b) = (fresh_room(), fresh_room());
    let mut a1 = bus.subscribe_room(&a).await.unwrap();
    let mut a2 = bus.subscribe_room(&a).await.unwrap();
    let mut b1 = bus.subscribe_room(&b).await.unwrap();
    bus.publish(&a, Bytes::from_static(b"one")).await.unwrap();
    bus.publish(&b, Bytes::from_static(b"two")).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, a1.recv()).await.unwrap().unwrap(), "one");
    assert_eq!(tokio::time::timeout(WAIT, a2.recv()).await.unwrap().unwrap(), "one");
    assert_eq!(tokio::time::timeout(WAIT, b1.recv()).await.unwrap().unwrap(), "two");
    // Publishing to a room nobody watches is not an error.
    bus.publish(&fresh_room(), Bytes::from_static(b"void")).await.unwrap();
}

pub async fn seats_respect_capacity_atomically(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let claims = (0..10).map(|i| {
        let bus = bus.clone();
        let room = room.clone();
        tokio::spawn(
            async move { bus.claim_seat(&room, &seat(&format!("n{i}"), &format!("h{i}")), 3, 10).await.unwrap() },
        )
    });
    let mut granted = 0;
    for claim in claims {
        match claim.await.unwrap() {
            SeatClaim::Granted { .. } => granted += 1,
            SeatClaim::Full => {}
            other => panic!("distinct nicknames and addresses: {other:?}"),
        }
    }
    assert_eq!(granted, 3);
    assert_eq!(bus.members(&room).await.unwrap().len(), 3);
    assert_eq!(bus.occupancy(&[room.clone(), fresh_room()]).await.unwrap(), vec![3, 0]);
}

pub async fn nicknames_are_unique_per_room_and_release_is_holder_checked(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let SeatClaim::Granted { members } = bus.claim_seat(&room, &seat("Al", "h1"), 5, 10).await.unwrap() else {
        panic!()
    };
    assert_eq!(members, vec!["Al"]);
    assert_eq!(bus.claim_seat(&room, &seat("AL", "h2"), 5, 10).await.unwrap(), SeatClaim::NickTaken);
    // The same holder claiming again is idempotent.
    assert!(matches!(bus.claim_seat(&room, &seat("Al", "h1"), 5, 10).await.unwrap(), SeatClaim::Granted { .. }));
    // Another room has its own nicknames.
    assert!(matches!(
        bus.claim_seat(&fresh_room(), &seat("Al", "h2"), 5, 10).await.unwrap(),
        SeatClaim::Granted { .. }
    ));
    // A release by someone who does not hold the seat changes nothing.
    bus.release_seat(&room, "al", "h2").await.unwrap();
    assert_eq!(bus.members(&room).await.unwrap(), vec!["Al"]);
    bus.release_seat(&room, "al", "h1").await.unwrap();
    assert!(bus.members(&room).await.unwrap().is_empty());
    assert!(matches!(bus.claim_seat(&room, &seat("Al", "h2"), 5, 10).await.unwrap(), SeatClaim::Granted { .. }));
}

pub async fn history_keeps_the_last_window_and_resumes_after_since(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let sent: Vec<MessageView> = (0..HISTORY_LEN + 5).map(|i| message(&room, &format!("m{i}"))).collect();
    for m in &sent {
        bus.record_history(m).await.unwrap();
    }
    let all = bus.history(&room, None).await.unwrap();
    assert_eq!(all, sent[5..]);
    let after = bus.history(&room, Some(sent[HISTORY_LEN].id)).await.unwrap();
    assert_eq!(after, sent[HISTORY_LEN + 1..]);
    // An id that fell out of the window (or never existed) yields the whole window.
    assert_eq!(bus.history(&room, Some(sent[0].id)).await.unwrap(), sent[5..]);
    assert!(bus.history(&fresh_room(), None).await.unwrap().is_empty());
}

pub async fn seeding_fills_only_an_empty_history(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let seed: Vec<MessageView> = (0..3).map(|i| message(&room, &format!("s{i}"))).collect();
    bus.seed_history(&room, seed.clone()).await.unwrap();
    assert_eq!(bus.history(&room, None).await.unwrap(), seed);
    bus.seed_history(&room, vec![message(&room, "ignored")]).await.unwrap();
    assert_eq!(bus.history(&room, None).await.unwrap(), seed);
}

/// Take and acknowledge whatever an earlier test left in the queue, so the checks after it
/// see only their own entries.
async fn drain_queue(bus: &Arc<dyn Bus>, consumer: &str) {
    loop {
        let old = bus.dequeue(consumer, 100, Duration::from_millis(10)).await.unwrap();
        if old.is_empty() {
            break;
        }
        bus.ack(&old.iter().map(|e| e.id.clone()).collect::<Vec<_>>()).await.unwrap();
    }
}

pub async fn queue_delivers_once_until_acked_and_reclaims_unacked(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let consumer = format!("c-{}", Ulid::new());
    drain_queue(&bus, &consumer).await;
    let events: Vec<InboundEvent> = (0..3)
        .map(|i| {
            InboundEvent::Message(LoggedMessage {
                message: message(&room, &format!("q{i}")),
                ip: "198.51.100.7".parse().unwrap(),
                shadow: false,
                device: None,
            })
        })
        .collect();
    // A waiting consumer wakes up when an entry arrives.
    let waiter = {
        let bus = bus.clone();
        let consumer = consumer.clone();
        tokio::spawn(async move { bus.dequeue(&consumer, 10, WAIT).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    for e in &events {
        bus.enqueue(e).await.unwrap();
    }
    let mut got = waiter.await.unwrap();
    while got.len() < 3 {
        let more = bus.dequeue(&consumer, 10, WAIT).await.unwrap();
        assert!(!more.is_empty(), "queue lost entries");
        got.extend(more);
    }
    assert_eq!(got.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), events, "in order, each once");
    assert!(bus.dequeue(&consumer, 10, Duration::from_millis(50)).await.unwrap().is_empty());
    // Ack the first; the other two stay pending and come back through reclaim.
    bus.ack(&[got[0].id.clone()]).await.unwrap();
    let again = bus.reclaim(&consumer, Duration::ZERO, 10).await.unwrap();
    let again_ids: Vec<_> = again.iter().map(|e| e.id.clone()).collect();
    assert_eq!(again_ids, vec![got[1].id.clone(), got[2].id.clone()]);
    // Entries delivered just now are not idle yet.
    assert!(bus.reclaim(&consumer, Duration::from_secs(60), 10).await.unwrap().is_empty());
    bus.ack(&again_ids).await.unwrap();
    assert!(bus.reclaim(&consumer, Duration::ZERO, 10).await.unwrap().is_empty());
}

pub async fn control_events_reach_subscribers(bus: Arc<dyn Bus>) {
    let mut feed = bus.subscribe_control().await.unwrap();
    let slug = fresh_room();
    bus.publish_control(&ControlEvent::RoomRemoved { slug: slug.clone(), ended: false }).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, feed.recv()).await.unwrap().unwrap() {
            ControlMessage::Event(ControlEvent::RoomRemoved { slug: s, .. }) if s == slug => break,
            _ => continue, // events of concurrent tests
        }
    }
}

pub async fn snapshots_store_rooms_and_bans(bus: Arc<dyn Bus>) {
    let slug = fresh_room();
    let def = RoomDef {
        slug: slug.clone(),
        kind: RoomKind::Staff,
        title: "T".into(),
        topic: String::new(),
        capacity: 4,
        listed: true,
        locked: false,
        slowmode_secs: 0,
        owner: None,
    };
    bus.put_room(&def).await.unwrap();
    assert!(bus.rooms().await.unwrap().contains(&def));
    let changed = RoomDef { capacity: 9, ..def.clone() };
    bus.put_room(&changed).await.unwrap();
    let rooms = bus.rooms().await.unwrap();
    assert!(rooms.contains(&changed) && !rooms.contains(&def));
    bus.remove_room(&slug).await.unwrap();
    assert!(!bus.rooms().await.unwrap().iter().any(|r| r.slug == slug));

    let id = i64::from(rand_id());
    let ban = BanDef { id, network: "203.0.113.0/24".into(), reason: "spam".into(), expires: None, case: Some(7) };
    bus.put_ban(&ban).await.unwrap();
    assert!(bus.bans().await.unwrap().contains(&ban));
    bus.remove_ban(id).await.unwrap();
    assert!(!bus.bans().await.unwrap().iter().any(|b| b.id == id));

    let mute = protocol::MuteDef {
        id,
        case: 8,
        network: "2001:db8::/64".into(),
        device: None,
        reason: "flood".into(),
        expires: Some(chrono::Utc::now() + chrono::Duration::minutes(10)),
        shadow: true,
    };
    bus.put_mute(&mute).await.unwrap();
    assert!(bus.mutes().await.unwrap().contains(&mute));
    let longer = protocol::MuteDef { expires: None, shadow: false, ..mute.clone() };
    bus.put_mute(&longer).await.unwrap();
    let mutes = bus.mutes().await.unwrap();
    assert!(mutes.contains(&longer) && !mutes.contains(&mute), "a mute put again replaces the old one");
    bus.remove_mute(id).await.unwrap();
    assert!(!bus.mutes().await.unwrap().iter().any(|m| m.id == id));

    let filters =
        vec![protocol::FilterDef { id, pattern: "darn".into(), regex: false, action: protocol::FilterAction::Mask }];
    bus.put_filters(&filters).await.unwrap();
    assert_eq!(bus.filters().await.unwrap(), filters);
    bus.put_filters(&[]).await.unwrap();
    assert!(bus.filters().await.unwrap().is_empty());
}

fn rand_id() -> u32 {
    (Ulid::new().random() & 0x7fff_ffff) as u32
}

pub async fn history_entries_can_be_edited_and_removed(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let sent: Vec<MessageView> = (0..3).map(|i| message(&room, &format!("h{i}"))).collect();
    for m in &sent {
        bus.record_history(m).await.unwrap();
    }
    bus.amend_history(&room, sent[1].id, Some("edited \"text\" ü")).await.unwrap();
    let after = bus.history(&room, None).await.unwrap();
    assert_eq!(after[1].text, "edited \"text\" ü");
    assert_eq!(after[1].id, sent[1].id);
    assert_eq!(after[1].at, sent[1].at, "other fields survive the edit");
    bus.amend_history(&room, sent[0].id, None).await.unwrap();
    let ids: Vec<_> = bus.history(&room, None).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![sent[1].id, sent[2].id]);
    // Unknown ids change nothing.
    bus.amend_history(&room, Ulid::new(), None).await.unwrap();
    assert_eq!(bus.history(&room, None).await.unwrap().len(), 2);
    // An author's edit sets the text and when it was edited; the rest survives.
    let at = chrono::Utc::now();
    bus.edit_history(&room, sent[2].id, "fixed ü", at).await.unwrap();
    let after = bus.history(&room, None).await.unwrap();
    assert_eq!(after[1].text, "fixed ü");
    assert_eq!(after[1].edited, Some(at));
    assert_eq!((after[1].id, after[1].at, after[0].edited), (sent[2].id, sent[2].at, None));
    bus.edit_history(&room, Ulid::new(), "nobody", at).await.unwrap();
    assert_eq!(bus.history(&room, None).await.unwrap().len(), 2);
}

pub fn ticket(id: &str, interests: &[&str], open_at_ms: i64) -> RouletteTicket {
    RouletteTicket {
        id: id.to_owned(),
        inbox: fresh_room(),
        nick: id.to_owned(),
        key: id.to_lowercase(),
        interests: interests.iter().map(|s| (*s).to_owned()).collect(),
        open_at_ms,
        blocked: vec![],
        last_peer: None,
        again_at_ms: 0,
    }
}

pub async fn roulette_pairs_each_ticket_exactly_once(bus: Arc<dyn Bus>) {
    let run = Ulid::new().to_string();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let bus = bus.clone();
            let t = ticket(&format!("{run}-{i}"), &[], 0);
            tokio::spawn(async move { (t.id.clone(), bus.roulette_match(&t, 0).await.unwrap().map(|p| p.id)) })
        })
        .collect();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut pairs = 0;
    for task in tasks {
        let (me, partner) = task.await.unwrap();
        if let Some(partner) = partner {
            pairs += 1;
            *seen.entry(me).or_default() += 1;
            *seen.entry(partner).or_default() += 1;
        }
    }
    // Everyone fits everyone: nobody may be left waiting while another waits.
    assert_eq!(pairs, 10, "{seen:?}");
    assert_eq!(seen.len(), 20);
    assert!(seen.values().all(|n| *n == 1), "someone was paired twice: {seen:?}");
}

pub async fn roulette_follows_interests_blocks_and_queue_order(bus: Arc<dyn Bus>) {
    let run = Ulid::new().to_string();
    let id = |name: &str| format!("{run}-{name}");
    // A chess player waits for chess until t=1000; a plain ticket cannot take it before.
    assert_eq!(bus.roulette_match(&ticket(&id("chess"), &["chess"], 1000), 0).await.unwrap(), None);
    assert_eq!(bus.roulette_match(&ticket(&id("plain"), &[], 0), 10).await.unwrap(), None);
    assert_eq!(bus.roulette_waiting().await.unwrap(), 2, "chess and plain wait");
    let fan = bus.roulette_match(&ticket(&id("fan"), &["go", "chess"], 1000), 20).await.unwrap();
    assert_eq!(fan.map(|t| t.id), Some(id("chess")));
    // A blocked ticket is never taken, in either direction.
    let blocker = RouletteTicket { blocked: vec![id("plain")], ..ticket(&id("blocker"), &[], 0) };
    assert_eq!(bus.roulette_match(&blocker, 30).await.unwrap(), None);
    // The previous stranger comes last: "again" waits longest, "fresh" is taken instead.
    let again = RouletteTicket { last_peer: Some(id("late")), ..ticket(&id("again"), &["x"], 2000) };
    assert_eq!(bus.roulette_match(&again, 40).await.unwrap(), None);
    bus.roulette_cancel(&id("blocker")).await.unwrap();
    let late = RouletteTicket { last_peer: Some(id("again")), ..ticket(&id("late"), &["x"], 0) };
    // "plain" waits (accepts anyone) and "again" shares an interest but was the last stranger.
    assert_eq!(bus.roulette_match(&late, 50).await.unwrap().map(|t| t.id), Some(id("plain")));
    // Re-matching keeps a ticket's place; a cancelled ticket is never handed out.
    assert_eq!(bus.roulette_match(&ticket(&id("b"), &["y"], 5000), 60).await.unwrap(), None);
    let again_reopened = RouletteTicket { last_peer: Some(id("late")), ..ticket(&id("again"), &["x"], 0) };
    assert_eq!(bus.roulette_match(&again_reopened, 70).await.unwrap(), None);
    bus.roulette_cancel(&id("b")).await.unwrap();
    let next = bus.roulette_match(&ticket(&id("z"), &[], 0), 80).await.unwrap();
    assert_eq!(next.map(|t| t.id), Some(id("again")));
    assert_eq!(bus.roulette_match(&ticket(&id("zz"), &[], 0), 90).await.unwrap(), None, "the queue is empty again");
    bus.roulette_cancel(&id("zz")).await.unwrap();
    assert_eq!(bus.roulette_waiting().await.unwrap(), 0);
}

pub async fn notify_tells_whether_anyone_listens(bus: Arc<dyn Bus>) {
    let inbox = fresh_room();
    assert!(!bus.notify(&inbox, Bytes::from_static(b"hello?")).await.unwrap());
    let mut feed = bus.subscribe_room(&inbox).await.unwrap();
    assert!(bus.notify(&inbox, Bytes::from_static(b"matched")).await.unwrap());
    assert_eq!(tokio::time::timeout(WAIT, feed.recv()).await.unwrap().unwrap(), "matched");
}

pub async fn visitor_rooms_are_limited_per_owner(bus: Arc<dyn Bus>) {
    let owner = Ulid::new().to_string().to_lowercase();
    let room = |owner: &str| RoomDef {
        slug: fresh_room(),
        kind: RoomKind::Visitor,
        title: "Mine".into(),
        topic: String::new(),
        capacity: 4,
        listed: false,
        locked: false,
        slowmode_secs: 0,
        owner: Some(owner.to_owned()),
    };
    let first = room(&owner);
    assert!(bus.open_room(&first, 2).await.unwrap());
    assert!(bus.open_room(&room(&owner), 2).await.unwrap());
    assert!(!bus.open_room(&room(&owner), 2).await.unwrap(), "a third room over the limit");
    assert!(bus.open_room(&room("someone-else"), 2).await.unwrap());
    assert!(bus.rooms().await.unwrap().iter().any(|r| r.slug == first.slug));
    // A closed room no longer counts.
    assert!(bus.remove_room(&first.slug).await.unwrap());
    assert!(!bus.remove_room(&first.slug).await.unwrap(), "already gone");
    assert!(bus.open_room(&room(&owner), 2).await.unwrap());
}

pub async fn a_posted_message_is_queued_remembered_and_fanned_out(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let consumer = format!("c-{}", Ulid::new());
    drain_queue(&bus, &consumer).await;
    let mut feed = bus.subscribe_room(&room).await.unwrap();
    let posted: Vec<LoggedMessage> = (0..HISTORY_LEN + 2)
        .map(|i| LoggedMessage {
            message: message(&room, &format!("p{i}")),
            ip: "198.51.100.7".parse().unwrap(),
            shadow: false,
            device: None,
        })
        .collect();
    for (i, logged) in posted.iter().enumerate() {
        bus.post_message(&room, logged, Bytes::from(format!("frame {i}"))).await.unwrap();
    }
    // Fanned out, in order.
    for i in 0..posted.len() {
        assert_eq!(tokio::time::timeout(WAIT, feed.recv()).await.unwrap().unwrap(), format!("frame {i}"));
    }
    // Remembered: the room's history holds the last window of them.
    let history = bus.history(&room, None).await.unwrap();
    let expected: Vec<MessageView> = posted[2..].iter().map(|l| l.message.clone()).collect();
    assert_eq!(history, expected);
    // Queued for the bot, every one, with the sender's address.
    let mut queued = Vec::new();
    while queued.len() < posted.len() {
        let got = bus.dequeue(&consumer, 100, WAIT).await.unwrap();
        assert!(!got.is_empty(), "only {} of {} posted messages were queued", queued.len(), posted.len());
        queued.extend(got.into_iter().map(|e| e.event));
    }
    let expected: Vec<InboundEvent> = posted.into_iter().map(InboundEvent::Message).collect();
    assert_eq!(queued, expected);
}

/// A seat of `nick` held by `holder` from `address`.
fn seat_from(nick: &str, holder: &str, address: &str) -> Seat {
    Seat { nick: nick.into(), key: nick.to_lowercase(), holder: holder.into(), address: address.into() }
}

pub async fn seats_are_limited_per_address_atomically(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    // Ten connections of one address claim at once: exactly three get a seat.
    let claims = (0..10).map(|i| {
        let bus = bus.clone();
        let room = room.clone();
        tokio::spawn(async move {
            bus.claim_seat(&room, &seat_from(&format!("n{i}"), &format!("h{i}"), "addr-a"), 50, 3).await.unwrap()
        })
    });
    let (mut granted, mut refused) = (Vec::new(), 0);
    for (i, claim) in claims.enumerate() {
        match claim.await.unwrap() {
            SeatClaim::Granted { .. } => granted.push(i),
            SeatClaim::TooManySeats => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((granted.len(), refused), (3, 7));
    // Claiming again what one holds is no new seat.
    let first = granted[0];
    let again = seat_from(&format!("n{first}"), &format!("h{first}"), "addr-a");
    assert!(matches!(bus.claim_seat(&room, &again, 50, 3).await.unwrap(), SeatClaim::Granted { .. }));
    // Another address is not affected, and a released seat can be taken again.
    assert!(matches!(
        bus.claim_seat(&room, &seat_from("B", "hb", "addr-b"), 50, 3).await.unwrap(),
        SeatClaim::Granted { .. }
    ));
    let late = seat_from("Late", "hl", "addr-a");
    assert_eq!(bus.claim_seat(&room, &late, 50, 3).await.unwrap(), SeatClaim::TooManySeats);
    bus.release_seat(&room, &again.key, &again.holder).await.unwrap();
    assert!(matches!(bus.claim_seat(&room, &late, 50, 3).await.unwrap(), SeatClaim::Granted { .. }));
    // The cap is per room.
    assert!(matches!(
        bus.claim_seat(&fresh_room(), &seat_from("X", "hx", "addr-a"), 50, 3).await.unwrap(),
        SeatClaim::Granted { .. }
    ));
    assert_eq!(bus.occupancy(std::slice::from_ref(&room)).await.unwrap(), vec![4]);
}

pub async fn slowmode_gives_an_address_a_slot_per_seat_and_survives_leaving(bus: Arc<dyn Bus>) {
    let room = fresh_room();
    let period = Duration::from_secs(60);
    for (nick, holder) in [("A1", "h1"), ("A2", "h2")] {
        assert!(matches!(
            bus.claim_seat(&room, &seat_from(nick, holder, "addr-a"), 10, 3).await.unwrap(),
            SeatClaim::Granted { .. }
        ));
    }
    // Two seats, two messages per period.
    assert_eq!(bus.slowmode(&room, "addr-a", period).await.unwrap(), None);
    assert_eq!(bus.slowmode(&room, "addr-a", period).await.unwrap(), None);
    let wait = bus.slowmode(&room, "addr-a", period).await.unwrap().expect("a third message waits");
    assert!(wait > Duration::from_secs(50) && wait <= period, "{wait:?}");
    // Leaving and joining again gives no fresh slot.
    bus.release_seat(&room, "a1", "h1").await.unwrap();
    assert!(matches!(
        bus.claim_seat(&room, &seat_from("A1", "h3", "addr-a"), 10, 3).await.unwrap(),
        SeatClaim::Granted { .. }
    ));
    assert!(bus.slowmode(&room, "addr-a", period).await.unwrap().is_some(), "reset by leave and join");
    // With one seat left, the address has one slot (and both are used).
    bus.release_seat(&room, "a2", "h2").await.unwrap();
    assert!(bus.slowmode(&room, "addr-a", period).await.unwrap().is_some());
    // Other addresses and rooms have their own.
    assert_eq!(bus.slowmode(&room, "addr-b", period).await.unwrap(), None);
    assert!(bus.slowmode(&room, "addr-b", period).await.unwrap().is_some(), "one slot without a seat");
    assert_eq!(bus.slowmode(&fresh_room(), "addr-a", period).await.unwrap(), None);
    // A slot frees once its period is over.
    let quick = fresh_room();
    assert_eq!(bus.slowmode(&quick, "addr-c", Duration::from_millis(100)).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(bus.slowmode(&quick, "addr-c", Duration::from_millis(100)).await.unwrap(), None);
}

pub async fn a_closed_visitor_room_leaves_no_history_presence_or_owner_behind(bus: Arc<dyn Bus>) {
    let owner = format!("o-{}", Ulid::new().to_string().to_lowercase());
    let room = RoomDef {
        slug: fresh_room(),
        kind: RoomKind::Visitor,
        title: "ours".into(),
        topic: String::new(),
        capacity: 2,
        listed: false,
        locked: false,
        slowmode_secs: 0,
        owner: Some(owner.clone()),
    };
    assert!(bus.open_room(&room, 1).await.unwrap());
    assert!(!bus.open_room(&RoomDef { slug: fresh_room(), ..room.clone() }, 1).await.unwrap(), "one per owner");
    assert!(matches!(bus.claim_seat(&room.slug, &seat("Al", "h1"), 2, 2).await.unwrap(), SeatClaim::Granted { .. }));
    bus.record_history(&message(&room.slug, "hi")).await.unwrap();
    assert!(bus.remove_room(&room.slug).await.unwrap());
    assert!(bus.history(&room.slug, None).await.unwrap().is_empty(), "history of a closed room");
    assert!(bus.members(&room.slug).await.unwrap().is_empty(), "presence of a closed room");
    assert!(
        bus.open_room(&RoomDef { slug: fresh_room(), ..room.clone() }, 1).await.unwrap(),
        "the owner's entry is gone"
    );

    // A staff room keeps its history when its definition goes.
    let staff = RoomDef { slug: fresh_room(), kind: RoomKind::Staff, owner: None, ..room };
    bus.put_room(&staff).await.unwrap();
    bus.record_history(&message(&staff.slug, "kept")).await.unwrap();
    assert!(bus.remove_room(&staff.slug).await.unwrap());
    assert_eq!(bus.history(&staff.slug, None).await.unwrap().len(), 1);
}

pub async fn a_lock_has_one_holder_at_a_time(bus: Arc<dyn Bus>) {
    let name = format!("l-{}", Ulid::new());
    let ttl = Duration::from_millis(150);
    assert!(bus.hold_lock(&name, "g1", ttl).await.unwrap());
    assert!(!bus.hold_lock(&name, "g2", ttl).await.unwrap(), "held by g1");
    assert!(bus.hold_lock(&name, "g1", ttl).await.unwrap(), "renewed by its holder");
    assert!(bus.hold_lock(&format!("{name}-other"), "g2", ttl).await.unwrap(), "locks are by name");
    // A holder that stops renewing loses it after its TTL.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(bus.hold_lock(&name, "g2", ttl).await.unwrap());
    assert!(!bus.hold_lock(&name, "g1", ttl).await.unwrap());
}

pub async fn shadow_history_reaches_only_its_senders_address_or_device(bus: Arc<dyn Bus>) {
    use bus::Viewer;
    let room = fresh_room();
    let sender = Viewer { address: "a".repeat(24), device: Some("d".repeat(12)) };
    let before = message(&room, "before");
    let shadow = message(&room, "shadow");
    let after = message(&room, "after");
    bus.record_history(&before).await.unwrap();
    bus.record_history_for(&shadow, &sender).await.unwrap();
    bus.record_history(&after).await.unwrap();
    let texts = |v: Vec<MessageView>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
    let same_address = Viewer { address: sender.address.clone(), device: None };
    let same_device = Viewer { address: "b".repeat(24), device: sender.device.clone() };
    let stranger = Viewer { address: "c".repeat(24), device: Some("e".repeat(12)) };
    for viewer in [&sender, &same_address, &same_device] {
        assert_eq!(texts(bus.history_for(&room, None, Some(viewer)).await.unwrap()), ["before", "shadow", "after"]);
    }
    assert_eq!(texts(bus.history_for(&room, None, Some(&stranger)).await.unwrap()), ["before", "after"]);
    assert_eq!(texts(bus.history(&room, None).await.unwrap()), ["before", "after"]);
    // `since` may be the shadow message itself (the sender's last seen).
    assert_eq!(texts(bus.history_for(&room, Some(shadow.id), Some(&sender)).await.unwrap()), ["after"]);
    assert_eq!(texts(bus.history_for(&room, Some(before.id), Some(&stranger)).await.unwrap()), ["after"]);
    // A staff edit keeps the restriction; the mark never shows in what readers get.
    bus.amend_history(&room, shadow.id, Some("edited")).await.unwrap();
    assert_eq!(texts(bus.history(&room, None).await.unwrap()), ["before", "after"]);
    let own = bus.history_for(&room, None, Some(&same_device)).await.unwrap();
    assert_eq!(own[1].text, "edited");
    assert!(!serde_json::to_string(&own).unwrap().contains(&sender.address), "the tags stay on the bus");
    // It counts toward the window like any message.
    for i in 0..HISTORY_LEN {
        bus.record_history(&message(&room, &format!("m{i}"))).await.unwrap();
    }
    assert!(!texts(bus.history_for(&room, None, Some(&sender)).await.unwrap()).contains(&"edited".to_owned()));
}

pub async fn a_device_reports_a_message_once_until_released_or_expired(bus: Arc<dyn Bus>) {
    let device = format!("{:012x}", rand_id());
    let (id, other) = (Ulid::new(), Ulid::new());
    let day = Duration::from_secs(86_400);
    assert!(bus.claim_report(&device, id, day).await.unwrap());
    assert!(!bus.claim_report(&device, id, day).await.unwrap(), "the same device, the same message");
    assert!(bus.claim_report(&device, other, day).await.unwrap(), "another message");
    assert!(bus.claim_report("0123456789ab", id, day).await.unwrap(), "another device");
    bus.release_report(&device, id).await.unwrap();
    assert!(bus.claim_report(&device, id, Duration::from_millis(200)).await.unwrap(), "given back");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(bus.claim_report(&device, id, day).await.unwrap(), "lapsed");
}
