//! Hostile visitors: each attack through real sockets against the real app, with
//! assertions on what the server counts (its refusals, its metrics, its Redis keys), never on
//! time. Most also keep a well-behaved visitor of another address in the room and check
//! that what it sends still arrives.

use serde_json::Value;

use crate::support::*;

mod interests;
mod memory;
mod room_list;
mod rotation;
mod seats;
mod shared;
mod text;
mod upgrade;
mod websocket;

/// The app behind a trusted proxy (127.0.0.1), so a test picks each client's address with
/// `X-Forwarded-For`.
pub async fn spawn_proxied(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("TRUSTED_PROXIES", "127.0.0.1")];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// The Redis server of the tests.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses.
pub fn fresh_prefix() -> String {
    format!("abuse-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The app over Redis under `prefix` (and behind a trusted proxy), once its rooms are there.
pub async fn spawn_on_redis(prefix: &str, extra: &[(&str, &str)]) -> TestApp {
    let url = redis_url();
    let mut vars = vec![("TRUSTED_PROXIES", "127.0.0.1"), ("REDIS_URL", url.as_str()), ("REDIS_PREFIX", prefix)];
    vars.extend_from_slice(extra);
    let app = spawn_app_with(&vars).await;
    app.eventually("the lobby is there", || async { app.members_of("lobby").await.is_some() }).await;
    app
}

/// Keys under `prefix` matching `pattern`.
pub async fn redis_keys(prefix: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS").arg(format!("{prefix}:{pattern}")).query_async(&mut conn).await.unwrap()
}

/// A client connecting from `ip` (through the trusted proxy); panics when refused.
pub async fn from(app: &TestApp, ip: &str) -> Client {
    match Client::connect_from(app.addr, ip).await {
        Ok(client) => client,
        Err((status, body)) => panic!("{ip} was refused: {status} {body}"),
    }
}

/// The value of a counter of this process's metrics (the app runs in the test's process, and
/// nextest runs each test in a process of its own), e.g. `chat_interests_parsed_total` or
/// `chat_seat_counts_total{for="room_list"}`; 0 before it was first counted.
pub fn counter(series: &str) -> f64 {
    let text = gateway::telemetry::handle().expect("metrics recorder").render();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(name, _)| *name == series)
        .map(|(_, value)| value.parse::<f64>().unwrap())
        .sum()
}

/// A well-behaved visitor's message reaches a watcher: `sender` says `text`, `watcher` gets it.
pub async fn still_delivered(sender: &mut Client, watcher: &mut Client, text: &str) {
    let id = sender.say(text).await;
    loop {
        let m: Value = watcher.wait_for("message").await;
        if m["id"] == id.as_str() {
            assert_eq!(m["text"], text);
            return;
        }
    }
}
