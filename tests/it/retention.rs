//! Scans that no longer grow with the log (issue 25), on SQLite and PostgreSQL: retention walks
//! the log by primary key in batches, each its own transaction, from where the last pass
//! stopped; ended visitor rooms and pairs past retention leave `rooms`; room reads for the sync
//! and autocomplete read only what is open, with a limit.

use std::time::Duration;

use bot::retention::{Purged, Retention, purge_in_batches};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::chat::fresh_postgres_database;
use crate::support::temp_dir;

pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// A log row sent at `at`, under an id of that time (as gateways make them).
pub(crate) async fn logged(db: &DatabaseConnection, at: DateTime<Utc>, text: &str) -> String {
    let id =
        ulid::Ulid::from_parts(u64::try_from(at.timestamp_millis()).unwrap(), ulid::Ulid::new().random()).to_string();
    let sql = format!(
        "INSERT INTO message_log (id, room, nickname, ip, ip_tag, text, sent_at) VALUES \
         ('{id}', 'lobby', 'A', '203.0.113.1', 'aaaa0000', '{text}', '{}')",
        at.to_rfc3339()
    );
    db.execute_unprepared(&sql).await.unwrap();
    id
}

pub(crate) async fn column(db: &DatabaseConnection, sql: &str, name: &str) -> Vec<String> {
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    rows.iter().map(|row| row.try_get("", name).unwrap()).collect()
}

async fn retention_works_in_batches(db: DatabaseConnection) {
    let old = Utc::now() - chrono::Duration::days(400);
    for i in 0..25 {
        logged(&db, old + chrono::Duration::seconds(i), &format!("old {i}")).await;
    }
    let recent = logged(&db, Utc::now() - chrono::Duration::days(1), "recent").await;
    // Addresses only: 25 rows, at most 10 per transaction.
    let ips_only = Retention { ips: 30 * DAY, texts: Duration::MAX };
    let purged = purge_in_batches(&db, ips_only, 10).await.unwrap();
    assert_eq!((purged.ips, purged.texts, purged.transactions, purged.largest), (25, 0, 3, 10), "{purged:?}");
    let ips = column(&db, "SELECT ip FROM message_log ORDER BY id", "ip").await;
    assert_eq!(ips.iter().filter(|ip| *ip == "erased").count(), 25);
    let sql = format!("SELECT ip FROM message_log WHERE id = '{recent}'");
    assert_eq!(column(&db, &sql, "ip").await, ["203.0.113.1"], "the recent row keeps its address");
    // The next pass starts where this one stopped: nothing to read, no transaction.
    assert_eq!(purge_in_batches(&db, ips_only, 10).await.unwrap(), Purged::default());
    // Texts go by the same walk, 7 per transaction; the addresses' walk has nothing left.
    let both = Retention { ips: 30 * DAY, texts: 365 * DAY };
    let purged = purge_in_batches(&db, both, 7).await.unwrap();
    assert_eq!((purged.ips, purged.texts, purged.transactions, purged.largest), (0, 25, 4, 7), "{purged:?}");
    let texts = column(&db, "SELECT text FROM message_log ORDER BY id", "text").await;
    assert_eq!(texts.iter().filter(|t| t.is_empty()).count(), 25);
    assert_eq!(texts.last().map(String::as_str), Some("recent"));
}

