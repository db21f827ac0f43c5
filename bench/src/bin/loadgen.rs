//! `loadgen`: the benchmark load generator (see `bench/run`).
//!
//! - `fanout`: N rooms × M members joined over WebSocket (optionally measuring the server's idle
//!   RSS per connection first), then a ramp of open-loop send rates. Every member sends
//!   `b:<sender>:<seq>:<unix_nanos>` paced by a token bucket; every member records the latency of
//!   each delivery and per-sender sequence gaps. A step passes when p99 ≤ the limit, ≥ 90 % of
//!   the offered deliveries arrive in the window, nothing is lost after the drain and no socket
//!   is dropped. The ramp grows by `--factor` until a step fails, then bisects `--refine` times,
//!   then measures once at half of the best rate.
//! - `churn`: connect + hello + join + joined + leave + presence cycles started at fixed rates,
//!   then a soak at a reached rate; seats left in `/api/rooms` and RSS growth are reported.
//! - `wait`, `free-port`, `report`: helpers for `bench/run`.
//!
//! Server RSS and CPU come from `/proc/<pid>` of the pids given with `--pids`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bench::procfs::{Procs, Sample, Usage, parse_pids};
use bench::results::{Churn, ChurnStep, Fanout, Idle, Results, Step};
use bench::stats::{Counters, Latencies, Snapshot, Summary, bump};
use bench::workers::Workers;
use bench::wsclient::{self, Payload, Ws};
use bench::{http, unix_nanos};
use clap::{Args, Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Load generator for the Textual Chatroulette benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rooms of members sending to each other at ramped rates (scenarios 1-4).
    Fanout(FanoutArgs),
    /// Connect + join + leave cycles per second (scenario 5).
    Churn(ChurnArgs),
    /// Wait until GET /api/rooms answers (and lists at least --min-rooms rooms).
    Wait(WaitArgs),
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
    /// Print the results table (and the ramps with --ramps) from a results directory.
    Report(ReportArgs),
}

#[derive(Args)]
struct Common {
    /// Name of the system under test (ours, peer, raw).
    #[arg(long)]
    target: String,
    /// Server addresses; connection i goes to address i mod count.
    #[arg(long, value_delimiter = ',', required = true)]
    addrs: Vec<SocketAddr>,
    /// Server pids whose RSS and CPU are summed (comma-separated).
    #[arg(long, default_value = "")]
    pids: String,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
    /// Where to write the JSON result.
    #[arg(long)]
    out: PathBuf,
    /// Hard limit on the whole run, seconds: the ramp stops when it is reached.
    #[arg(long, default_value_t = 200.0)]
    max_secs: f64,
    /// Generator threads (each a single-threaded runtime).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

#[derive(Args)]
struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    /// Scenario name in the result (rooms, hot, redis).
    #[arg(long)]
    scenario: String,
    #[arg(long)]
    rooms: u32,
    /// Members per room.
    #[arg(long)]
    members: u32,
    /// Rooms are named PREFIX1 … PREFIXn.
    #[arg(long, default_value = "r")]
    room_prefix: String,
    /// Measure the server's RSS per connection before the ramp (scenario 1).
    #[arg(long)]
    idle: bool,
    /// Seconds to let the server settle before the idle RSS reading.
    #[arg(long, default_value_t = 2.0)]
    idle_settle_secs: f64,
    /// First offered rate, deliveries per second.
    #[arg(long)]
    start_dps: f64,
    /// Offered rate multiplier between steps.
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// Most ramp steps before refining.
    #[arg(long, default_value_t = 12)]
    max_steps: u32,
    /// Bisection steps between the last pass and the first failure.
    #[arg(long, default_value_t = 2)]
    refine: u32,
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    #[arg(long, default_value_t = 3.0)]
    measure_secs: f64,
    /// Longest wait for late deliveries after each step.
    #[arg(long, default_value_t = 3.0)]
    drain_secs: f64,
    #[arg(long, default_value_t = 50.0)]
    p99_limit_ms: f64,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 200)]
    setup_concurrency: usize,
}

