//! Visitor rooms and roulette pairs as threads: named after the room, answered by staff,
//! archived when the room ends, and the parent channel when Discord will not start one.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use super::*;
use crate::support::*;

/// Two strangers paired by roulette: (first, second, pair room).
pub(crate) async fn roulette_pair(app: &TestApp, a: &str, b: &str) -> (Client, Client, String) {
    let mut first = app.client().await;
    first.send(json!({"type": "roulette", "nick": a, "interests": []})).await;
    first.expect("waiting").await;
    let mut second = app.client().await;
    second.send(json!({"type": "roulette", "nick": b, "interests": []})).await;
    let matched = first.wait_for("matched").await;
    first.expect("joined").await;
    assert_eq!(second.wait_for("matched").await["room"], matched["room"]);
    second.expect("joined").await;
    (first, second, matched["room"].as_str().unwrap().to_owned())
}

/// A visitor room made by `host` (who then joins it as `nick`): its slug.
pub(crate) async fn visitor_room(host: &mut Client, title: &str, nick: &str) -> String {
    host.send(json!({"type": "create", "title": title, "capacity": 4, "listed": false})).await;
    let room = host.expect("created").await["room"].as_str().unwrap().to_owned();
    host.join(&room, nick).await;
    room
}

/// Wait for the text channel the bot uses as a parent of room threads.
pub(crate) async fn parent_named(fake: &FakeDiscord, name: &str) -> u64 {
    fake.wait_for(|d| d.channels().iter().find(|c| c["name"] == name && c["type"] == 0).map(id_of), WAIT)
        .await
        .unwrap_or_else(|| panic!("no parent channel {name}: {:?}", fake.channels()))
}

