//! A server's resident memory and CPU time, read from `/proc/<pid>` (summed over several pids:
//! the peer runs two processes, the split deployment three).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One reading of a set of processes.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// Sum of VmRSS, KiB.
    pub rss_kib: u64,
    /// Sum of utime + stime, clock ticks.
    pub cpu_ticks: u64,
    /// The whole machine's busy time (all CPUs, `/proc/stat`), clock ticks.
    pub machine_busy_ticks: u64,
    /// The generator's own CPU time, clock ticks.
    pub self_ticks: u64,
    /// Time the hypervisor ran something else while this machine's CPUs wanted to run
    /// (`steal` in `/proc/stat`, all CPUs), clock ticks.
    pub machine_steal_ticks: u64,
}

/// What a scenario step reports about the server.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Usage {
    /// RSS at the end of the interval, KiB.
    pub rss_kib: u64,
    /// CPU used over the interval, percent of one core (200 = both cores of this machine).
    pub cpu_pct: f64,
    /// CPU the generator used over the interval, percent of one core.
    #[serde(default)]
    pub generator_cpu_pct: f64,
    /// CPU used by everything else on the machine (other processes, and kernel work such as
    /// loopback softirqs not charged to a process), percent of one core: a check that nothing
    /// else was competing during the measurement. Host steal is not in it (results
    /// older than `steal_cpu_pct` counted it here).
    #[serde(default)]
    pub other_cpu_pct: f64,
    /// CPU the virtual machine's host took away (`steal`), percent of one core: on a shared
    /// host, the same step runs on less CPU than it asked for, which no change of ours causes.
    /// `None` in results written before it was measured.
    #[serde(default)]
    pub steal_cpu_pct: Option<f64>,
}

/// Watches a fixed set of pids.
#[derive(Debug, Clone)]
pub struct Procs {
    pids: Vec<u32>,
    clk_tck: u64,
}

impl Procs {
    pub fn new(pids: Vec<u32>, clk_tck: u64) -> Self {
        Self { pids, clk_tck: clk_tck.max(1) }
    }

    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
    }

    /// Read every pid now. Fails if a process is gone: a dead server is an error, not a number.
    pub fn sample(&self) -> Result<Sample> {
        let mut rss_kib = 0;
        let mut cpu_ticks = 0;
        for pid in &self.pids {
            rss_kib += rss_of(*pid)?;
            cpu_ticks += cpu_of(*pid)?;
        }
        let (machine_busy_ticks, machine_steal_ticks) = machine_busy()?;
        let self_ticks = cpu_of_path("/proc/self/stat")?;
        Ok(Sample { at: Instant::now(), rss_kib, cpu_ticks, machine_busy_ticks, self_ticks, machine_steal_ticks })
    }

    /// Usage between two samples.
    pub fn usage(&self, from: &Sample, to: &Sample) -> Usage {
        let secs = to.at.duration_since(from.at).as_secs_f64();
        let pct = |ticks: u64| {
            if secs > 0.0 { 100.0 * (ticks as f64 / self.clk_tck as f64) / secs } else { 0.0 }
        };
        let server = to.cpu_ticks.saturating_sub(from.cpu_ticks);
        let generator = to.self_ticks.saturating_sub(from.self_ticks);
        let busy = to.machine_busy_ticks.saturating_sub(from.machine_busy_ticks);
        let steal = to.machine_steal_ticks.saturating_sub(from.machine_steal_ticks);
        Usage {
            rss_kib: to.rss_kib,
            cpu_pct: pct(server),
            generator_cpu_pct: pct(generator),
            other_cpu_pct: pct(busy.saturating_sub(server + generator + steal)),
            steal_cpu_pct: Some(pct(steal)),
        }
    }
}

fn rss_of(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("server process {pid} is gone (cannot read /proc/{pid}/status)"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return kib.parse().with_context(|| format!("odd VmRSS line in /proc/{pid}/status: {line:?}"));
        }
    }
    bail!("/proc/{pid}/status has no VmRSS line (zombie process?)")
}

fn cpu_of(pid: u32) -> Result<u64> {
    cpu_of_path(&format!("/proc/{pid}/stat"))
}

/// Busy ticks of all CPUs: everything in the `cpu` line of `/proc/stat` but idle and iowait.
/// The whole machine's busy ticks (steal included) and steal ticks.
fn machine_busy() -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    let busy: u64 = fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    let steal = fields.get(7).copied().unwrap_or(0);
    Ok((busy, steal))
}

fn cpu_of_path(path: &str) -> Result<u64> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("server process is gone (cannot read {path})"))?;
    // The command name is in parentheses and may contain spaces: count fields after the last ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("odd /proc/<pid>/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')': state(3) ppid(4) ... utime is field 14, stime 15 of the whole line.
    let utime: u64 = fields.get(11).context("no utime in /proc/<pid>/stat")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime in /proc/<pid>/stat")?.parse()?;
    Ok(utime + stime)
}

/// Parse `--pids 12,34` into numbers.
pub fn parse_pids(raw: &str) -> Result<Vec<u32>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().with_context(|| format!("bad pid {s:?}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let procs = Procs::new(vec![std::process::id()], 100);
        let a = procs.sample().unwrap();
        assert!(a.rss_kib > 0);
        let mut x = 0u64;
        for i in 0..10_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let b = procs.sample().unwrap();
        assert!(procs.usage(&a, &b).cpu_pct >= 0.0);
        assert_eq!(parse_pids("1, 2,").unwrap(), vec![1, 2]);
    }

    #[test]
    fn steal_is_told_apart_from_other_work() {
        let procs = Procs::new(vec![1], 100);
        let at = Instant::now();
        let from =
            Sample { at, rss_kib: 0, cpu_ticks: 0, machine_busy_ticks: 0, self_ticks: 0, machine_steal_ticks: 0 };
        // Over one second: the server 80 ticks, the generator 40, the host took 30, and 150 in all.
        let to = Sample {
            at: at + std::time::Duration::from_secs(1),
            rss_kib: 1,
            cpu_ticks: 80,
            machine_busy_ticks: 150,
            self_ticks: 40,
            machine_steal_ticks: 30,
        };
        let usage = procs.usage(&from, &to);
        assert_eq!(usage.cpu_pct, 80.0);
        assert_eq!(usage.generator_cpu_pct, 40.0);
        assert_eq!(usage.steal_cpu_pct, Some(30.0));
        assert_eq!(usage.other_cpu_pct, 0.0);
    }
}