#[derive(Args)]
struct ChurnArgs {
    #[command(flatten)]
    common: Common,
    /// Rooms cycled over, named PREFIX1 … PREFIXn.
    #[arg(long, default_value_t = 20)]
    rooms: u32,
    #[arg(long, default_value = "c")]
    room_prefix: String,
    /// Cycle rates to try, per second.
    #[arg(long, value_delimiter = ',', required = true)]
    rates: Vec<f64>,
    #[arg(long, default_value_t = 3.0)]
    step_secs: f64,
    /// Seconds of the soak at half the best rate reached (for the memory check).
    #[arg(long, default_value_t = 5.0)]
    soak_secs: f64,
}

#[derive(Args)]
struct WaitArgs {
    #[arg(long)]
    addr: SocketAddr,
    #[arg(long, default_value_t = 0)]
    min_rooms: usize,
    #[arg(long, default_value_t = 60.0)]
    timeout_secs: f64,
}

#[derive(Args)]
struct ReportArgs {
    #[arg(long)]
    dir: PathBuf,
    /// Also print every ramp step.
    #[arg(long)]
    ramps: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The controller is light; the connections run on `Workers` (one runtime per thread).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Fanout(args) => fanout(args).await,
            Command::Churn(args) => churn(args).await,
            Command::Wait(args) => wait(args).await,
            Command::FreePort => free_port(),
            Command::Report(args) => report(&args),
        }
    });
    // Connections still closing must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn write_json<T: serde::Serialize>(path: &PathBuf, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Remember the first problem only (the rest are usually the same).
fn note(slot: &Mutex<Option<String>>, problem: impl FnOnce() -> String) {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.is_none() {
        *slot = Some(problem());
    }
}

fn first(slot: &Mutex<Option<String>>) -> Option<String> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

// ---------------------------------------------------------------------------------------------
// fanout

/// `LOADGEN_STALL_MS=N`: after each window, print the 100 ms intervals whose deliveries took
/// longer than N ms (by when they were sent), to line stalls up with what the server did then.
fn stall_threshold_ms() -> Option<u64> {
    std::env::var("LOADGEN_STALL_MS").ok().and_then(|v| v.parse().ok())
}

struct Run {
    counters: Counters,
    latencies: Latencies,
    ready: AtomicU64,
    live: AtomicI64,
    setup_error: Mutex<Option<String>>,
    problem: Mutex<Option<String>>,
}

struct MemberSpec {
    idx: u32,
    addr: SocketAddr,
    room: String,
    room_size: u64,
    /// Fraction of the send interval this member waits before its first send (spreads senders).
    phase: f64,
}

/// Sends a member may catch up at once when it fell behind its schedule.
const BURST: u32 = 4;

async fn member(
    spec: MemberSpec,
    run: Arc<Run>,
    setup: Arc<Semaphore>,
    rate_rx: watch::Receiver<f64>,
    stop_rx: watch::Receiver<bool>,
) {
    run.live.fetch_add(1, Ordering::Relaxed);
    let joined = {
        let Ok(_permit) = setup.acquire().await else {
            run.live.fetch_sub(1, Ordering::Relaxed);
            return;
        };
        let nick = format!("u{}", spec.idx);
        wsclient::connect_and_join(spec.addr, wsclient::source_ip(u64::from(spec.idx)), &spec.room, &nick).await
    };
    match joined {
        Ok(ws) => {
            run.ready.fetch_add(1, Ordering::Relaxed);
            member_loop(ws, &spec, &run, rate_rx, stop_rx).await;
        }
        Err(e) => note(&run.setup_error, || format!("member {} ({}): {e:#}", spec.idx, spec.room)),
    }
    run.live.fetch_sub(1, Ordering::Relaxed);
}