/// The web texts a Discord channel or thread shows, in order (every embed's description).
pub(crate) fn mirrored_texts(fake: &FakeDiscord, channel: u64) -> Vec<String> {
    fake.messages_in(channel)
        .iter()
        .flat_map(|m| m["embeds"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["description"].as_str().map(str::to_owned))
        .collect()
}

/// Wait until `channel` shows exactly `texts` (in order); everything it shows.
pub(crate) async fn wait_texts(fake: &FakeDiscord, channel: u64, texts: &[&str]) -> Vec<String> {
    let got = fake.wait_for(|d| (mirrored_texts(d, channel).len() >= texts.len()).then_some(()), WAIT).await;
    let shown = mirrored_texts(fake, channel);
    assert!(got.is_some() && shown == texts, "expected {texts:?} in {channel}, got {shown:?}");
    shown
}

/// The room's (discord_channel_id, discord_thread_id) as the bot recorded them.
pub(crate) async fn room_discord_ids(app: &TestApp, room: &str) -> (Option<i64>, Option<i64>) {
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT discord_channel_id, discord_thread_id FROM rooms WHERE slug = '{room}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    (row.try_get("", "discord_channel_id").unwrap(), row.try_get("", "discord_thread_id").unwrap())
}

#[tokio::test]
async fn a_roulette_pair_chats_in_one_thread_that_staff_answer_in_and_that_is_archived_when_the_pair_ends() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[]).await;
    // A pair that never writes gets no thread.
    let (mut quiet_a, mut quiet_b, quiet_room) = roulette_pair(&app, "Quiet", "Silent").await;
    quiet_a.send(json!({"type": "leave"})).await;
    quiet_b.wait_for("stranger_left").await;
    quiet_b.send(json!({"type": "leave"})).await;

    let (mut al, mut bo, room) = roulette_pair(&app, "Al", "Bo").await;
    let first = al.say("hi stranger").await;
    bo.wait_message(&first).await;
    let second = bo.say("hello *you*").await;
    al.wait_message(&second).await;
    let third = al.say("where are you from?").await;
    bo.wait_message(&third).await;

    let parent = parent_named(&fake, "roulette").await;
    let thread = fake
        .wait_for(|d| d.threads_of(parent).first().cloned(), WAIT)
        .await
        .expect("a thread under the roulette channel");
    let thread_id = id_of(&thread);
    assert_eq!(thread["name"], format!("pair {room}"));
    assert_eq!(thread["type"], 11);
    assert_eq!(thread["thread_metadata"]["auto_archive_duration"], 60);
    wait_texts(&fake, thread_id, &["hi stranger", "hello \\*you\\*", "where are you from?"]).await;
    assert_eq!(fake.threads_of(parent).len(), 1, "exactly one thread, none for the quiet pair");
    assert!(mirrored_texts(&fake, parent).is_empty(), "nothing posted in the parent itself");
    let creations = fake.requests_to("POST", &format!("/channels/{parent}/threads"));
    assert_eq!(creations.len(), 1);
    assert_eq!(creations[0].body["type"], 11);
    // Posted like channel posts: nonce, enforce_nonce, no mentions, footer with tag and room.
    let posts = fake.requests_to("POST", &format!("/channels/{thread_id}/messages"));
    assert!(
        posts.iter().all(|p| p.body["enforce_nonce"] == true && p.body["allowed_mentions"] == json!({"parse": []}))
    );
    let embed = &fake.messages_in(thread_id)[0]["embeds"][0];
    assert_eq!(embed["author"]["name"], "Al");
    assert!(embed["footer"]["text"].as_str().unwrap().ends_with(&format!("· #{room}")), "{embed}");
    assert!(embed.get("title").is_none(), "no room title needed inside the room's own thread");
    assert_eq!(room_discord_ids(&app, &room).await, (None, Some(thread_id as i64)));
    assert_eq!(room_discord_ids(&app, &quiet_room).await, (None, None));

    // A staff reply in the thread reaches the pair, marked as staff; an edit follows.
    let staff = fake.staff_user();
    let reply = fake.inject_message(thread_id, &staff, "Welcome, you two!");
    for client in [&mut al, &mut bo] {
        let got = staff_message(client).await;
        assert_eq!((got["text"].as_str(), got["staff"].as_bool()), (Some("Welcome, you two!"), Some(true)), "{got}");
        assert_eq!(got["room"], room.as_str());
    }
    fake.inject_message_update(thread_id, id_of(&reply), "Welcome, both of you!");
    assert_eq!(al.wait_for("edited").await["text"], "Welcome, both of you!");

    // Both leave: the pair ends and its thread is archived (and locked) after its messages.
    let last = al.say("bye!").await;
    bo.wait_message(&last).await;
    al.send(json!({"type": "leave"})).await;
    bo.wait_for("stranger_left").await;
    bo.send(json!({"type": "leave"})).await;
    let archived = fake
        .wait_for(|d| d.channel(thread_id).filter(|t| t["thread_metadata"]["archived"] == true), WAIT)
        .await
        .expect("the ended pair's thread is archived");
    assert_eq!(archived["thread_metadata"]["locked"], true);
    assert_eq!(
        mirrored_texts(&fake, thread_id),
        ["hi stranger", "hello \\*you\\*", "where are you from?", "bye!"],
        "every message was posted before the archive"
    );
    let requests = fake.requests();
    let archive_at = requests
        .iter()
        .position(|r| r.method == "PATCH" && r.path == format!("/channels/{thread_id}"))
        .expect("a PATCH archiving the thread");
    assert_eq!(requests[archive_at].body, json!({"archived": true, "locked": true}));
    assert!(
        requests[archive_at..].iter().all(|r| r.path != format!("/channels/{thread_id}/messages")),
        "nothing posted after the archive"
    );
    assert_eq!(fake.threads_of(parent).len(), 1, "the quiet pair never got a thread");
}

