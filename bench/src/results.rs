//! What each scenario run writes (one JSON file per scenario and target) and the one table
//! `bench/run` prints from them, with every target of BENCHMARKS.md marked met or not met.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::procfs::Usage;
use crate::stats::{Snapshot, Summary};

/// Idle memory: connections opened and joined, nothing sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Idle {
    pub connections: u64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub kib_per_conn: f64,
    pub connect_secs: f64,
}

/// One rate of a fan-out ramp.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Step {
    /// Deliveries per second the senders aimed at (messages/s × room size).
    pub offered_dps: f64,
    /// Messages per second per member.
    pub per_member_rate: f64,
    /// Deliveries per second received in the measuring window.
    pub delivered_dps: f64,
    pub latency: Summary,
    /// Deliveries missing after the drain that followed this step.
    pub lost: u64,
    pub gaps: u64,
    pub disconnects: u64,
    pub error_frames: u64,
    pub generator_skips: u64,
    pub server: Usage,
    pub pass: bool,
    /// Why the step failed (empty when it passed).
    pub reason: String,
}

/// A fan-out scenario (rooms, hot room, rooms over Redis) against one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fanout {
    pub scenario: String,
    pub target: String,
    pub connections: u64,
    pub rooms: u64,
    pub p99_limit_ms: f64,
    pub idle: Option<Idle>,
    pub steps: Vec<Step>,
    /// The highest-delivering step that passed.
    pub best: Option<Step>,
    /// The step at half of `best`'s offered rate.
    pub half: Option<Step>,
    pub totals: Snapshot,
    /// First problem a connection reported (error frame, close reason), if any.
    pub first_problem: Option<String>,
}

/// One rate of the churn ramp.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChurnStep {
    /// Cycles (connect + hello + join + joined + leave + presence) started per second.
    pub rate: f64,
    pub launched: u64,
    pub completed: u64,
    pub failed: u64,
    /// Cycles not started because too many were still in flight.
    pub skipped: u64,
    pub cycle: Summary,
    pub server: Usage,
    pub pass: bool,
    pub reason: String,
}

/// The churn scenario against one target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Churn {
    pub target: String,
    pub steps: Vec<ChurnStep>,
    pub best_rate: f64,
    pub soak: Option<ChurnStep>,
    /// Seats listed in the churn rooms before the churn started and after it settled.
    pub seats_before: u64,
    pub seats_after: u64,
    pub rss_before_kib: u64,
    /// RSS after the ramp, before the soak at half the best rate.
    pub rss_after_ramp_kib: u64,
    pub rss_after_soak_kib: u64,
    pub first_problem: Option<String>,
}

/// Everything found in a results directory.
#[derive(Default)]
pub struct Results {
    pub fanout: BTreeMap<(String, String), Fanout>,
    pub churn: BTreeMap<String, Churn>,
    /// Targets whose run failed, with the reason (written by `bench/run`).
    pub failures: Vec<String>,
}

impl Results {
    /// Read every `*.json` in `dir` (and `failures.txt`).
    pub fn load(dir: &Path) -> Result<Self> {
        let mut results = Self::default();
        let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name == "failures.txt" {
                let text = std::fs::read_to_string(&path)?;
                results.failures.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            if name.starts_with("churn-") {
                let churn: Churn = serde_json::from_str(&text).with_context(|| format!("bad {name}"))?;
                results.churn.insert(churn.target.clone(), churn);
            } else {
                let fanout: Fanout = serde_json::from_str(&text).with_context(|| format!("bad {name}"))?;
                results.fanout.insert((fanout.scenario.clone(), fanout.target.clone()), fanout);
            }
        }
        Ok(results)
    }

    fn fanout(&self, scenario: &str, target: &str) -> Option<&Fanout> {
        self.fanout.get(&(scenario.to_owned(), target.to_owned()))
    }
}

/// A value in one table cell.
type Cell = Option<f64>;