async fn member_loop(
    mut ws: Ws,
    spec: &MemberSpec,
    run: &Run,
    mut rate_rx: watch::Receiver<f64>,
    mut stop_rx: watch::Receiver<bool>,
) {
    let c = &run.counters;
    let key = spec.idx as usize;
    let mut last_seq: HashMap<u32, u64> = HashMap::new();
    let mut seq: u64 = 0;
    let mut interval: Option<Duration> = None;
    let far = Instant::now() + Duration::from_secs(86_400);
    let mut due = far;
    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Some(p) = wsclient::parse_message(&text) {
                        let micros = unix_nanos().saturating_sub(p.sent_nanos) / 1000;
                        run.latencies.record(key, micros, p.sent_nanos);
                        bump(&c.received);
                        let last = last_seq.entry(p.sender).or_insert(0);
                        if p.seq == *last + 1 {
                            *last = p.seq;
                        } else if p.seq > *last + 1 {
                            c.gaps.fetch_add(p.seq - *last - 1, Ordering::Relaxed);
                            *last = p.seq;
                        } else {
                            bump(&c.reordered);
                        }
                    } else if text.get(..20).unwrap_or(&text).contains("\"type\":\"error\"") {
                        bump(&c.error_frames);
                        note(&run.problem, || format!("error frame: {}", text.chars().take(300).collect::<String>()));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    bump(&c.disconnects);
                    note(&run.problem, || format!("server closed a member's socket: {frame:?}"));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    bump(&c.disconnects);
                    note(&run.problem, || format!("a member's socket failed: {e}"));
                    return;
                }
                None => {
                    bump(&c.disconnects);
                    note(&run.problem, || "a member's socket ended".to_owned());
                    return;
                }
            },
            () = &mut sleep, if interval.is_some() => {
                let iv = interval.unwrap_or(Duration::from_secs(1));
                let now = Instant::now();
                let mut burst = 0;
                while due <= now && burst < BURST {
                    seq += 1;
                    let payload = Payload { sender: spec.idx, seq, sent_nanos: unix_nanos() };
                    c.expected.fetch_add(spec.room_size, Ordering::Relaxed);
                    bump(&c.sent);
                    let frame = format!(r#"{{"type":"say","text":"{}"}}"#, payload.text());
                    if let Err(e) = ws.send(Message::text(frame)).await {
                        bump(&c.disconnects);
                        note(&run.problem, || format!("cannot send: {e}"));
                        return;
                    }
                    due += iv;
                    burst += 1;
                }
                if due <= now {
                    // The generator itself fell behind: drop the backlog rather than burst.
                    let behind = (now.duration_since(due).as_secs_f64() / iv.as_secs_f64()) as u64 + 1;
                    c.generator_skips.fetch_add(behind, Ordering::Relaxed);
                    due = now + iv;
                }
                sleep.as_mut().reset(due);
            }
            changed = rate_rx.changed() => {
                if changed.is_err() {
                    return;
                }
                let rate = *rate_rx.borrow_and_update();
                if rate > 0.0 && rate.is_finite() {
                    let iv = Duration::from_secs_f64(1.0 / rate);
                    interval = Some(iv);
                    due = Instant::now() + iv.mul_f64(spec.phase);
                } else {
                    interval = None;
                    due = far;
                }
                sleep.as_mut().reset(due);
            }
            _ = stop_rx.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
                return;
            }
        }
    }
}

struct Ramp<'a> {
    args: &'a FanoutArgs,
    run: &'a Run,
    procs: &'a Procs,
    rate_tx: &'a watch::Sender<f64>,
    /// Σ over rooms of members²: deliveries per second per unit of per-member rate.
    fanout_factor: f64,
    lost_so_far: u64,
}

/// Wait (at most `max`) until the server uses under 15 % of a core over half a second: what an
/// earlier phase left queued (presence fan-out after joins, cycles after an overload) must not be
/// charged to the next measurement.
async fn settle(procs: &Procs, max: Duration) -> Result<()> {
    if procs.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + max;
    let mut before = procs.sample()?;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = procs.sample()?;
        if procs.usage(&before, &now).cpu_pct < 15.0 {
            return Ok(());
        }
        before = now;
    }
    Ok(())
}

