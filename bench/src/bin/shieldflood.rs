//! Bench scenario 6, "shield": a join flood against the proof-of-work gate while ordinary
//! visitors chat. `bench/shield/run` starts the server and runs this; see `bench/README.md`.
//!
//! 1. `--visitors` ordinary visitors (each from its own loopback address, 127.0.1.x) join the
//!    staff rooms before anything happens and each sends one message a second throughout; the
//!    latency of every message to its own sender's copy is recorded.
//! 2. After a quiet start, the flood: `--flood-rate` new connections a second (ten times the
//!    normal join rate the server's `SHIELD_JOIN_RATE` stands for) from `--flood-addresses`
//!    loopback addresses (127.1.x.y) for `--flood-secs`; each connects without a solution and,
//!    if let in, joins a room and leaves.
//! 3. Once a second a control address asks `GET /api/challenge`: when `required` turns true
//!    the gate is on, and flood attempts started after it are counted apart.
//!
//! Prints one JSON line: flood attempts (all and once on) and how they ended, how long the gate
//! took to turn on, and the ordinary visitors' latency percentiles before and during the flood.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use bench::stats::Latencies;
use bench::wsclient::{self, Ws};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// The server (its public listener).
    #[arg(long)]
    addr: SocketAddr,
    #[arg(long, default_value_t = 100)]
    visitors: u32,
    #[arg(long, default_value_t = 1000)]
    flood_addresses: u32,
    /// New flood connections a second.
    #[arg(long, default_value_t = 200)]
    flood_rate: u32,
    #[arg(long, default_value_t = 20)]
    flood_secs: u64,
    /// Quiet seconds of chat before the flood (the baseline latency).
    #[arg(long, default_value_t = 5)]
    warmup_secs: u64,
    /// Rooms the visitors and the flood join, round robin (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "lobby")]
    rooms: Vec<String>,
}

#[derive(Default)]
struct Flood {
    attempts: AtomicU64,
    admitted: AtomicU64,
    required: AtomicU64,
    failed: AtomicU64,
    other: AtomicU64,
    attempts_on: AtomicU64,
    admitted_on: AtomicU64,
}

fn flood_ip(n: u32) -> IpAddr {
    let n = n % (250 * 250);
    IpAddr::V4(Ipv4Addr::new(127, 1, u8::try_from(n / 250).unwrap_or(0), u8::try_from(n % 250 + 1).unwrap_or(1)))
}

fn visitor_ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1 + u8::try_from(n / 250).unwrap_or(0), u8::try_from(n % 250 + 1).unwrap_or(1)))
}

/// One ordinary visitor: join, then a message a second until `stop`, timing its own copies.
async fn visitor(
    addr: SocketAddr,
    n: u32,
    room: String,
    latencies: Arc<[Latencies; 2]>,
    flooding: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut ws: Ws = wsclient::connect_and_join(addr, visitor_ip(n), &room, &format!("visitor{n}")).await?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.reset_after(Duration::from_millis(u64::from(n) * 10 % 1000));
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                let payload = wsclient::Payload { sender: n, seq, sent_nanos: bench::unix_nanos() };
                wsclient::send_json(&mut ws, &serde_json::json!({"type": "say", "text": payload.text()})).await?;
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(p) = wsclient::parse_message(&text) && p.sender == n {
                        let micros = bench::unix_nanos().saturating_sub(p.sent_nanos) / 1000;
                        let phase = usize::from(flooding.load(Ordering::Relaxed));
                        latencies[phase].record(n as usize, micros, p.sent_nanos);
                    }
                }
                Some(Ok(_)) => {}
                _ => anyhow::bail!("visitor {n} lost its socket"),
            },
        }
    }
    ws.close(None).await.ok();
    Ok(())
}

