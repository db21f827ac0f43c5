//! The log's tests, each body run on SQLite and on PostgreSQL.

use std::net::IpAddr;

use chrono::{Duration, Utc};
use protocol::{LoggedMessage, MessageView, RoomSlug};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::*;
use crate::entities::{message_log, room_tails, visitor_tails};
use crate::iptag::IpTagger;

/// A visitor message in `room`, sent `at_secs` from now, under an id of that time (as a
/// gateway makes them), so ids sort as the messages were sent.
fn message(room: &str, text: &str, at_secs: i64) -> LoggedMessage {
    let at = Utc::now() + Duration::seconds(at_secs);
    let millis = u64::try_from(at.timestamp_millis()).unwrap();
    LoggedMessage {
        message: MessageView {
            id: ulid::Ulid::from_parts(millis, rand::random()),
            room: room.to_owned(),
            nick: "al".to_owned(),
            text: text.to_owned(),
            at,
            staff: false,
            ..MessageView::default()
        },
        ip: IpAddr::from([203, 0, 113, 9]),
        shadow: false,
        device: None,
    }
}

fn texts(history: &[MessageView]) -> Vec<&str> {
    history.iter().map(|m| m.text.as_str()).collect()
}

async fn history(db: &DatabaseConnection, room: &str, limit: u64) -> Vec<MessageView> {
    recent(db, &RoomSlug::parse(room).unwrap(), limit).await.unwrap()
}

