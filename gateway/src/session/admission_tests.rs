//! Admission's order of checks, frame by frame: which refusal a frame gets when several apply.

use std::sync::Arc;

use protocol::frames::{CLIENT_ID_MAX, RateLimit};
use protocol::{BanDef, ClientFrame, ErrorCode, FilterAction, FilterDef, Nickname, RoomDef, RoomKind, RoomSlug};

use super::admission::{Admitted, Refusal};
use super::limits::SocketLimits;
use super::roulette::{RouletteMe, Stranger};
use super::{Conn, Joined};
use crate::GatewayConfig;
use crate::address::Address;
use crate::hub::ConnHandle;
use crate::state::State;
use crate::websocket::Outbox;

fn room(slug: &str, kind: RoomKind, locked: bool) -> RoomDef {
    RoomDef {
        slug: RoomSlug::parse(slug).unwrap(),
        kind,
        title: slug.to_owned(),
        topic: String::new(),
        capacity: 10,
        listed: true,
        locked,
        slowmode_secs: 0,
        owner: None,
        links: protocol::LinksPolicy::default(),
    }
}

/// A connection from 203.0.113.7 to a gateway serving `lobby`, `quiet` (locked) and a pair.
fn conn(config: GatewayConfig) -> Conn {
    let state = Arc::new(State::new(config, Arc::new(bus::InProcessBus::new()), Vec::new()));
    state.directory.replace_all(vec![
        room("lobby", RoomKind::Staff, false),
        room("quiet", RoomKind::Staff, true),
        room("r-pair", RoomKind::Roulette, false),
    ]);
    state.filters.replace_all(&[FilterDef {
        id: 1,
        pattern: "spam".into(),
        regex: false,
        action: FilterAction::Block,
    }]);
    Conn {
        limits: SocketLimits::new(&state.config),
        state,
        handle: ConnHandle::new(1, Arc::new(Outbox::new(64))),
        address: Address::new("203.0.113.7".parse().unwrap(), &[], 1),
        device: None,
        opened_ms: 0,
        joined: None,
        roulette: None,
        waiting: None,
        stranger: None,
        issued: None,
        reports: None,
        trust: crate::trust::Standing::Unknown,
    }
}

/// A gateway that allows one join a minute.
fn one_join() -> GatewayConfig {
    GatewayConfig { joins_per_minute: 1, ..GatewayConfig::default() }
}

fn ban(conn: &Conn) {
    conn.state.bans.add(BanDef {
        id: 1,
        network: "203.0.113.7/32".into(),
        reason: String::new(),
        expires: None,
        case: None,
        device: None,
    });
}

async fn refusal(conn: &mut Conn, frame: ClientFrame) -> Refusal {
    match conn.admit(frame).await {
        Err(refusal) => refusal,
        Ok(_) => panic!("admitted"),
    }
}

async fn refused(conn: &mut Conn, frame: ClientFrame) -> ErrorCode {
    refusal(conn, frame).await.code
}

fn join(room: &str, nick: &str) -> ClientFrame {
    ClientFrame::Join { room: room.into(), nick: nick.into(), since: None }
}

fn say(text: &str, client_id: Option<&str>) -> ClientFrame {
    ClientFrame::Say { text: text.into(), client_id: client_id.map(Into::into), reply_to: None }
}

#[tokio::test]
async fn join_checks_the_ban_nickname_room_and_lock_before_the_joins() {
    let mut c = conn(one_join());
    assert_eq!(refused(&mut c, join("nowhere", "")).await, ErrorCode::InvalidNick);
    assert_eq!(refused(&mut c, join("nowhere", "ann")).await, ErrorCode::UnknownRoom);
    assert_eq!(refused(&mut c, join("r-pair", "ann")).await, ErrorCode::UnknownRoom, "pairs are not joined by name");
    assert_eq!(refused(&mut c, join("quiet", "ann")).await, ErrorCode::RoomLocked);
    assert!(matches!(c.admit(join("lobby", "ann")).await, Ok(Admitted::Join { .. })));
    assert_eq!(refused(&mut c, join("lobby", "ann")).await, ErrorCode::RateLimited);
    assert_eq!(refused(&mut c, join("quiet", "ann")).await, ErrorCode::RoomLocked, "the lock comes first");
    ban(&c);
    assert_eq!(refused(&mut c, join("nowhere", "")).await, ErrorCode::Banned);
}

#[tokio::test]
async fn say_checks_its_frame_text_filters_and_lock_before_the_socket_then_the_address_bucket() {
    let config = GatewayConfig {
        say_rate: RateLimit { burst: 2, per_second: 0.001 },
        ip_say_rate: RateLimit { burst: 1, per_second: 0.001 },
        // A visitor past the trust tier (its own test below).
        trust: crate::config::TrustConfig { new_visitor_messages: 0, ..Default::default() },
        ..GatewayConfig::default()
    };
    let mut c = conn(config);
    let long = "x".repeat(CLIENT_ID_MAX + 1);
    let r = refusal(&mut c, say("", Some(&long))).await;
    assert_eq!((r.code, r.client_id), (ErrorCode::BadFrame, None));
    let r = refusal(&mut c, say("hi", Some("c1"))).await;
    assert_eq!((r.code, r.client_id.as_deref()), (ErrorCode::NotInRoom, Some("c1")), "names the message");
    let lobby = c.state.directory.get(&RoomSlug::parse("lobby").unwrap()).unwrap();
    c.joined = Some(Joined { room: lobby, nick: Nickname::parse("ann").unwrap(), holder: "h".into() });
    assert_eq!(refused(&mut c, say("", None)).await, ErrorCode::EmptyMessage);
    assert_eq!(refused(&mut c, say("buy spam", None)).await, ErrorCode::Filtered);
    // The definition as it is now, not as it was at the join.
    c.state.directory.upsert(room("lobby", RoomKind::Staff, true));
    assert_eq!(refused(&mut c, say("hi", None)).await, ErrorCode::RoomLocked);
    c.state.directory.upsert(room("lobby", RoomKind::Staff, false));
    assert!(matches!(c.admit(say("hi", None)).await, Ok(Admitted::Say { text, .. }) if text == "hi"));
    let r = refusal(&mut c, say("hi", None)).await;
    assert_eq!((r.code, r.message.as_str()), (ErrorCode::RateLimited, "your address is sending messages too fast"));
    assert!(r.retry_after.is_some());
    let r = refusal(&mut c, say("hi", None)).await;
    assert_eq!((r.code, r.message.as_str()), (ErrorCode::RateLimited, "you are sending messages too fast"));
}

