//! Fault 6: the disk under SQLite fills up (the one-process default). Where the test may mount
//! (root with CAP_SYS_ADMIN), the database lives on a small tmpfs that a filler file fills to
//! the last byte (`ENOSPC`: SQLite's "database or disk is full"); elsewhere a file-size limit on
//! the running process stands in for it (`prlimit --fsize`, with SIGXFSZ ignored so the write
//! fails with `EFBIG`, SQLite's "disk I/O error"): no file may grow past the write-ahead log's
//! current size. Chat goes on, the log says why it cannot write, the database stays sound
//! (`PRAGMA integrity_check`), and everything is logged once space returns. `FAULTS_NO_MOUNT=1`
//! takes the second way where the first would work.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use tokio::process::Command;

use super::*;
use crate::cluster::Proc;
use crate::support::{WAIT, temp_dir, test_vars};

/// Where the database lives, and how that place is made full.
struct Disk {
    dir: PathBuf,
    /// The tmpfs mounted at `dir`, if mounting was allowed.
    tmpfs: bool,
}

impl Disk {
    fn new() -> Self {
        let dir = temp_dir();
        let tmpfs = std::env::var_os("FAULTS_NO_MOUNT").is_none()
            && std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=32m", "tmpfs"])
                .arg(&dir)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        Self { dir, tmpfs }
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// No more room for the database's files to grow.
    fn fill(&self, pid: u32) {
        if !self.tmpfs {
            let wal = std::fs::metadata(self.dir.join("chat.db-wal")).map_or(0, |m| m.len());
            return limit_file_size(pid, Some(wal));
        }
        let mut file = std::fs::File::create(self.filler()).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
    }

    /// Room again.
    fn free(&self, pid: u32) {
        if self.tmpfs {
            std::fs::remove_file(self.filler()).unwrap();
        } else {
            limit_file_size(pid, None);
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if self.tmpfs {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The one-process default on SQLite in `dir`, SIGXFSZ ignored (ignored signals stay ignored
/// across `exec`).
async fn start(dir: &Path, database_url: &str) -> Proc {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "trap '' XFSZ; exec \"$0\"", env!("CARGO_BIN_EXE_chatroulette")]);
    cmd.envs(test_vars(database_url))
        .env("RUST_LOG", "info")
        .env_remove("REDIS_URL")
        .env_remove("DISCORD_TOKEN")
        .current_dir(dir)
        .kill_on_drop(true);
    let mut app = Proc::spawn(cmd);
    app.listening().await;
    app
}

/// Limit the size every file of `pid` may reach (`None`: no limit).
fn limit_file_size(pid: u32, bytes: Option<u64>) {
    let limit = bytes.map_or("unlimited".to_owned(), |b| b.to_string());
    let status = std::process::Command::new("prlimit")
        // The soft limit only: raising a hard one back needs CAP_SYS_RESOURCE.
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}:")])
        .status()
        .unwrap_or_else(|e| panic!("prlimit (util-linux) is needed for this test: {e}"));
    assert!(status.success());
}

async fn integrity(database_url: &str) -> String {
    let db = bot::db::connect(database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "PRAGMA integrity_check".to_owned()))
        .await
        .unwrap()
        .unwrap();
    let verdict = row.try_get::<String>("", "integrity_check").unwrap();
    db.close().await.unwrap();
    verdict
}

#[tokio::test]
async fn sqlite_out_of_space_errors_clearly_stays_sound_and_recovers_when_space_returns() {
    let disk = Disk::new();
    let url = format!("sqlite://{}?mode=rwc", disk.dir.join("chat.db").display());
    let mut app = start(&disk.dir, &url).await;
    let pid = app.child.id().unwrap();
    let mut alice = app.client().await;
    alice.join("lobby", "Alice").await;
    for i in 0..5 {
        alice.say(&format!("lobby {i}")).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while logged_texts(&url, "lobby").await.len() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "nothing was logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    disk.fill(pid);
    let mut n = 5;
    // Chat goes on (the queue holds what the log cannot take yet) until the log says why.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let error = loop {
        alice.say(&format!("lobby {n}")).await;
        n += 1;
        let logs = app.logs();
        if let Some(line) = logs.lines().find(|l| l.contains("cannot write the message log")) {
            break line.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "the full disk was never noticed:\n{logs}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("disk full ({}): {error}", if disk.tmpfs { "tmpfs" } else { "file-size limit" });
    let why = if disk.tmpfs { "database or disk is full" } else { "disk I/O error" };
    assert!(error.contains(why), "the error says what is wrong: {error}");
    for _ in 0..10 {
        alice.say(&format!("lobby {n}")).await;
        n += 1;
    }
    assert!(logged_texts(&url, "lobby").await.len() < n as usize, "the log cannot have taken everything");
    assert_eq!(integrity(&url).await, "ok", "sound while the disk is full");

    // Space returns: everything is logged, once, in order.
    disk.free(pid);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while logged_texts(&url, "lobby").await.len() < n as usize {
        assert!(tokio::time::Instant::now() < deadline, "the log never caught up:\n{}", app.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(logged_texts(&url, "lobby").await, expected_texts("lobby", n));
    app.stop().await;
    assert_eq!(integrity(&url).await, "ok", "sound after a clean stop");
}