/// Batches over two rooms, a staff message, a deleted message and a redelivered batch.
async fn walks_back_through_each_room(db: &DatabaseConnection) {
    let tagger = IpTagger::new(b"k");
    let log = MessageLog::new(db.clone());
    let first = [message("lobby", "l1", 1), message("help", "h1", 2), message("lobby", "l2", 3)];
    log.record(&first, &tagger, Delivery::First).await.unwrap();
    let staff = MessageView { staff: true, ..message("lobby", "staff", 4).message };
    log.insert(
        &[Entry {
            message: &staff,
            ip: "staff".to_owned(),
            ip_tag: None,
            device_tag: None,
            discord_message_id: Some(7),
        }],
        Delivery::First,
    )
    .await
    .unwrap();
    // A restarted bot knows no tails until it reads them back.
    let log = MessageLog::new(db.clone());
    let second = [message("lobby", "l3", 5), message("help", "h2", 6), message("lobby", "l4", 7)];
    log.record(&second, &tagger, Delivery::First).await.unwrap();
    // A batch delivered twice (a bot that crashed before acknowledging it) changes nothing.
    log.record(&first, &tagger, Delivery::Again).await.unwrap();

    assert_eq!(texts(&history(db, "lobby", 50).await), ["l1", "l2", "staff", "l3", "l4"]);
    assert_eq!(texts(&history(db, "help", 50).await), ["h1", "h2"]);
    assert_eq!(texts(&history(db, "lobby", 2).await), ["l3", "l4"]);
    assert!(history(db, "quiet", 50).await.is_empty());

    // Every field is kept as given, timestamps to the microsecond, each row chained to the
    // one before it in its room (across the restart too).
    let row =
        |id: ulid::Ulid| async move { message_log::Entity::find_by_id(id.to_string()).one(db).await.unwrap().unwrap() };
    let staff_row = row(staff.id).await;
    assert_eq!(
        (staff_row.room.as_str(), staff_row.nickname.as_str(), staff_row.ip.as_str(), staff_row.ip_tag.as_deref()),
        ("lobby", "al", "staff", None)
    );
    assert_eq!((staff_row.text.as_str(), staff_row.staff, staff_row.discord_message_id), ("staff", true, Some(7)));
    assert_eq!(staff_row.sent_at.timestamp_micros(), staff.at.timestamp_micros());
    // Stored times compare with bound ones, as retention and /purge compare them.
    let earlier = message_log::Entity::find().filter(message_log::Column::SentAt.lt(staff.at)).count(db).await.unwrap();
    assert_eq!(earlier, 3, "l1, h1 and l2 were sent before the staff message");
    // Equal only when the stored text is exactly what a bound time is.
    let same = message_log::Entity::find().filter(message_log::Column::SentAt.eq(staff.at)).count(db).await.unwrap();
    assert_eq!(same, 1);
    assert_eq!(staff_row.prev_id, Some(first[2].message.id.to_string()));
    let visitor = row(first[0].message.id).await;
    assert_eq!((visitor.ip.as_str(), visitor.staff, visitor.discord_message_id), ("203.0.113.9", false, None));
    assert_eq!(visitor.ip_tag, Some(tagger.describe(first[0].ip)));
    assert_eq!(visitor.prev_id, None);
    assert_eq!(row(second[0].message.id).await.prev_id, Some(staff.id.to_string()));

    // Deleted messages are skipped, and the walk goes on past them to fill the limit.
    message_log::Entity::update_many()
        .col_expr(message_log::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(message_log::Column::Text.is_in(["l3", "staff"]))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(texts(&history(db, "lobby", 2).await), ["l2", "l4"]);
    assert_eq!(texts(&history(db, "lobby", 50).await), ["l1", "l2", "l4"]);

    let tails = room_tails::Entity::find().all(db).await.unwrap();
    assert_eq!(tails.len(), 2, "{tails:?}");
}

/// Senders over two batches and a restart: a tag resolves to its address and walks back
/// through that sender's messages only, newest first, bounded by count and by time.
async fn walks_back_through_each_sender(db: &DatabaseConnection) {
    let tagger = IpTagger::new(b"k");
    let al = IpAddr::from([203, 0, 113, 9]);
    let bo: IpAddr = "2001:db8::7".parse().unwrap();
    let from = |ip: IpAddr, room: &str, text: &str, at_secs: i64| LoggedMessage { ip, ..message(room, text, at_secs) };
    let log = MessageLog::new(db.clone());
    let first = [from(al, "lobby", "a1", -600), from(bo, "help", "b1", -500), from(al, "help", "a2", -400)];
    log.record(&first, &tagger, Delivery::First).await.unwrap();
    let staff = MessageView { staff: true, ..message("lobby", "staff", -300).message };
    log.insert(
        &[Entry {
            message: &staff,
            ip: "staff".to_owned(),
            ip_tag: None,
            device_tag: None,
            discord_message_id: Some(7),
        }],
        Delivery::First,
    )
    .await
    .unwrap();
    let log = MessageLog::new(db.clone());
    let second = [from(al, "lobby", "a3", -200), from(al, "lobby", "a4", -100), from(bo, "help", "b2", 0)];
    log.record(&second, &tagger, Delivery::First).await.unwrap();
    log.record(&first, &tagger, Delivery::Again).await.unwrap();

    let al_tag = tagger.tag(al);
    let bo_tag = tagger.tag(bo);
    assert_eq!(addresses_of(db, &al_tag).await.unwrap(), ["203.0.113.9"]);
    assert_eq!(addresses_of(db, &bo_tag).await.unwrap(), ["2001:db8::7"]);
    assert!(addresses_of(db, "00000000").await.unwrap().is_empty());
    let texts_of = |rows: Vec<message_log::Model>| rows.into_iter().map(|r| r.text).collect::<Vec<_>>();
    assert_eq!(texts_of(by_tag(db, &al_tag, 50, None, Walk::All).await.unwrap()), ["a4", "a3", "a2", "a1"]);
    assert_eq!(texts_of(by_tag(db, &bo_tag, 50, None, Walk::All).await.unwrap()), ["b2", "b1"]);
    assert_eq!(texts_of(by_tag(db, &al_tag, 2, None, Walk::All).await.unwrap()), ["a4", "a3"]);
    let after = Utc::now() - Duration::seconds(450);
    assert_eq!(texts_of(by_tag(db, &al_tag, 50, Some(after), Walk::All).await.unwrap()), ["a4", "a3", "a2"]);
    assert!(by_tag(db, "00000000", 50, None, Walk::All).await.unwrap().is_empty());
    // Deleted messages are passed over without being counted when the walk asks for the
    // undeleted only (a second purge reaches past the first one's), and still read back.
    message_log::Entity::update_many()
        .col_expr(message_log::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(message_log::Column::Text.is_in(["a4", "a3"]))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(texts_of(by_tag(db, &al_tag, 1, None, Walk::Undeleted).await.unwrap()), ["a2"]);
    assert_eq!(texts_of(by_tag(db, &al_tag, 50, None, Walk::Undeleted).await.unwrap()), ["a2", "a1"]);
    assert_eq!(texts_of(by_tag(db, &al_tag, 2, None, Walk::All).await.unwrap()), ["a4", "a3"]);

    // The chain across the restart, and one tail per sender at its newest message.
    let row =
        |id: ulid::Ulid| async move { message_log::Entity::find_by_id(id.to_string()).one(db).await.unwrap().unwrap() };
    assert_eq!(row(second[0].message.id).await.prev_by_ip, Some(first[2].message.id.to_string()));
    assert_eq!(row(first[0].message.id).await.prev_by_ip, None);
    assert_eq!(row(staff.id).await.prev_by_ip, None);
    let mut tails = visitor_tails::Entity::find().all(db).await.unwrap();
    tails.sort_by(|a, b| a.ip.cmp(&b.ip));
    let got: Vec<(&str, &str, i64)> =
        tails.iter().map(|t| (t.ip.as_str(), t.last_id.as_str(), t.last_at.timestamp_micros())).collect();
    let (b2, a4) = (second[2].message.id.to_string(), second[1].message.id.to_string());
    assert_eq!(
        got,
        [
            ("2001:db8::7", b2.as_str(), second[2].message.at.timestamp_micros()),
            ("203.0.113.9", a4.as_str(), second[1].message.at.timestamp_micros()),
        ]
    );
    assert_eq!(tails[0].ip_tag, tagger.describe(bo));
    // The IPv6 sender's /64 tag (the footer's second tag) finds it too.
    let bo_net = tagger.tag_net64(match bo {
        IpAddr::V6(v6) => v6,
        IpAddr::V4(_) => unreachable!(),
    });
    assert_eq!(addresses_of(db, &bo_net).await.unwrap(), ["2001:db8::7"]);
    assert_eq!(texts_of(by_tag(db, &bo_net, 50, None, Walk::All).await.unwrap()), ["b2", "b1"]);
    // An old 8-character tag still finds its sender, and never a new 12-character tag that
    // starts with it.
    let old_tag = &al_tag[..8];
    let old = visitor_tails::ActiveModel {
        ip_tag: sea_orm::ActiveValue::Set(old_tag.to_owned()),
        ip: sea_orm::ActiveValue::Set("192.0.2.80".to_owned()),
        last_id: sea_orm::ActiveValue::Set(ulid::Ulid::new().to_string()),
        last_at: sea_orm::ActiveValue::Set(Utc::now()),
    };
    visitor_tails::Entity::insert(old).exec(db).await.unwrap();
    assert_eq!(addresses_of(db, old_tag).await.unwrap(), ["192.0.2.80"]);
    assert_eq!(addresses_of(db, &al_tag).await.unwrap(), ["203.0.113.9"]);
    visitor_tails::Entity::delete_many().filter(visitor_tails::Column::IpTag.eq(old_tag)).exec(db).await.unwrap();

    // Once retention erased an address, its tag resolves to nothing and the walk stops there.
    let retention =
        crate::retention::Retention { ips: std::time::Duration::from_secs(150), texts: std::time::Duration::MAX };
    crate::retention::purge(db, retention).await.unwrap();
    assert_eq!(texts_of(by_tag(db, &al_tag, 50, None, Walk::All).await.unwrap()), ["a4"]);
    assert_eq!(texts_of(by_tag(db, &bo_tag, 50, None, Walk::All).await.unwrap()), ["b2"]);
    let retention =
        crate::retention::Retention { ips: std::time::Duration::from_secs(50), texts: std::time::Duration::MAX };
    crate::retention::purge(db, retention).await.unwrap();
    assert!(addresses_of(db, &al_tag).await.unwrap().is_empty());
    assert!(by_tag(db, &al_tag, 50, None, Walk::All).await.unwrap().is_empty());
    assert_eq!(addresses_of(db, &bo_tag).await.unwrap(), ["2001:db8::7"]);
}

/// The messages around one: `n` either side in its room, other rooms' left out, deleted
/// ones kept, fewer at a room's ends, across batches and a restart.
async fn messages_around_one(db: &DatabaseConnection) {
    let tagger = IpTagger::new(b"k");
    let log = MessageLog::new(db.clone());
    let mut batch = Vec::new();
    for i in 0..10 {
        batch.push(message("lobby", &format!("l{i}"), i * 2));
        batch.push(message("help", &format!("h{i}"), i * 2 + 1));
    }
    log.record(&batch[..9], &tagger, Delivery::First).await.unwrap();
    let log = MessageLog::new(db.clone());
    log.record(&batch[9..], &tagger, Delivery::First).await.unwrap();
    message_log::Entity::update_many()
        .col_expr(message_log::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(message_log::Column::Text.eq("l4"))
        .exec(db)
        .await
        .unwrap();
    let lobby = RoomSlug::parse("lobby").unwrap();
    let around = |i: usize, n: u64| {
        let (log, lobby) = (&log, &lobby);
        let id = batch[i].message.id;
        async move { log.around(lobby, id, n).await.unwrap().into_iter().map(|r| r.text).collect::<Vec<_>>() }
    };
    assert_eq!(around(10, 2).await, ["l3", "l4", "l5", "l6", "l7"]);
    assert_eq!(around(0, 2).await, ["l0", "l1", "l2"]);
    assert_eq!(around(18, 3).await, ["l6", "l7", "l8", "l9"]);
    assert_eq!(around(10, 0).await, ["l5"]);
    assert_eq!(around(10, 50).await.len(), 10);
    // A message of another room, or none at all, has nothing around it here.
    assert!(around(1, 2).await.is_empty());
    assert!(log.around(&lobby, ulid::Ulid::new(), 2).await.unwrap().is_empty());

    // A message further back in its room than a walk goes is read forward by primary key.
    let busy: Vec<LoggedMessage> =
        (0..MAX_HOPS as i64 + 3).map(|i| message("busy", &format!("b{i}"), 100 + i)).collect();
    log.record(&busy, &tagger, Delivery::First).await.unwrap();
    let texts = log.around(&RoomSlug::parse("busy").unwrap(), busy[1].message.id, 2).await.unwrap();
    assert_eq!(texts.into_iter().map(|r| r.text).collect::<Vec<_>>(), ["b0", "b1", "b2", "b3"]);
}

/// The Discord side's questions (`message_log/mirror.rs`): a batch planned, posted or skipped leaves the
/// unmirrored, and deleting its Discord message deletes what it carried, once.
async fn mirror_batches_and_deletions(db: &DatabaseConnection) {
    let log = MessageLog::new(db.clone());
    let messages = [message("lobby", "a", 1), message("lobby", "b", 2), message("lobby", "c", 3)];
    log.record(&messages, &IpTagger::new(b"k"), Delivery::First).await.unwrap();
    let ids: Vec<String> = messages.iter().map(|m| m.message.id.to_string()).collect();
    let since = Utc::now() - Duration::minutes(1);
    assert_eq!(log.unmirrored_since(since).await.unwrap().len(), 3);

    log.plan_discord_batch(&ids[0], ids[..2].to_vec()).await.unwrap();
    let batch: Vec<String> = log.discord_batch(&ids[0]).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(batch, ids[..2]);
    let unplanned: Vec<String> = log.unplanned(&ids).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(unplanned, ids[2..]);

    log.discord_posted(&ids[0], 42).await.unwrap();
    assert_eq!(log.by_id(&ids[1]).await.unwrap().unwrap().discord_message_id, Some(42));
    assert_eq!(log.unmirrored_since(since).await.unwrap().len(), 1);
    // Skipping marks only what is not in Discord.
    log.discord_skipped(ids.clone()).await.unwrap();
    assert_eq!(log.by_id(&ids[0]).await.unwrap().unwrap().discord_batch.as_deref(), Some(ids[0].as_str()));
    assert_eq!(log.by_id(&ids[2]).await.unwrap().unwrap().discord_batch.as_deref(), Some(MessageLog::SKIPPED));
    assert!(log.unmirrored_since(since).await.unwrap().is_empty());

    // Discord message 42 carries the first two; deleting it in Discord deletes them once.
    assert_eq!(log.carried_by(42, false).await.unwrap().len(), 2);
    assert!(log.carried_by(42, true).await.unwrap().is_empty());
    assert!(log.still_shown(42).await.unwrap());
    assert_eq!(log.delete_carried_by(vec![42]).await.unwrap().len(), 2);
    assert!(!log.still_shown(42).await.unwrap());
    assert!(log.delete_carried_by(vec![42]).await.unwrap().is_empty());
    log.delete(ids[2..].iter().cloned()).await.unwrap();
    assert!(log.by_id(&ids[2]).await.unwrap().unwrap().deleted_at.is_some());
}

/// An author's edits and deletion: every text kept, a redelivered change applied once, a change
/// of a message taken down already leaves its row alone.
async fn authors_changes_keep_every_text(db: &DatabaseConnection) {
    let tagger = IpTagger::new(b"k");
    let log = MessageLog::new(db.clone());
    let sent = [message("lobby", "first", 1), message("lobby", "other", 2)];
    log.record(&sent, &tagger, Delivery::First).await.unwrap();
    let change = |m: &LoggedMessage, text: Option<&str>, secs: i64| protocol::MessageChange {
        id: m.message.id,
        room: "lobby".into(),
        nick: "al".into(),
        text: text.map(str::to_owned),
        at: Utc::now() + Duration::seconds(secs),
        ip: IpAddr::from([203, 0, 113, 10]),
        shadow: false,
        device: None,
    };
    let edit = change(&sent[0], Some("second"), 3);
    let applied = log.change(&edit, &tagger).await.unwrap();
    assert!(applied.new);
    assert_eq!(applied.previous.as_deref(), Some("first"));
    assert_eq!(applied.row.as_ref().map(|r| r.text.as_str()), Some("second"));
    assert!(!log.change(&edit, &tagger).await.unwrap().new, "a redelivery changes nothing");
    let deletion = change(&sent[0], None, 4);
    let row = log.change(&deletion, &tagger).await.unwrap().row.unwrap();
    assert_eq!((row.deleted_by.as_deref(), row.text.as_str()), (Some(BY_AUTHOR), "second"));
    // An edit arriving after the deletion is kept as evidence only.
    let late = log.change(&change(&sent[0], Some("third"), 5), &tagger).await.unwrap();
    assert!(!late.new);
    assert_eq!(late.row.map(|r| r.text), Some("second".to_owned()));
    let kept: Vec<(String, Option<String>, Option<String>)> = log
        .changes_of(&sent[0].message.id.to_string())
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.text_before, c.text_after))
        .collect();
    assert_eq!(
        kept,
        vec![
            ("edit".into(), Some("first".into()), Some("second".into())),
            ("delete".into(), Some("second".into()), None),
            ("edit".into(), Some("second".into()), Some("third".into())),
        ]
    );
    // A moderator's deletion stays one.
    log.delete(std::iter::once(sent[1].message.id.to_string())).await.unwrap();
    let row = log.change(&change(&sent[1], None, 6), &tagger).await.unwrap().row.unwrap();
    assert_eq!(row.deleted_by, None);
}

/// Runs a test body against a fresh, migrated SQLite file and then a fresh, migrated
/// PostgreSQL database (`TEST_DATABASE_URL`, default the machine's server), each removed
/// afterwards.
macro_rules! on_both_databases {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            #[tokio::test]
            async fn on_sqlite() {
                super::with_sqlite(super::$body).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                super::with_postgres(super::$body).await;
            }
        }
    )*};
}

on_both_databases!(
    walks_back_through_each_room,
    walks_back_through_each_sender,
    messages_around_one,
    mirror_batches_and_deletions,
    authors_changes_keep_every_text,
);

async fn with_sqlite(body: impl AsyncFnOnce(&DatabaseConnection)) {
    let dir = std::env::temp_dir().join(format!("cr-log-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", dir.join("log.db").display())).await.unwrap();
    crate::db::migrate(&db).await.unwrap();
    body(&db).await;
    db.close().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn with_postgres(body: impl AsyncFnOnce(&DatabaseConnection)) {
    let admin_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin_url}): {e}"));
    let name = format!("cr_log_{}", ulid::Ulid::new().to_string().to_lowercase());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let db = crate::db::connect(&format!("{base}/{name}")).await.unwrap();
    crate::db::migrate(&db).await.unwrap();
    body(&db).await;
    db.close().await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE {name}")).await.unwrap();
}
