//! Conformance, on both buses: who is online across gateways, and the roulette rule that holds
//! apart two people who just parted (with the count of who else is looking).

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use protocol::RouletteTicket;
use ulid::Ulid;

use crate::conformance::ticket;

/// Runs each check against a fresh bus of each kind.
macro_rules! on_both_buses {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(std::sync::Arc::new(bus::InProcessBus::new())).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let bus = crate::redis_only::connect(std::time::Duration::from_secs(30)).await;
                    super::$name(std::sync::Arc::new(bus)).await;
                }
            )*
        }
    };
}

on_both_buses!(
    online_counts_add_up_across_gateways_and_vanish_with_a_silent_one,
    two_who_just_parted_are_held_apart_until_later_or_until_one_met_someone_else,
);

async fn online_counts_add_up_across_gateways_and_vanish_with_a_silent_one(bus: Arc<dyn Bus>) {
    assert_eq!(bus.online().await.unwrap(), 0, "nobody reported");
    bus.report_online("gw-a", 3, Duration::from_secs(30)).await.unwrap();
    bus.report_online("gw-b", 4, Duration::from_millis(300)).await.unwrap();
    assert_eq!(bus.online().await.unwrap(), 7);
    bus.report_online("gw-a", 2, Duration::from_secs(30)).await.unwrap();
    assert_eq!(bus.online().await.unwrap(), 6, "a new report replaces the gateway's last one");
    // gw-b stops reporting (it died): its count goes once its report expires.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = bus.online().await.unwrap();
        if n == 2 {
            break;
        }
        assert_eq!(n, 6, "only gw-b's 4 may go");
        assert!(tokio::time::Instant::now() < deadline, "a silent gateway still counts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A stopping gateway withdraws its report at once.
    bus.report_online("gw-a", 0, Duration::ZERO).await.unwrap();
    assert_eq!(bus.online().await.unwrap(), 0);
}

async fn two_who_just_parted_are_held_apart_until_later_or_until_one_met_someone_else(bus: Arc<dyn Bus>) {
    let run = Ulid::new().to_string();
    let id = |name: &str| format!("{run}-{name}");
    let parted = |me: &str, peer: &str, again_at_ms: i64| RouletteTicket {
        last_peer: Some(id(peer)),
        again_at_ms,
        ..ticket(&id(me), &[], 0)
    };
    // Ann pressed Next on Bob at t=0; Bob then looks again too: they are held apart until
    // t=1000 (the later of the two deadlines), and both wait.
    assert_eq!(bus.roulette_match(&parted("ann", "bob", 900), 0).await.unwrap(), None);
    assert_eq!(bus.roulette_match(&parted("bob", "ann", 1000), 10).await.unwrap(), None);
    assert_eq!(bus.roulette_waiting().await.unwrap(), 2);
    // Nobody else is looking, for either of them.
    assert_eq!(bus.roulette_waiting_except(&[&id("bob"), &id("ann")]).await.unwrap(), 0);
    assert_eq!(bus.roulette_waiting_except(&[&id("ann"), &id("ann")]).await.unwrap(), 1, "each id once");
    assert_eq!(bus.roulette_waiting_except(&[&id("ann"), &id("nobody")]).await.unwrap(), 1);
    assert_eq!(bus.roulette_waiting_except(&[]).await.unwrap(), 2);
    // Still held at t=999 (Bob matching again keeps his place)...
    assert_eq!(bus.roulette_match(&parted("bob", "ann", 1000), 999).await.unwrap(), None);
    // ...but someone new is paired at once, with the one who waited longest.
    let cat = bus.roulette_match(&ticket(&id("cat"), &[], 0), 500).await.unwrap();
    assert_eq!(cat.map(|t| t.id), Some(id("ann")));
    // From t=1000 on, the two are the last resort again: paired when nobody else fits.
    let ann = bus.roulette_match(&parted("ann", "bob", 900), 1000).await.unwrap();
    assert_eq!(ann.map(|t| t.id), Some(id("bob")));
    // Once one of them met someone else, nothing holds them apart, deadline or not.
    assert_eq!(bus.roulette_match(&parted("dan", "eve", 5000), 1100).await.unwrap(), None);
    let eve = bus.roulette_match(&parted("eve", "fay", 5000), 1200).await.unwrap();
    assert_eq!(eve.map(|t| t.id), Some(id("dan")));
    assert_eq!(bus.roulette_waiting().await.unwrap(), 0);
}
