//! Rooms visitors open: capacity, invite links, listing, the per-address limit, and the end
//! of an empty room. Also the landing page's `/api/info`.

use serde_json::json;

use crate::moderation::spawn_behind_proxy;
use crate::support::*;

async fn create(client: &mut Client, title: &str, capacity: u32, listed: bool) -> (String, String) {
    client.send(json!({"type": "create", "title": title, "capacity": capacity, "listed": listed})).await;
    let created = client.expect("created").await;
    let room = created["room"].as_str().unwrap().to_owned();
    (room, created["invite"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_visitor_room_holds_its_capacity_is_joined_by_invite_and_ends_when_empty() {
    let app = spawn_app_with(&[("VISITOR_ROOM_IDLE_SECS", "1")]).await;
    let mut host = app.client().await;
    let (room, invite) = create(&mut host, "  Movie   night ", 2, false).await;
    assert!(room.starts_with("v-") && room.len() == 22, "{room}");
    assert_eq!(invite, format!("/?room={room}"));
    // Unlisted: not in the list, but the invite link finds it.
    assert!(app.get_json("/api/rooms").await.as_array().unwrap().iter().all(|r| r["slug"] != room.as_str()));
    let info = app.get_json(&format!("/api/rooms/{room}")).await;
    assert_eq!(
        (info["title"].as_str(), info["capacity"].as_u64(), info["kind"].as_str()),
        (Some("Movie night"), Some(2), Some("visitor"))
    );
    let (status, _, page) = app.get(&invite).await;
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "the invite link serves the web client");

    host.join(&room, "Host").await;
    let mut guest = app.client().await;
    let joined = guest.join(&room, "Guest").await;
    assert_eq!(joined["members"].as_array().unwrap().len(), 2);
    let id = guest.say("thanks for the invite").await;
    assert_eq!(host.wait_message(&id).await["nick"], "Guest");
    let mut third = app.client().await;
    third.send(json!({"type": "join", "room": room, "nick": "Third"})).await;
    third.expect_error("room_full").await;

    // Every message is logged under the room, which the bot recorded.
    let db = app.db().await;
    let slug = protocol::RoomSlug::parse(&room).unwrap();
    app.eventually("the message is logged", || {
        let (db, slug) = (db.clone(), slug.clone());
        async move { bot::message_log::recent(&db, &slug, 5).await.unwrap().len() == 1 }
    })
    .await;
    let rows = bot::rooms::list(&db).await.unwrap();
    let row = rows.iter().find(|r| r.slug == room).expect("the bot recorded the room");
    assert_eq!((row.kind.as_str(), row.title.as_str(), row.capacity), ("visitor", "Movie night", 2));

    // Everyone leaves: after the idle time the room is gone everywhere.
    host.send(json!({"type": "leave"})).await;
    guest.send(json!({"type": "leave"})).await;
    let path = format!("/api/rooms/{room}");
    app.eventually("the empty room ends", || {
        let path = path.clone();
        let app = &app;
        async move { app.get(&path).await.0 == 404 }
    })
    .await;
    third.send(json!({"type": "join", "room": room, "nick": "Third"})).await;
    third.expect_error("unknown_room").await;
    app.eventually("the bot marks the room ended", || {
        let (db, room) = (db.clone(), room.clone());
        async move { bot::rooms::list(&db).await.unwrap().iter().any(|r| r.slug == room && r.expires_at.is_some()) }
    })
    .await;
}

#[tokio::test]
async fn listed_rooms_show_up_bad_input_is_refused_and_each_address_has_a_limit() {
    let app = spawn_behind_proxy(&[("VISITOR_ROOMS_PER_IP", "2"), ("VISITOR_ROOM_MAX_CAPACITY", "10")]).await;
    let mut a = Client::connect_from(app.addr, "203.0.113.60").await.unwrap();
    let (listed, _) = create(&mut a, "Open house", 10, true).await;
    let rooms = app.get_json("/api/rooms").await;
    let entry = rooms.as_array().unwrap().iter().find(|r| r["slug"] == listed.as_str()).expect("listed");
    assert_eq!((entry["title"].as_str(), entry["kind"].as_str()), (Some("Open house"), Some("visitor")));

    for (title, capacity, code) in [("ok", 1, "bad_frame"), ("ok", 11, "bad_frame"), ("   ", 4, "bad_frame")] {
        a.send(json!({"type": "create", "title": title, "capacity": capacity})).await;
        let error = a.expect_error(code).await;
        assert!(error["message"].as_str().unwrap().len() > 10, "{error}");
    }
    a.send(json!({"type": "create", "title": "x".repeat(61), "capacity": 4})).await;
    a.expect_error("bad_frame").await;
    a.send(json!({"type": "create", "title": "no capacity"})).await;
    a.expect_error("bad_frame").await;

    create(&mut a, "Second", 3, false).await;
    // Another socket from the same address shares the limit; another address does not.
    let mut a2 = Client::connect_from(app.addr, "203.0.113.60").await.unwrap();
    a2.send(json!({"type": "create", "title": "Third", "capacity": 3})).await;
    let refused = a2.expect_error("too_many_rooms").await;
    assert!(refused["message"].as_str().unwrap().contains('2'), "{refused}");
    let mut b = Client::connect_from(app.addr, "198.51.100.60").await.unwrap();
    create(&mut b, "Elsewhere", 3, false).await;
}

#[tokio::test]
async fn the_landing_page_reads_the_house_rules_and_limits() {
    let app = spawn_app_with(&[("HOUSE_RULES", "Be kind.\\nNo spam."), ("VISITOR_ROOM_MAX_CAPACITY", "12")]).await;
    let info = app.get_json("/api/info").await;
    assert_eq!(info["house_rules"], "Be kind.\nNo spam.");
    assert_eq!(info["max_room_capacity"], 12);
    let app = spawn_app().await;
    assert_eq!(app.get_json("/api/info").await["house_rules"], json!(null));
}
