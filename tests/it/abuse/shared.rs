//! Campus NAT: a declared shared address gets `SHARED_ADDRESS_FACTOR` times the per-address
//! budgets of connections, seats, joins and messages; other addresses keep theirs.

use serde_json::json;

use super::*;

#[tokio::test]
async fn a_shared_address_gets_its_multiplied_budgets() {
    let app = spawn_proxied(&[
        ("SHARED_ADDRESSES", "198.51.100.0/24, 2001:db8:ca::/48"),
        ("SHARED_ADDRESS_FACTOR", "3"),
        ("MAX_CONNECTIONS_PER_IP", "2"),
        ("SEATS_PER_ADDRESS", "1"),
        ("JOINS_PER_MINUTE", "2"),
        ("SAY_IP_BURST", "2"),
        ("SAY_IP_PER_SECOND", "0.01"),
    ])
    .await;
    let mut calm = from(&app, "192.0.2.1").await;
    calm.join("lobby", "Calm").await;
    let mut watcher = from(&app, "192.0.2.2").await;
    watcher.join("lobby", "Watcher").await;

    // An ordinary address: two connections.
    let _ordinary = [from(&app, "203.0.113.7").await, from(&app, "203.0.113.7").await];
    let (status, _) = Client::connect_from(app.addr, "203.0.113.7").await.err().expect("refused");
    assert_eq!(status, 429);

    // The campus: six connections, the seventh refused.
    let campus = "198.51.100.50";
    let mut students = Vec::new();
    for _ in 0..6 {
        students.push(from(&app, campus).await);
    }
    let (status, body) = Client::connect_from(app.addr, campus).await.err().expect("refused");
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));

    // Three seats in one room; the fourth is refused (and its join counted: four of six joins).
    for (i, s) in students.iter_mut().take(3).enumerate() {
        s.join("lobby", &format!("Student{i}")).await;
    }
    students[3].send(json!({"type": "join", "room": "lobby", "nick": "Student3"})).await;
    students[3].expect_error("too_many_seats").await;
    // Six joins a minute: two more, then refused.
    students[3].join("chill", "Student3").await;
    students[4].join("chill", "Student4").await;
    students[5].send(json!({"type": "join", "room": "chill", "nick": "Student5"})).await;
    students[5].expect_error("rate_limited").await;

    // Six messages in the bucket, whichever students send them.
    for s in students.iter_mut().take(3) {
        for i in 0..10 {
            s.send(json!({"type": "say", "text": format!("note {i}")})).await;
        }
    }
    let mut accepted = 0;
    for s in students.iter_mut().take(3) {
        let mut answered = 0;
        while answered < 10 {
            let f = s.next().await;
            match (f["type"].as_str(), f["code"].as_str()) {
                (Some("ack"), _) => accepted += 1,
                (Some("error"), Some("rate_limited")) => {}
                (Some("error"), code) => panic!("unexpected refusal {code:?}: {f}"),
                _ => continue,
            }
            answered += 1;
        }
    }
    assert_eq!(accepted, 6);
    still_delivered(&mut calm, &mut watcher, "the campus is busy").await;

    // An IPv6 campus network counts by /64 and is multiplied too.
    let mut v6 = Vec::new();
    for i in 1..=6 {
        v6.push(from(&app, &format!("2001:db8:ca:1::{i}")).await);
    }
    assert_eq!(Client::connect_from(app.addr, "2001:db8:ca:1::7").await.err().expect("refused").0, 429);
}
