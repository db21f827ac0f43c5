//! Issue 29, reactions on the gateway side: `react` toggles one reaction per device (per
//! connection without one), the room gets the totals and the reactor's device its `mine`, the
//! history carries them, across two gateways on Redis; the address's rate limit, a plain mute
//! refused, a shadow mute kept to the reactor.

use serde_json::{Value, json};

use crate::abuse::{fresh_prefix, redis_keys, redis_url, spawn_on_redis, spawn_proxied};
use crate::moderation::cli;
use crate::reports::{token, visitor};
use crate::sanctions::until_status;
use crate::support::*;

/// Skip frames until a `reactions` frame about `id` arrives.
async fn reactions_of(client: &mut Client, id: &str) -> Value {
    loop {
        let frame = client.wait_for("reactions").await;
        if frame["id"] == id {
            return frame;
        }
    }
}

/// Skip frames until a `reactions` frame about `id` carrying `mine` arrives.
async fn mine_of(client: &mut Client, id: &str) -> Value {
    loop {
        let frame = reactions_of(client, id).await;
        if frame.get("mine").is_some() {
            return frame;
        }
    }
}

async fn react(client: &mut Client, id: &str, emoji: &str) {
    client.send(json!({"type": "react", "id": id, "emoji": emoji})).await;
}

/// No `reactions` frame reaches `client` before its answer to a ping: what was sent to the room
/// before the ping did not reach it.
async fn no_reactions_before_pong(client: &mut Client) {
    client.send(json!({"type": "ping"})).await;
    loop {
        let frame = client.next().await;
        match frame["type"].as_str() {
            Some("pong") => return,
            Some("reactions") => panic!("a reaction reached someone: {frame}"),
            _ => continue,
        }
    }
}

/// Skip room traffic (reactions included) until an `error`, which must carry `code`.
async fn error_of(client: &mut Client, code: &str) -> Value {
    loop {
        let frame = client.next().await;
        if frame["type"] == "error" {
            assert_eq!(frame["code"], code, "{frame}");
            return frame;
        }
    }
}

