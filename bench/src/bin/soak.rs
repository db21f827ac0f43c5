//! `soak`: churn and chat against a running chat server for a while (`scripts/soak.sh` runs it
//! and watches the server's RSS and open file descriptors). Each of `--users` virtual visitors
//! loops until the time is up: connect from one of the loopback source addresses, then either
//! join a room, say a few messages (each acknowledged) and leave, or ask for a roulette
//! stranger, chat with whoever comes within a few seconds and end it; then close (politely or
//! not). One room visit in `--resume-pct` loses its socket on the way (a phone switching
//! networks): it connects again, takes its session back with `resume` (half the time while the
//! old socket is still open, which the server then closes), says one more message and leaves.
//! Every visit ends with `leave`, so no seat waits out `RESUME_SECS` and the rooms never fill.
//! It prints a progress line every minute and one JSON summary at the end (with the `kicked`
//! frames seen by reason, which should be none, and the seats still taken in `GET /api/rooms`
//! once everyone left, which should be 0).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use bench::http;
use bench::wsclient::{self, Ws};
use clap::Parser;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Churn and chat against a running chat server (see scripts/soak.sh)")]
struct Args {
    /// The server's address.
    #[arg(long)]
    addr: SocketAddr,
    /// How long to run, seconds.
    #[arg(long, default_value_t = 1800.0)]
    secs: f64,
    /// Concurrent virtual visitors.
    #[arg(long, default_value_t = 40)]
    users: u32,
    /// Rooms visitors join (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "lobby,chill,games")]
    rooms: Vec<String>,
    /// Share of cycles that ask for a roulette stranger, in percent.
    #[arg(long, default_value_t = 30)]
    roulette_pct: u64,
    /// Share of room visits that lose their socket and resume, in percent.
    #[arg(long, default_value_t = 10)]
    resume_pct: u64,
}

/// What all visitors did, by kind.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, u64>,
}

impl Tally {
    fn bump(tally: &Mutex<Self>, what: &str) {
        *tally.lock().unwrap_or_else(PoisonError::into_inner).counts.entry(what.to_owned()).or_default() += 1;
    }

    fn snapshot(tally: &Mutex<Self>) -> BTreeMap<String, u64> {
        tally.lock().unwrap_or_else(PoisonError::into_inner).counts.clone()
    }
}

/// A small xorshift generator: the soak needs variety, not statistics.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// `kicked` frames seen, by reason (a visitor sent away: none is expected in a soak).
static KICKED: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// The next text frame as JSON (`None` when the socket ends or nothing comes within `within`).
async fn next(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.ok()??.ok()?;
        match message {
            Message::Text(text) => {
                let frame: Option<Value> = serde_json::from_str(&text).ok();
                if let Some(frame) = frame.as_ref().filter(|f| f["type"] == "kicked") {
                    let reason = frame["reason"].as_str().unwrap_or_default().to_owned();
                    eprintln!("soak: kicked: {reason}");
                    *KICKED.lock().unwrap_or_else(PoisonError::into_inner).entry(reason).or_default() += 1;
                }
                return frame;
            }
            Message::Close(frame) => {
                eprintln!("soak: the server closed a socket: {frame:?}");
                return None;
            }
            _ => {}
        }
    }
}

/// Skip frames until one of `kinds` (or an `error`) arrives.
async fn until(ws: &mut Ws, kinds: &[&str], within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let frame = next(ws, deadline.saturating_duration_since(Instant::now())).await?;
        let kind = frame["type"].as_str().unwrap_or_default();
        if kinds.contains(&kind) || kind == "error" {
            return Some(frame);
        }
    }
}

/// Say `text` and wait for its `ack`; the refusal's code otherwise.
async fn say(ws: &mut Ws, text: &str) -> Result<(), String> {
    wsclient::send_json(ws, &json!({"type": "say", "text": text, "client_id": "s"}))
        .await
        .map_err(|e| e.to_string())?;
    match until(ws, &["ack"], WAIT).await {
        Some(frame) if frame["type"] == "ack" => Ok(()),
        Some(frame) => Err(frame["code"].as_str().unwrap_or("error").to_owned()),
        None => Err("no_ack".to_owned()),
    }
}

/// Leave the room and wait for the leaver's own `presence leave`.
async fn leave(ws: &mut Ws, nick: &str) -> Result<()> {
    wsclient::send_json(ws, &json!({"type": "leave"})).await?;
    while let Some(frame) = until(ws, &["presence"], Duration::from_secs(2)).await {
        if frame["type"] != "presence" || (frame["event"] == "leave" && frame["nick"] == nick) {
            break;
        }
    }
    Ok(())
}

/// The socket is lost (dropped, or still open when `keep_old`): connect again from `source` and
/// take the session back with `token`. The new socket, in the room again, or `None` when the
/// server refused (counted).
async fn come_back(
    args: &Args,
    ws: Ws,
    source: std::net::IpAddr,
    token: &str,
    nick: &str,
    keep_old: bool,
    tally: &Mutex<Tally>,
) -> Result<Option<Ws>> {
    // Kept open: the server closes it (4001) once the session is taken on the new one.
    let old = keep_old.then_some(ws);
    let mut back = wsclient::connect(args.addr, source).await?;
    wsclient::expect(&mut back, "hello", WAIT).await?;
    wsclient::send_json(&mut back, &json!({"type": "resume", "token": token})).await?;
    let outcome = match until(&mut back, &["resumed"], WAIT).await {
        Some(frame) if frame["type"] == "resumed" && frame["nick"] == nick => {
            Tally::bump(tally, "resumed");
            Some(back)
        }
        Some(frame) if frame["type"] == "resumed" => {
            Tally::bump(tally, "resumed_as_another");
            None
        }
        Some(frame) => {
            Tally::bump(tally, &format!("refused_{}", frame["code"].as_str().unwrap_or("error")));
            None
        }
        None => {
            Tally::bump(tally, "resume_unanswered");
            None
        }
    };
    drop(old);
    Ok(outcome)
}

