//! A graceful restart behind a load balancer: a small TCP proxy in front of gateway A sends new
//! connections to gateway B once switched; A is then sent SIGTERM. A's visitor is told
//! `restarting {retry_after_ms}`, its socket closes with 1012, and after that delay it
//! reconnects through the proxy (now to B) with its token: the same room and nickname, and what
//! was said meanwhile in `missed`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::resume::{join, resume, texts};

/// One listening port forwarding each new connection to the current backend; open
/// connections stay where they are.
struct SwitchProxy {
    addr: SocketAddr,
    backend: Arc<Mutex<SocketAddr>>,
    accept: JoinHandle<()>,
}

impl SwitchProxy {
    async fn start(backend: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Arc::new(Mutex::new(backend));
        let current = backend.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = *current.lock().unwrap();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, backend, accept }
    }

    /// Send new connections to `backend`.
    fn switch(&self, backend: SocketAddr) {
        *self.backend.lock().unwrap() = backend;
    }
}

impl Drop for SwitchProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test]
async fn a_gateway_restarted_behind_a_switching_proxy_hands_its_visitor_over_with_nothing_missed() {
    let mut cluster = Cluster::new().await;
    cluster.env.push(("RESUME_SECS".into(), "10".into()));
    let _bot = cluster.bot().await;
    let (mut a, b) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&a, "lobby").await;
    cluster.wait_room(&b, "lobby").await;
    let proxy = SwitchProxy::start(a.addr.unwrap()).await;
    let mut alice = crate::support::Client::connect(proxy.addr).await;
    let (_, token) = join(&mut alice, "lobby", "Alice").await;
    let mut bob = b.client().await;
    bob.join("lobby", "Bob").await;
    let seen = alice.say("before the restart").await;
    bob.wait_message(&seen).await;

    // The deploy: new connections go to B, then A is asked to stop.
    proxy.switch(b.addr.unwrap());
    let (retry_after, ()) = tokio::join!(
        async {
            let restarting = alice.wait_for("restarting").await;
            let retry_after = restarting["retry_after_ms"].as_u64().unwrap();
            assert!((1_000..=3_000).contains(&retry_after), "{restarting}");
            assert_eq!(alice.closed().await, Some(1012), "service restart");
            retry_after
        },
        a.stop(),
    );
    let said = bob.say("while you were away").await;

    // As a client would: wait, then connect again to the same address, now served by B.
    tokio::time::sleep(Duration::from_millis(retry_after)).await;
    let mut alice = crate::support::Client::connect(proxy.addr).await;
    let resumed = resume(&mut alice, &token, Some(&seen)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["room"].as_str(), resumed["nick"].as_str()), (Some("lobby"), Some("Alice")));
    assert_eq!(texts(&resumed["missed"]), ["while you were away"]);
    assert_eq!(resumed["missed"][0]["id"], said.as_str());
    assert_eq!(resumed["gap"], false);
    let id = alice.say("back, on B").await;
    // The room saw Alice neither leave nor come back: the seat was held.
    let frames = super::frames_before(&mut bob, &id).await;
    assert!(!super::presence_of(&frames, "Alice"), "{frames:?}");
    assert_eq!(cluster.members(&b, "lobby").await, 2);
    cluster.finish().await;
}