#[tokio::test]
async fn a_visitor_room_is_a_thread_named_after_its_title_and_ban_author_works_on_its_messages() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = app_with_discord(&fake, &[("TRUSTED_PROXIES", "127.0.0.1"), ("VISITOR_ROOM_IDLE_SECS", "1")]).await;
    let mut host = Client::connect_from(app.addr, "198.51.100.20").await.unwrap();
    let room = visitor_room(&mut host, "Movie night", "Host").await;
    let spam_ip = "203.0.113.20";
    let mut spammer = Client::connect_from(app.addr, spam_ip).await.unwrap();
    spammer.join(&room, "Spammer").await;
    host.say("popcorn ready").await;
    let parent = parent_named(&fake, "visitor-rooms").await;
    let thread = fake.wait_for(|d| d.threads_of(parent).first().cloned(), WAIT).await.expect("a thread");
    assert_eq!(thread["name"], "Movie night");
    let thread_id = id_of(&thread);
    // Posted before the spam, so the spam's Discord message carries one author (the picker for
    // several authors has its own test).
    wait_texts(&fake, thread_id, &["popcorn ready"]).await;
    let spam = spammer.say("cheap pills").await;
    host.wait_message(&spam).await;
    wait_texts(&fake, thread_id, &["popcorn ready", "cheap pills"]).await;
    assert_eq!(room_discord_ids(&app, &room).await, (None, Some(thread_id as i64)));
    let carrier = fake
        .messages_in(thread_id)
        .into_iter()
        .find(|m| m.to_string().contains("cheap pills"))
        .expect("the spam's Discord message");

    // Ban author, invoked in the thread; the mapping is recorded right after the post.
    let db = app.db().await;
    let query = format!("SELECT id FROM message_log WHERE id = '{spam}' AND discord_message_id = {}", id_of(&carrier));
    let deadline = tokio::time::Instant::now() + WAIT;
    while db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the mirror mapping was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let staff = fake.staff_user();
    let (interaction, _) = fake.inject_message_command(&staff, thread_id, "Ban author", id_of(&carrier));
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Banned Spammer (tag"), "{answer}");
    assert!(!answer.contains(spam_ip), "{answer}");
    assert_eq!(spammer.wait_for("kicked").await["type"], "kicked");
    assert_eq!(spammer.closed().await, Some(4003));
    let (status, body) = Client::connect_from(app.addr, spam_ip).await.err().expect("refused");
    assert_eq!((status, body["code"].as_str()), (403, Some("banned")));
    // The host carries on, and a staff message in the thread reaches the room.
    fake.inject_message(thread_id, &staff, "Sorry about that.");
    let got = staff_message(&mut host).await;
    assert_eq!((got["text"].as_str(), got["staff"].as_bool()), (Some("Sorry about that."), Some(true)), "{got}");
    // The host leaves; the empty room ends after its idle time and its thread is archived.
    host.send(json!({"type": "leave"})).await;
    let archived = fake
        .wait_for(|d| d.channel(thread_id).filter(|t| t["thread_metadata"]["archived"] == true), WAIT)
        .await
        .expect("the ended room's thread is archived");
    assert_eq!(archived["thread_metadata"]["locked"], true);
    assert_eq!(mirrored_texts(&fake, thread_id), ["popcorn ready", "cheap pills"]);
}