/// One flood attempt: connect without a solution; if let in, join and leave.
async fn attempt(addr: SocketAddr, n: u32, room: String, flood: Arc<Flood>, on: bool) {
    flood.attempts.fetch_add(1, Ordering::Relaxed);
    if on {
        flood.attempts_on.fetch_add(1, Ordering::Relaxed);
    }
    let result = tokio::time::timeout(Duration::from_secs(10), wsclient::connect(addr, flood_ip(n))).await;
    match result {
        Ok(Ok(mut ws)) => {
            flood.admitted.fetch_add(1, Ordering::Relaxed);
            if on {
                flood.admitted_on.fetch_add(1, Ordering::Relaxed);
            }
            let _ = wsclient::send_json(
                &mut ws,
                &serde_json::json!({"type": "join", "room": room, "nick": format!("f{n}")}),
            )
            .await;
            let _ = wsclient::expect(&mut ws, "joined", Duration::from_secs(5)).await;
            let _ = ws.send(Message::Close(None)).await;
        }
        Ok(Err(e)) => {
            let text = format!("{e:#}");
            let counter = if text.contains("403") && text.contains("challenge") || text.contains("403 Forbidden") {
                &flood.required
            } else {
                &flood.other
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            flood.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let latencies = Arc::new([Latencies::new(false)?, Latencies::new(false)?]);
    let (flooding, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let mut visitors = Vec::new();
    for n in 0..args.visitors {
        let room = args.rooms[n as usize % args.rooms.len().max(1)].clone();
        let task = tokio::spawn(visitor(args.addr, n, room, latencies.clone(), flooding.clone(), stop.clone()));
        visitors.push(task);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;

    // The gate's state, once a second from a control address.
    let gate_on = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let on_after = Arc::new(AtomicU64::new(u64::MAX));
    let watcher = {
        let (gate_on, on_after, addr) = (gate_on.clone(), on_after.clone(), args.addr);
        tokio::spawn(async move {
            loop {
                if let Ok((200, body)) = bench::http::get(addr, "/api/challenge").await
                    && body.contains("\"required\":true")
                    && !gate_on.swap(true, Ordering::Relaxed)
                {
                    on_after.store(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    flooding.store(true, Ordering::Relaxed);
    let flood = Arc::new(Flood::default());
    let total = args.flood_rate.saturating_mul(u32::try_from(args.flood_secs).unwrap_or(u32::MAX));
    let gap = Duration::from_secs_f64(1.0 / f64::from(args.flood_rate.max(1)));
    let mut next = tokio::time::Instant::now();
    let mut attempts = Vec::with_capacity(total as usize);
    for n in 0..total {
        next += gap;
        tokio::time::sleep_until(next).await;
        let on = gate_on.load(Ordering::Relaxed);
        let room = args.rooms[n as usize % args.rooms.len().max(1)].clone();
        attempts.push(tokio::spawn(attempt(args.addr, n % args.flood_addresses.max(1), room, flood.clone(), on)));
    }
    for a in attempts {
        a.await.ok();
    }
    flooding.store(false, Ordering::Relaxed);
    watcher.abort();
    stop.store(true, Ordering::Relaxed);
    let mut lost = 0;
    for v in visitors {
        match v.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("a visitor failed: {e:#}");
                lost += 1;
            }
            Err(e) => {
                eprintln!("a visitor task failed: {e}");
                lost += 1;
            }
        }
    }
    let f = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let attempts_on = f(&flood.attempts_on);
    let refused_on = attempts_on - f(&flood.admitted_on);
    let report = serde_json::json!({
        "flood_rate": args.flood_rate,
        "flood_addresses": args.flood_addresses,
        "flood_attempts": f(&flood.attempts),
        "flood_admitted": f(&flood.admitted),
        "flood_refused_403": f(&flood.required),
        "flood_refused_other": f(&flood.other),
        "flood_timed_out": f(&flood.failed),
        "gate_on_after_ms": match f(&on_after) { u64::MAX => serde_json::Value::Null, ms => ms.into() },
        "attempts_once_on": attempts_on,
        "refused_once_on": refused_on,
        "refused_once_on_pct": if attempts_on == 0 { 0.0 } else { 100.0 * refused_on as f64 / attempts_on as f64 },
        "visitors": args.visitors,
        "visitors_lost": lost,
        "latency_before": latencies[0].summary(),
        "latency_during": latencies[1].summary(),
    });
    println!("{report}");
    Ok(())
}