#[tokio::test]
async fn the_trust_tier_checks_after_the_lock_and_before_the_buckets() {
    let config = GatewayConfig { say_rate: RateLimit { burst: 2, per_second: 0.001 }, ..GatewayConfig::default() };
    let mut c = conn(config);
    let lobby = c.state.directory.get(&RoomSlug::parse("lobby").unwrap()).unwrap();
    c.joined = Some(Joined { room: lobby, nick: Nickname::parse("ann").unwrap(), holder: "h".into() });
    c.state.directory.upsert(room("lobby", RoomKind::Staff, true));
    assert_eq!(refused(&mut c, say("see https://x.example", None)).await, ErrorCode::RoomLocked);
    c.state.directory.upsert(room("lobby", RoomKind::Staff, false));
    assert_eq!(refused(&mut c, say("see https://x.example", None)).await, ErrorCode::LinksNotYet);
    assert_eq!(refused(&mut c, say(&"p".repeat(301), None)).await, ErrorCode::PasteNotYet);
    // Half of a burst of 2: one message, then the socket's bucket is empty.
    assert!(matches!(c.admit(say("hi", None)).await, Ok(Admitted::Say { trust, .. }) if trust.new));
    assert_eq!(refused(&mut c, say("again", None)).await, ErrorCode::RateLimited);
    // The tier's own refusals still come first.
    assert_eq!(refused(&mut c, say("https://x.example", None)).await, ErrorCode::LinksNotYet);
}

#[tokio::test]
async fn typing_is_relayed_once_per_interval_and_what_comes_sooner_is_folded() {
    let mut c = conn(GatewayConfig::default());
    assert_eq!(refused(&mut c, ClientFrame::Typing {}).await, ErrorCode::NotInRoom);
    let lobby = c.state.directory.get(&RoomSlug::parse("lobby").unwrap()).unwrap();
    c.joined = Some(Joined { room: lobby, nick: Nickname::parse("ann").unwrap(), holder: "h".into() });
    assert!(matches!(c.admit(ClientFrame::Typing {}).await, Ok(Admitted::Typing)));
    assert!(matches!(c.admit(ClientFrame::Typing {}).await, Ok(Admitted::Folded)));
}

#[tokio::test]
async fn a_refused_next_still_lets_the_stranger_go() {
    let mut c = conn(one_join());
    assert_eq!(refused(&mut c, ClientFrame::Next { block: true }).await, ErrorCode::NotInRoom);
    assert!(c.admit(join("lobby", "ann")).await.is_ok(), "takes the one join");
    c.roulette = Some(Box::new(RouletteMe {
        nick: Nickname::parse("ann").unwrap(),
        interests: Vec::new(),
        blocked: Vec::new(),
        last_peer: None,
        again_at_ms: 0,
    }));
    c.stranger = Some(Box::new(Stranger { id: "s1".into(), nick: "bob".into(), check_at: None }));
    assert_eq!(refused(&mut c, ClientFrame::Next { block: true }).await, ErrorCode::RateLimited);
    assert!(c.stranger.is_none());
    let me = c.roulette.as_ref().unwrap();
    assert_eq!((me.blocked.clone(), me.last_peer.as_deref()), (vec!["s1".to_owned()], Some("s1")));
}

#[tokio::test]
async fn roulette_and_create_check_the_ban_and_their_fields_before_the_joins() {
    let mut c = conn(one_join());
    let roulette = |nick: &str, interests: Vec<String>| ClientFrame::Roulette { nick: nick.into(), interests };
    let create = |title: &str, capacity| ClientFrame::Create { title: title.into(), capacity, listed: false };
    assert_eq!(refused(&mut c, roulette("", Vec::new())).await, ErrorCode::InvalidNick);
    let many = vec!["tag".to_owned(); protocol::input::INTERESTS_MAX + 1];
    assert_eq!(refused(&mut c, roulette("ann", many)).await, ErrorCode::BadFrame);
    assert_eq!(refused(&mut c, create("", 5)).await, ErrorCode::BadFrame);
    assert_eq!(refused(&mut c, create("spam", 5)).await, ErrorCode::Filtered);
    assert_eq!(refused(&mut c, create("ours", 1)).await, ErrorCode::BadFrame);
    assert!(matches!(c.admit(create("ours", 5)).await, Ok(Admitted::Create { .. })));
    assert_eq!(refused(&mut c, roulette("ann", Vec::new())).await, ErrorCode::RateLimited);
    ban(&c);
    assert_eq!(refused(&mut c, roulette("", Vec::new())).await, ErrorCode::Banned);
    assert_eq!(refused(&mut c, create("", 5)).await, ErrorCode::Banned);
}
