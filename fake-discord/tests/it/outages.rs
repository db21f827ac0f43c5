//! REST failing on command: 5xx for a while (with and without the request carried out) and
//! 429 storms with Discord's headers and body.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, Outage, channel_type};
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
    (status, headers, response.json::<Value>().await.unwrap_or(Value::Null))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("missing header {name}"))
}

#[tokio::test]
async fn a_5xx_outage_answers_every_request_until_it_ends() {
    let discord = FakeDiscord::start(FakeConfig { message_rate_limit: 100, ..FakeConfig::default() }).await;
    let channel = id(&discord.create_channel("outage", channel_type::TEXT, None));
    let path = format!("/channels/{channel}/messages");

    discord.start_outage(Outage::ServerError { status: 502, processed: false }, Duration::from_secs(60));
    assert!(discord.in_outage());
    let (status, _, body) = post(&discord, &path, json!({"content": "lost"})).await;
    assert_eq!((status, body), (502, json!({"message": "502: Bad Gateway", "code": 0})));
    assert!(discord.messages_in(channel).is_empty(), "nothing is carried out");

    // Carried out, answer lost: the nonce makes the retry return the same message.
    discord.start_outage(Outage::ServerError { status: 500, processed: true }, Duration::from_secs(60));
    let body = json!({"content": "kept", "nonce": "n-1", "enforce_nonce": true});
    let (status, _, answer) = post(&discord, &path, body.clone()).await;
    assert_eq!((status, answer["message"].as_str()), (500, Some("500: Internal Server Error")));
    assert_eq!(discord.messages_in(channel).len(), 1);
    assert_eq!(discord.outage_answers(), 1);

    discord.end_outage();
    assert!(!discord.in_outage());
    let (status, _, answer) = post(&discord, &path, body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["content"], "kept");
    assert_eq!(discord.messages_in(channel).len(), 1, "the retry returned the stored message");

    // An outage ends by itself.
    discord.start_outage(Outage::ServerError { status: 503, processed: false }, Duration::from_millis(200));
    assert_eq!(post(&discord, &path, json!({"content": "x"})).await.0, 503);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(post(&discord, &path, json!({"content": "y"})).await.0, 200);
}

#[tokio::test]
async fn a_429_storm_carries_discords_headers_and_body() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let channel = id(&discord.create_channel("storm", channel_type::TEXT, None));
    let path = format!("/channels/{channel}/messages");

    discord.start_outage(
        Outage::RateLimited { retry_after: Duration::from_millis(1500), global: false },
        Duration::from_secs(60),
    );
    let (status, headers, body) = post(&discord, &path, json!({"content": "first of the day"})).await;
    assert_eq!(status, 429, "even the first request");
    assert_eq!(header(&headers, "retry-after"), "2");
    assert_eq!(header(&headers, "x-ratelimit-scope"), "user");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&headers, "x-ratelimit-reset-after"), "1.500");
    assert!(!header(&headers, "x-ratelimit-bucket").is_empty());
    assert!(headers.get("x-ratelimit-global").is_none());
    assert_eq!(body, json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false}));

    discord.start_outage(
        Outage::RateLimited { retry_after: Duration::from_secs(3), global: true },
        Duration::from_secs(60),
    );
    let (status, headers, body) = post(&discord, &path, json!({"content": "again"})).await;
    assert_eq!(status, 429);
    assert_eq!(header(&headers, "x-ratelimit-global"), "true");
    assert_eq!(header(&headers, "x-ratelimit-scope"), "global");
    assert_eq!(body["global"], true);
    assert_eq!(discord.rate_limited_count(), 2);
    assert!(discord.messages_in(channel).is_empty());

    discord.end_outage();
    assert_eq!(post(&discord, &path, json!({"content": "through"})).await.0, 200);
}
