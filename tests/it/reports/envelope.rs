//! The device tag and the sender envelope, through real sockets.

use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use super::{message_with, token, visitor};
use crate::abuse::{fresh_prefix, redis_url, spawn_on_redis, spawn_proxied};
use crate::support::WAIT;

#[tokio::test]
async fn the_log_keeps_the_device_tag_never_the_token() {
    let app = spawn_proxied(&[]).await;
    let (first, second) = (token(), token());
    let mut a = visitor(&app, "203.0.113.1", Some(&first)).await;
    let mut again = visitor(&app, "203.0.113.2", Some(&first)).await;
    let mut b = visitor(&app, "203.0.113.3", Some(&second)).await;
    let mut none = visitor(&app, "203.0.113.4", None).await;
    let mut bad = visitor(&app, "203.0.113.5", Some("short")).await;
    let mut ids = Vec::new();
    for (client, nick) in [(&mut a, "Ann"), (&mut again, "Ann2"), (&mut b, "Bea"), (&mut none, "Cy"), (&mut bad, "Di")]
    {
        client.join("lobby", nick).await;
        ids.push(client.say(&format!("from {nick}")).await);
    }
    let db = app.db().await;
    let mut tags: Vec<Option<String>> = Vec::new();
    for id in &ids {
        let sql = format!("SELECT device_tag FROM message_log WHERE id = '{id}'");
        let deadline = tokio::time::Instant::now() + WAIT;
        let row = loop {
            let found = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.clone())).await.unwrap();
            if let Some(found) = found {
                break found.try_get::<Option<String>>("", "device_tag").unwrap();
            }
            assert!(tokio::time::Instant::now() < deadline, "message {id} was never logged");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        tags.push(row);
    }
    let tag = tags[0].clone().expect("a device tag");
    assert_eq!(tag.len(), 12);
    assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
    assert!(!first.contains(&tag) && !second.contains(&tag), "the tag is a keyed hash, not the token");
    assert_eq!(tags[1].as_deref(), Some(tag.as_str()), "one token, one tag, whatever the address");
    assert!(tags[2].as_ref().is_some_and(|t| *t != tag), "another token, another tag");
    assert_eq!((tags[3].as_deref(), tags[4].as_deref()), (None, None), "no token, or an invalid one: no tag");
    // The raw token is nowhere in the log.
    let sql = format!("SELECT COUNT(*) AS n FROM message_log WHERE device_tag = '{first}' OR text LIKE '%{first}%'");
    let n: i64 = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_frame_for_the_sender_only_reaches_its_address_and_device_on_two_gateways() {
    let prefix = fresh_prefix();
    let settings = [("IP_TAG_SECRET", "one-secret-for-every-gateway")];
    let one = spawn_on_redis(&prefix, &settings).await;
    let two = spawn_on_redis(&prefix, &settings).await;
    // The test listens to the lobby's channel as a gateway does.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(format!("{prefix}:{{lobby}}:events")).await.unwrap();
    let mut channel = pubsub.into_on_message();

    let device = token();
    let mut sender = visitor(&one, "203.0.113.10", Some(&device)).await;
    let mut same_address = visitor(&two, "203.0.113.10", None).await;
    let mut same_device = visitor(&two, "198.51.100.20", Some(&device)).await;
    let mut stranger_one = visitor(&one, "198.51.100.30", Some(&token())).await;
    let mut stranger_two = visitor(&two, "198.51.100.40", None).await;
    for (i, client) in
        [&mut sender, &mut same_address, &mut same_device, &mut stranger_one, &mut stranger_two].into_iter().enumerate()
    {
        client.join("lobby", &format!("Guest{i}")).await;
    }

    // An ordinary message: its published frame carries the envelope, clients get plain JSON.
    let id = sender.say("hello").await;
    let published = loop {
        let message = tokio::time::timeout(WAIT, channel.next()).await.unwrap().unwrap();
        let payload = message.get_payload_bytes().to_vec();
        if payload.windows(id.len()).any(|w| w == id.as_bytes()) {
            break payload;
        }
    };
    assert_eq!(&published[..3], b"\x001*", "an envelope, version 1, for everyone");
    let device_tag = std::str::from_utf8(&published[27..39]).unwrap();
    assert!(device_tag.bytes().all(|b| b.is_ascii_hexdigit()), "the device tag, not {device_tag:?}");
    assert!(!published.windows(device.len()).any(|w| w == device.as_bytes()), "the token never goes on the bus");
    assert_eq!(std::str::from_utf8(&published[39..65]).unwrap(), id);
    for client in [&mut sender, &mut same_address, &mut same_device, &mut stranger_one, &mut stranger_two] {
        let frame = message_with(client, "hello").await;
        assert_eq!(frame["id"], id.as_str());
    }

    // The same sender, restricted to its address and device (what a shadow mute publishes).
    let hidden = ulid::Ulid::new().to_string();
    let frame = json!({"type": "message", "id": hidden, "room": "lobby", "nick": "Guest0", "text": "only mine",
        "at": chrono::Utc::now(), "staff": false});
    let mut restricted = published[..66 + usize::from(published[65])].to_vec();
    restricted[2] = b'=';
    restricted[39..65].copy_from_slice(hidden.as_bytes());
    restricted.extend_from_slice(frame.to_string().as_bytes());
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}:{{lobby}}:events"))
        .arg(restricted)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap();
    let after = sender.say("after").await;
    for client in [&mut sender, &mut same_address, &mut same_device] {
        assert_eq!(message_with(client, "only mine").await["id"], hidden.as_str());
        assert_eq!(message_with(client, "after").await["id"], after.as_str());
    }
    for client in [&mut stranger_one, &mut stranger_two] {
        let next = client.wait_for("message").await;
        assert_eq!(next["id"], after.as_str(), "the restricted frame never reached a stranger: {next}");
    }
    // A malformed envelope is dropped, not delivered as text.
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}:{{lobby}}:events"))
        .arg(b"\x009garbage".to_vec())
        .query_async::<i64>(&mut conn)
        .await
        .unwrap();
    let last = sender.say("last").await;
    assert_eq!(stranger_two.wait_for("message").await["id"], last.as_str());
    tokio::time::sleep(Duration::from_millis(10)).await;
    let _ = bus::redis::delete_prefix(&redis_url(), &prefix).await;
}
