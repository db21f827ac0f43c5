//! Real processes of a split deployment: `chatroulette bot` and `chatroulette gateway` on real
//! Redis (a key prefix of their own, or a private `redis-server`) and a PostgreSQL database of
//! their own.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use crate::support::{Client, WAIT, http_get};

/// A running role process whose stderr is collected line by line.
pub struct Proc {
    pub child: Child,
    pub addr: Option<SocketAddr>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Start `cmd`, collecting its stderr line by line.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = logs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Proc { child, addr: None, logs }
    }

    /// Wait until the process listens for visitors, and note where.
    pub async fn listening(&mut self) {
        self.wait_log("listening on http://").await;
        let line = self.logs.lock().unwrap().iter().find(|l| l.contains("listening on http://")).cloned().unwrap();
        let addr = line.split("listening on http://").nth(1).unwrap().trim().parse().unwrap();
        self.addr = Some(addr);
    }

    /// Wait until a log line contains `needle`.
    pub async fn wait_log(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if self.logs.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "no log line with {needle:?}; got:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// SIGKILL: no cleanup at all.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(&mut self) {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill").arg(pid.to_string()).status().unwrap();
        let status = tokio::time::timeout(WAIT, self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status:?}\n{}", self.logs());
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr.unwrap()).await
    }
}

impl Drop for Proc {
    /// A failing test shows what the process logged (run with `--nocapture`).
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- logs of pid {:?} -----\n{}\n-----", self.child.id(), self.logs());
        }
    }
}

pub struct Cluster {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
    /// Extra environment for every process (e.g. the fake Discord's settings).
    pub env: Vec<(String, String)>,
    drop_db: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
}

impl Cluster {
    pub async fn new() -> Self {
        let redis_url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        Self::with_redis(redis_url).await
    }

    pub async fn with_redis(redis_url: String) -> Self {
        let (database_url, drop_db) = crate::chat::fresh_postgres_database().await;
        let prefix = format!("it-{}", ulid::Ulid::new());
        Self { database_url, redis_url, prefix, env: Vec::new(), drop_db: Some(Box::pin(drop_db)) }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatroulette"));
        cmd.args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("REDIS_PREFIX", &self.prefix)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("ADMIN_LISTEN_ADDR", "127.0.0.1:0")
            .env("ROOM_SYNC_SECS", "0.2")
            .env("ROOM_REFRESH_SECS", "1")
            .env("PRESENCE_TTL_SECS", "2")
            .env("LEADER_TTL_SECS", "1")
            .env("SAY_BURST", "1000")
            .env("SAY_PER_SECOND", "1000")
            .env("SAY_IP_BURST", "100000")
            .env("SAY_IP_PER_SECOND", "100000")
            .env("JOINS_PER_MINUTE", "100000")
            .env("API_REQUESTS_PER_MINUTE", "100000")
            .env("MAX_CONNECTIONS_PER_IP", "10000")
            .env("SEATS_PER_ADDRESS", "10000")
            // A dropped socket leaves at once unless a test resumes (tests/it/resume.rs).
            .env("RESUME_SECS", "0")
            // The proof-of-work gate gets its own tests (tests/it/shield.rs).
            .env("SHIELD_JOIN_RATE", "1000000")
            .env("SHIELD_ADDRESS_REFUSALS", "0")
            // So does the trust tier for new visitors (tests/it/trust.rs).
            .env("NEW_VISITOR_MESSAGES", "0")
            // One secret for every process, as a split deployment is documented to have: a
            // gateway started with no bot at all needs it (tests that want the bot's generated
            // one clear it with an empty value).
            .env("IP_TAG_SECRET", "one-secret-for-every-process")
            .env("RUST_LOG", "info")
            .env_remove("DISCORD_TOKEN")
            .current_dir(std::env::temp_dir())
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn spawn(&self, args: &[&str]) -> Proc {
        Proc::spawn(self.command(args))
    }

    /// A bot; returns once it leads.
    pub async fn bot(&self) -> Proc {
        let bot = self.spawn(&["bot"]);
        bot.wait_log("this bot now leads").await;
        bot
    }

    /// A bot expected to wait as a standby.
    pub async fn standby_bot(&self) -> Proc {
        let bot = self.spawn(&["bot"]);
        bot.wait_log("standing by").await;
        bot
    }

    /// A gateway; returns once it listens.
    pub async fn gateway(&self) -> Proc {
        let mut gateway = self.spawn(&["gateway"]);
        gateway.listening().await;
        gateway
    }

    /// Run an operator command against the cluster's database.
    pub async fn cli(&self, args: &[&str]) {
        let out = self.command(args).output().await.unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Wait until `gateway` lists `room` (the bot published it and the gateway heard).
    pub async fn wait_room(&self, gateway: &Proc, room: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, _, body) = http_get(gateway.addr.unwrap(), "/api/rooms").await;
            if status == 200 && body.contains(&format!("\"slug\":\"{room}\"")) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{room} never appeared on the gateway: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn members(&self, gateway: &Proc, room: &str) -> u64 {
        // One room's entry is always fresh; the list may be up to a second old.
        let (_, _, body) = http_get(gateway.addr.unwrap(), &format!("/api/rooms/{room}")).await;
        let room: serde_json::Value = serde_json::from_str(&body).unwrap();
        room["members"].as_u64().unwrap()
    }

    /// How many rows `message_log` holds, and how many distinct ids.
    pub async fn logged(&self) -> (i64, i64) {
        let db = bot::db::connect(&self.database_url).await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM message_log".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let counts = (row.try_get::<i64>("", "n").unwrap(), row.try_get::<i64>("", "d").unwrap());
        db.close().await.unwrap();
        counts
    }

    /// Wait until `message_log` holds `n` rows.
    pub async fn wait_logged(&self, n: i64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (rows, distinct) = self.logged().await;
            assert_eq!(rows, distinct);
            if rows == n {
                return;
            }
            assert!(rows < n, "more rows than messages: {rows} > {n}");
            assert!(tokio::time::Instant::now() < deadline, "only {rows} of {n} messages were logged");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn finish(mut self) {
        bus::redis::delete_prefix(&self.redis_url, &self.prefix).await.unwrap();
        if let Some(drop_db) = self.drop_db.take() {
            drop_db.await;
        }
    }
}
