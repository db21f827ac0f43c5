//! `spawn_app()` and a WebSocket test client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chatroulette::{AllInOne, Config, shutdown::Shutdown};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every wait on an event has this generous timeout.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub addr: SocketAddr,
    /// The operators' listener (metrics, detailed readiness).
    pub admin_addr: SocketAddr,
    pub database_url: String,
    pub dir: PathBuf,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), chatroulette::StartError>>,
}

/// Settings tests use unless they say otherwise: fast room sync, a generous rate limit.
pub fn test_vars(database_url: &str) -> HashMap<String, String> {
    [
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("ADMIN_LISTEN_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", database_url),
        ("ROOM_SYNC_SECS", "0.2"),
        ("SAY_BURST", "100"),
        ("SAY_PER_SECOND", "100"),
        // Every test client connects from 127.0.0.1: per-address limits get their own tests.
        ("SAY_IP_BURST", "100000"),
        ("SAY_IP_PER_SECOND", "100000"),
        ("JOINS_PER_MINUTE", "100000"),
        ("API_REQUESTS_PER_MINUTE", "100000"),
        ("MAX_CONNECTIONS_PER_IP", "10000"),
        ("SEATS_PER_ADDRESS", "10000"),
        // A dropped socket leaves at once unless a test resumes (tests/it/resume.rs).
        ("RESUME_SECS", "0"),
        // Tests connect by the hundred from one address: the proof-of-work gate gets its own
        // tests (tests/it/shield.rs).
        ("SHIELD_JOIN_RATE", "1000000"),
        ("SHIELD_ADDRESS_REFUSALS", "0"),
        // Tests send links, repeats and bursts: the trust tier for new visitors gets its own
        // tests (tests/it/trust.rs).
        ("NEW_VISITOR_MESSAGES", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cr-it-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The whole chat on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let dir = temp_dir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("chat.db").display());
    spawn_app_on(dir, &url, overrides).await
}

pub async fn spawn_app_on(dir: PathBuf, database_url: &str, overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_tuned_on(dir, database_url, overrides, |_| {}).await
}

/// The whole chat on a fresh SQLite database, its configuration changed by `tune` (for the
/// settings that have no variable).
pub async fn spawn_app_tuned(tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = temp_dir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("chat.db").display());
    spawn_app_tuned_on(dir, &url, &[], tune).await
}

/// [`spawn_app_with`] and [`spawn_app_tuned`] together.
pub async fn spawn_app_tuned_with(overrides: &[(&str, &str)], tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = temp_dir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("chat.db").display());
    spawn_app_tuned_on(dir, &url, overrides, tune).await
}

async fn spawn_app_tuned_on(
    dir: PathBuf,
    database_url: &str,
    overrides: &[(&str, &str)],
    tune: impl FnOnce(&mut Config),
) -> TestApp {
    let mut vars = test_vars(database_url);
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    tune(&mut config);
    let app = AllInOne::build(config).await.unwrap();
    let addr = app.local_addr();
    let admin_addr = app.admin_addr().expect("tests serve the admin listener");
    let shutdown = Shutdown::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp { addr, admin_addr, database_url: database_url.to_owned(), dir, shutdown, task }
}

impl TestApp {
    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// A client that already joined `room` as `nick` (its `joined` frame is returned too).
    pub async fn joined(&self, room: &str, nick: &str) -> (Client, Value) {
        let mut c = self.client().await;
        let joined = c.join(room, nick).await;
        (c, joined)
    }

    pub async fn get(&self, path: &str) -> (u16, HashMap<String, String>, String) {
        http_get(self.addr, path).await
    }

