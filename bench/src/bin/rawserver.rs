//! `rawserver`: the bench's ceiling reference. A bare tokio-tungstenite broadcast server with no
//! validation, no persistence, no rate limits, and exactly one socket write per delivery (every
//! frame is sent and flushed on its own). It speaks just enough of the chat protocol for the load
//! generator: `hello`, `join` → `joined` (empty member list and history) + `presence`, `say` →
//! `message` to every member including the sender, `leave` → `presence`; and answers
//! `GET /api/rooms` with `[{slug, members}]` so the churn scenario can count seats.
//!
//! Usage: `rawserver [LISTEN_ADDR]` (default 127.0.0.1:9090; `LISTEN_ADDR` env works too).
//! `RAW_NAGLE=1` leaves TCP_NODELAY off (an experiment, not used by `bench/run`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames queued per socket before further ones are dropped (counted, printed at exit).
const QUEUE: usize = 4096;

type Tx = mpsc::Sender<Utf8Bytes>;

#[derive(Default)]
struct State {
    rooms: Mutex<HashMap<String, HashMap<u64, Tx>>>,
    dropped: AtomicU64,
    nagle: bool,
}

impl State {
    fn rooms(&self) -> MutexGuard<'_, HashMap<String, HashMap<u64, Tx>>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn broadcast(&self, room: &str, frame: &Utf8Bytes) {
        let rooms = self.rooms();
        if let Some(members) = rooms.get(room) {
            for tx in members.values() {
                if tx.try_send(frame.clone()).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    room: Option<String>,
    #[serde(default)]
    nick: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rawserver: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rawserver: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("LISTEN_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:9090".to_owned())
        .parse()
        .context("LISTEN_ADDR: expected an address such as 127.0.0.1:9090")?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr).with_context(|| format!("cannot bind {addr}"))?;
    let listener: TcpListener = socket.listen(4096)?;
    eprintln!("listening on http://{addr}");
    let nagle = std::env::var("RAW_NAGLE").is_ok_and(|v| v == "1");
    let state = Arc::new(State { nagle, ..State::default() });
    let next_id = AtomicU64::new(1);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(stream, state.clone(), id));
                }
                Err(e) => {
                    // Out of file descriptors and the like: say so, back off, carry on.
                    eprintln!("rawserver: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    eprintln!("rawserver: stopping; {} frames dropped on full queues", state.dropped.load(Ordering::Relaxed));
    Ok(())
}

async fn connection(stream: TcpStream, state: Arc<State>, id: u64) {
    // RAW_NAGLE=1 leaves Nagle's algorithm on, to show what a server that forgets
    // TCP_NODELAY costs (40 ms delayed-ACK stalls between small frames).
    let _ = stream.set_nodelay(!state.nagle);
    // Route plain HTTP (the room list) before the WebSocket handshake.
    let mut head = [0u8; 16];
    for _ in 0..200 {
        match stream.peek(&mut head).await {
            Ok(n) if n >= 14 || n == 0 => break,
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(_) => return,
        }
    }
    if head.starts_with(b"GET /api/rooms") {
        let _ = room_list(stream, &state).await;
        return;
    }
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    // One write (send = feed + flush) per delivered frame: no coalescing, by design.
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::Text(frame)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let _ = tx.try_send(Utf8Bytes::from_static(r#"{"type":"hello","version":"raw","limits":{}}"#));
    let mut joined: Option<(String, String)> = None;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            if message.is_close() {
                break;
            }
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            continue;
        };
        match frame.kind.as_str() {
            "join" => {
                let (Some(room), Some(nick)) = (frame.room, frame.nick) else { continue };
                leave(&state, id, &mut joined, None);
                state.rooms().entry(room.clone()).or_default().insert(id, tx.clone());
                let reply = format!(
                    r#"{{"type":"joined","room":{},"nick":{},"members":[],"history":[]}}"#,
                    json_str(&room),
                    json_str(&nick)
                );
                let _ = tx.try_send(Utf8Bytes::from(reply));
                let presence = format!(r#"{{"type":"presence","event":"join","nick":{}}}"#, json_str(&nick));
                state.broadcast(&room, &Utf8Bytes::from(presence));
                joined = Some((room, nick));
            }
            "say" => {
                let (Some((room, nick)), Some(text)) = (&joined, frame.text) else { continue };
                // Serialised once, shared by every member's queue; `type` first, as every server
                // of the bench writes it.
                let message = format!(
                    r#"{{"type":"message","id":"0","room":{},"nick":{},"text":{},"at":"","staff":false}}"#,
                    json_str(room),
                    json_str(nick),
                    json_str(&text)
                );
                state.broadcast(room, &Utf8Bytes::from(message));
            }
            "leave" => leave(&state, id, &mut joined, Some(&tx)),
            _ => {}
        }
    }
    leave(&state, id, &mut joined, None);
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Leave the current room, telling the others (and the leaver when `confirm` is given).
fn leave(state: &State, id: u64, joined: &mut Option<(String, String)>, confirm: Option<&Tx>) {
    let Some((room, nick)) = joined.take() else { return };
    if let Some(members) = state.rooms().get_mut(&room) {
        members.remove(&id);
    }
    let presence = Utf8Bytes::from(format!(r#"{{"type":"presence","event":"leave","nick":{}}}"#, json_str(&nick)));
    if let Some(tx) = confirm {
        let _ = tx.try_send(presence.clone());
    }
    state.broadcast(&room, &presence);
}

async fn room_list(mut stream: TcpStream, state: &State) -> Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let rooms: Vec<serde_json::Value> = state
        .rooms()
        .iter()
        .map(|(slug, members)| serde_json::json!({"slug": slug, "members": members.len()}))
        .collect();
    let body = serde_json::Value::Array(rooms).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}