/// One visit: connect, room chat or roulette, close.
async fn visit(args: &Args, user: u32, cycle: u64, rng: &mut Rng, tally: &Mutex<Tally>) -> Result<()> {
    let source = wsclient::source_ip(u64::from(user) * 7919 + cycle);
    let mut ws = wsclient::connect(args.addr, source).await?;
    wsclient::expect(&mut ws, "hello", WAIT).await?;
    let nick = format!("s{user}c{cycle}");
    if rng.below(100) < args.roulette_pct {
        wsclient::send_json(&mut ws, &json!({"type": "roulette", "nick": nick})).await?;
        match until(&mut ws, &["matched"], Duration::from_secs(5)).await {
            Some(frame) if frame["type"] == "matched" => {
                Tally::bump(tally, "roulette_matched");
                for i in 0..1 + rng.below(3) {
                    match say(&mut ws, &format!("hi stranger {i}")).await {
                        Ok(()) => Tally::bump(tally, "messages"),
                        Err(code) => Tally::bump(tally, &format!("refused_{code}")),
                    }
                }
                let end = if rng.below(2) == 0 { "next" } else { "leave" };
                wsclient::send_json(&mut ws, &json!({"type": end})).await?;
            }
            Some(frame) => Tally::bump(tally, &format!("refused_{}", frame["code"].as_str().unwrap_or("error"))),
            None => {
                Tally::bump(tally, "roulette_unmatched");
                wsclient::send_json(&mut ws, &json!({"type": "leave"})).await?;
            }
        }
    } else {
        let room = &args.rooms[usize::try_from(rng.below(args.rooms.len() as u64)).unwrap_or(0)];
        wsclient::send_json(&mut ws, &json!({"type": "join", "room": room, "nick": nick})).await?;
        let joined = wsclient::expect(&mut ws, "joined", WAIT).await.with_context(|| format!("joining {room}"))?;
        Tally::bump(tally, "joins");
        for i in 0..1 + rng.below(5) {
            match say(&mut ws, &format!("soak {user} {cycle} {i}")).await {
                Ok(()) => Tally::bump(tally, "messages"),
                Err(code) => Tally::bump(tally, &format!("refused_{code}")),
            }
            tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        }
        let joined: Value = serde_json::from_str(&joined).context("a joined frame that is not JSON")?;
        let token = joined["resume"].as_str().map(str::to_owned);
        if let Some(token) = token.filter(|_| rng.below(100) < args.resume_pct) {
            // A phone switching networks: another address, the same session.
            let keep_old = rng.below(2) == 0;
            let source = wsclient::source_ip(u64::from(user) * 7919 + cycle + 1);
            match come_back(args, ws, source, &token, &nick, keep_old, tally).await? {
                Some(back) => ws = back,
                None => return Ok(()),
            }
            match say(&mut ws, &format!("soak {user} {cycle} back")).await {
                Ok(()) => Tally::bump(tally, "messages"),
                Err(code) => Tally::bump(tally, &format!("refused_{code}")),
            }
        }
        // Always leave: a seat left to its resume window stays taken for RESUME_SECS.
        leave(&mut ws, &nick).await?;
    }
    // Half close politely, half just drop the connection (a tab closed, a phone gone).
    if rng.below(2) == 0 {
        let _ = futures_util::SinkExt::close(&mut ws).await;
    }
    Tally::bump(tally, "cycles");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Arc::new(Args::parse());
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs_f64(args.secs);
    let mut tasks = Vec::new();
    for user in 0..args.users {
        let (args, tally) = (args.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (u64::from(user) + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
            let mut cycle = 0;
            while Instant::now() < deadline {
                if let Err(e) = visit(&args, user, cycle, &mut rng, &tally).await {
                    Tally::bump(&tally, "failed_cycles");
                    eprintln!("soak: user {user} cycle {cycle}: {e:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                cycle += 1;
                tokio::time::sleep(Duration::from_millis(50 + rng.below(200))).await;
            }
        }));
    }
    let started = Instant::now();
    let progress = {
        let tally = tally.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let minutes = started.elapsed().as_secs() / 60;
                eprintln!(
                    "soak: {minutes} min: {}",
                    serde_json::to_string(&Tally::snapshot(&tally)).unwrap_or_default()
                );
            }
        })
    };
    for task in tasks {
        task.await?;
    }
    progress.abort();
    // Seats still taken once every visitor is gone (presence settles within a few seconds).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seats: u64 = http::rooms(args.addr).await?.iter().map(|r| r.members).sum();
    let kicked = KICKED.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let summary = json!({"secs": started.elapsed().as_secs(), "users": args.users, "counts": Tally::snapshot(&tally), "kicked": kicked, "seats_left": seats});
    println!("{summary}");
    Ok(())
}
