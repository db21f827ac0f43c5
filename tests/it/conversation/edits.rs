//! `edit` and `delete` of one's own message: the room and later joiners see the change, the log
//! keeps every earlier text; refusals; the window; after a resume; under a shadow mute.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use super::{answer, delete, edit, nothing_about, wait_about};
use crate::moderation::{cli, spawn_behind_proxy};
use crate::sanctions::until_status;
use crate::support::{Client, TestApp, WAIT};

/// The `message_edits` rows of message `id` once there are `n`: (kind, text_before, text_after).
async fn evidence(app: &TestApp, id: &str, n: usize) -> Vec<(String, Option<String>, Option<String>)> {
    let db = app.db().await;
    let query =
        format!("SELECT kind, text_before, text_after FROM message_edits WHERE message_id = '{id}' ORDER BY at");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap();
        if rows.len() >= n {
            return rows
                .iter()
                .map(|r| {
                    (
                        r.try_get::<String>("", "kind").unwrap(),
                        r.try_get("", "text_before").unwrap(),
                        r.try_get("", "text_after").unwrap(),
                    )
                })
                .collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "{id}: {} changes logged, not {n}", rows.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_author_edits_and_deletes_and_everyone_sees_it_while_the_log_keeps_every_text() {
    let app = spawn_behind_proxy(&[]).await;
    let mut alice = Client::connect_from(app.addr, "198.51.100.21").await.unwrap();
    alice.join("lobby", "Alice").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.22").await.unwrap();
    bob.join("lobby", "Bob").await;
    let id = alice.say("helo world").await;
    bob.wait_message(&id).await;

    alice.send(edit(&id, "hello world")).await;
    let seen = wait_about(&mut bob, "edited", &id).await;
    assert_eq!(seen["text"], "hello world");
    let at = seen["at"].as_str().unwrap().to_owned();
    // The author gets the room's `edited` and its `ack`, in either order.
    let (mut edited, mut acked) = (false, false);
    while !(edited && acked) {
        let frame = alice.next().await;
        match frame["type"].as_str() {
            Some("edited") => edited = frame["text"] == "hello world",
            Some("ack") => {
                assert_eq!((frame["id"].as_str(), frame["client_id"].as_str()), (Some(id.as_str()), Some("e1")));
                acked = true;
            }
            _ => {}
        }
    }
    // Later joiners see the new text, marked edited.
    let (_, joined) = app.joined("lobby", "Carol").await;
    let kept = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).cloned().unwrap();
    assert_eq!((kept["text"].as_str(), kept["edited"].as_str()), (Some("hello world"), Some(at.as_str())));
    // The new text is checked as a message is.
    let refused = answer(&mut alice, edit(&id, "   ")).await;
    assert_eq!((refused["code"].as_str(), refused["client_id"].as_str()), (Some("empty_message"), Some("e1")));
    let refused = answer(&mut alice, edit(&id, &"x".repeat(2001))).await;
    assert_eq!(refused["code"], "too_long", "{refused}");

    alice.send(delete(&id)).await;
    wait_about(&mut bob, "deleted", &id).await;
    wait_about(&mut alice, "deleted", &id).await;
    let (_, joined) = app.joined("lobby", "Dave").await;
    assert!(!joined["history"].as_array().unwrap().iter().any(|m| m["id"] == id.as_str()), "{joined}");
    // Gone: neither changed again nor deleted twice.
    assert_eq!(answer(&mut alice, edit(&id, "again")).await["code"], "unknown_message");
    assert_eq!(answer(&mut alice, delete(&id)).await["code"], "unknown_message");

    // The log kept the original, the edit and the deletion; the row is marked, not removed.
    let changes = evidence(&app, &id, 2).await;
    assert_eq!(
        changes,
        vec![
            ("edit".into(), Some("helo world".into()), Some("hello world".into())),
            ("delete".into(), Some("hello world".into()), None),
        ]
    );
    let db = app.db().await;
    let query = format!("SELECT deleted_by, text FROM message_log WHERE id = '{id}'");
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), query)).await.unwrap().unwrap();
    assert_eq!(row.try_get::<Option<String>>("", "deleted_by").unwrap().as_deref(), Some("author"));
    assert_eq!(row.try_get::<String>("", "text").unwrap(), "hello world");
}