/// A POST to the fake's REST API as the bot (another client of the same rate-limit buckets).
async fn post_as_bot(fake: &FakeDiscord, path: &str, body: &Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = fake.base_url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = body.to_string();
    let request = format!(
        "POST /api/v10{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bot {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        fake.token(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    String::from_utf8_lossy(&answer).split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A staff message sent to the pair reaches `client` (skipping the room's web messages).
async fn staff_message(client: &mut Client) -> Value {
    loop {
        let got = client.wait_for("message").await;
        if got["staff"] == true {
            return got;
        }
    }
}

#[tokio::test]
async fn when_discord_rate_limits_or_refuses_threads_messages_go_to_the_parent_titled_with_the_room() {
    // One thread per minute per parent, and someone else just started one in the roulette
    // channel: the bot's attempt gets a 429 asking for about a minute, beyond its budget.
    let fake = FakeDiscord::start(FakeConfig {
        thread_rate_limit: 1,
        thread_rate_window: Duration::from_secs(60),
        ..FakeConfig::default()
    })
    .await;
    let roulette = id_of(&fake.create_channel("pairs-here", fake_discord::channel_type::TEXT, None));
    let other = post_as_bot(&fake, &format!("/channels/{roulette}/threads"), &json!({"name": "x", "type": 11})).await;
    assert_eq!(other, 201);
    let app = app_with_discord(&fake, &[("DISCORD_ROULETTE_CHANNEL_ID", &roulette.to_string())]).await;

    let (mut a, mut b, room) = roulette_pair(&app, "Cat", "Dan").await;
    let mut expected = Vec::new();
    for i in 0..8 {
        let text = format!("pair message {i}");
        let id = if i % 2 == 0 { a.say(&text).await } else { b.say(&text).await };
        expected.push(text);
        let _ = id;
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    wait_texts(&fake, roulette, &expected).await;
    let title = format!("Roulette pair \\#{}", room.replace('-', "\\-"));
    for m in fake.messages_in(roulette).iter().filter(|m| m["type"] == 0) {
        for e in m["embeds"].as_array().unwrap() {
            assert_eq!(e["title"].as_str(), Some(title.as_str()), "the room is named on every embed: {e}");
            assert!(e["footer"]["text"].as_str().unwrap().ends_with(&format!("· #{room}")), "{e}");
        }
    }
    let attempts = fake.requests_to("POST", &format!("/channels/{roulette}/threads"));
    assert_eq!(attempts.iter().map(|r| r.status).collect::<Vec<_>>(), [201, 429], "one attempt, then the parent");
    assert_eq!(fake.threads_of(roulette).len(), 1, "only the other client's thread");
    assert_eq!(room_discord_ids(&app, &room).await, (Some(roulette as i64), None));
    // Nothing lost: every message maps to a Discord message.
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM message_log WHERE room = '{room}' AND discord_message_id IS NOT NULL"),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 8);
    // The second pair does not even ask before the bucket resets (the headers said so).
    let (mut c, mut d, second) = roulette_pair(&app, "Eve", "Fay").await;
    let id = c.say("second pair").await;
    d.wait_message(&id).await;
    let mut both = expected.clone();
    both.push("second pair");
    wait_texts(&fake, roulette, &both).await;
    assert_eq!(fake.requests_to("POST", &format!("/channels/{roulette}/threads")).len(), 2);
    assert_eq!(room_discord_ids(&app, &second).await, (Some(roulette as i64), None));
    // Ending a pair that fell back archives nothing.
    a.send(json!({"type": "leave"})).await;
    b.wait_for("stranger_left").await;
    b.send(json!({"type": "leave"})).await;
    app.eventually("the bot marks the pair ended", || {
        let (db, room) = (db.clone(), room.clone());
        async move { bot::rooms::list(&db).await.unwrap().iter().any(|r| r.slug == room && r.expires_at.is_some()) }
    })
    .await;

    // Discord refuses threads outright (403 Missing Access) in the visitor rooms' parent.
    fake.refuse_thread_creation(Some(fake_discord::ThreadRefusal::MissingAccess));
    let mut host = app.client().await;
    let room = visitor_room(&mut host, "Book club", "Reader").await;
    host.say("chapter one").await;
    host.say("chapter two").await;
    let parent = parent_named(&fake, "visitor-rooms").await;
    wait_texts(&fake, parent, &["chapter one", "chapter two"]).await;
    let title = fake.messages_in(parent).into_iter().find(|m| m["type"] == 0).unwrap()["embeds"][0]["title"].clone();
    assert_eq!(title.as_str(), Some(format!("Visitor room Book club · \\#{}", room.replace('-', "\\-")).as_str()));
    assert!(fake.threads_of(parent).is_empty());
    let refused = fake.requests_to("POST", &format!("/channels/{parent}/threads"));
    assert_eq!(refused.iter().map(|r| r.status).collect::<Vec<_>>(), [403], "asked once, then kept to the parent");
    assert!(fake.requests().iter().all(|r| r.method != "PATCH"), "nothing archived");
}
