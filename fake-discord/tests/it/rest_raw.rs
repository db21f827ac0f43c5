//! Raw HTTP: headers, error bodies, validation, interactions and webhooks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fake_discord::{FakeConfig, FakeDiscord, channel_type};
use serde_json::{Value, json};

use crate::common::{id, raw};

async fn post(discord: &FakeDiscord, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let (client, auth) = raw(discord);
    let response = client
        .post(format!("{}/api/v10{path}", discord.base_url()))
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("missing header {name}"))
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let config = FakeConfig { message_rate_window: Duration::from_secs(60), ..FakeConfig::default() };
    let discord = FakeDiscord::start(config).await;
    let channel = id(&discord.create_channel("headers", channel_type::TEXT, None));
    let path = format!("/channels/{channel}/messages");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();

    let (status, headers, _) = post(&discord, &path, json!({"content": "1"})).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-ratelimit-limit"), "5");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "4");
    let reset_after: f64 = header(&headers, "x-ratelimit-reset-after").parse().unwrap();
    assert!(reset_after > 0.0 && reset_after <= 60.0);
    let reset: f64 = header(&headers, "x-ratelimit-reset").parse().unwrap();
    assert!(reset > now);
    let bucket = header(&headers, "x-ratelimit-bucket").to_owned();
    assert!(!bucket.is_empty());

    for i in 2..=5 {
        let (status, headers, _) = post(&discord, &path, json!({"content": i.to_string()})).await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "x-ratelimit-remaining"), (5 - i).to_string());
    }
    let (status, headers, body) = post(&discord, &path, json!({"content": "6"})).await;
    assert_eq!(status, 429);
    assert!(header(&headers, "retry-after").parse::<u64>().unwrap() >= 1);
    assert_eq!(header(&headers, "x-ratelimit-scope"), "user");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&headers, "x-ratelimit-bucket"), bucket);
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    assert!(body["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(discord.rate_limited_count(), 1);
    let recorded = discord.requests();
    let last = recorded.last().unwrap();
    assert_eq!((last.method.as_str(), last.path.as_str(), last.status), ("POST", path.as_str(), 429));
    assert_eq!(last.body["content"], "6");
}

#[tokio::test]
async fn global_rate_limit() {
    let config =
        FakeConfig { global_rate_limit: 3, global_rate_window: Duration::from_secs(60), ..FakeConfig::default() };
    let discord = FakeDiscord::start(config).await;
    let (client, auth) = raw(&discord);
    let url = format!("{}/api/v10/users/@me", discord.base_url());
    for _ in 0..3 {
        let response = client.get(&url).header("Authorization", &auth).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let response = client.get(&url).header("Authorization", &auth).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(header(response.headers(), "x-ratelimit-global"), "true");
    assert_eq!(header(response.headers(), "x-ratelimit-scope"), "global");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["global"], true);
}

#[tokio::test]
async fn authentication_unknown_routes_and_validation() {
    // Many posts to one channel: lift the create-message limit out of the way.
    let discord = FakeDiscord::start(FakeConfig { message_rate_limit: 100, ..FakeConfig::default() }).await;
    let (client, auth) = raw(&discord);
    let base = format!("{}/api/v10", discord.base_url());

    let response = client.get(format!("{base}/users/@me")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"message": "401: Unauthorized", "code": 0}));
    let response = client.get(format!("{base}/users/@me")).header("Authorization", "Bot wrong").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let response = client.get(format!("{base}/nothing/here")).header("Authorization", &auth).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"message": "404: Not Found", "code": 0}));
    let response = client.get(format!("{base}/channels/123")).header("Authorization", &auth).send().await.unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 10003);

    let gateway: Value = client.get(format!("{base}/gateway")).send().await.unwrap().json().await.unwrap();
    assert_eq!(gateway["url"], discord.gateway_url());
    let bot_gateway: Value = client
        .get(format!("{base}/gateway/bot"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bot_gateway["shards"], 1);
    assert!(bot_gateway["session_start_limit"]["max_concurrency"].is_number());

    let channel = id(&discord.create_channel("rules", channel_type::TEXT, None));
    let path = format!("/channels/{channel}/messages");
    let (status, _, body) = post(&discord, &path, json!({"content": "x".repeat(2001)})).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50035)));
    assert_eq!(body["errors"]["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    let (status, _, _) = post(&discord, &path, json!({"content": "é".repeat(2000)})).await;
    assert_eq!(status, 200, "2000 characters are fine, whatever their byte length");
    let (_, _, body) = post(&discord, &path, json!({"content": ""})).await;
    assert_eq!(body["code"], 50006);
    let (_, _, body) = post(&discord, &path, json!({"content": "x", "nonce": "n".repeat(26)})).await;
    assert_eq!(body["errors"]["nonce"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    let embed = json!({"title": "t".repeat(257), "description": "d".repeat(4097), "footer": {"text": "f".repeat(2049)},
        "author": {"name": "a".repeat(257)}, "fields": [{"name": "n".repeat(257), "value": "v".repeat(1025)}]});
    let (_, _, body) = post(&discord, &path, json!({"embeds": [embed]})).await;
    let errors = &body["errors"]["embeds"]["0"];
    for pointer in ["/title", "/description", "/footer/text", "/author/name", "/fields/0/name", "/fields/0/value"] {
        assert_eq!(errors.pointer(pointer).unwrap()["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH", "{pointer}");
    }
    let fields: Vec<Value> = (0..26).map(|i| json!({"name": format!("f{i}"), "value": "v"})).collect();
    let (_, _, body) = post(&discord, &path, json!({"embeds": [{"fields": fields}]})).await;
    assert_eq!(body["errors"]["embeds"]["0"]["fields"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    let (_, _, body) =
        post(&discord, &path, json!({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}})).await;
    assert_eq!(body["code"], 50035);
    let (_, _, body) = post(&discord, &path, json!({"content": "re", "message_reference": {"message_id": "1"}})).await;
    assert_eq!(body["errors"]["message_reference"]["_errors"][0]["code"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE");
    // Threads need a `type` in API v10 when not started from a message.
    let (_, _, body) = post(&discord, &format!("/channels/{channel}/threads"), json!({"name": "t"})).await;
    assert_eq!(body["errors"]["type"]["_errors"][0]["code"], "BASE_TYPE_REQUIRED");
    assert_eq!(discord.messages_in(channel).len(), 1);
}

#[tokio::test]
async fn threads_archive_and_reopen() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let parent = id(&discord.create_channel("roulette", channel_type::TEXT, None));
    let (_, _, starter) = post(&discord, &format!("/channels/{parent}/messages"), json!({"content": "pair"})).await;
    let (status, _, thread) = post(
        &discord,
        &format!("/channels/{parent}/messages/{}/threads", id(&starter)),
        json!({"name": "pair-1", "auto_archive_duration": 60}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(id(&thread), id(&starter), "a thread started from a message has the message's id");
    assert_eq!(thread["type"], 11);
    assert_eq!(thread["thread_metadata"]["archived"], false);
    let (client, auth) = raw(&discord);
    let patched: Value = client
        .patch(format!("{}/api/v10/channels/{}", discord.base_url(), id(&thread)))
        .header("Authorization", &auth)
        .json(&json!({"archived": true, "locked": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["thread_metadata"]["archived"], true);
    let (status, _, body) =
        post(&discord, &format!("/channels/{}/messages", id(&thread)), json!({"content": "late"})).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50083)));

    let (status, _, free) =
        post(&discord, &format!("/channels/{parent}/threads"), json!({"name": "Visitor Room", "type": 11})).await;
    assert_eq!(status, 201);
    assert_eq!(free["name"], "Visitor Room");
    // Discord announces it in the parent with a THREAD_CREATED system message.
    assert!(discord.messages_in(parent).iter().any(|m| m["type"] == 18 && m["content"] == "Visitor Room"));
    let events = discord.dispatched_events();
    assert!(events.iter().any(|(name, data)| name == "THREAD_CREATE" && id(data) == id(&free)));
}

#[tokio::test]
async fn interaction_deadline_double_ack_and_webhooks() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let channel = id(&discord.create_channel("mod", channel_type::TEXT, None));
    let staff = discord.staff_user();
    let app = discord.application_id();

    let (interaction, token) =
        discord.inject_slash_command(&staff, channel, "room", json!([{"name": "name", "type": 3, "value": "x"}]));
    let callback = format!("/interactions/{interaction}/{token}/callback");
    let (client, _) = raw(&discord);
    let base = discord.base_url();
    // Webhooks before any callback: unknown.
    let (status, _, _) = post(&discord, &format!("/webhooks/{app}/{token}"), json!({"content": "early"})).await;
    assert_eq!(status, 404);
    let response = client
        .post(format!("{base}/api/v10{callback}"))
        .json(&json!({"type": 5, "data": {"flags": 64}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let (status, _, body) = post(&discord, &callback, json!({"type": 4, "data": {"content": "again"}})).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(40060)));

    // The first follow-up after a deferral replaces the "thinking…" message.
    let (status, _, first) = post(&discord, &format!("/webhooks/{app}/{token}"), json!({"content": "done"})).await;
    assert_eq!(status, 200);
    let (_, _, second) =
        post(&discord, &format!("/webhooks/{app}/{token}"), json!({"content": "more", "flags": 64})).await;
    assert_ne!(id(&first), id(&second));
    let original = format!("{base}/api/v10/webhooks/{app}/{token}/messages/@original");
    let fetched: Value = client.get(&original).send().await.unwrap().json().await.unwrap();
    assert_eq!(fetched["content"], "done");
    assert_eq!(fetched["flags"], 64, "ephemeral like the deferral, no longer loading");
    let edited: Value =
        client.patch(&original).json(&json!({"content": "edited"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(edited["content"], "edited");
    assert_eq!(client.delete(&original).send().await.unwrap().status().as_u16(), 204);
    assert_eq!(client.get(&original).send().await.unwrap().status().as_u16(), 404);
    let bodies = discord.interaction_responses(interaction);
    assert_eq!(bodies[0], json!({"type": 5, "data": {"flags": 64}}));
    assert_eq!(bodies.len(), 4);
    assert!(discord.messages_in(channel).is_empty(), "ephemeral messages are not in the channel");

    // Too late: the deadline is 3 s by default; make it short here and wait past it.
    let config = FakeConfig { interaction_timeout: Duration::from_millis(200), ..FakeConfig::default() };
    let strict = FakeDiscord::start(config).await;
    let channel = id(&strict.create_channel("mod", channel_type::TEXT, None));
    let (late, token) = strict.inject_slash_command(&strict.staff_user(), channel, "room", Value::Null);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _, body) =
        post(&strict, &format!("/interactions/{late}/{token}/callback"), json!({"type": 4, "data": {"content": "hi"}}))
            .await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(10062)));
    assert_eq!(body["message"], "Unknown interaction");
}

#[tokio::test]
async fn commands_bulk_overwrite_keeps_ids() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let (client, auth) = raw(&discord);
    let url = format!(
        "{}/api/v10/applications/{}/guilds/{}/commands",
        discord.base_url(),
        discord.application_id(),
        discord.guild_id()
    );
    let commands = json!([
        {"name": "room", "description": "Manage rooms", "type": 1, "default_member_permissions": "16", "contexts": [0],
         "options": [{"name": "create", "description": "Create", "type": 1}]},
        {"name": "Ban author", "type": 3}
    ]);
    let first: Value =
        client.put(&url).header("Authorization", &auth).json(&commands).send().await.unwrap().json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 2);
    assert_eq!(first[0]["default_member_permissions"], "16");
    assert_eq!(first[0]["guild_id"], discord.guild_id().to_string());
    let again: Value =
        client.put(&url).header("Authorization", &auth).json(&commands).send().await.unwrap().json().await.unwrap();
    assert_eq!(first[0]["id"], again[0]["id"]);
    assert_eq!(discord.commands().len(), 2);
    let bad = client
        .put(&url)
        .header("Authorization", &auth)
        .json(&json!([{"name": "Room", "description": "upper case is not allowed", "type": 1}]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let listed: Value = client.get(&url).header("Authorization", &auth).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed, again);
}

#[tokio::test]
async fn component_on_an_ephemeral_message_updates_it() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let channel = id(&discord.create_channel("mod", channel_type::TEXT, None));
    let staff = discord.staff_user();
    let (menu, token) = discord.inject_slash_command(&staff, channel, "ban", Value::Null);
    let select = json!([{"type": 1, "components": [{"type": 3, "custom_id": "who", "options": [{"label": "alice", "value": "a"}]}]}]);
    let (status, _, _) = post(
        &discord,
        &format!("/interactions/{menu}/{token}/callback"),
        json!({"type": 4, "data": {"content": "Which author?", "flags": 64, "components": select}}),
    )
    .await;
    assert_eq!(status, 204);
    let ephemeral = discord.interaction_messages(menu).remove(0);
    assert!(discord.messages_in(channel).is_empty());

    let (pick, token) = discord.inject_component(&staff, channel, id(&ephemeral), "who", Some(vec!["a".to_owned()]));
    let event = discord.dispatched_events().into_iter().rev().find(|(name, _)| name == "INTERACTION_CREATE").unwrap().1;
    assert_eq!(event["message"]["id"], ephemeral["id"]);
    assert_eq!(event["data"]["values"], json!(["a"]));
    let (status, _, _) = post(
        &discord,
        &format!("/interactions/{pick}/{token}/callback"),
        json!({"type": 7, "data": {"content": "Banned alice", "components": []}}),
    )
    .await;
    assert_eq!(status, 204);
    let updated = discord.interaction_messages(menu).remove(0);
    assert_eq!(updated["content"], "Banned alice");
    assert_eq!(updated["components"], json!([]));
}
