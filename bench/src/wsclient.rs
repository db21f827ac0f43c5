//! The generator's side of the chat protocol: connect (with small buffers, from one of many
//! loopback source addresses), wait for `hello`, `join`, wait for `joined`, and recognise the
//! bench's own `message` frames cheaply.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TcpStream>;

/// How many loopback source addresses connections rotate over (127.0.0.2 …). Spreading them
/// keeps ephemeral ports and TIME_WAIT entries per address low and stays under any per-IP
/// connection limit a server may have (10 000 sockets → 40 per address).
pub const SOURCE_ADDRESSES: u32 = 250;

/// The source address of connection number `n`.
pub fn source_ip(n: u64) -> IpAddr {
    let host = 2 + u8::try_from(n % u64::from(SOURCE_ADDRESSES)).unwrap_or(0);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, host))
}

/// Client settings: a 4 KiB read buffer (tungstenite's default 128 KiB per socket would make
/// the generator itself the memory hog, and tungstenite zeroes the free part of the buffer before
/// every read, so a big one also costs CPU) and no write batching (every `send` flushes anyway).
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Open a WebSocket to `ws://addr/ws` from `source`.
pub async fn connect(addr: SocketAddr, source: IpAddr) -> Result<Ws> {
    let socket = TcpSocket::new_v4().context("cannot create a socket")?;
    socket.bind(SocketAddr::new(source, 0)).with_context(|| format!("cannot bind {source}"))?;
    let stream = socket.connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}/ws");
    let (ws, _response) = tokio_tungstenite::client_async_with_config(url, stream, Some(config()))
        .await
        .with_context(|| format!("WebSocket handshake with {addr} failed"))?;
    Ok(ws)
}

/// The `type` of a server frame (control frames only: not used on the hot path).
pub fn frame_type(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Head>(text).ok().map(|h| h.kind)
}

/// Wait for the next text frame whose type is `wanted`, skipping others; an `error` frame fails.
pub async fn expect(ws: &mut Ws, wanted: &str, timeout: Duration) -> Result<String> {
    tokio::time::timeout(timeout, async {
        for _ in 0..100_000 {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let kind = frame_type(&text);
                    if kind.as_deref() == Some(wanted) {
                        return Ok(text.to_string());
                    }
                    if kind.as_deref() == Some("error") {
                        bail!("server answered with an error while waiting for {wanted}: {text}");
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    bail!("server closed the socket while waiting for {wanted}: {frame:?}")
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(anyhow!(e).context(format!("read failed while waiting for {wanted}"))),
                None => bail!("socket ended while waiting for {wanted}"),
            }
        }
        bail!("no {wanted} frame among 100 000 frames")
    })
    .await
    .with_context(|| format!("no {wanted} frame within {timeout:?}"))?
}

/// Send a JSON text frame.
pub async fn send_json(ws: &mut Ws, value: &serde_json::Value) -> Result<()> {
    ws.send(Message::text(value.to_string())).await.context("cannot send a frame")
}

/// Connect, wait for `hello`, join `room` as `nick`, wait for `joined`.
pub async fn connect_and_join(addr: SocketAddr, source: IpAddr, room: &str, nick: &str) -> Result<Ws> {
    let timeout = Duration::from_secs(30);
    let mut ws = connect(addr, source).await?;
    expect(&mut ws, "hello", timeout).await?;
    send_json(&mut ws, &serde_json::json!({"type": "join", "room": room, "nick": nick})).await?;
    expect(&mut ws, "joined", timeout).await.with_context(|| format!("joining {room} as {nick}"))?;
    Ok(ws)
}

/// A bench payload `b:<sender>:<seq>:<unix_nanos>`, found in a `message` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    pub sender: u32,
    pub seq: u64,
    pub sent_nanos: u64,
}

impl Payload {
    pub fn text(&self) -> String {
        format!("b:{}:{}:{}", self.sender, self.seq, self.sent_nanos)
    }
}

/// If `frame` is a `message` frame carrying a bench payload, return it. Cheap: a prefix check on
/// the type (serde writes the tag first) and a substring search, no JSON parse.
pub fn parse_message(frame: &str) -> Option<Payload> {
    let head = frame.get(..40).unwrap_or(frame);
    if !head.contains("\"type\":\"message\"") {
        return None;
    }
    const KEY: &str = "\"text\":\"b:";
    let start = frame.find(KEY)? + KEY.len();
    let rest = &frame[start..];
    let end = rest.find('"')?;
    let mut parts = rest[..end].split(':');
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let sent_nanos = parts.next()?.parse().ok()?;
    Some(Payload { sender, seq, sent_nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let p = Payload { sender: 7, seq: 42, sent_nanos: 1_700_000_000_000_000_000 };
        let frame = format!(
            r#"{{"type":"message","id":"01J","room":"r1","nick":"u7","text":"{}","at":"2026-01-01T00:00:00Z","staff":false}}"#,
            p.text()
        );
        assert_eq!(parse_message(&frame), Some(p));
        assert_eq!(parse_message(r#"{"type":"joined","history":[{"text":"b:1:2:3"}]}"#), None);
        assert_eq!(parse_message(r#"{"type":"message","text":"hello"}"#), None);
        assert_eq!(frame_type(r#"{"type":"hello","x":1}"#).as_deref(), Some("hello"));
        assert_eq!(source_ip(0), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(source_ip(249), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 251)));
    }
}