/// A staff room, visitor rooms open, ended lately and ended long ago, and a pair.
async fn rooms_table(db: &DatabaseConnection) {
    let long_ago = (Utc::now() - chrono::Duration::days(400)).to_rfc3339();
    let lately = (Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let now = Utc::now().to_rfc3339();
    for (slug, kind, expires) in [
        ("help", "staff", None),
        ("v-help-open", "visitor", None),
        ("v-open", "visitor", None),
        ("v-ended", "visitor", Some(&lately)),
        ("v-help-gone", "visitor", Some(&long_ago)),
        ("p-gone", "roulette", Some(&long_ago)),
        ("p-live", "roulette", None),
    ] {
        let expires = expires.map_or_else(|| "NULL".to_owned(), |e| format!("'{e}'"));
        db.execute_unprepared(&format!(
            "INSERT INTO rooms (slug, kind, title, topic, capacity, listed, locked, slowmode_secs, created_at, \
             updated_at, expires_at) VALUES ('{slug}', '{kind}', '{slug}', '', 2, FALSE, FALSE, 0, '{now}', '{now}', \
             {expires})"
        ))
        .await
        .unwrap();
    }
}

async fn rooms_are_read_by_what_is_open_and_dropped_past_retention(db: DatabaseConnection) {
    rooms_table(&db).await;
    let slugs = |rooms: Vec<bot::entities::rooms::Model>| rooms.into_iter().map(|r| r.slug).collect::<Vec<_>>();
    assert_eq!(slugs(bot::rooms::list_live(&db).await.unwrap()), ["help", "p-live", "v-help-open", "v-open"]);
    assert_eq!(slugs(bot::rooms::list_staff(&db).await.unwrap()), ["help"]);
    // Autocomplete: open rooms starting with what was typed first, then containing it, limited.
    assert_eq!(bot::rooms::names_matching(&db, "help", 25).await.unwrap(), ["help", "v-help-open"]);
    assert_eq!(bot::rooms::names_matching(&db, "v-", 25).await.unwrap(), ["v-help-open", "v-open"]);
    assert_eq!(bot::rooms::names_matching(&db, "", 2).await.unwrap(), ["help", "p-live"]);
    assert_eq!(bot::rooms::names_matching(&db, "open", 1).await.unwrap(), ["v-help-open"]);
    assert!(bot::rooms::names_matching(&db, "%", 25).await.unwrap().is_empty());
    // Retention drops the visitor rooms and pairs that ended before the texts' period, in
    // batches; the staff room and rooms that ended lately stay.
    let purged = purge_in_batches(&db, Retention { ips: 30 * DAY, texts: 365 * DAY }, 1).await.unwrap();
    assert_eq!(purged.rooms, 2);
    let all = column(&db, "SELECT slug FROM rooms ORDER BY slug", "slug").await;
    assert_eq!(all, ["help", "p-live", "v-ended", "v-help-open", "v-open"]);
}

pub(crate) async fn on_sqlite(body: impl AsyncFnOnce(DatabaseConnection)) {
    let dir = temp_dir();
    let db = bot::db::connect(&format!("sqlite://{}?mode=rwc", dir.join("chat.db").display())).await.unwrap();
    bot::db::migrate(&db).await.unwrap();
    body(db).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

pub(crate) async fn on_postgres(body: impl AsyncFnOnce(DatabaseConnection)) {
    let (url, drop_db) = fresh_postgres_database().await;
    let db = bot::db::connect(&url).await.unwrap();
    bot::db::migrate(&db).await.unwrap();
    body(db.clone()).await;
    db.close().await.unwrap();
    drop_db.await;
}

#[tokio::test]
async fn retention_works_in_batches_on_sqlite() {
    on_sqlite(retention_works_in_batches).await;
}

#[tokio::test]
async fn retention_works_in_batches_on_postgres() {
    on_postgres(retention_works_in_batches).await;
}

#[tokio::test]
async fn rooms_are_read_by_what_is_open_and_dropped_past_retention_on_sqlite() {
    on_sqlite(rooms_are_read_by_what_is_open_and_dropped_past_retention).await;
}

#[tokio::test]
async fn rooms_are_read_by_what_is_open_and_dropped_past_retention_on_postgres() {
    on_postgres(rooms_are_read_by_what_is_open_and_dropped_past_retention).await;
}

/// The mirror's start-up scan: only the window's ids, page by page.
async fn the_mirror_scan_reads_its_window_in_pages(db: DatabaseConnection) {
    let since = Utc::now() - chrono::Duration::minutes(2);
    logged(&db, since - chrono::Duration::minutes(1), "before the window").await;
    for i in 0..5 {
        logged(&db, since + chrono::Duration::seconds(i + 1), &format!("w{i}")).await;
    }
    let log = bot::message_log::MessageLog::new(db.clone());
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = log.unmirrored_page(since, after.as_deref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|row| row.id.clone());
        pages.push(page.into_iter().map(|row| row.text).collect::<Vec<_>>());
    }
    assert_eq!(pages, [vec!["w0", "w1"], vec!["w2", "w3"], vec!["w4"]]);
    assert_eq!(log.unmirrored_since(since).await.unwrap().len(), 5);
}

#[tokio::test]
async fn the_mirror_scan_reads_its_window_in_pages_on_sqlite() {
    on_sqlite(the_mirror_scan_reads_its_window_in_pages).await;
}

#[tokio::test]
async fn the_mirror_scan_reads_its_window_in_pages_on_postgres() {
    on_postgres(the_mirror_scan_reads_its_window_in_pages).await;
}

/// Reports lose their reporter's address and device after the addresses' period, their
/// nickname and note after the texts'; a recent report keeps everything, and recording one
/// twice (a redelivered queue entry) keeps one row.
async fn reports_follow_retention(db: DatabaseConnection) {
    let report = |days: i64, reporter: &str| protocol::ReportEvent {
        message: ulid::Ulid::new(),
        room: protocol::RoomSlug::parse("lobby").unwrap(),
        nick: "Nick".to_owned(),
        reason: protocol::ReportReason::Hate,
        note: Some("a note".to_owned()),
        reporter: reporter.to_owned(),
        reporter_ip: "198.51.100.3".parse().unwrap(),
        reporter_device: Some("d3v1ce7a6000".to_owned()),
        reporter_since: Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(1),
        at: Utc::now() - chrono::Duration::days(days),
    };
    let ancient = bot::reports::record(&db, &report(400, "g:1")).await.unwrap();
    let old = bot::reports::record(&db, &report(40, "g:2")).await.unwrap();
    let recent = report(1, "g:3");
    let first = bot::reports::record(&db, &recent).await.unwrap();
    assert_eq!(bot::reports::record(&db, &recent).await.unwrap().id, first.id, "recorded twice");
    let purged = purge_in_batches(&db, Retention { ips: 30 * DAY, texts: 365 * DAY }, 10).await.unwrap();
    assert_eq!((purged.ips, purged.texts), (2, 1), "{purged:?}");
    let get = async |id| bot::reports::get(&db, id).await.unwrap().unwrap();
    let (ancient, old, recent) = (get(ancient.id).await, get(old.id).await, get(first.id).await);
    assert_eq!((ancient.reporter_ip.as_str(), ancient.reporter_device.as_deref()), ("erased", None));
    assert_eq!((ancient.reported_nick.as_str(), ancient.note.as_deref()), ("", None));
    assert_eq!((old.reporter_ip.as_str(), old.reporter_device.as_deref()), ("erased", None));
    assert_eq!((old.reported_nick.as_str(), old.note.as_deref()), ("Nick", Some("a note")));
    assert_eq!(
        (recent.reporter_ip.as_str(), recent.reporter_device.as_deref()),
        ("198.51.100.3", Some("d3v1ce7a6000"))
    );
    assert_eq!((recent.reported_nick.as_str(), recent.reason.as_str()), ("Nick", "hate"));
}

#[tokio::test]
async fn reports_follow_retention_on_sqlite() {
    on_sqlite(reports_follow_retention).await;
}

#[tokio::test]
async fn reports_follow_retention_on_postgres() {
    on_postgres(reports_follow_retention).await;
}

/// Appeals follow the log: their addresses go after `RETENTION_DAYS`, the appeals themselves
/// (texts, replies) after `TEXT_RETENTION_DAYS`.
async fn appeals_follow_retention(db: DatabaseConnection) {
    let tagger = bot::iptag::IpTagger::new(b"retention-test-secret");
    let appeal = |days: i64| protocol::AppealEvent {
        token: bus::resume::new_token(),
        case: days,
        ban: Some(1),
        mute: None,
        text: format!("{days} days old"),
        ip: "203.0.113.5".parse().unwrap(),
        at: Utc::now() - chrono::Duration::days(days),
    };
    let (fresh, older, ancient) = (appeal(1), appeal(40), appeal(400));
    for event in [&fresh, &older, &ancient] {
        bot::appeals::record(&db, &tagger, event).await.unwrap();
    }
    let purged = purge_in_batches(&db, Retention { ips: 30 * DAY, texts: 365 * DAY }, 100).await.unwrap();
    assert!(purged.ips >= 2 && purged.texts >= 1, "{purged:?}");
    let kept = bot::appeals::by_token(&db, &fresh.token).await.unwrap().unwrap();
    assert_eq!((kept.ip.as_deref(), kept.ip_tag.is_some()), (Some("203.0.113.5"), true));
    let erased = bot::appeals::by_token(&db, &older.token).await.unwrap().unwrap();
    assert_eq!((erased.ip, erased.ip_tag, erased.text.as_str()), (None, None, "40 days old"));
    assert!(bot::appeals::by_token(&db, &ancient.token).await.unwrap().is_none(), "past the texts' period");
}

#[tokio::test]
async fn appeals_follow_retention_on_sqlite() {
    on_sqlite(appeals_follow_retention).await;
}

#[tokio::test]
async fn appeals_follow_retention_on_postgres() {
    on_postgres(appeals_follow_retention).await;
}