    /// A GET on the operators' listener.
    pub async fn get_admin(&self, path: &str) -> (u16, HashMap<String, String>, String) {
        http_get(self.admin_addr, path).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Member count of a room, from `/api/rooms/{slug}` (the list, `/api/rooms`, may be up to a
    /// second old); `None` when there is no such room.
    pub async fn members_of(&self, slug: &str) -> Option<u64> {
        let (status, _, body) = self.get(&format!("/api/rooms/{slug}")).await;
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "{slug}: {body}");
        let room: Value = serde_json::from_str(&body).unwrap();
        Some(room["members"].as_u64().unwrap())
    }

    /// Poll until `check` holds (a wait with a timeout, never a timing assertion).
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !check().await {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        bot::db::connect(&self.database_url).await.unwrap()
    }

    /// Stop the app and wait until it is down.
    pub async fn stop(self) -> (PathBuf, String) {
        self.shutdown.trigger();
        tokio::time::timeout(WAIT, self.task).await.unwrap().unwrap().unwrap();
        (self.dir, self.database_url)
    }
}

/// A minimal HTTP/1.1 GET, enough for probes and the JSON API.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, HashMap<String, String>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect::<HashMap<_, _>>();
    let body =
        if headers.get("transfer-encoding").is_some_and(|v| v == "chunked") { dechunk(body) } else { body.to_owned() };
    (status, headers, body)
}

pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// A WebSocket client speaking the chat contract.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
    /// Frames read while waiting for something else (e.g. the own message arriving before
    /// the `ack`), handed out first by [`Client::next`].
    pending: std::collections::VecDeque<Value>,
}

impl Client {
    /// Connect with extra request headers (`X-Forwarded-For`, `Origin`); a refusal before the
    /// upgrade comes back as (status, JSON body).
    pub async fn connect_with(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<Self, (u16, Value)> {
        Self::connect_to(addr, "/ws", headers).await
    }

    /// [`Client::connect_with`] on a path of our choosing (`/ws?device=…`, `/ws?pow=…`).
    pub async fn connect_to(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<Self, (u16, Value)> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => {
                let mut client = Self { ws, hello: Value::Null, pending: std::collections::VecDeque::new() };
                client.hello = client.expect("hello").await;
                Ok(client)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
                    .unwrap_or(Value::Null);
                Err((status, body))
            }
            Err(e) => panic!("cannot connect: {e}"),
        }
    }

    /// Connect as if from `ip` (the app must trust 127.0.0.1 as a proxy).
    pub async fn connect_from(addr: SocketAddr, ip: &str) -> Result<Self, (u16, Value)> {
        Self::connect_with(addr, &[("x-forwarded-for", ip)]).await
    }

    pub async fn connect(addr: SocketAddr) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
        let mut client = Self { ws, hello: Value::Null, pending: std::collections::VecDeque::new() };
        client.hello = client.expect("hello").await;
        client
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::text(frame.to_string())).await.unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next text frame as JSON (pings and pongs are skipped).
    pub async fn next(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("socket closed by the server: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame, which must be of type `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.next().await;
        assert_eq!(frame["type"], kind, "expected a {kind} frame, got {frame}");
        frame
    }

    /// Skip frames until one of type `kind` arrives.
    pub async fn wait_for(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Skip frames until the `message` with this id arrives.
    pub async fn wait_message(&mut self, id: &str) -> Value {
        loop {
            let frame = self.wait_for("message").await;
            if frame["id"] == id {
                return frame;
            }
        }
    }

    /// The next `error` frame, which must carry `code`; room traffic in between is skipped.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        loop {
            let frame = self.next().await;
            match frame["type"].as_str() {
                Some("presence" | "typing" | "message") => continue,
                _ => {
                    assert_eq!(frame["type"], "error", "expected error {code}, got {frame}");
                    assert_eq!(frame["code"], code, "{frame}");
                    assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()), "{frame}");
                    return frame;
                }
            }
        }
    }

    pub async fn join(&mut self, room: &str, nick: &str) -> Value {
        self.send(json!({"type": "join", "room": room, "nick": nick})).await;
        self.expect("joined").await
    }

    /// Send a message and return its acknowledged id.
    pub async fn say(&mut self, text: &str) -> String {
        let client_id = ulid::Ulid::new().to_string();
        self.send(json!({"type": "say", "text": text, "client_id": client_id})).await;
        let mut seen = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "ack" {
                assert_eq!(frame["client_id"], client_id.as_str());
                // Whatever came before the ack is still news for the test.
                for f in seen.into_iter().rev() {
                    self.pending.push_front(f);
                }
                return frame["id"].as_str().unwrap().to_owned();
            }
            assert_ne!(frame["type"], "error", "say failed: {frame}");
            seen.push(frame);
        }
    }

    /// Wait until the server closes the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("timed out waiting for close") {
                None => return None,
                Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
            }
        }
    }
}