struct Row {
    scenario: &'static str,
    metric: String,
    ours: Cell,
    peer: Cell,
    raw: Cell,
    /// Number of decimals to print.
    decimals: usize,
    target: String,
}

fn fmt_num(v: Cell, decimals: usize) -> String {
    match v {
        None => "n/a".to_owned(),
        Some(v) if !v.is_finite() => "n/a".to_owned(),
        Some(v) => {
            let s = format!("{v:.decimals$}");
            // Group thousands of the integer part for readability.
            let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
            let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
            let mut grouped = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push(' ');
                }
                grouped.push(c);
            }
            match frac {
                Some(f) => format!("{sign}{grouped}.{f}"),
                None => format!("{sign}{grouped}"),
            }
        }
    }
}

fn ratio(a: Cell, b: Cell) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 && a.is_finite() && b.is_finite() => format!("{:.2}×", a / b),
        _ => "-".to_owned(),
    }
}

fn verdict(met: Option<bool>, detail: String) -> String {
    match met {
        Some(true) => format!("met: {detail}"),
        Some(false) => format!("NOT MET: {detail}"),
        None => format!("n/a: {detail}"),
    }
}

fn best_dps(f: Option<&Fanout>) -> Cell {
    f.map(|f| f.best.as_ref().map_or(0.0, |b| b.delivered_dps))
}

fn at_best(f: Option<&Fanout>, pick: fn(&Step) -> f64) -> Cell {
    f.and_then(|f| f.best.as_ref()).map(pick)
}

fn half_p99(f: Option<&Fanout>) -> Cell {
    f.and_then(|f| f.half.as_ref()).map(|s| s.latency.p99_ms)
}

/// The most CPU the virtual machine's host took during any step of the ramp: a figure above a few
/// percent says the run's latencies were measured on a machine that was not all ours.
fn steal(f: Option<&Fanout>) -> Cell {
    f.and_then(|f| f.steps.iter().chain(f.half.iter()).filter_map(|s| s.server.steal_cpu_pct).reduce(f64::max))
}

/// A percentage that may not have been measured, for the ramp listing.
fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn lost(f: Option<&Fanout>) -> Cell {
    f.map(|f| f.steps.iter().map(|s| s.lost).sum::<u64>() as f64)
}

