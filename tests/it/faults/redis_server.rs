//! A private `redis-server` on a free port with its data in a directory of its own, that a test
//! SIGKILLs and starts again, with its data (the append-only file, fsynced on every write, as
//! the README asks production to run) or without (the directory emptied).

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::support::WAIT;

pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Start an empty server.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = crate::support::temp_dir();
        let mut redis = Self { port, dir, child: None };
        redis.run().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: whatever the append-only file holds is what survives.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// Start again on the same port with the data it had.
    pub async fn restart_with_data(&mut self) {
        self.kill().await;
        self.run().await;
    }

    /// Start again on the same port, empty (its data lost with the machine).
    pub async fn restart_empty(&mut self) {
        self.kill().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
        std::fs::create_dir_all(&self.dir).unwrap();
        self.run().await;
    }

    async fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server is needed for this test (apt-get install redis-server): {e}"));
        self.child = Some(child);
        // Up once it answers PING (it loads the append-only file before that).
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
