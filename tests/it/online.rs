//! Who is online: `online` of `GET /api/info`, the sockets of every gateway counted together,
//! in one process and across gateways (where a killed gateway's count vanishes within seconds).

use crate::cluster::Cluster;
use crate::support::*;

#[tokio::test]
async fn api_info_counts_the_sockets_open_now() {
    let app = spawn_app().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(app.client().await);
    }
    // Each gateway reports every second and the sum is cached for a second.
    app.eventually("three online", || async { app.get_json("/api/info").await["online"] == 3 }).await;
    clients.truncate(1);
    app.eventually("one online", || async { app.get_json("/api/info").await["online"] == 1 }).await;
}

#[tokio::test]
async fn gateways_count_who_is_online_together_and_forget_a_killed_one() {
    let cluster = Cluster::new().await;
    let (g1, mut g2) = (cluster.gateway().await, cluster.gateway().await);
    let mut clients = Vec::new();
    for _ in 0..2 {
        clients.push(g1.client().await);
    }
    for _ in 0..3 {
        clients.push(g2.client().await);
    }
    let online = |gateway: &crate::cluster::Proc| {
        let addr = gateway.addr.unwrap();
        async move {
            let (_, _, body) = http_get(addr, "/api/info").await;
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["online"].clone()
        }
    };
    for gateway in [&g1, &g2] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while online(gateway).await != 5 {
            assert!(tokio::time::Instant::now() < deadline, "five online across the two gateways");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    // The second gateway dies without a word: its three drop out once its report expires.
    g2.kill().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = online(&g1).await;
        if n == 2 {
            break;
        }
        assert_eq!(n, 5, "only the killed gateway's count may go");
        assert!(tokio::time::Instant::now() < deadline, "a killed gateway's sockets still count");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(clients);
    cluster.finish().await;
}