fn fanout_rows(rows: &mut Vec<Row>, scenario: &'static str, key: &str, r: &Results, peer_key: &str, raw: bool) {
    let (ours_key, ours_target) = if key == "redis" { ("redis", "ours") } else { (key, "ours") };
    let o = r.fanout(ours_key, ours_target);
    let p = r.fanout(peer_key, "peer");
    let w = if raw { r.fanout(key, "raw") } else { None };
    let limit = o.or(p).map_or(50.0, |f| f.p99_limit_ms);
    let mut row = |metric: String, pick: &dyn Fn(Option<&Fanout>) -> Cell, decimals: usize, target: String| {
        rows.push(Row { scenario, metric, ours: pick(o), peer: pick(p), raw: pick(w), decimals, target });
    };
    let (ob, pb, wb) = (best_dps(o), best_dps(p), best_dps(w));
    let throughput_target = match key {
        "rooms" => {
            let met = match (ob, pb, wb) {
                (Some(o), Some(p), Some(w)) => Some(o >= 0.8 * w && o > p),
                _ => None,
            };
            verdict(
                met,
                format!(
                    "ours {} vs 80% of raw {} and peer {}",
                    fmt_num(ob, 0),
                    fmt_num(wb.map(|w| 0.8 * w), 0),
                    fmt_num(pb, 0)
                ),
            )
        }
        "hot" => {
            let met = match (ob, pb, wb) {
                (Some(o), Some(p), Some(w)) => Some(o >= 2.0 * w && o > p),
                _ => None,
            };
            verdict(
                met,
                format!(
                    "ours {} vs 2× raw {} and peer {}",
                    fmt_num(ob, 0),
                    fmt_num(wb.map(|w| 2.0 * w), 0),
                    fmt_num(pb, 0)
                ),
            )
        }
        _ => String::new(),
    };
    row(format!("max delivered msg/s with p99 ≤ {limit} ms"), &best_dps, 0, throughput_target);
    row("  p50 latency at that rate, ms".into(), &|f| at_best(f, |s| s.latency.p50_ms), 2, String::new());
    row("  p99 latency at that rate, ms".into(), &|f| at_best(f, |s| s.latency.p99_ms), 2, String::new());
    row("  p99.9 latency at that rate, ms".into(), &|f| at_best(f, |s| s.latency.p999_ms), 2, String::new());
    row("  max latency at that rate, ms".into(), &|f| at_best(f, |s| s.latency.max_ms), 2, String::new());
    row("  server CPU at that rate, % of a core".into(), &|f| at_best(f, |s| s.server.cpu_pct), 0, String::new());
    row(
        "  server RSS at that rate, MiB".into(),
        &|f| at_best(f, |s| s.server.rss_kib as f64 / 1024.0),
        1,
        String::new(),
    );
    let (half_limit, half_what) =
        if key == "redis" { (10.0, "across two gateways via Redis") } else { (5.0, "in one process") };
    let half_target = if key == "hot" {
        String::new()
    } else {
        let v = half_p99(o);
        verdict(v.map(|v| v <= half_limit), format!("ours p99 {} ms ≤ {half_limit} ms {half_what}", fmt_num(v, 2)))
    };
    row("p99 latency at half of own max, ms".into(), &half_p99, 2, half_target);
    row("lost deliveries (whole ramp)".into(), &lost, 0, String::new());
    row("CPU the host took (steal), worst step, % of a core".into(), &steal, 0, String::new());
}