#[tokio::test]
async fn reactions_toggle_per_device_reach_the_room_and_stay_in_the_history() {
    let app = spawn_proxied(&[]).await;
    let device = token();
    let mut tab = visitor(&app, "203.0.113.70", Some(&device)).await;
    let mut other_tab = visitor(&app, "198.51.100.70", Some(&device)).await;
    let mut bea = visitor(&app, "203.0.113.71", None).await;
    // Another visitor behind the same address as the reactor: the room's totals, never `mine`.
    let mut neighbour = visitor(&app, "203.0.113.70", None).await;
    assert_eq!(tab.hello["limits"]["reactions"], json!(["👍", "❤️", "😂", "😮", "😢", "👎"]));
    tab.join("lobby", "Ann").await;
    other_tab.join("lobby", "Ann2").await;
    bea.join("lobby", "Bea").await;
    neighbour.join("lobby", "Nea").await;
    let id = bea.say("react to me").await;

    react(&mut tab, &id, "👍").await;
    let own = mine_of(&mut tab, &id).await;
    assert_eq!(own, json!({"type": "reactions", "id": id, "counts": {"👍": 1}, "mine": ["👍"]}));
    assert_eq!(mine_of(&mut other_tab, &id).await["mine"], json!(["👍"]), "the device's other tab");
    let seen = reactions_of(&mut bea, &id).await;
    assert_eq!(seen, json!({"type": "reactions", "id": id, "counts": {"👍": 1}}));
    assert_eq!(reactions_of(&mut neighbour, &id).await, seen);

    // The same device from its other tab: one reaction per device, so this takes it back.
    react(&mut other_tab, &id, "👍").await;
    assert_eq!(mine_of(&mut other_tab, &id).await["mine"], json!([]));
    assert_eq!(reactions_of(&mut bea, &id).await["counts"], json!({}));
    // A connection without a device reacts for itself; two emoji from one device.
    react(&mut bea, &id, "👍").await;
    assert_eq!(
        mine_of(&mut bea, &id).await,
        json!({"type": "reactions", "id": id, "counts": {"👍": 1}, "mine": ["👍"]})
    );
    react(&mut tab, &id, "👍").await;
    react(&mut tab, &id, "😂").await;
    let own = loop {
        let frame = mine_of(&mut tab, &id).await;
        if frame["mine"].as_array().is_some_and(|m| m.len() == 2) {
            break frame;
        }
    };
    assert_eq!(own["counts"], json!({"👍": 2, "😂": 1}));
    assert_eq!(own["mine"], json!(["👍", "😂"]));
    // The neighbour saw every change, and never a `mine`.
    loop {
        let frame = reactions_of(&mut neighbour, &id).await;
        assert!(frame.get("mine").is_none(), "{frame}");
        if frame["counts"] == json!({"👍": 2, "😂": 1}) {
            break;
        }
    }

    // A joiner's history carries the totals.
    let (_late, joined) = app.joined("lobby", "Late").await;
    let message = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).unwrap().clone();
    assert_eq!(message["reactions"], json!({"counts": {"👍": 2, "😂": 1}}));

    // Refusals: an emoji not offered, an unknown message, outside a room.
    react(&mut bea, &id, "🍕").await;
    let refused = error_of(&mut bea, "bad_frame").await;
    assert!(refused["message"].as_str().unwrap().contains("👍"), "{refused}");
    react(&mut bea, &ulid::Ulid::new().to_string(), "👍").await;
    error_of(&mut bea, "unknown_message").await;
    let mut outside = visitor(&app, "203.0.113.72", None).await;
    react(&mut outside, &id, "👍").await;
    error_of(&mut outside, "not_in_room").await;
    bea.send(json!({"type": "react", "id": "nope", "emoji": "👍"})).await;
    error_of(&mut bea, "bad_frame").await;
}

#[tokio::test]
async fn the_offered_set_is_the_reactions_setting_and_the_address_is_rate_limited() {
    let app = spawn_proxied(&[("REACTIONS", "🎉,🔥")]).await;
    let mut ann = visitor(&app, "2001:db8:7:1::1", None).await;
    // Another address of the same IPv6 /64: the same budget.
    let mut same_net = visitor(&app, "2001:db8:7:1::2", None).await;
    assert_eq!(ann.hello["limits"]["reactions"], json!(["🎉", "🔥"]));
    ann.join("lobby", "Ann").await;
    same_net.join("lobby", "Sam").await;
    let id = ann.say("fast fingers").await;
    react(&mut ann, &id, "👍").await;
    error_of(&mut ann, "bad_frame").await;
    // 20 at once per address (the 👍 above spent none), then about 2 a second.
    for _ in 0..10 {
        react(&mut ann, &id, "🎉").await;
        react(&mut same_net, &id, "🔥").await;
    }
    for _ in 0..10 {
        react(&mut same_net, &id, "🔥").await;
    }
    let refused = error_of(&mut same_net, "rate_limited").await;
    assert!(refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0 && ms <= 1000), "{refused}");
    // Another address is not held back.
    let mut other = visitor(&app, "2001:db8:7:2::1", None).await;
    other.join("lobby", "Oli").await;
    react(&mut other, &id, "🔥").await;
    assert_eq!(mine_of(&mut other, &id).await["mine"], json!(["🔥"]));
}

