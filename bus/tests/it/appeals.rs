//! Conformance of the appeal methods (`open_appeal` … `remove_appeal`), against both buses.

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use bus::resume::new_token;
use chrono::Utc;
use protocol::{AppealRecord, AppealReply, AppealState};

macro_rules! appeal_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            appeal_suite!(@tests $make;
                one_case_has_one_open_appeal_until_it_is_decided,
                many_gateways_racing_for_one_case_open_one_appeal,
                appeals_expire_and_removal_frees_the_case,
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

appeal_suite!(in_process, std::sync::Arc::new(bus::InProcessBus::new()));
appeal_suite!(redis, std::sync::Arc::new(crate::redis_only::connect(std::time::Duration::from_secs(30)).await));

const DAY: Duration = Duration::from_secs(86_400);

/// A case number no other test run uses.
fn fresh_case() -> i64 {
    i64::from(rand::random::<u32>()) + 1_000_000
}

fn appeal(case: i64) -> AppealRecord {
    AppealRecord {
        token: new_token(),
        case,
        state: AppealState::Open,
        text: "I was not spamming".into(),
        replies: vec![],
        at: Utc::now(),
        expires: None,
    }
}

pub async fn one_case_has_one_open_appeal_until_it_is_decided(bus: Arc<dyn Bus>) {
    let case = fresh_case();
    let first = appeal(case);
    assert!(bus.open_appeal(&first, DAY).await.unwrap());
    assert_eq!(bus.appeal(&first.token).await.unwrap(), Some(first.clone()));
    let second = appeal(case);
    assert!(!bus.open_appeal(&second, DAY).await.unwrap(), "a second open appeal of one case");
    assert_eq!(bus.appeal(&second.token).await.unwrap(), None, "nothing of it is stored");
    // Another case is another matter.
    assert!(bus.open_appeal(&appeal(fresh_case()), DAY).await.unwrap());

    // Staff reply: still open, still the case's only appeal.
    let mut replied = first.clone();
    replied.replies.push(AppealReply { at: Utc::now(), text: "We are looking.".into() });
    bus.put_appeal(&replied, DAY).await.unwrap();
    assert_eq!(bus.appeal(&first.token).await.unwrap(), Some(replied.clone()));
    assert!(!bus.open_appeal(&appeal(case), DAY).await.unwrap());

    // Decided: readable as such, and the case may be appealed again.
    let denied = AppealRecord { state: AppealState::Denied, ..replied };
    bus.put_appeal(&denied, DAY).await.unwrap();
    assert_eq!(bus.appeal(&first.token).await.unwrap().unwrap().state, AppealState::Denied);
    let again = appeal(case);
    assert!(bus.open_appeal(&again, DAY).await.unwrap());
    // A late write of the decided appeal never frees the newer one's case.
    bus.put_appeal(&denied, DAY).await.unwrap();
    assert!(!bus.open_appeal(&appeal(case), DAY).await.unwrap());
    assert_eq!(bus.appeal(&"0".repeat(32)).await.unwrap(), None);
}

pub async fn many_gateways_racing_for_one_case_open_one_appeal(bus: Arc<dyn Bus>) {
    let case = fresh_case();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let bus = bus.clone();
            tokio::spawn(async move { bus.open_appeal(&appeal(case), DAY).await.unwrap() })
        })
        .collect();
    let mut opened = 0;
    for task in tasks {
        opened += usize::from(task.await.unwrap());
    }
    assert_eq!(opened, 1);
}

pub async fn appeals_expire_and_removal_frees_the_case(bus: Arc<dyn Bus>) {
    let case = fresh_case();
    let short = appeal(case);
    assert!(bus.open_appeal(&short, Duration::from_millis(200)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bus.appeal(&short.token).await.unwrap(), None, "expired");
    let next = appeal(case);
    assert!(bus.open_appeal(&next, DAY).await.unwrap(), "an expired appeal frees its case");
    bus.remove_appeal(&next).await.unwrap();
    assert_eq!(bus.appeal(&next.token).await.unwrap(), None);
    // Removing an appeal that is not the case's open one leaves the open one alone.
    let open = appeal(case);
    assert!(bus.open_appeal(&open, DAY).await.unwrap());
    bus.remove_appeal(&next).await.unwrap();
    assert!(!bus.open_appeal(&appeal(case), DAY).await.unwrap());
    // The bot puts back an open appeal the bus lost: it is its case's open one again.
    bus.remove_appeal(&open).await.unwrap();
    bus.put_appeal(&open, DAY).await.unwrap();
    assert!(!bus.open_appeal(&appeal(case), DAY).await.unwrap());
}
