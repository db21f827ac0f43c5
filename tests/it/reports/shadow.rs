//! A shadow-muted visitor's messages in history: the sender's tabs (same address or same
//! device) find them again after joining anew or resuming, everyone else never does, and
//! nobody else can report them. Over the in-process bus (one process) and over Redis (a bot
//! and two gateway processes, the tabs spread across them).

use std::net::SocketAddr;

use serde_json::Value;

use super::refusals::{answer, report};
use super::token;
use crate::cluster::{Cluster, Proc};
use crate::moderation::{cli, spawn_behind_proxy};
use crate::resume::{resume, texts};
use crate::sanctions::status_at;
use crate::support::{Client, TestApp, WAIT};

const SHADOWED: &str = "203.0.113.90";
const MARKER: &str = "192.0.2.91";

/// Where the scenario runs: two gateway addresses (the same one twice in one process).
struct Deployment {
    gateways: [SocketAddr; 2],
    _app: Option<TestApp>,
    cluster: Option<(Cluster, Vec<Proc>)>,
}

impl Deployment {
    async fn in_process() -> Self {
        let app = spawn_behind_proxy(&[("RESUME_SECS", "30")]).await;
        Self { gateways: [app.addr, app.addr], _app: Some(app), cluster: None }
    }

    async fn split() -> Self {
        let mut cluster = Cluster::new().await;
        cluster.env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
        cluster.env.push(("RESUME_SECS".to_owned(), "30".to_owned()));
        let bot = cluster.bot().await;
        let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
        cluster.wait_room(&g1, "lobby").await;
        cluster.wait_room(&g2, "lobby").await;
        let gateways = [g1.addr.unwrap(), g2.addr.unwrap()];
        Self { gateways, _app: None, cluster: Some((cluster, vec![bot, g1, g2])) }
    }

    /// `chatroulette mutes add …` against the deployment's database.
    async fn cli(&self, args: &[&str]) {
        match (&self._app, &self.cluster) {
            (Some(app), _) => {
                cli(app, args).await;
            }
            (None, Some((cluster, _))) => cluster.cli(args).await,
            (None, None) => unreachable!("a deployment has an app or a cluster"),
        }
    }

