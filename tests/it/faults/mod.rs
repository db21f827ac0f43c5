//! The fault battery (`RELIABILITY.md` lists each fault, what visitors see, what is lost, and
//! the test here that shows it): the real binaries, with a private `redis-server` that a test
//! kills ([`crate::redis_server`]), a TCP proxy in front of PostgreSQL that a test cuts
//! ([`pg_proxy`]), `fake-discord` failing on command ([`fake_discord::Outage`]) and SQLite out
//! of disk space.
//!
//! Each fault is a file: `bot_kills` (1), `redis_loss` (2), `gateway_kill` (3), `postgres_cut`
//! (4), `discord_outage` (5), `disk_full` (6); `restart_behind_proxy` shows a graceful restart
//! of a gateway behind a load balancer.

mod bot_kills;
mod discord_outage;
mod disk_full;
mod gateway_kill;
mod pg_proxy;
mod postgres_cut;
mod redis_loss;
mod restart_behind_proxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fake_discord::FakeDiscord;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::cluster::Cluster;
use crate::support::Client;

/// A cluster whose bot mirrors into `fake`.
pub async fn discord_cluster(fake: &FakeDiscord, redis_url: Option<String>) -> Cluster {
    let mut cluster = match redis_url {
        Some(url) => Cluster::with_redis(url).await,
        None => Cluster::new().await,
    };
    cluster.env = crate::discord::discord_env(fake);
    cluster
}

/// What a [`Sender`] got back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// `say` frames sent.
    pub sent: u32,
    /// Of them, acknowledged (in the queue: the contract says they will be logged).
    pub acked: u32,
    /// Of them, refused with `unavailable`.
    pub unavailable: u32,
}

/// A visitor in `room` who says `"{room} {n}"` for n = 0, 1, … every `every` until stopped,
/// counting acknowledgements and refusals as they come (its reader never falls behind).
pub struct Sender {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Sent>,
}

impl Sender {
    pub async fn start(addr: SocketAddr, room: &str, nick: &str, every: Duration) -> Self {
        let mut client = Client::connect(addr).await;
        client.join(room, nick).await;
        let (mut sink, mut stream) = client.ws.split();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let room = room.to_owned();
        let task = tokio::spawn(async move {
            let reader = tokio::spawn(async move {
                let mut got = Sent::default();
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else { continue };
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["client_id"] == "done" {
                        break;
                    }
                    match frame["type"].as_str() {
                        Some("ack") => got.acked += 1,
                        Some("error") if frame["code"] == "unavailable" => got.unavailable += 1,
                        Some("error") => panic!("a message was refused: {frame}"),
                        _ => {}
                    }
                }
                got
            });
            let mut sent = 0;
            while !flag.load(Ordering::Relaxed) {
                let frame = json!({"type": "say", "text": format!("{room} {sent}"), "client_id": sent.to_string()});
                sink.send(Message::text(frame.to_string())).await.unwrap();
                sent += 1;
                tokio::time::sleep(every).await;
            }
            // A frame refused at once (no text) marks the end of the answers.
            sink.send(Message::text(json!({"type": "say", "text": "", "client_id": "done"}).to_string()))
                .await
                .unwrap();
            let got = tokio::time::timeout(Duration::from_secs(30), reader).await.unwrap().unwrap();
            Sent { sent, ..got }
        });
        Self { stop, task }
    }

    /// Stop sending; what was sent and answered.
    pub async fn stop(self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// The numbers of `"{room} N"` texts in a channel's messages, in order of appearance (one
/// embed per message, or several lines per embed under backlog).
pub fn numbers_in(messages: &[Value], room: &str) -> Vec<u32> {
    let marker = format!("{room} ");
    let mut out = Vec::new();
    for m in messages {
        for e in m["embeds"].as_array().into_iter().flatten() {
            let text = e["description"].as_str().unwrap_or_default();
            for part in text.split(marker.as_str()).skip(1) {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse() {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// Wait until a channel carries `n` numbers of `room`; them, in order.
pub async fn wait_mirrored(fake: &FakeDiscord, channel: u64, room: &str, n: usize, within: Duration) -> Vec<u32> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = numbers_in(&fake.messages_in(channel), room);
        if got.len() >= n {
            return got;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {} of {n} messages of {room} reached Discord", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The texts `message_log` holds for `room`, in id order (the order the gateway accepted them).
pub async fn logged_texts(database_url: &str, room: &str) -> Vec<String> {
    let db = bot::db::connect(database_url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "SELECT text FROM message_log WHERE room = $1 ORDER BY id",
                _ => "SELECT text FROM message_log WHERE room = ? ORDER BY id",
            },
            [room.into()],
        ))
        .await
        .unwrap();
    db.close().await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "text").unwrap()).collect()
}

/// `"{room} 0"` … `"{room} {n-1}"`.
pub fn expected_texts(room: &str, n: u32) -> Vec<String> {
    (0..n).map(|i| format!("{room} {i}")).collect()
}

/// Frames `client` receives before the `message` `id` (which must come): to show what a room
/// did not see.
pub async fn frames_before(client: &mut Client, id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let frame = client.next().await;
        if frame["type"] == "message" && frame["id"] == id {
            return seen;
        }
        seen.push(frame);
    }
}

/// Whether any of `frames` is a `presence` frame about `nick`.
pub fn presence_of(frames: &[Value], nick: &str) -> bool {
    frames.iter().any(|f| f["type"] == "presence" && f["nick"] == nick)
}
