//! Conformance of the resume methods (`put_resume` … `disown_seat`), against both buses, in a
//! file and a suite of their own.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, ResumeState, RouletteResume, Token};
use protocol::RoomSlug;
use ulid::Ulid;

macro_rules! resume_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            resume_suite!(@tests $make;
                a_resume_token_is_taken_once,
                an_update_never_brings_back_a_taken_token,
                resume_states_expire_unless_kept,
                a_revoked_token_cannot_be_taken,
                many_gateways_racing_for_one_token_get_it_once,
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

resume_suite!(in_process, std::sync::Arc::new(bus::InProcessBus::new()));
resume_suite!(redis, std::sync::Arc::new(crate::redis_only::connect(std::time::Duration::from_secs(30)).await));

fn slug(prefix: &str) -> RoomSlug {
    RoomSlug::parse(&format!("{prefix}-{}", Ulid::new().to_string().to_lowercase())).unwrap()
}

fn state() -> ResumeState {
    ResumeState {
        room: slug("t"),
        nick: "Ann".into(),
        key: "ann".into(),
        holder: "gw-1:7".into(),
        address: "tag".into(),
        inbox: slug("g"),
        since: Some(Ulid::new()),
        roulette: Some(RouletteResume {
            interests: vec!["music".into()],
            blocked: vec![],
            last_peer: None,
            stranger_id: "gw-2:9".into(),
            stranger_nick: "Ben".into(),
        }),
    }
}

const LONG: Duration = Duration::from_secs(30);

pub async fn a_resume_token_is_taken_once(bus: Arc<dyn Bus>) {
    let (token, state) = (Token::new(), state());
    assert_eq!(bus.take_resume(token).await.unwrap(), None, "unknown");
    bus.put_resume(token, &state, LONG).await.unwrap();
    assert_eq!(bus.take_resume(token).await.unwrap(), Some(state));
    assert_eq!(bus.take_resume(token).await.unwrap(), None, "spent");
}

pub async fn an_update_never_brings_back_a_taken_token(bus: Arc<dyn Bus>) {
    let (token, mut state) = (Token::new(), state());
    assert!(!bus.update_resume(token, &state, LONG).await.unwrap(), "never put");
    bus.put_resume(token, &state, LONG).await.unwrap();
    state.since = None;
    assert!(bus.update_resume(token, &state, LONG).await.unwrap());
    assert_eq!(bus.take_resume(token).await.unwrap().unwrap().since, None, "the update is what is taken");
    assert!(!bus.update_resume(token, &state, LONG).await.unwrap(), "taken");
    assert_eq!(bus.take_resume(token).await.unwrap(), None);
}

pub async fn resume_states_expire_unless_kept(bus: Arc<dyn Bus>) {
    let short = Duration::from_millis(300);
    let (kept, lapsed, state) = (Token::new(), Token::new(), state());
    bus.put_resume(kept, &state, short).await.unwrap();
    bus.put_resume(lapsed, &state, short).await.unwrap();
    bus.keep_resumes(&[kept, Token::new()], LONG).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bus.take_resume(lapsed).await.unwrap(), None, "lapsed");
    assert!(!bus.update_resume(lapsed, &state, LONG).await.unwrap(), "a lapsed token stays gone");
    assert_eq!(bus.take_resume(kept).await.unwrap(), Some(state));
}

pub async fn a_revoked_token_cannot_be_taken(bus: Arc<dyn Bus>) {
    let (token, state) = (Token::new(), state());
    bus.put_resume(token, &state, LONG).await.unwrap();
    assert!(bus.revoke_resume(token).await.unwrap());
    assert!(!bus.revoke_resume(token).await.unwrap());
    assert_eq!(bus.take_resume(token).await.unwrap(), None);
    // Disowning a seat nobody refreshes here is harmless.
    bus.disown_seat(&state.room, &state.key, &state.holder).await.unwrap();
}

pub async fn many_gateways_racing_for_one_token_get_it_once(bus: Arc<dyn Bus>) {
    let (token, state) = (Token::new(), state());
    bus.put_resume(token, &state, LONG).await.unwrap();
    let racers = (0..16).map(|_| {
        let (bus, token) = (bus.clone(), token);
        tokio::spawn(async move { bus.take_resume(token).await.unwrap() })
    });
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.unwrap().is_some());
    }
    assert_eq!(won, 1);
}

/// Redis only (in-process seats are never refreshed): a disowned seat is no longer kept alive
/// by this process and lapses with its TTL; the others stay.
#[tokio::test]
async fn a_disowned_seat_lapses_and_the_others_are_kept() {
    let bus = crate::redis_only::connect(Duration::from_secs(1)).await;
    let room = slug("t");
    for (nick, holder) in [("ann", "gw-1:1"), ("ben", "gw-1:2")] {
        let seat = bus::Seat { nick: nick.into(), key: nick.into(), holder: holder.into(), address: holder.into() };
        assert!(matches!(bus.claim_seat(&room, &seat, 10, 10).await.unwrap(), bus::SeatClaim::Granted { .. }));
    }
    bus.disown_seat(&room, "ann", "gw-1:1").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let members = bus.members(&room).await.unwrap();
        if members == ["ben"] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{members:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still there two TTLs later: ben's seat is refreshed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(bus.members(&room).await.unwrap(), ["ben"]);
}
