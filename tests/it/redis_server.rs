//! A private `redis-server` on a free port, for tests that kill Redis and start it again, with
//! its data or without. Self-contained: it needs only `redis-server` (`/usr/bin/redis-server`,
//! or on `PATH`) and tokio.
//!
//! ```ignore
//! let mut redis = RedisServer::start(Persistence::AppendOnly).await;
//! // … processes on redis.url() …
//! redis.kill().await;             // SIGKILL: what was fsynced survives
//! redis.restart().await;          // with its data (the append-only file)
//! redis.restart_empty().await;    // its files deleted: back without any data
//! redis.flush().await;            // FLUSHALL on the running server
//! ```

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How long a start may take.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the server keeps its data across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--appendonly yes --appendfsync always`: a SIGKILL loses nothing that was answered.
    AppendOnly,
    /// `--save "" --appendonly no`: every restart comes back empty.
    None,
}

/// A `redis-server` of the test's own, its files in a temporary directory removed on drop.
pub struct RedisServer {
    pub port: u16,
    persistence: Persistence,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Start on a free port.
    pub async fn start(persistence: Persistence) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("it-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self { port, persistence, dir, child: None };
        server.launch().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no shutdown, no final save.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Start again on the same port (killing it first if it runs): with its data when it
    /// persists, empty otherwise.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch().await;
    }

    /// Start again on the same port with its files deleted: back without any data, whatever
    /// its persistence.
    pub async fn restart_empty(&mut self) {
        self.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).unwrap();
        self.launch().await;
    }

    /// `FLUSHALL` on the running server.
    pub async fn flush(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    }

    async fn launch(&mut self) {
        let program = if std::path::Path::new("/usr/bin/redis-server").exists() {
            "/usr/bin/redis-server"
        } else {
            "redis-server"
        };
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--save".into(),
            String::new(),
        ];
        match self.persistence {
            Persistence::AppendOnly => {
                args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
            }
            Persistence::None => args.extend(["--appendonly", "no"].map(String::from)),
        }
        let child = Command::new(program)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server is needed for this test (apt-get install redis-server): {e}"));
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        // Ready once it answers PING (it loads its append-only file before that).
        loop {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
