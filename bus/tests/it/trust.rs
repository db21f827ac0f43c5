//! Conformance, on both buses: the trust tier's records (issue 27): first sight kept, messages
//! counted across callers, records read without change, and the staff-trusted list stored.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, TrustRecord};

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

on_both_buses!(records_keep_their_first_sight_and_count_messages, the_trust_list_is_stored);

const TTL: Duration = Duration::from_secs(60);

async fn records_keep_their_first_sight_and_count_messages(bus: Arc<dyn Bus>) {
    let device = bus::trust::device_subject(&ulid::Ulid::new().to_string());
    let address = bus::trust::address_subject(&ulid::Ulid::new().to_string());
    let both = [device.clone(), address.clone()];
    assert_eq!(bus.trust_records(&both).await.unwrap(), vec![None, None], "nothing before the first note");
    let seen = bus.trust_note(std::slice::from_ref(&device), 0, 1_000, TTL).await.unwrap();
    assert_eq!(seen, vec![TrustRecord { first_ms: 1_000, messages: 0 }]);
    // Another gateway counts a message later: the first sight stays, the new subject starts now.
    let counted = bus.trust_note(&both, 1, 5_000, TTL).await.unwrap();
    assert_eq!(
        counted,
        vec![TrustRecord { first_ms: 1_000, messages: 1 }, TrustRecord { first_ms: 5_000, messages: 1 }]
    );
    let read = bus.trust_records(&both).await.unwrap();
    assert_eq!(read, vec![Some(counted[0]), Some(counted[1])], "read as counted, unchanged");
    assert!(bus.trust_note(&[], 1, 0, TTL).await.unwrap().is_empty());
}

async fn the_trust_list_is_stored(bus: Arc<dyn Bus>) {
    let list = protocol::TrustList {
        trusted: vec![protocol::TrustedDef {
            id: 7,
            tag: "abcdef012345".into(),
            networks: vec!["203.0.113.7/32".into()],
            devices: vec!["0123456789ab".into()],
        }],
        domains: vec!["example.org".into()],
    };
    bus.put_trust_list(&list).await.unwrap();
    assert_eq!(bus.trust_list().await.unwrap(), list);
}
