//! Threads started without a message (the bot's room mirrors): shape, gateway events, posting,
//! archiving, Discord's errors, the thread-creation rate limit and refusals.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, ThreadRefusal, channel_type};
use poise::serenity_prelude as serenity;
use serde_json::{Value, json};

use crate::common::{http, id, raw};

async fn call(
    discord: &FakeDiscord,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let (client, auth) = raw(discord);
    let url = format!("{}/api/v10{path}", discord.base_url());
    let request = match method {
        "POST" => client.post(url),
        "PATCH" => client.patch(url),
        _ => client.get(url),
    };
    let response = request.header("Authorization", auth).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json::<Value>().await.unwrap_or(Value::Null))
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("missing header {name}")).to_owned()
}

async fn start_thread(discord: &FakeDiscord, parent: u64, name: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    call(
        discord,
        "POST",
        &format!("/channels/{parent}/threads"),
        json!({"name": name, "type": 11, "auto_archive_duration": 60, "invitable": false}),
    )
    .await
}

#[tokio::test]
async fn a_thread_without_a_message_is_a_public_thread_announced_on_the_gateway_and_takes_posts() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let parent = id(&discord.create_channel("roulette", channel_type::TEXT, None));
    let (status, headers, thread) = start_thread(&discord, parent, "pair r-1234").await;
    assert_eq!(status, 201, "{thread}");
    assert!(headers.get("x-ratelimit-remaining").is_some());
    assert_eq!(thread["type"], 11);
    assert_eq!(thread["name"], "pair r-1234");
    assert_eq!(thread["parent_id"], parent.to_string());
    assert_eq!(thread["guild_id"], discord.guild_id().to_string());
    assert_eq!(thread["owner_id"], discord.bot_user().id.to_string());
    assert_eq!(thread["member_count"], 1);
    assert_eq!(thread["message_count"], 0);
    let metadata = &thread["thread_metadata"];
    assert_eq!(metadata["archived"], false);
    assert_eq!(metadata["locked"], false);
    assert_eq!(metadata["auto_archive_duration"], 60);
    assert!(metadata["archive_timestamp"].is_string());
    assert!(metadata.get("invitable").is_none(), "invitable is for private threads only: {metadata}");
    // serenity reads it as a thread of that parent.
    let parsed: serenity::GuildChannel = serde_json::from_value(thread.clone()).unwrap();
    assert_eq!(parsed.kind, serenity::ChannelType::PublicThread);
    assert_eq!(parsed.parent_id.map(serenity::ChannelId::get), Some(parent));

    let events = discord.dispatched_events();
    let created = events.iter().find(|(name, data)| name == "THREAD_CREATE" && id(data) == id(&thread)).unwrap();
    assert_eq!(created.1["newly_created"], true);
    assert_eq!(created.1["parent_id"], parent.to_string());
    assert_eq!(discord.threads_of(parent).len(), 1);
    assert!(discord.threads_of(id(&thread)).is_empty());

    // The bot posts into the thread with the normal messages endpoint.
    let body = json!({"embeds": [{"description": "hi"}], "nonce": "n1", "enforce_nonce": true});
    let (status, _, posted) =
        call(&discord, "POST", &format!("/channels/{}/messages", id(&thread)), body.clone()).await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted["channel_id"], thread["id"]);
    let (_, _, again) = call(&discord, "POST", &format!("/channels/{}/messages", id(&thread)), body).await;
    assert_eq!(id(&again), id(&posted), "the nonce deduplicates in threads too");
    assert_eq!(discord.messages_in(id(&thread)).len(), 1);
    assert_eq!(discord.channel(id(&thread)).unwrap()["message_count"], 1);
    assert!(
        discord.messages_in(parent).iter().all(|m| m["type"] == 18),
        "the parent holds only the THREAD_CREATED notice"
    );
    // A staff member answers in the thread.
    let staff = discord.staff_user();
    let reply = discord.inject_message(id(&thread), &staff, "hello pair");
    assert_eq!(reply["channel_id"], thread["id"]);
    let events = discord.dispatched_events();
    assert!(events.iter().any(|(name, data)| name == "MESSAGE_CREATE"
        && data["channel_id"] == thread["id"]
        && data["content"] == "hello pair"
        && data["guild_id"].as_str() == Some(discord.guild_id().to_string().as_str())));
    // Active threads list it until it is archived.
    let (_, _, active) =
        call(&discord, "GET", &format!("/guilds/{}/threads/active", discord.guild_id()), Value::Null).await;
    assert!(active["threads"].as_array().unwrap().iter().any(|t| id(t) == id(&thread)));
}