#[tokio::test]
async fn a_muted_visitor_is_refused_and_a_shadow_muted_ones_reactions_reach_nobody_else() {
    let app = crate::moderation::spawn_behind_proxy(&[]).await;
    let (loud, shadowed) = ("203.0.113.73", "203.0.113.74");
    let mut muted = visitor(&app, loud, None).await;
    muted.join("lobby", "Loud").await;
    let device = token();
    let mut sneaky = visitor(&app, shadowed, Some(&device)).await;
    sneaky.join("lobby", "Sneaky").await;
    let mut other = visitor(&app, "198.51.100.74", None).await;
    other.join("lobby", "Reader").await;
    let id = other.say("a fine message").await;
    cli(&app, &["mutes", "add", shadowed, "--shadow", "--reason", "spam wave"]).await;
    cli(&app, &["mutes", "add", loud]).await;
    until_status(&app, loud, |b| !b["mute"].is_null()).await;

    react(&mut muted, &id, "👍").await;
    let refused = error_of(&mut muted, "muted").await;
    assert!(refused.get("expires").is_some(), "{refused}");

    // Shadow: the reactor sees its reaction counted, as if it were.
    react(&mut sneaky, &id, "❤️").await;
    let own = mine_of(&mut sneaky, &id).await;
    assert_eq!(own, json!({"type": "reactions", "id": id, "counts": {"❤️": 1}, "mine": ["❤️"]}));
    // Nobody else: no frame reached the reader.
    no_reactions_before_pong(&mut other).await;
    // Nor the history.
    let (_late, joined) = app.joined("lobby", "Late").await;
    let message = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).unwrap().clone();
    assert!(message.get("reactions").is_none(), "{message}");
    // A real reaction counts without the shadow one; the reader's view was never touched.
    react(&mut other, &id, "👍").await;
    assert_eq!(mine_of(&mut other, &id).await["counts"], json!({"👍": 1}));
    // The shadow reactor's view does not drop to the others': right after the room's frame its
    // device gets the totals with its own reaction still in them.
    let again = mine_of(&mut sneaky, &id).await;
    assert_eq!(again, json!({"type": "reactions", "id": id, "counts": {"❤️": 1, "👍": 1}, "mine": ["❤️"]}));
}

#[tokio::test]
async fn reactions_are_shared_by_two_gateways_on_redis() {
    let prefix = fresh_prefix();
    let settings = [("IP_TAG_SECRET", "one-secret-for-every-gateway")];
    let one = spawn_on_redis(&prefix, &settings).await;
    let two = spawn_on_redis(&prefix, &settings).await;
    let device = token();
    let mut ann = visitor(&one, "203.0.113.80", Some(&device)).await;
    let mut ann_phone = visitor(&two, "198.51.100.80", Some(&device)).await;
    let mut bea = visitor(&two, "203.0.113.81", None).await;
    ann.join("lobby", "Ann").await;
    ann_phone.join("lobby", "AnnPhone").await;
    bea.join("lobby", "Bea").await;
    let id = bea.say("across gateways").await;

    react(&mut ann, &id, "😮").await;
    assert_eq!(mine_of(&mut ann, &id).await["mine"], json!(["😮"]));
    assert_eq!(mine_of(&mut ann_phone, &id).await["mine"], json!(["😮"]), "the device's tab on the other gateway");
    assert_eq!(reactions_of(&mut bea, &id).await["counts"], json!({"😮": 1}));
    // From the other gateway, the same device takes it back; Bea adds one there.
    react(&mut ann_phone, &id, "😮").await;
    assert_eq!(mine_of(&mut ann, &id).await["mine"], json!([]));
    react(&mut bea, &id, "😢").await;
    assert_eq!(mine_of(&mut bea, &id).await["counts"], json!({"😢": 1}));
    // History read through either gateway carries the totals.
    for app in [&one, &two] {
        let (_late, joined) = app.joined("lobby", &format!("Late{}", app.addr.port() % 1000)).await;
        let message = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).unwrap().clone();
        assert_eq!(message["reactions"], json!({"counts": {"😢": 1}}));
    }
    // The reactors' keys live under the room's hash tag, with a TTL.
    let keys = redis_keys(&prefix, &format!("{{lobby}}:reactors:{id}")).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0, "{ttl}");
}