#[tokio::test]
async fn someone_elses_message_is_not_yours_and_an_unknown_one_is_unknown() {
    let app = spawn_behind_proxy(&[]).await;
    let mut alice = Client::connect_from(app.addr, "198.51.100.31").await.unwrap();
    alice.join("lobby", "Alice").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.32").await.unwrap();
    bob.join("lobby", "Bob").await;
    let id = alice.say("mine").await;
    bob.wait_message(&id).await;
    assert_eq!(answer(&mut bob, edit(&id, "yours now")).await["code"], "not_yours");
    assert_eq!(answer(&mut bob, delete(&id)).await["code"], "not_yours");
    // Seen only in the history, still not theirs; an id nobody sent is unknown.
    let mut carol = Client::connect_from(app.addr, "198.51.100.33").await.unwrap();
    carol.join("lobby", "Carol").await;
    assert_eq!(answer(&mut carol, delete(&id)).await["code"], "not_yours");
    assert_eq!(answer(&mut carol, delete(&ulid::Ulid::new().to_string())).await["code"], "unknown_message");
    // Outside a room.
    let mut nobody = Client::connect_from(app.addr, "198.51.100.34").await.unwrap();
    assert_eq!(answer(&mut nobody, delete(&id)).await["code"], "not_in_room");
    // Nothing changed for anyone.
    assert!(nothing_about(&mut alice, &id, Duration::from_millis(300)).await);
    // The same person on a new connection (not a resume) is another session.
    drop(alice);
    let mut again = Client::connect_from(app.addr, "198.51.100.31").await.unwrap();
    again.join("lobby", "Alice").await;
    assert_eq!(answer(&mut again, edit(&id, "me again")).await["code"], "not_yours");
}

#[tokio::test]
async fn the_window_closes_and_changes_are_rate_limited() {
    let app = spawn_behind_proxy(&[("EDIT_WINDOW_SECS", "1"), ("SAY_BURST", "3"), ("SAY_PER_SECOND", "0.1")]).await;
    let mut alice = Client::connect_from(app.addr, "198.51.100.41").await.unwrap();
    assert_eq!(alice.hello["limits"]["edit_window_secs"], 1);
    alice.join("lobby", "Alice").await;
    let id = alice.say("typo").await;
    // An edit costs a message's token: two more are left, then the bucket is empty.
    alice.send(edit(&id, "fixed")).await;
    alice.wait_for("ack").await;
    alice.send(edit(&id, "fixed again")).await;
    alice.wait_for("ack").await;
    let refused = answer(&mut alice, delete(&id)).await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{refused}");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let refused = answer(&mut alice, edit(&id, "too late")).await;
    assert_eq!((refused["code"].as_str(), refused["client_id"].as_str()), (Some("edit_window_over"), Some("e1")));
    assert_eq!(answer(&mut alice, delete(&id)).await["code"], "edit_window_over");
}

#[tokio::test]
async fn a_muted_author_may_not_change_and_a_shadow_muted_ones_changes_reach_only_itself() {
    let app = spawn_behind_proxy(&[]).await;
    let (plain, shadowed) = ("203.0.113.71", "203.0.113.72");
    let mut muted = Client::connect_from(app.addr, plain).await.unwrap();
    muted.join("lobby", "Loud").await;
    let mut sneaky = Client::connect_from(app.addr, shadowed).await.unwrap();
    sneaky.join("lobby", "Sneaky").await;
    let mut reader = Client::connect_from(app.addr, "198.51.100.73").await.unwrap();
    reader.join("lobby", "Reader").await;
    let loud = muted.say("before the mute").await;
    let sly = sneaky.say("before the shadow").await;
    reader.wait_message(&sly).await;
    cli(&app, &["mutes", "add", shadowed, "--shadow", "--reason", "spam"]).await;
    cli(&app, &["mutes", "add", plain]).await;
    until_status(&app, plain, |b| !b["mute"].is_null()).await;

    let refused = answer(&mut muted, edit(&loud, "sorry")).await;
    assert_eq!((refused["code"].as_str(), refused["client_id"].as_str()), (Some("muted"), Some("e1")));
    assert_eq!(answer(&mut muted, delete(&loud)).await["code"], "muted");

    // Acknowledged and shown to the author; nobody else hears of it, nor does the history.
    sneaky.send(edit(&sly, "buy my stuff")).await;
    assert_eq!(wait_about(&mut sneaky, "edited", &sly).await["text"], "buy my stuff");
    sneaky.send(delete(&sly)).await;
    wait_about(&mut sneaky, "deleted", &sly).await;
    assert!(nothing_about(&mut reader, &sly, Duration::from_millis(500)).await, "a shadow change reached someone");
    let (_, joined) = app.joined("lobby", "Latecomer").await;
    let kept = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == sly.as_str()).cloned().unwrap();
    assert_eq!((kept["text"].as_str(), kept.get("edited")), (Some("before the shadow"), None));
    // Logged for staff all the same.
    let changes = evidence(&app, &sly, 2).await;
    assert_eq!(changes[0].2.as_deref(), Some("buy my stuff"));
    // A message sent under the shadow mute, kept in the history for the author's tabs alone,
    // shows its edit there, to them alone.
    let hidden = sneaky.say("hidden first").await;
    sneaky.send(edit(&hidden, "hidden, edited")).await;
    wait_about(&mut sneaky, "edited", &hidden).await;
    let mut tab = Client::connect_from(app.addr, shadowed).await.unwrap();
    let joined = tab.join("lobby", "Sneaky2").await;
    let own = joined["history"].as_array().unwrap().iter().find(|m| m["id"] == hidden.as_str()).cloned().unwrap();
    assert_eq!(own["text"], "hidden, edited");
    assert!(own["edited"].is_string(), "{own}");
    let (_, joined) = app.joined("lobby", "Latecomer2").await;
    assert!(!joined["history"].as_array().unwrap().iter().any(|m| m["id"] == hidden.as_str()), "{joined}");
}

