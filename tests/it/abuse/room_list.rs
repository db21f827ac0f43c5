//! Amplification: anonymous room-list requests are served from a cache, so a burst of them
//! costs at most one seat count per second.

use std::time::{Duration, Instant};

use super::*;

#[tokio::test]
async fn a_burst_of_room_list_requests_counts_seats_at_most_once_a_second() {
    let app = spawn_proxied(&[]).await;
    let mut calm = from(&app, "198.51.100.1").await;
    calm.join("lobby", "Calm").await;
    let mut watcher = from(&app, "198.51.100.2").await;
    watcher.join("lobby", "Watcher").await;

    let series = "chat_seat_counts_total{for=\"room_list\"}";
    let before = counter(series);
    let started = Instant::now();
    let mut requests = 0;
    // Waves of 100 concurrent requests for a little over two seconds.
    while started.elapsed() < Duration::from_millis(2200) {
        let wave = (0..100).map(|_| http_get(app.addr, "/api/rooms"));
        for (status, _, body) in futures_util::future::join_all(wave).await {
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("\"slug\":\"lobby\""), "{body}");
        }
        requests += 100;
        still_delivered(&mut calm, &mut watcher, "during the burst").await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let counts = counter(series) - before;
    eprintln!("{requests} room-list requests in {elapsed:.2} s: {counts} seat counts");
    assert!(counts >= 2.0, "the list was refreshed as it aged: {counts} counts");
    assert!(counts <= elapsed.floor() + 1.0, "{requests} requests in {elapsed:.2} s counted seats {counts} times");
    // The list is never more than a second behind.
    app.eventually("the list shows both members", || async {
        let rooms = app.get_json("/api/rooms").await;
        rooms.as_array().unwrap().iter().any(|r| r["slug"] == "lobby" && r["members"] == 2)
    })
    .await;
}

#[tokio::test]
async fn only_one_of_two_gateways_sweeps_visitor_rooms() {
    let prefix = fresh_prefix();
    // Idle rooms are swept every half second (half the idle time).
    let settings = [("VISITOR_ROOM_IDLE_SECS", "1"), ("IP_TAG_SECRET", "one-secret-for-every-gateway")];
    let one = spawn_on_redis(&prefix, &settings).await;
    let two = spawn_on_redis(&prefix, &settings).await;
    let mut host = from(&two, "203.0.113.30").await;
    host.send(serde_json::json!({"type": "create", "title": "Swept", "capacity": 3, "listed": true})).await;
    let room = host.wait_for("created").await["room"].as_str().unwrap().to_owned();

    // Both gateways tick every half second; their seat counts for sweeping (this process
    // counts both) are those of one gateway.
    let series = "chat_seat_counts_total{for=\"sweep\"}";
    let before = counter(series);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sweeps = counter(series) - before;
    let rounds = started.elapsed().as_secs_f64() / 0.5;
    eprintln!("{sweeps} sweeps in {rounds:.1} rounds of two gateways");
    assert!(sweeps >= 1.0, "somebody sweeps");
    assert!(sweeps <= rounds.floor() + 2.0, "{sweeps} sweeps in {rounds:.1} rounds: both gateways swept");
    // And what the sweeper closes is closed everywhere.
    for app in [&one, &two] {
        app.eventually("the idle room is gone", || async { app.members_of(&room).await.is_none() }).await;
    }
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}