    /// Shadow-mute [`SHADOWED`]; returns once every gateway holds it (a plain mute of
    /// [`MARKER`] added after it shows on each gateway's `/api/status`).
    async fn shadow_mute(&self) {
        self.cli(&["mutes", "add", SHADOWED, "--shadow", "--reason", "spam wave"]).await;
        self.cli(&["mutes", "add", MARKER]).await;
        for gateway in self.gateways {
            let deadline = tokio::time::Instant::now() + WAIT;
            while status_at(gateway, MARKER).await["mute"].is_null() {
                assert!(tokio::time::Instant::now() < deadline, "the mutes never reached {gateway}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }

    async fn finish(self) {
        if let Some((cluster, _procs)) = self.cluster {
            cluster.finish().await;
        }
    }
}

/// A tab on `gateway` from `ip`, with `device` as its device token.
async fn tab(gateway: SocketAddr, ip: &str, device: Option<&str>) -> Client {
    let path = device.map_or_else(|| "/ws".to_owned(), |d| format!("/ws?device={d}"));
    Client::connect_to(gateway, &path, &[("x-forwarded-for", ip)])
        .await
        .unwrap_or_else(|(status, body)| panic!("{ip} was refused: {status} {body}"))
}

/// Join the lobby; the `joined` frame.
async fn join(client: &mut Client, nick: &str) -> Value {
    client.send(serde_json::json!({"type": "join", "room": "lobby", "nick": nick})).await;
    client.wait_for("joined").await
}

/// Skip frames until the message `id` arrives (a message, not a `resumed` list).
async fn sees(client: &mut Client, id: &str) {
    client.wait_message(id).await;
}

async fn scenario(deployment: Deployment) {
    let [g1, g2] = deployment.gateways;
    let (device, reader_device) = (token(), token());
    // The reader, and the shadow-muted visitor's three tabs: its own, another from the same
    // address without a device, and one from another address on the same device.
    let mut reader = tab(g1, "198.51.100.90", Some(&reader_device)).await;
    let reader_token = join(&mut reader, "Reader").await["resume"].as_str().unwrap().to_owned();
    let mut own = tab(g1, SHADOWED, Some(&device)).await;
    let own_token = join(&mut own, "Sneaky").await["resume"].as_str().unwrap().to_owned();
    let mut same_address = tab(g2, SHADOWED, None).await;
    join(&mut same_address, "Sneaky2").await;
    let mut same_device = tab(g2, "192.0.2.90", Some(&device)).await;
    join(&mut same_device, "Sneaky3").await;
    let mut other = tab(g2, "198.51.100.91", Some(&token())).await;
    join(&mut other, "Other").await;
    deployment.shadow_mute().await;

    // Live: the three tabs receive it, nobody else does.
    let hidden = own.say("only mine").await;
    for client in [&mut own, &mut same_address, &mut same_device] {
        sees(client, &hidden).await;
    }
    let public = other.say("public line").await;
    for client in [&mut reader, &mut other] {
        let next = client.wait_for("message").await;
        assert_eq!(next["id"], public.as_str(), "the shadow message reached someone else: {next}");
    }
    // Nobody else can report it: it is not among what they received.
    report(&mut reader, &hidden, "spam", None).await;
    assert_eq!(answer(&mut reader).await["code"], "unknown_message");

    // Joining anew: the sender's tabs find it in the history, on either gateway; nobody else.
    let history_of = |joined: &Value| texts(&joined["history"]).into_iter().map(str::to_owned).collect::<Vec<_>>();
    let cases = [
        (g2, SHADOWED, Some(device.as_str()), "Sneaky4", true),
        (g1, SHADOWED, None, "Sneaky5", true),
        (g1, "192.0.2.92", Some(device.as_str()), "Sneaky6", true),
        (g1, "198.51.100.92", None, "Latecomer", false),
        (g2, "198.51.100.93", Some(reader_device.as_str()), "Reader2", false),
    ];
    for (gateway, ip, device, nick, shown) in cases {
        let mut client = tab(gateway, ip, device).await;
        let history = history_of(&join(&mut client, nick).await);
        assert!(history.contains(&"public line".to_owned()), "{nick}: {history:?}");
        assert_eq!(history.contains(&"only mine".to_owned()), shown, "{nick}: {history:?}");
    }

    // Resuming: the sender's tab and the reader drop; another tab of the sender's address says
    // something (shadow-muted too), then someone else; both come back on the other gateway.
    drop(own);
    drop(reader);
    same_address.say("while you were away").await;
    other.say("said aloud").await;
    let mut own = tab(g2, SHADOWED, Some(&device)).await;
    let resumed = resume(&mut own, &own_token, Some(&public)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(texts(&resumed["missed"]), ["while you were away", "said aloud"], "{resumed}");
    // The history never gives a client the sender's tags, not even the sender.
    let fields: Vec<&String> =
        resumed["missed"].as_array().unwrap().iter().flat_map(|m| m.as_object().unwrap().keys()).collect();
    assert!(
        fields.iter().all(|f| ["type", "id", "room", "nick", "text", "at", "staff"].contains(&f.as_str())),
        "{fields:?}"
    );
    let mut reader = tab(g2, "198.51.100.90", Some(&reader_device)).await;
    let resumed = resume(&mut reader, &reader_token, Some(&public)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(texts(&resumed["missed"]), ["said aloud"], "{resumed}");
    let next = reader.say("back").await;
    sees(&mut own, &next).await;
    deployment.finish().await;
}

#[tokio::test]
async fn the_shadow_muted_senders_tabs_see_its_messages_in_history_and_nobody_else_in_process() {
    scenario(Deployment::in_process().await).await;
}

#[tokio::test]
async fn the_shadow_muted_senders_tabs_see_its_messages_in_history_and_nobody_else_on_two_gateways() {
    scenario(Deployment::split().await).await;
}