/// Over both buses: the session that sent a message still owns it after a resume.
async fn an_author_still_owns_its_message_after_a_resume(app: TestApp) {
    let mut alice = Client::connect_from(app.addr, "198.51.100.81").await.unwrap();
    let (_, token) = crate::resume::join(&mut alice, "lobby", "Alice").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.82").await.unwrap();
    bob.join("lobby", "Bob").await;
    let id = alice.say("sent before the tunnel").await;
    bob.wait_message(&id).await;
    drop(alice);
    // Back from another address (a phone that changed networks).
    let mut back = Client::connect_from(app.addr, "198.51.100.83").await.unwrap();
    let resumed = crate::resume::resume(&mut back, &token, None).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    back.send(edit(&id, "sent before the tunnel, fixed")).await;
    assert_eq!(wait_about(&mut bob, "edited", &id).await["text"], "sent before the tunnel, fixed");
    // Resumed again, the token of the last `resumed`: still the same session.
    let token = resumed["resume"].as_str().unwrap().to_owned();
    drop(back);
    let mut again = Client::connect_from(app.addr, "198.51.100.84").await.unwrap();
    assert_eq!(crate::resume::resume(&mut again, &token, None).await["type"], "resumed");
    again.send(delete(&id)).await;
    wait_about(&mut bob, "deleted", &id).await;
    // Bob never could.
    let his = bob.say("bob's").await;
    assert_eq!(answer(&mut again, json!({"type": "delete", "id": his})).await["code"], "not_yours");
}

#[tokio::test]
async fn an_author_still_owns_its_message_after_a_resume_in_process() {
    an_author_still_owns_its_message_after_a_resume(spawn_behind_proxy(&[("RESUME_SECS", "30")]).await).await;
}

#[tokio::test]
async fn an_author_still_owns_its_message_after_a_resume_over_redis() {
    let prefix = crate::abuse::fresh_prefix();
    let app = crate::abuse::spawn_on_redis(&prefix, &[("RESUME_SECS", "30"), ("PRESENCE_TTL_SECS", "3")]).await;
    an_author_still_owns_its_message_after_a_resume(app).await;
}

#[tokio::test]
async fn a_session_resumed_on_another_gateway_still_owns_its_messages() {
    let mut cluster = crate::cluster::Cluster::new().await;
    cluster.env.push(("RESUME_SECS".into(), "30".into()));
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    let mut alice = g1.client().await;
    let (_, token) = crate::resume::join(&mut alice, "lobby", "Alice").await;
    let mut bob = g1.client().await;
    bob.join("lobby", "Bob").await;
    let id = alice.say("written on the first gateway").await;
    let his = bob.say("bob's own").await;
    drop(alice);
    let mut moved = g2.client().await;
    assert_eq!(crate::resume::resume(&mut moved, &token, None).await["type"], "resumed");
    moved.send(edit(&id, "edited on the second")).await;
    assert_eq!(wait_about(&mut bob, "edited", &id).await["text"], "edited on the second");
    assert_eq!(answer(&mut moved, delete(&his)).await["code"], "not_yours");
    moved.send(delete(&id)).await;
    wait_about(&mut bob, "deleted", &id).await;
    cluster.finish().await;
}
