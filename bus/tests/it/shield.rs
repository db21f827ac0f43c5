//! Conformance, on both buses: what the proof-of-work gates of every gateway share (issue 27):
//! a solution spent once across gateways, join rates summed, the mode staff set, the key.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, ShieldMode, ShieldSetting};

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
    a_solution_is_spent_once_until_its_challenge_expires,
    join_rates_add_up_across_gateways,
    the_shield_mode_and_the_deployment_key_are_stored,
);

async fn a_solution_is_spent_once_until_its_challenge_expires(bus: Arc<dyn Bus>) {
    let signature = ulid::Ulid::new().to_string();
    assert!(bus.spend_challenge(&signature, Duration::from_millis(300)).await.unwrap());
    assert!(!bus.spend_challenge(&signature, Duration::from_millis(300)).await.unwrap(), "spent already");
    let other = ulid::Ulid::new().to_string();
    assert!(bus.spend_challenge(&other, Duration::from_secs(5)).await.unwrap(), "another solution");
    // Concurrent spends of one solution: exactly one wins.
    let contested = ulid::Ulid::new().to_string();
    let spends = (0..8).map(|_| {
        let (bus, contested) = (bus.clone(), contested.clone());
        tokio::spawn(async move { bus.spend_challenge(&contested, Duration::from_secs(5)).await.unwrap() })
    });
    let mut won = 0;
    for spend in spends {
        won += usize::from(spend.await.unwrap());
    }
    assert_eq!(won, 1);
    // Forgotten once the challenge could not be used any more (the map stays bounded).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(bus.spend_challenge(&signature, Duration::from_millis(300)).await.unwrap());
}

async fn join_rates_add_up_across_gateways(bus: Arc<dyn Bus>) {
    let (a, b) = (format!("gw-a-{}", ulid::Ulid::new()), format!("gw-b-{}", ulid::Ulid::new()));
    let before = bus.join_rate().await.unwrap();
    bus.report_joins(&a, 30, Duration::from_secs(5)).await.unwrap();
    bus.report_joins(&b, 12, Duration::from_millis(300)).await.unwrap();
    assert_eq!(bus.join_rate().await.unwrap(), before + 42);
    bus.report_joins(&a, 10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(bus.join_rate().await.unwrap(), before + 22, "a new report replaces the last");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bus.join_rate().await.unwrap(), before + 10, "a silent gateway drops out");
    bus.report_joins(&a, 0, Duration::ZERO).await.unwrap();
}

async fn the_shield_mode_and_the_deployment_key_are_stored(bus: Arc<dyn Bus>) {
    assert_eq!(bus.shield().await.unwrap(), None, "nobody set it: each gateway's SHIELD_MODE");
    let on = ShieldSetting { mode: ShieldMode::On, difficulty: Some(3) };
    bus.put_shield(&on).await.unwrap();
    assert_eq!(bus.shield().await.unwrap(), Some(on));
    let auto = ShieldSetting { mode: ShieldMode::Auto, difficulty: None };
    bus.put_shield(&auto).await.unwrap();
    assert_eq!(bus.shield().await.unwrap(), Some(auto));
    assert_eq!(bus.deployment_key().await.unwrap(), None);
    bus.put_deployment_key("0123abcd").await.unwrap();
    assert_eq!(bus.deployment_key().await.unwrap().as_deref(), Some("0123abcd"));
}
