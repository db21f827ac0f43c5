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
