//! A minimal HTTP/1.1 GET over loopback (`/api/rooms` for readiness and leaked seats), so the
//! generator needs no HTTP client crate.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// GET `path` from `addr`; returns the status and the body.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    tokio::time::timeout(Duration::from_secs(10), get_inner(addr, path))
        .await
        .with_context(|| format!("GET http://{addr}{path} timed out"))?
}

async fn get_inner(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("HTTP response without a header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = &raw[split + 4..];
    let status: u16 = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad HTTP status line in {head:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Ok((status, String::from_utf8(body).context("HTTP body is not UTF-8")?))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let line_end = body.windows(2).position(|w| w == b"\r\n").context("truncated chunk size")?;
        let size_text = std::str::from_utf8(&body[..line_end])?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).with_context(|| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or(&[]);
    }
    bail!("too many chunks")
}

/// One entry of `GET /api/rooms` (only what the bench reads).
#[derive(Debug, serde::Deserialize)]
pub struct RoomEntry {
    pub slug: String,
    #[serde(default)]
    pub members: u64,
}

/// `GET /api/rooms`, parsed.
pub async fn rooms(addr: SocketAddr) -> Result<Vec<RoomEntry>> {
    let (status, body) = get(addr, "/api/rooms").await?;
    if status != 200 {
        bail!("GET /api/rooms on {addr}: HTTP {status}: {}", body.chars().take(200).collect::<String>());
    }
    serde_json::from_str(&body).with_context(|| format!("GET /api/rooms on {addr}: not a room list"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
    }
}