fn sample(procs: &Procs) -> Result<Option<Sample>> {
    if procs.is_empty() { Ok(None) } else { procs.sample().map(Some) }
}

fn usage(procs: &Procs, a: Option<Sample>, b: Option<Sample>) -> Usage {
    match (a, b) {
        (Some(a), Some(b)) => procs.usage(&a, &b),
        _ => Usage::default(),
    }
}

impl Ramp<'_> {
    async fn step(&mut self, offered_dps: f64) -> Result<Step> {
        // Each step starts from a quiet server: work an overloaded step left behind (frames still
        // queued, a durable log catching up) belongs to that step, not to the next one — least
        // of all to the measurement at half of the best rate, which follows the failures.
        settle(self.procs, Duration::from_secs(10)).await?;
        let a = self.args;
        let c = &self.run.counters;
        let per_member_rate = offered_dps / self.fanout_factor;
        let start = c.snapshot();
        self.rate_tx.send_replace(per_member_rate);
        tokio::time::sleep(secs(a.warmup_secs)).await;
        self.run.latencies.reset();
        let s0 = c.snapshot();
        let p0 = sample(self.procs)?;
        let t0 = Instant::now();
        tokio::time::sleep(secs(a.measure_secs)).await;
        let s1 = c.snapshot();
        let p1 = sample(self.procs)?;
        let window = t0.elapsed().as_secs_f64();
        let latency = self.run.latencies.summary();
        if let Some(threshold) = stall_threshold_ms() {
            for (at_ms, worst_us) in self.run.latencies.stalls(threshold * 1000) {
                eprintln!("  stall: sent at {at_ms} ms (Unix), worst {:.1} ms", worst_us as f64 / 1000.0);
            }
        }
        self.rate_tx.send_replace(0.0);
        let deadline = Instant::now() + secs(a.drain_secs);
        let mut s2 = c.snapshot();
        while s2.received < s2.expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            s2 = c.snapshot();
        }
        let lost_total = s2.expected.saturating_sub(s2.received);
        let lost = lost_total.saturating_sub(self.lost_so_far);
        self.lost_so_far = lost_total;
        let delivered_dps = (s1.received - s0.received) as f64 / window;
        let d = |f: fn(&Snapshot) -> u64| f(&s2).saturating_sub(f(&start));
        let mut step = Step {
            offered_dps,
            per_member_rate,
            delivered_dps,
            latency,
            lost,
            gaps: d(|s| s.gaps),
            disconnects: d(|s| s.disconnects),
            error_frames: d(|s| s.error_frames),
            generator_skips: d(|s| s.generator_skips),
            server: usage(self.procs, p0, p1),
            pass: false,
            reason: String::new(),
        };
        let mut reasons = Vec::new();
        if step.latency.count == 0 {
            reasons.push("nothing delivered".to_owned());
        } else if step.latency.p99_ms > a.p99_limit_ms {
            reasons.push(format!("p99 {:.1} ms > {} ms", step.latency.p99_ms, a.p99_limit_ms));
        }
        if delivered_dps < 0.9 * offered_dps {
            reasons.push(format!("delivered {delivered_dps:.0}/s < 90% of offered"));
        }
        if step.lost > 0 {
            reasons.push(format!("{} deliveries lost", step.lost));
        }
        if step.disconnects > 0 {
            reasons.push(format!("{} sockets dropped", step.disconnects));
        }
        if step.error_frames > 0 {
            reasons.push(format!("{} error frames", step.error_frames));
        }
        step.pass = reasons.is_empty();
        step.reason = reasons.join("; ");
        eprintln!(
            "  [{} {}] offered {:>9.0}/s delivered {:>9.0}/s p50 {:>7.2} p99 {:>8.2} p99.9 {:>8.2} max {:>8.2} ms lost {} skips {} cpu {:>4.0}% (gen {:.0}% other {:.0}% steal {:.0}%) rss {:.1} MiB {}",
            a.scenario,
            a.common.target,
            step.offered_dps,
            step.delivered_dps,
            step.latency.p50_ms,
            step.latency.p99_ms,
            step.latency.p999_ms,
            step.latency.max_ms,
            step.lost,
            step.generator_skips,
            step.server.cpu_pct,
            step.server.generator_cpu_pct,
            step.server.other_cpu_pct,
            step.server.steal_cpu_pct.unwrap_or_default(),
            step.server.rss_kib as f64 / 1024.0,
            if step.pass { "ok".to_owned() } else { format!("FAIL: {}", step.reason) }
        );
        Ok(step)
    }
}