/// Build the table.
pub fn table(r: &Results) -> String {
    let mut rows: Vec<Row> = Vec::new();
    // 1. idle memory.
    let idle = |target: &str| r.fanout("rooms", target).and_then(|f| f.idle.clone());
    let (oi, pi, wi) = (idle("ours"), idle("peer"), idle("raw"));
    let conns = oi.as_ref().or(pi.as_ref()).map_or(0, |i| i.connections);
    let per = |i: &Option<Idle>| i.as_ref().map(|i| i.kib_per_conn);
    let ours_per = per(&oi);
    rows.push(Row {
        scenario: "1 idle",
        metric: format!("RSS per joined connection at {conns} conns, KiB"),
        ours: ours_per,
        peer: per(&pi),
        raw: per(&wi),
        decimals: 2,
        target: verdict(ours_per.map(|v| v <= 4.0), format!("ours {} KiB ≤ 4 KiB", fmt_num(ours_per, 2))),
    });
    let total = |i: &Option<Idle>| i.as_ref().map(|i| i.rss_after_kib as f64 / 1024.0);
    rows.push(Row {
        scenario: "1 idle",
        metric: "  server RSS with them open, MiB".into(),
        ours: total(&oi),
        peer: total(&pi),
        raw: total(&wi),
        decimals: 1,
        target: String::new(),
    });
    let rate = |i: &Option<Idle>| {
        i.as_ref().map(|i| if i.connect_secs > 0.0 { i.connections as f64 / i.connect_secs } else { 0.0 })
    };
    rows.push(Row {
        scenario: "1 idle",
        metric: "  connect+join rate while opening them, /s".into(),
        ours: rate(&oi),
        peer: rate(&pi),
        raw: rate(&wi),
        decimals: 0,
        target: String::new(),
    });
    fanout_rows(&mut rows, "2 rooms", "rooms", r, "rooms", true);
    fanout_rows(&mut rows, "3 hot room", "hot", r, "hot", true);
    fanout_rows(&mut rows, "4 rooms/Redis", "redis", r, "rooms", false);
    // 5. churn.
    let c = |t: &str| r.churn.get(t);
    let (oc, pc, wc) = (c("ours"), c("peer"), c("raw"));
    let cell = |x: Option<&Churn>, f: fn(&Churn) -> f64| x.map(f);
    let churn_row = |metric: &str, f: fn(&Churn) -> f64, decimals: usize, target: String| Row {
        scenario: "5 churn",
        metric: metric.to_owned(),
        ours: cell(oc, f),
        peer: cell(pc, f),
        raw: cell(wc, f),
        decimals,
        target,
    };
    let best = cell(oc, |c| c.best_rate);
    rows.push(churn_row(
        "connect+join+leave cycles/s sustained",
        |c| c.best_rate,
        0,
        verdict(best.map(|b| b >= 2000.0), format!("ours {} ≥ 2 000/s", fmt_num(best, 0))),
    ));
    rows.push(churn_row(
        "  p99 cycle time at that rate, ms",
        |c| c.steps.iter().rev().find(|s| s.pass).map_or(f64::NAN, |s| s.cycle.p99_ms),
        2,
        String::new(),
    ));
    let seats = cell(oc, |c| c.seats_after as f64);
    rows.push(churn_row(
        "seats still listed after churn",
        |c| c.seats_after as f64,
        0,
        verdict(seats.map(|s| s == 0.0), format!("ours {} leaked seats", fmt_num(seats, 0))),
    ));
    let growth = cell(oc, |c| (c.rss_after_soak_kib as f64 - c.rss_after_ramp_kib as f64) / 1024.0);
    let soak_cycles = oc.and_then(|c| c.soak.as_ref()).map_or(0, |s| s.completed);
    rows.push(churn_row(
        "RSS growth over the soak at half that rate, MiB",
        |c| (c.rss_after_soak_kib as f64 - c.rss_after_ramp_kib as f64) / 1024.0,
        2,
        verdict(growth.map(|g| g <= 1.0), format!("ours {} MiB over {soak_cycles} cycles ≤ 1 MiB", fmt_num(growth, 2))),
    ));
    rows.push(churn_row("  server RSS after churn, MiB", |c| c.rss_after_soak_kib as f64 / 1024.0, 1, String::new()));

    let header = ["scenario", "metric", "ours", "peer", "raw", "ours/peer", "ours/raw", "target"];
    let mut cells: Vec<[String; 8]> = vec![header.map(str::to_owned)];
    for row in &rows {
        // Counts that should be zero and differences have no meaningful ratio.
        let no_ratio =
            ["lost", "seats", "RSS growth", "CPU the host took"].iter().any(|p| row.metric.trim_start().starts_with(p));
        let raw_cell = if row.scenario == "4 rooms/Redis" { "-".to_owned() } else { fmt_num(row.raw, row.decimals) };
        cells.push([
            row.scenario.to_owned(),
            row.metric.clone(),
            fmt_num(row.ours, row.decimals),
            fmt_num(row.peer, row.decimals),
            raw_cell,
            if no_ratio { "-".to_owned() } else { ratio(row.ours, row.peer) },
            if no_ratio || row.scenario == "4 rooms/Redis" { "-".to_owned() } else { ratio(row.ours, row.raw) },
            row.target.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..8).map(|i| cells.iter().map(|c| c[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (n, c) in cells.iter().enumerate() {
        let mut line = String::from("|");
        for (i, text) in c.iter().enumerate() {
            let pad = widths[i].saturating_sub(text.chars().count());
            // Numbers right-aligned, words left-aligned.
            if (2..7).contains(&i) {
                let _ = write!(line, " {}{} |", " ".repeat(pad), text);
            } else {
                let _ = write!(line, " {}{} |", text, " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if n == 0 {
            let mut sep = String::from("|");
            for (i, w) in widths.iter().enumerate() {
                if (2..7).contains(&i) {
                    sep.push_str(&"-".repeat(w + 1));
                    sep.push(':');
                } else {
                    sep.push_str(&"-".repeat(w + 2));
                }
                sep.push('|');
            }
            out.push_str(&sep);
            out.push('\n');
        }
    }
    out
}

/// Every ramp step ("latency vs delivered rate"), written to `ramps.txt` beside the results.
pub fn ramps(r: &Results) -> String {
    let mut out = String::new();
    for ((scenario, target), f) in &r.fanout {
        let _ = writeln!(out, "{scenario} / {target}: {} connections in {} rooms", f.connections, f.rooms);
        let _ = writeln!(
            out,
            "  {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>5} {:>7} {:>6} {:>6} {:>6}  verdict",
            "offered/s",
            "deliv/s",
            "p50 ms",
            "p99 ms",
            "p99.9",
            "max ms",
            "lost",
            "disc",
            "cpu%",
            "rss MiB",
            "gen%",
            "other%",
            "steal%"
        );
        let half = f.half.iter().map(|s| ("half", s));
        for (tag, s) in f.steps.iter().map(|s| ("", s)).chain(half) {
            let _ = writeln!(
                out,
                "  {:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>6} {:>5.0} {:>7.1} {:>6.0} {:>6.0} {:>6}  {}{}",
                s.offered_dps,
                s.delivered_dps,
                s.latency.p50_ms,
                s.latency.p99_ms,
                s.latency.p999_ms,
                s.latency.max_ms,
                s.lost,
                s.disconnects,
                s.server.cpu_pct,
                s.server.rss_kib as f64 / 1024.0,
                s.server.generator_cpu_pct,
                s.server.other_cpu_pct,
                percent(s.server.steal_cpu_pct),
                if tag.is_empty() { "" } else { "half of max: " },
                if s.pass { "ok".to_owned() } else { format!("FAIL {}", s.reason) },
            );
        }
        if let Some(p) = &f.first_problem {
            let _ = writeln!(out, "  first problem seen: {p}");
        }
    }
    for (target, c) in &r.churn {
        let _ = writeln!(
            out,
            "churn / {target}: seats before {} after {}; RSS {} → {} (after ramp) → {} KiB (after soak)",
            c.seats_before, c.seats_after, c.rss_before_kib, c.rss_after_ramp_kib, c.rss_after_soak_kib
        );
        for (tag, s) in c.steps.iter().map(|s| ("", s)).chain(c.soak.iter().map(|s| ("soak: ", s))) {
            let _ = writeln!(
                out,
                "  {tag}rate {:>6.0}/s launched {:>6} completed {:>6} failed {:>5} skipped {:>5} p50 {:>7.2} ms p99 {:>8.2} ms cpu {:>4.0}% gen {:>4.0}% other {:>4.0}% steal {:>4}%  {}",
                s.rate,
                s.launched,
                s.completed,
                s.failed,
                s.skipped,
                s.cycle.p50_ms,
                s.cycle.p99_ms,
                s.server.cpu_pct,
                s.server.generator_cpu_pct,
                s.server.other_cpu_pct,
                percent(s.server.steal_cpu_pct),
                if s.pass { "ok".to_owned() } else { format!("FAIL {}", s.reason) },
            );
        }
        if let Some(p) = &c.first_problem {
            let _ = writeln!(out, "  first problem seen: {p}");
        }
    }
    for f in &r.failures {
        let _ = writeln!(out, "FAILED: {f}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(fmt_num(Some(1234567.0), 0), "1 234 567");
        assert_eq!(fmt_num(Some(-1234.5), 1), "-1 234.5");
        assert_eq!(fmt_num(Some(12.0), 2), "12.00");
        assert_eq!(fmt_num(None, 2), "n/a");
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50×");
    }

    #[test]
    fn empty_results_still_make_a_table() {
        let t = table(&Results::default());
        assert!(t.contains("n/a"), "{t}");
        assert!(t.lines().count() > 10);
    }
}
