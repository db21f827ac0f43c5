//! Probes, headers, the web client being served, and first start on a fresh machine.

use crate::support::*;

#[tokio::test]
async fn probes_answer() {
    let app = spawn_app().await;
    let (status, _, body) = app.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready, serde_json::json!({"ready": true}), "the public probe names no backend");
    let (status, _, body) = app.get_admin("/readyz").await;
    assert_eq!(status, 200);
    let detailed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let queue = serde_json::json!({"depth": 0, "oldest_age_secs": null, "dead_letters": 0});
    assert_eq!(detailed, serde_json::json!({"ready": true, "problems": [], "warnings": [], "queue": queue}));
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_listener_only() {
    let app = spawn_app().await;
    let _counted = app.client().await;
    let (status, _, body) = app.get("/metrics").await;
    assert!(!body.contains("chat_connections") && !body.contains("# TYPE"), "{status}: {body}");
    let (status, _, body) = app.get_admin("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("chat_connections"), "{body}");
}

#[tokio::test]
async fn the_web_client_is_served_with_a_strict_csp() {
    let app = spawn_app().await;
    let (status, headers, body) = app.get("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<html"), "{body}");
    assert!(headers["content-type"].starts_with("text/html"));
    assert!(headers["content-security-policy"].contains("default-src 'self'"));
    for asset in ["/app.js", "/app.css"] {
        let (status, _, body) = app.get(asset).await;
        assert_eq!(status, 200, "{asset}");
        assert!(!body.is_empty());
    }
}

#[tokio::test]
async fn the_binary_starts_on_embedded_defaults_and_says_where_to_go() {
    use tokio::io::AsyncBufReadExt;
    let dir = temp_dir();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatroulette"))
        .current_dir(&dir)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("DISCORD_TOKEN")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                return rest.trim().to_owned();
            }
        }
        panic!("the process ended without saying where it listens");
    })
    .await
    .unwrap();
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(dir.join("data/chatroulette.db").exists(), "SQLite database created under ./data/");
    let (status, _, body) = http_get(addr, "/api/rooms").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"lobby\""), "default rooms seeded: {body}");
    // SIGTERM stops it cleanly.
    let pid = child.id().unwrap();
    std::process::Command::new("kill").arg(pid.to_string()).status().unwrap();
    let status = tokio::time::timeout(WAIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn bad_configuration_is_refused_with_the_variable_named() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatroulette"))
        .env("LISTEN_ADDR", "not-an-address")
        .current_dir(temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LISTEN_ADDR"), "{stderr}");
}

#[tokio::test]
async fn a_graceful_stop_says_restarting_closes_with_1012_and_logs_every_accepted_message() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let (mut c, _) = app.joined("lobby", "Last").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(c.say(&format!("late {i}")).await);
    }
    let (dir, url) = app.stop().await;
    let restarting = c.wait_for("restarting").await;
    let retry = restarting["retry_after_ms"].as_u64().unwrap_or_default();
    assert!((1_000..=3_000).contains(&retry), "{restarting}");
    assert_eq!(c.closed().await, Some(1012), "service restart");
    let db = bot::db::connect(&url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM message_log".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 20, "every acknowledged message is in the log");
    drop(dir);
}

#[tokio::test]
async fn metrics_count_connections_messages_and_refusals() {
    let app = spawn_app().await;
    let (mut c, _) = app.joined("lobby", "Counted").await;
    c.say("one").await;
    c.send(serde_json::json!({"type": "dance"})).await;
    c.expect_error("unknown_type").await;
    let (status, headers, body) = app.get_admin("/metrics").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("text/plain"));
    // One recorder serves the whole test process, so check presence and at-least values.
    for name in ["chat_connections", "chat_messages_in_total", "chat_frames_delivered_total", "chat_members"] {
        assert!(body.lines().any(|l| l.starts_with(name)), "{name} missing:\n{body}");
    }
    let refusals =
        body.lines().find(|l| l.starts_with("chat_refusals_total{code=\"unknown_type\"}")).expect("refusals by code");
    assert!(refusals.split_whitespace().last().unwrap().parse::<f64>().unwrap() >= 1.0);
}

#[tokio::test]
async fn a_gateway_process_on_sigterm_tells_every_socket_restarting_then_closes_with_1012() {
    let cluster = crate::cluster::Cluster::new().await;
    let mut gateway = cluster.gateway().await;
    // One socket only connected, one waiting in the roulette (no bot: no rooms to join).
    let (mut a, mut b) = (gateway.client().await, gateway.client().await);
    b.send(serde_json::json!({"type": "roulette", "nick": "Waits"})).await;
    b.wait_for("waiting").await;
    gateway.stop().await;
    let mut delays = Vec::new();
    for c in [&mut a, &mut b] {
        let restarting = c.wait_for("restarting").await;
        delays.push(restarting["retry_after_ms"].as_u64().unwrap_or_default());
        assert_eq!(c.closed().await, Some(1012));
    }
    assert!(delays.iter().all(|ms| (1_000..=3_000).contains(ms)), "{delays:?}");
    cluster.finish().await;
}