async fn fanout(args: FanoutArgs) -> Result<()> {
    let started = Instant::now();
    let n_rooms = args.rooms.max(1);
    let m = args.members.max(1);
    let total = u64::from(n_rooms) * u64::from(m);
    let n = u32::try_from(total).context("too many connections")?;
    let procs = Procs::new(parse_pids(&args.common.pids)?, args.common.clk_tck);
    let run = Arc::new(Run {
        counters: Counters::default(),
        latencies: Latencies::new(stall_threshold_ms().is_some())?,
        ready: AtomicU64::new(0),
        live: AtomicI64::new(0),
        setup_error: Mutex::new(None),
        problem: Mutex::new(None),
    });
    eprintln!(
        "[{} {}] opening {n} connections ({n_rooms} rooms × {m}) to {:?}",
        args.scenario, args.common.target, args.common.addrs
    );
    let rss_before = sample(&procs)?;
    let (rate_tx, rate_rx) = watch::channel(0.0f64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let setup = Arc::new(Semaphore::new(args.setup_concurrency.max(1)));
    let workers = Workers::start(args.common.threads)?;
    let addrs = &args.common.addrs;
    for idx in 0..n {
        let room = idx / m;
        let spec = MemberSpec {
            idx,
            addr: addrs[idx as usize % addrs.len()],
            room: format!("{}{}", args.room_prefix, room + 1),
            room_size: u64::from(m),
            phase: (f64::from(idx) * 0.618_033_988_75).fract(),
        };
        workers.spawn(idx as usize, member(spec, run.clone(), setup.clone(), rate_rx.clone(), stop_rx.clone()));
    }
    let t0 = Instant::now();
    let setup_deadline = t0 + Duration::from_secs(30 + u64::from(n) / 100);
    let result = loop {
        if let Some(e) = first(&run.setup_error) {
            break Err(anyhow::anyhow!("setup failed: {e}"));
        }
        if run.ready.load(Ordering::Relaxed) >= total {
            break Ok(());
        }
        if Instant::now() > setup_deadline {
            break Err(anyhow::anyhow!(
                "only {} of {total} connections joined within {:?}",
                run.ready.load(Ordering::Relaxed),
                setup_deadline - t0
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let connect_secs = t0.elapsed().as_secs_f64();
    let outcome = match result {
        Ok(()) => ramp(&args, &run, &procs, &rate_tx, rss_before, connect_secs, started).await,
        Err(e) => Err(e),
    };
    // Tear down: ask every member to close, wait (bounded) for them.
    stop_tx.send_replace(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while run.live.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workers.stop();
    let mut fanout = outcome?;
    fanout.totals = run.counters.snapshot();
    fanout.first_problem = first(&run.problem);
    write_json(&args.common.out, &fanout)
}

async fn ramp(
    args: &FanoutArgs,
    run: &Run,
    procs: &Procs,
    rate_tx: &watch::Sender<f64>,
    rss_before: Option<Sample>,
    connect_secs: f64,
    started: Instant,
) -> Result<Fanout> {
    let n = u64::from(args.rooms.max(1)) * u64::from(args.members.max(1));
    eprintln!(
        "[{} {}] {n} connections joined in {connect_secs:.1} s ({:.0}/s)",
        args.scenario,
        args.common.target,
        n as f64 / connect_secs.max(1e-9)
    );
    settle(procs, Duration::from_secs(10)).await?;
    let mut result = Fanout {
        scenario: args.scenario.clone(),
        target: args.common.target.clone(),
        connections: n,
        rooms: u64::from(args.rooms.max(1)),
        p99_limit_ms: args.p99_limit_ms,
        ..Fanout::default()
    };
    if args.idle {
        tokio::time::sleep(secs(args.idle_settle_secs)).await;
        let after = sample(procs)?;
        if let (Some(before), Some(after)) = (rss_before, after) {
            let idle = Idle {
                connections: n,
                rss_before_kib: before.rss_kib,
                rss_after_kib: after.rss_kib,
                kib_per_conn: (after.rss_kib as f64 - before.rss_kib as f64) / n as f64,
                connect_secs,
            };
            eprintln!(
                "[idle {}] RSS {} → {} KiB: {:.2} KiB per connection",
                args.common.target, idle.rss_before_kib, idle.rss_after_kib, idle.kib_per_conn
            );
            result.idle = Some(idle);
        }
    }
    let m = f64::from(args.members.max(1));
    let mut ramp =
        Ramp { args, run, procs, rate_tx, fanout_factor: f64::from(args.rooms.max(1)) * m * m, lost_so_far: 0 };
    let out_of_time = || started.elapsed().as_secs_f64() > args.common.max_secs;
    let factor = args.factor.max(1.01);
    let mut best: Option<Step> = None;
    let mut failed_at: Option<f64> = None;
    let mut rate = args.start_dps;
    for _ in 0..args.max_steps.max(1) {
        if out_of_time() {
            eprintln!("  time limit reached: ramp stopped");
            break;
        }
        let step = ramp.step(rate).await?;
        result.steps.push(step.clone());
        if step.pass {
            best = Some(step);
            rate *= factor;
        } else {
            failed_at = Some(rate);
            break;
        }
    }
    let dropped = |r: &Fanout| r.steps.iter().any(|s| s.disconnects > 0);
    // Nothing passed: go down a few times.
    if best.is_none() && !dropped(&result) {
        let mut rate = args.start_dps;
        for _ in 0..3 {
            if out_of_time() {
                break;
            }
            rate /= factor * factor;
            let step = ramp.step(rate).await?;
            result.steps.push(step.clone());
            if step.pass {
                best = Some(step);
                break;
            }
            failed_at = Some(rate);
        }
    }
    // Bisect between the best pass and the first failure.
    for _ in 0..args.refine {
        let (Some(pass), Some(fail)) = (best.as_ref().map(|b| b.offered_dps), failed_at) else { break };
        if dropped(&result) || out_of_time() {
            break;
        }
        let mid = (pass * fail).sqrt();
        let step = ramp.step(mid).await?;
        result.steps.push(step.clone());
        if step.pass {
            best = Some(step);
        } else {
            failed_at = Some(mid);
        }
    }
    if let Some(b) = &best
        && !dropped(&result)
        && !out_of_time()
    {
        result.half = Some(ramp.step(b.offered_dps / 2.0).await?);
    }
    result.best = best;
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// churn

#[derive(Default)]
struct ChurnRun {
    completed: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicI64,
    problem: Mutex<Option<String>>,
}

/// connect → hello → join → joined → leave → own presence leave; the time of that, then close.
async fn cycle(addr: SocketAddr, n: u64, room: &str, nick: &str) -> Result<Duration> {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(10);
    let mut ws = wsclient::connect(addr, wsclient::source_ip(n)).await?;
    wsclient::expect(&mut ws, "hello", timeout).await?;
    wsclient::send_json(&mut ws, &serde_json::json!({"type": "join", "room": room, "nick": nick})).await?;
    wsclient::expect(&mut ws, "joined", timeout).await?;
    wsclient::send_json(&mut ws, &serde_json::json!({"type": "leave"})).await?;
    tokio::time::timeout(timeout, async {
        for _ in 0..100_000 {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    if v["type"] == "presence" && v["event"] == "leave" && v["nick"] == nick {
                        return Ok(());
                    }
                    if v["type"] == "error" {
                        bail!("error frame after leave: {text}");
                    }
                }
                Some(Ok(Message::Close(f))) => bail!("closed while leaving: {f:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("read failed while leaving: {e}"),
                None => bail!("socket ended while leaving"),
            }
        }
        bail!("no presence leave among 100 000 frames")
    })
    .await
    .context("no presence leave within 10 s")??;
    let elapsed = t0.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async { while let Some(Ok(_)) = ws.next().await {} }).await;
    Ok(elapsed)
}

struct ChurnCtx<'a> {
    args: &'a ChurnArgs,
    workers: &'a Workers,
    procs: &'a Procs,
    next: u64,
    problem: Option<String>,
}

impl ChurnCtx<'_> {
    async fn step(&mut self, rate: f64, duration: f64) -> Result<ChurnStep> {
        let a = self.args;
        let run = Arc::new(ChurnRun::default());
        let hist = Arc::new(Mutex::new(
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).context("cannot create a histogram")?,
        ));
        // At most one second of cycles in flight: more means the server is not keeping up.
        let cap = (rate as i64).max(50);
        let p0 = sample(self.procs)?;
        let t0 = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let (mut launched, mut skipped) = (0u64, 0u64);
        let addrs = &a.common.addrs;
        while t0.elapsed().as_secs_f64() < duration {
            tick.tick().await;
            let due = (rate * t0.elapsed().as_secs_f64().min(duration)) as u64;
            while launched + skipped < due {
                if run.in_flight.load(Ordering::Relaxed) >= cap {
                    skipped += 1;
                    continue;
                }
                let n = self.next;
                self.next += 1;
                let addr = addrs[n as usize % addrs.len()];
                let room = format!("{}{}", a.room_prefix, n % u64::from(a.rooms.max(1)) + 1);
                let nick = format!("c{n}");
                let (run, hist) = (run.clone(), hist.clone());
                run.in_flight.fetch_add(1, Ordering::Relaxed);
                self.workers.spawn(n as usize, async move {
                    match cycle(addr, n, &room, &nick).await {
                        Ok(t) => {
                            let us = u64::try_from(t.as_micros()).unwrap_or(u64::MAX).clamp(1, 60_000_000);
                            hist.lock().unwrap_or_else(PoisonError::into_inner).saturating_record(us);
                            bump(&run.completed);
                        }
                        Err(e) => {
                            bump(&run.failed);
                            note(&run.problem, || format!("{e:#}"));
                        }
                    }
                    run.in_flight.fetch_sub(1, Ordering::Relaxed);
                });
                launched += 1;
            }
        }
        let drain_deadline = Instant::now() + Duration::from_secs(15);
        while run.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < drain_deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let p1 = sample(self.procs)?;
        let completed = run.completed.load(Ordering::Relaxed);
        let failed = run.failed.load(Ordering::Relaxed);
        let cycle = Summary::of(&hist.lock().unwrap_or_else(PoisonError::into_inner));
        let mut reasons = Vec::new();
        if failed > 0 {
            reasons.push(format!("{failed} cycles failed"));
        }
        if skipped > 0 {
            reasons.push(format!("{skipped} cycles not started (over {cap} in flight)"));
        }
        if completed + failed < launched {
            reasons.push(format!("{} cycles still running after 15 s", launched - completed - failed));
        }
        if let Some(p) = first(&run.problem)
            && self.problem.is_none()
        {
            self.problem = Some(p);
        }
        let step = ChurnStep {
            rate,
            launched,
            completed,
            failed,
            skipped,
            cycle,
            server: usage(self.procs, p0, p1),
            pass: reasons.is_empty(),
            reason: reasons.join("; "),
        };
        eprintln!(
            "  [churn {}] rate {:>6.0}/s launched {} completed {} failed {} skipped {} p50 {:.2} p99 {:.2} ms cpu {:.0}% (gen {:.0}% other {:.0}% steal {:.0}%) {}",
            a.common.target,
            rate,
            launched,
            completed,
            failed,
            skipped,
            cycle.p50_ms,
            cycle.p99_ms,
            step.server.cpu_pct,
            step.server.generator_cpu_pct,
            step.server.other_cpu_pct,
            step.server.steal_cpu_pct.unwrap_or_default(),
            if step.pass { "ok".to_owned() } else { format!("FAIL: {}", step.reason) }
        );
        Ok(step)
    }

    async fn seats(&self) -> Result<u64> {
        let prefix = &self.args.room_prefix;
        let rooms = http::rooms(self.args.common.addrs[0]).await?;
        Ok(rooms
            .iter()
            .filter(|r| r.slug.strip_prefix(prefix.as_str()).is_some_and(|n| n.parse::<u32>().is_ok()))
            .map(|r| r.members)
            .sum())
    }
}

async fn churn(args: ChurnArgs) -> Result<()> {
    let started = Instant::now();
    let procs = Procs::new(parse_pids(&args.common.pids)?, args.common.clk_tck);
    let workers = Workers::start(args.common.threads)?;
    let mut ctx = ChurnCtx { args: &args, workers: &workers, procs: &procs, next: 0, problem: None };
    let mut result = Churn { target: args.common.target.clone(), ..Churn::default() };
    result.seats_before = ctx.seats().await?;
    result.rss_before_kib = sample(&procs)?.map_or(0, |s| s.rss_kib);
    eprintln!("[churn {}] seats before: {}", args.common.target, result.seats_before);
    for (i, rate) in args.rates.iter().enumerate() {
        if started.elapsed().as_secs_f64() > args.common.max_secs {
            eprintln!("  time limit reached: churn ramp stopped");
            break;
        }
        let step = ctx.step(*rate, args.step_secs).await?;
        if i == 0 && step.completed == 0 {
            bail!(
                "churn against {}: not one connect+join+leave cycle succeeded ({})",
                args.common.target,
                ctx.problem.clone().unwrap_or_default()
            );
        }
        let pass = step.pass;
        if pass {
            result.best_rate = step.rate;
        }
        result.steps.push(step);
        if !pass {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle(&procs, Duration::from_secs(15)).await?;
    result.rss_after_ramp_kib = sample(&procs)?.map_or(0, |s| s.rss_kib);
    // Half of the best rate: a load the server has shown it carries (right after an overload a
    // repeat of the very best rate can fail for reasons that are not memory).
    let first_rate = args.rates.first().copied().unwrap_or(10.0);
    let soak_rate = if result.best_rate > 0.0 { (result.best_rate / 2.0).max(first_rate) } else { first_rate };
    let soak = ctx.step(soak_rate, args.soak_secs).await?;
    result.soak = Some(soak);
    // Seats are freed on leave; give a split deployment a moment, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        result.seats_after = ctx.seats().await?;
        if result.seats_after == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    result.rss_after_soak_kib = sample(&procs)?.map_or(0, |s| s.rss_kib);
    result.first_problem = ctx.problem.clone();
    drop(ctx);
    workers.stop();
    eprintln!(
        "[churn {}] best {} cycles/s; seats after: {}; RSS {} → {} → {} KiB",
        args.common.target,
        result.best_rate,
        result.seats_after,
        result.rss_before_kib,
        result.rss_after_ramp_kib,
        result.rss_after_soak_kib
    );
    write_json(&args.common.out, &result)
}

// ---------------------------------------------------------------------------------------------
// helpers

async fn wait(args: WaitArgs) -> Result<()> {
    let deadline = Instant::now() + secs(args.timeout_secs);
    loop {
        let last = match http::rooms(args.addr).await {
            Ok(rooms) if rooms.len() >= args.min_rooms => return Ok(()),
            Ok(rooms) => format!("{} of {} rooms listed", rooms.len(), args.min_rooms),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("{} not ready within {} s: {last}", args.addr, args.timeout_secs);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    Ok(())
}

fn report(args: &ReportArgs) -> Result<()> {
    let results = Results::load(&args.dir)?;
    print!("{}", bench::results::table(&results));
    if args.ramps {
        println!();
        print!("{}", bench::results::ramps(&results));
    }
    Ok(())
}
