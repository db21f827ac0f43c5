//! The gateway protocol frame by frame, with a plain WebSocket client.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, channel_type};
use futures_util::{SinkExt, StreamExt};
use poise::serenity_prelude as serenity;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{WAIT, id};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(discord: &FakeDiscord) -> Socket {
    let url = format!("{}?v=10&encoding=json", discord.gateway_url());
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next JSON frame, or `Err(close code)`.
async fn next(socket: &mut Socket) -> Result<Value, Option<u16>> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next()).await.expect("a frame in time");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
}

async fn send(socket: &mut Socket, value: Value) {
    socket.send(Message::text(value.to_string())).await.unwrap();
}

fn identify(token: &str, intents: u64) -> Value {
    json!({"op": 2, "d": {"token": token, "intents": intents, "compress": true, "large_threshold": 250,
        "shard": [0, 1], "properties": {"os": "linux", "browser": "test", "device": "test"}}})
}

const INTENTS: u64 = (1 << 0) | (1 << 9) | (1 << 15);

#[tokio::test]
async fn hello_heartbeat_and_bad_token() {
    let config = FakeConfig { heartbeat_interval: Duration::from_millis(500), ..FakeConfig::default() };
    let discord = FakeDiscord::start(config).await;
    let mut socket = connect(&discord).await;
    let hello = next(&mut socket).await.unwrap();
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 500);
    send(&mut socket, json!({"op": 1, "d": null})).await;
    assert_eq!(next(&mut socket).await.unwrap()["op"], 11);
    send(&mut socket, identify("Bot wrong", INTENTS)).await;
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(4004));

    let mut socket = connect(&discord).await;
    next(&mut socket).await.unwrap();
    send(&mut socket, json!({"op": 99, "d": null})).await;
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(4001));

    let mut socket = connect(&discord).await;
    next(&mut socket).await.unwrap();
    send(&mut socket, identify(discord.token(), INTENTS | (1 << 1))).await;
    assert_eq!(next(&mut socket).await.unwrap()["t"], "READY");
    assert_eq!(next(&mut socket).await.unwrap()["t"], "GUILD_CREATE");
    send(&mut socket, identify(discord.token(), INTENTS)).await;
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(4005));

    let strict = FakeDiscord::start(FakeConfig { allowed_privileged_intents: 0, ..FakeConfig::default() }).await;
    let mut socket = connect(&strict).await;
    next(&mut socket).await.unwrap();
    send(&mut socket, identify(strict.token(), INTENTS)).await;
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(4014));
}

#[tokio::test]
async fn ready_guild_create_dispatch_and_resume_replay() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let lobby = id(&discord.create_channel("lobby", channel_type::TEXT, None));
    let user = discord.add_user("visitor", &[]);

    let mut socket = connect(&discord).await;
    next(&mut socket).await.unwrap();
    send(&mut socket, identify(&format!("Bot {}", discord.token()), INTENTS)).await;
    let ready = next(&mut socket).await.unwrap();
    assert_eq!((ready["op"].as_u64(), ready["t"].as_str(), ready["s"].as_u64()), (Some(0), Some("READY"), Some(1)));
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["user"]["username"], "chatroulette-bot");
    assert_eq!(d["guilds"], json!([{"id": discord.guild_id().to_string(), "unavailable": true}]));
    assert_eq!(d["resume_gateway_url"], discord.gateway_url());
    assert_eq!(d["application"]["id"], discord.application_id().to_string());
    assert_eq!(d["shard"], json!([0, 1]));
    let session = d["session_id"].as_str().unwrap().to_owned();
    serde_json::from_value::<serenity::Ready>(d.clone()).unwrap();

    let guild = next(&mut socket).await.unwrap();
    assert_eq!((guild["t"].as_str(), guild["s"].as_u64()), (Some("GUILD_CREATE"), Some(2)));
    let parsed: serenity::Guild = serde_json::from_value(guild["d"].clone()).unwrap();
    assert_eq!(parsed.channels.len(), 1);
    assert_eq!(parsed.members.len(), 3);
    let everyone = &parsed.roles[&serenity::RoleId::new(discord.guild_id())];
    assert_eq!(everyone.name, "@everyone");
    assert!(parsed.roles.values().any(|r| r.name == "Moderator"));

    discord.inject_message(lobby, &user, "one");
    let created = next(&mut socket).await.unwrap();
    assert_eq!((created["t"].as_str(), created["s"].as_u64()), (Some("MESSAGE_CREATE"), Some(3)));
    assert_eq!(created["d"]["guild_id"], discord.guild_id().to_string());
    assert!(created["d"]["member"]["roles"].is_array());
    serde_json::from_value::<serenity::Message>(created["d"].clone()).unwrap();

    // The client loses the connection; two events happen meanwhile.
    drop(socket);
    discord.inject_message(lobby, &user, "two");
    discord.inject_message(lobby, &user, "three");
    let mut socket = connect(&discord).await;
    next(&mut socket).await.unwrap();
    send(&mut socket, json!({"op": 6, "d": {"token": discord.token(), "session_id": session, "seq": 3}})).await;
    let replayed: Vec<Value> = vec![next(&mut socket).await.unwrap(), next(&mut socket).await.unwrap()];
    assert_eq!(replayed[0]["s"], 4);
    assert_eq!(replayed[0]["d"]["content"], "two");
    assert_eq!(replayed[1]["d"]["content"], "three");
    let resumed = next(&mut socket).await.unwrap();
    assert_eq!((resumed["t"].as_str(), resumed["s"].as_u64()), (Some("RESUMED"), Some(6)));

    // Unknown session → INVALID_SESSION false.
    let mut other = connect(&discord).await;
    next(&mut other).await.unwrap();
    send(&mut other, json!({"op": 6, "d": {"token": discord.token(), "session_id": "nope", "seq": 1}})).await;
    assert_eq!(next(&mut other).await.unwrap(), json!({"op": 9, "d": false, "s": null, "t": null}));

    // A clean close (1000) ends the session, like on Discord.
    let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    socket.close(Some(normal)).await.unwrap();
    drop(other);
    assert!(discord.wait_until(|d| d.connected_sessions() == 0, WAIT).await);
    let mut again = connect(&discord).await;
    next(&mut again).await.unwrap();
    send(&mut again, json!({"op": 6, "d": {"token": discord.token(), "session_id": session, "seq": 6}})).await;
    assert_eq!(next(&mut again).await.unwrap()["op"], 9);
}