#[tokio::test]
async fn archiving_and_locking_a_thread_fires_thread_update_and_refuses_later_posts() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let parent = id(&discord.create_channel("visitor-rooms", channel_type::TEXT, None));
    let (_, _, thread) = start_thread(&discord, parent, "Movie night").await;
    let thread_id = id(&thread);
    let (status, _, archived) =
        call(&discord, "PATCH", &format!("/channels/{thread_id}"), json!({"archived": true, "locked": true})).await;
    assert_eq!(status, 200, "{archived}");
    assert_eq!(archived["thread_metadata"]["archived"], true);
    assert_eq!(archived["thread_metadata"]["locked"], true);
    assert!(discord.dispatched_events().iter().any(|(name, data)| name == "THREAD_UPDATE"
        && id(data) == thread_id
        && data["thread_metadata"]["archived"] == true));
    let (status, _, refused) =
        call(&discord, "POST", &format!("/channels/{thread_id}/messages"), json!({"content": "late"})).await;
    assert_eq!((status, refused["code"].as_u64()), (400, Some(50083)));
    // A member without Manage Threads cannot write in the locked thread either.
    let visitor = discord.add_user("member", &[]);
    let refused = discord.inject_message(thread_id, &visitor, "anyone?");
    assert_eq!(refused["code"], 50083);
    assert!(discord.messages_in(thread_id).is_empty());
    let (_, _, active) =
        call(&discord, "GET", &format!("/guilds/{}/threads/active", discord.guild_id()), Value::Null).await;
    assert!(active["threads"].as_array().unwrap().is_empty());
    assert_eq!(discord.threads_of(parent).len(), 1, "archived threads are still listed by threads_of");

    // Archived but not locked: the next post reopens it.
    let (_, _, other) = start_thread(&discord, parent, "Book club").await;
    call(&discord, "PATCH", &format!("/channels/{}", id(&other)), json!({"archived": true})).await;
    let (status, _, _) =
        call(&discord, "POST", &format!("/channels/{}/messages", id(&other)), json!({"content": "back"})).await;
    assert_eq!(status, 200);
    assert_eq!(discord.channel(id(&other)).unwrap()["thread_metadata"]["archived"], false);
}

#[tokio::test]
async fn thread_creation_answers_discords_errors() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let parent = id(&discord.create_channel("roulette", channel_type::TEXT, None));
    let (status, _, body) = start_thread(&discord, parent, &"x".repeat(101)).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50035)));
    assert_eq!(body["errors"]["name"]["_errors"][0]["code"], "BASE_TYPE_BAD_LENGTH");
    let (status, _, body) = start_thread(&discord, parent, "").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50035)));
    let (status, _, body) = call(
        &discord,
        "POST",
        &format!("/channels/{parent}/threads"),
        json!({"name": "t", "type": 11, "auto_archive_duration": 61}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"]["auto_archive_duration"]["_errors"][0]["code"], "BASE_TYPE_CHOICES");
    let (status, _, body) = start_thread(&discord, 42_424_242_424_242_424, "t").await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(10003)));
    let (_, _, thread) = start_thread(&discord, parent, "t").await;
    let (status, _, body) = start_thread(&discord, id(&thread), "nested").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50024)), "no thread in a thread");
    let category = id(&discord.create_channel("Rooms", channel_type::CATEGORY, None));
    let (status, _, _) = start_thread(&discord, category, "t").await;
    assert_eq!(status, 400);
    assert_eq!(discord.threads_of(parent).len(), 1);
}

