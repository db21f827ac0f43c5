//! A TCP proxy in front of PostgreSQL that a test cuts: every open connection is dropped and
//! new ones are refused (nothing listens on the port) until it is restored on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub struct PgProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    /// The accept loop and every connection's copy task; aborted together by [`Self::cut`].
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl PgProxy {
    /// A proxy to the PostgreSQL of `database_url` on a free port.
    pub async fn start(database_url: &str) -> Self {
        let upstream = host_port(database_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = Self { addr, upstream, tasks: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    /// `database_url` with its host and port replaced by the proxy's.
    pub fn url_for(&self, database_url: &str) -> String {
        let (scheme, rest) = database_url.split_once("://").unwrap();
        let (at, after) = rest.rsplit_once('@').map_or((String::new(), rest), |(c, a)| (format!("{c}@"), a));
        let path = after.split_once('/').map_or("", |(_, p)| p);
        format!("{scheme}://{at}{}/{path}", self.addr)
    }

    /// Drop every connection and refuse new ones.
    pub fn cut(&self) {
        self.tasks.lock().unwrap().abort_all();
    }

    /// Accept connections again, on the same port.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let tasks = self.tasks.clone();
        self.tasks.lock().unwrap().spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                tasks.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
fn host_port(database_url: &str) -> SocketAddr {
    let rest = database_url.split_once("://").unwrap().1;
    let after = rest.rsplit_once('@').map_or(rest, |(_, a)| a);
    let host = after.split('/').next().unwrap();
    let host = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    host.replace("localhost", "127.0.0.1").parse().unwrap()
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
