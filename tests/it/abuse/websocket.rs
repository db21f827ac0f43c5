//! Hostile WebSocket peers: a ping flood that never reads, frames the chat does not speak, close
//! codes that may not be sent.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{WAIT, spawn_app};

/// A raw socket after the opening handshake (the 101 and nothing else read).
async fn raw_socket(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(WAIT, stream.read_exact(&mut byte)).await.unwrap().unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// A masked client frame.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0xA5, 0x5A, 0x3C, 0xC3];
    let mut out = vec![first];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Everything the server sends until it closes: (opcode, payload) per frame.
async fn read_frames(stream: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("the server closes").unwrap();
    let mut frames = Vec::new();
    let mut rest = &raw[..];
    while let [b0, b1, tail @ ..] = rest {
        let (len, tail) = match b1 & 0x7F {
            126 => (usize::from(u16::from_be_bytes([tail[0], tail[1]])), &tail[2..]),
            127 => (u64::from_be_bytes(tail[..8].try_into().unwrap()) as usize, &tail[8..]),
            n => (usize::from(n), tail),
        };
        frames.push((b0 & 0x0F, tail[..len].to_vec()));
        rest = &tail[len..];
    }
    frames
}

fn close_code(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
    frames.iter().find(|(op, _)| *op == 0x8).map(|(_, p)| u16::from_be_bytes([p[0], p[1]]))
}

/// This process's resident memory in bytes (each test runs in a process of its own).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// The value of an unlabelled counter in the app's `/metrics` (0 when never incremented).
async fn counter(app: &crate::support::TestApp, name: &str) -> f64 {
    let (status, _, body) = app.get_admin("/metrics").await;
    assert_eq!(status, 200);
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

#[tokio::test]
async fn a_ping_flood_that_never_reads_owes_one_pong_and_costs_no_memory() {
    let app = spawn_app().await;
    let (mut alice, _) = app.joined("lobby", "alice").await;
    let (mut bob, _) = app.joined("lobby", "bob").await;
    let mut flood = raw_socket(app.addr).await;
    // Pings of the largest payload, 64 KiB of them per write, for 5 seconds; never a read.
    let burst: Vec<u8> = std::iter::repeat_n(client_frame(0x89, &[b'p'; 125]), 500).flatten().collect();
    let before = rss_bytes();
    let mut sent = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Ok(())) = tokio::time::timeout_at(deadline, flood.write_all(&burst)).await {
        sent += burst.len();
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(sent > 8 * 1024 * 1024, "the flood was sent: {sent} bytes");
    assert!(grown < 64 * 1024 * 1024, "RSS grew by {} MiB under a {} MiB ping flood", grown >> 20, sent >> 20);
    // The server read pings it had not answered yet and kept only the latest answer.
    assert!(counter(&app, "chat_pings_coalesced_total").await > 0.0);
    // Visitors of the same gateway were never held up.
    let id = alice.say("still here").await;
    assert_eq!(bob.wait_message(&id).await["text"], "still here");
}

#[tokio::test]
async fn a_binary_message_is_refused_with_1003() {
    let app = spawn_app().await;
    let mut socket = raw_socket(app.addr).await;
    socket.write_all(&client_frame(0x82, b"\x00\x01\x02")).await.unwrap();
    let frames = read_frames(&mut socket).await;
    assert_eq!(close_code(&frames), Some(1003), "{frames:?}");
    let (_, reason) = frames.iter().find(|(op, _)| *op == 0x8).unwrap();
    assert!(String::from_utf8_lossy(&reason[2..]).contains("binary"), "the reason says why");
}

#[tokio::test]
async fn close_codes_a_peer_may_not_send_are_answered_with_1002() {
    let app = spawn_app().await;
    for bad in [999u16, 1004, 1005, 1006, 1015, 5000] {
        let mut socket = raw_socket(app.addr).await;
        socket.write_all(&client_frame(0x88, &bad.to_be_bytes())).await.unwrap();
        assert_eq!(close_code(&read_frames(&mut socket).await), Some(1002), "close code {bad}");
    }
    let mut socket = raw_socket(app.addr).await;
    socket.write_all(&client_frame(0x88, &4001u16.to_be_bytes())).await.unwrap();
    assert_eq!(close_code(&read_frames(&mut socket).await), Some(4001), "a valid code is echoed");
}
