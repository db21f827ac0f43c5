//! IPv6 rotation: a host with a /64 has 2^64 addresses; every per-address budget counts the /64
//! as one address (and an IPv4-mapped IPv6 address as the IPv4 address it carries).

use serde_json::json;

use super::*;

#[tokio::test]
async fn rotating_through_one_64_shares_one_budget_of_connections_joins_and_messages() {
    let app = spawn_proxied(&[
        ("MAX_CONNECTIONS_PER_IP", "3"),
        ("JOINS_PER_MINUTE", "4"),
        ("SAY_IP_BURST", "5"),
        ("SAY_IP_PER_SECOND", "0.01"),
    ])
    .await;
    // A well-behaved visitor and a watcher, each from an address of their own.
    let mut calm = from(&app, "198.51.100.1").await;
    calm.join("lobby", "Calm").await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;

    // Connections: three addresses of 2001:db8:1:2::/64 fill its budget; a fourth is refused.
    let mut rotating = Vec::new();
    for i in 1..=3 {
        rotating.push(from(&app, &format!("2001:db8:1:2::{i}")).await);
    }
    for ip in ["2001:db8:1:2::4", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
        let (status, body) = Client::connect_from(app.addr, ip).await.err().expect("refused");
        assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{ip}: {body}");
    }
    // The next /64 is somebody else.
    let neighbour = from(&app, "2001:db8:1:3::1").await;

    // Joins: four per minute for the whole /64, whichever address joins.
    for (i, room) in ["chill", "games", "lobby", "chill"].into_iter().enumerate() {
        let socket = &mut rotating[i % 3];
        socket.send(json!({"type": "join", "room": room, "nick": format!("Rot{}", i % 3)})).await;
        socket.wait_for("joined").await;
    }
    rotating[2].send(json!({"type": "join", "room": "lobby", "nick": "Rot2"})).await;
    rotating[2].expect_error("rate_limited").await;

    // Messages: one bucket of five for the /64, while the calm visitor's message arrives.
    let flooder = &mut rotating[2]; // in the lobby, as Rot2
    for i in 0..200 {
        flooder.send(json!({"type": "say", "text": format!("flood {i}")})).await;
    }
    // The other two addresses of the /64 share what is left of the bucket.
    let (first, rest) = rotating.split_at_mut(1);
    first[0].send(json!({"type": "say", "text": "from ::1"})).await;
    rest[0].send(json!({"type": "say", "text": "from ::2"})).await;
    still_delivered(&mut calm, &mut watcher, "calm message").await;
    let mut accepted = 0;
    let mut limited = 0;
    for (socket, sent) in rotating.iter_mut().zip([1, 1, 200]) {
        let mut answered = 0;
        while answered < sent {
            let f = socket.next().await;
            match (f["type"].as_str(), f["code"].as_str()) {
                (Some("ack"), _) => accepted += 1,
                (Some("error"), Some("rate_limited")) => limited += 1,
                (Some("error"), code) => panic!("unexpected refusal {code:?}: {f}"),
                _ => continue,
            }
            answered += 1;
        }
    }
    assert_eq!((accepted, limited), (5, 197), "five messages for the whole /64");
    drop(neighbour);
}

#[tokio::test]
async fn an_ipv4_mapped_address_is_the_ipv4_address() {
    let app = spawn_proxied(&[("MAX_CONNECTIONS_PER_IP", "2")]).await;
    let _a = from(&app, "203.0.113.9").await;
    let _b = from(&app, "::ffff:203.0.113.9").await;
    for ip in ["203.0.113.9", "::ffff:203.0.113.9"] {
        let (status, body) = Client::connect_from(app.addr, ip).await.err().expect("refused");
        assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{ip}");
    }
    let _other = from(&app, "203.0.113.10").await;
}
