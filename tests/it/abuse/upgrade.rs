//! Refusals before the upgrade: forged or broken `X-Forwarded-For`, and the gateway's cap on
//! open sockets.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Client, WAIT, spawn_app_with};

/// An upgrade request with these extra header lines; returns the status and the body (empty
/// for a 101, whose socket is kept open in `keep`).
async fn upgrade(addr: SocketAddr, headers: &[(&str, &str)], keep: &mut Vec<TcpStream>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(WAIT, stream.read_exact(&mut byte)).await.unwrap().unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    if status == 101 {
        keep.push(stream);
        return (status, String::new());
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0; length];
    tokio::time::timeout(WAIT, stream.read_exact(&mut body)).await.unwrap().unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn a_proxy_that_appends_its_own_forwarded_for_line_is_believed_and_not_the_client() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1"), ("MAX_CONNECTIONS_PER_IP", "1")]).await;
    let mut open = Vec::new();
    // The client wrote the first line; the proxy appended the second with the real address.
    let forged = [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.1")];
    assert_eq!(upgrade(app.addr, &forged, &mut open).await.0, 101);
    // 198.51.100.1 now holds its one socket: the address was the appended one, not 6.6.6.6.
    let (status, body) = upgrade(app.addr, &[("X-Forwarded-For", "198.51.100.1:5555")], &mut open).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(upgrade(app.addr, &[("X-Forwarded-For", "6.6.6.6")], &mut open).await.0, 101);
    let v6 = [("X-Forwarded-For", "[2001:db8::7]:443")];
    assert_eq!(upgrade(app.addr, &v6, &mut open).await.0, 101);
    assert_eq!(upgrade(app.addr, &[("X-Forwarded-For", "2001:db8::7")], &mut open).await.0, 429);
}

#[tokio::test]
async fn a_forwarded_for_entry_that_is_not_an_address_is_refused_not_taken_as_the_proxy() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut open = Vec::new();
    for bad in ["unknown", "198.51.100.1, nonsense", "[2001:db8::1]", "1.2.3.4:99999", "198.51.100.1,"] {
        let (status, body) = upgrade(app.addr, &[("X-Forwarded-For", bad)], &mut open).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "bad_forwarded_for", "{bad}");
    }
    assert!(open.is_empty());
}

#[tokio::test]
async fn past_max_connections_the_upgrade_gets_503_busy_with_retry_after() {
    let app = spawn_app_with(&[("MAX_CONNECTIONS", "3"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut open = Vec::new();
    for i in 0..3 {
        let from = format!("198.51.100.{i}");
        open.push(Client::connect_from(app.addr, &from).await.unwrap());
    }
    // A fourth address changes nothing: the cap is per gateway.
    let (status, body) = Client::connect_from(app.addr, "203.0.113.9").await.err().unwrap();
    assert_eq!((status, body["code"].as_str()), (503, Some("busy")), "{body}");
    let mut raw = Vec::new();
    let response = {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: close\r\n\r\n",
            app.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.unwrap().unwrap();
        String::from_utf8_lossy(&raw).to_ascii_lowercase()
    };
    assert!(response.starts_with("http/1.1 503") && response.contains("retry-after:"), "{response}");
    // A place frees when a socket closes.
    drop(open.pop());
    app.eventually("a place is free again", || async { Client::connect_from(app.addr, "203.0.113.9").await.is_ok() })
        .await;
}