#[tokio::test]
async fn thread_creation_has_its_own_rate_limit_bucket_per_parent() {
    let discord = FakeDiscord::start(FakeConfig {
        thread_rate_limit: 2,
        thread_rate_window: Duration::from_secs(60),
        ..FakeConfig::default()
    })
    .await;
    let parent = id(&discord.create_channel("roulette", channel_type::TEXT, None));
    let other = id(&discord.create_channel("visitor-rooms", channel_type::TEXT, None));
    let (status, headers, _) = start_thread(&discord, parent, "pair 1").await;
    assert_eq!(status, 201);
    assert_eq!(header(&headers, "x-ratelimit-limit"), "2");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "1");
    let bucket = header(&headers, "x-ratelimit-bucket");
    // Starting a thread from a message counts against the same bucket.
    let (_, _, starter) =
        call(&discord, "POST", &format!("/channels/{parent}/messages"), json!({"content": "pair 2"})).await;
    let (status, headers, _) = call(
        &discord,
        "POST",
        &format!("/channels/{parent}/messages/{}/threads", id(&starter)),
        json!({"name": "pair 2"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&headers, "x-ratelimit-bucket"), bucket);

    let (status, headers, body) = start_thread(&discord, parent, "pair 3").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    let retry_after = body["retry_after"].as_f64().unwrap();
    assert!(retry_after > 50.0 && retry_after <= 60.0, "{retry_after}");
    assert!(body.get("code").is_none(), "Discord's 429 body has no code");
    assert_eq!(header(&headers, "retry-after").parse::<f64>().unwrap(), retry_after.ceil());
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&headers, "x-ratelimit-scope"), "shared");
    assert!(header(&headers, "x-ratelimit-reset-after").parse::<f64>().unwrap() > 50.0);
    assert!(headers.get("x-ratelimit-global").is_none());
    assert_eq!(discord.threads_of(parent).len(), 2, "nothing created by the refused request");
    assert_eq!(discord.rate_limited_count(), 1);

    // Another parent has its own bucket, and messages are not limited by thread creation.
    assert_eq!(start_thread(&discord, other, "room").await.0, 201);
    let (status, _, _) =
        call(&discord, "POST", &format!("/channels/{parent}/messages"), json!({"content": "still fine"})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refused_thread_creation_answers_the_configured_error_until_cleared() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let parent = id(&discord.create_channel("roulette", channel_type::TEXT, None));
    discord.refuse_thread_creation(Some(ThreadRefusal::MissingAccess));
    let (status, headers, body) = start_thread(&discord, parent, "pair").await;
    assert_eq!(status, 403);
    assert_eq!(body, json!({"message": "Missing Access", "code": 50001}));
    assert!(headers.get("x-ratelimit-remaining").is_some(), "refusals are routed and counted like any request");
    discord.refuse_thread_creation(Some(ThreadRefusal::MaxActiveThreads));
    let (status, _, body) = start_thread(&discord, parent, "pair").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(160_006)));
    // serenity sees Discord's error code.
    let error = http(&discord)
        .create_thread(
            serenity::ChannelId::new(parent),
            &json!({"name": "pair", "type": 11, "auto_archive_duration": 60}),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(crate::common::code_of(&error), Some(160_006));
    assert!(discord.threads_of(parent).is_empty());
    // Posting in the parent still works (the bot's fallback).
    let (status, _, _) =
        call(&discord, "POST", &format!("/channels/{parent}/messages"), json!({"content": "fallback"})).await;
    assert_eq!(status, 200);
    discord.refuse_thread_creation(None);
    assert_eq!(start_thread(&discord, parent, "pair").await.0, 201);
    assert_eq!(discord.threads_of(parent).len(), 1);
}
