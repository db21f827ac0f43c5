//! Migrations run up, down and up again on SQLite and on the machine's PostgreSQL server
//! (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`), each run in a
//! database of its own that is dropped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const TABLES: &[&str] =
    &["rooms", "bans", "message_log", "audit_log", "settings", "filters", "room_tails", "visitor_tails"];

async fn assert_tables(db: &DatabaseConnection, present: bool) {
    let manager = migration::SchemaManager::new(db);
    for table in TABLES {
        assert_eq!(manager.has_table(*table).await.unwrap(), present, "table {table}");
    }
}

/// Messages logged before the room chains existed are chained per room in time order, and each
/// room's latest becomes its tail.
async fn existing_messages_are_chained(db: &DatabaseConnection) {
    Migrator::up(db, Some(4)).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO message_log (id, room, nickname, ip, text, sent_at) VALUES \
         ('01JDZ0000000000000000000A3', 'lobby', 'Al', '192.0.2.1', 'third', '2026-11-25T00:00:03Z'), \
         ('01JDZ0000000000000000000A1', 'lobby', 'Al', '192.0.2.1', 'first', '2026-11-25T00:00:01Z'), \
         ('01JDZ0000000000000000000A2', 'help', 'Bo', '192.0.2.2', 'second', '2026-11-25T00:00:02Z')",
    )
    .await
    .unwrap();
    Migrator::up(db, None).await.unwrap();
    let backend = db.get_database_backend();
    let pairs = |sql: &str| {
        let sql = sql.to_owned();
        async move {
            let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
            rows.iter()
                .map(|row| {
                    (row.try_get_by_index::<String>(0).unwrap(), row.try_get_by_index::<Option<String>>(1).unwrap())
                })
                .collect::<Vec<_>>()
        }
    };
    let chained = pairs("SELECT text, prev_id FROM message_log ORDER BY id").await;
    assert_eq!(
        chained,
        [
            ("first".to_owned(), None),
            ("second".to_owned(), None),
            ("third".to_owned(), Some("01JDZ0000000000000000000A1".to_owned())),
        ]
    );
    let tails = pairs("SELECT room, last_id FROM room_tails ORDER BY room").await;
    assert_eq!(
        tails,
        [
            ("help".to_owned(), Some("01JDZ0000000000000000000A2".to_owned())),
            ("lobby".to_owned(), Some("01JDZ0000000000000000000A3".to_owned())),
        ]
    );
    Migrator::down(db, None).await.unwrap();
}

/// Visitor messages logged before the sender chains existed are chained per (tag, address) in
/// time order, each sender's latest becomes its tail, and rows without a tag stay unchained.
async fn existing_senders_are_chained(db: &DatabaseConnection) {
    Migrator::up(db, Some(5)).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO message_log (id, room, nickname, ip, ip_tag, text, staff, sent_at) VALUES \
         ('01JDZ0000000000000000000A3', 'lobby', 'Al', '192.0.2.1', 'aaaa0001', 'third', false, '2026-11-25T00:00:03Z'), \
         ('01JDZ0000000000000000000A1', 'help', 'Al', '192.0.2.1', 'aaaa0001', 'first', false, '2026-11-25T00:00:01Z'), \
         ('01JDZ0000000000000000000A2', 'lobby', 'Bo', '192.0.2.2', 'bbbb0002', 'second', false, '2026-11-25T00:00:02Z'), \
         ('01JDZ0000000000000000000A4', 'lobby', 'Mod', 'staff', NULL, 'staff', true, '2026-11-25T00:00:04Z')",
    )
    .await
    .unwrap();
    Migrator::up(db, None).await.unwrap();
    let backend = db.get_database_backend();
    let rows = |sql: &str| {
        let sql = sql.to_owned();
        async move { db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap() }
    };
    let chained: Vec<(String, Option<String>)> = rows("SELECT text, prev_by_ip FROM message_log ORDER BY id")
        .await
        .iter()
        .map(|row| (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap()))
        .collect();
    assert_eq!(
        chained,
        [
            ("first".to_owned(), None),
            ("second".to_owned(), None),
            ("third".to_owned(), Some("01JDZ0000000000000000000A1".to_owned())),
            ("staff".to_owned(), None),
        ]
    );
    let tails: Vec<(String, String, String)> = rows("SELECT ip_tag, ip, last_id FROM visitor_tails ORDER BY ip_tag")
        .await
        .iter()
        .map(|row| {
            (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap(), row.try_get_by_index(2).unwrap())
        })
        .collect();
    let tail = |tag: &str, ip: &str, id: &str| (tag.to_owned(), ip.to_owned(), id.to_owned());
    assert_eq!(
        tails,
        [
            tail("aaaa0001", "192.0.2.1", "01JDZ0000000000000000000A3"),
            tail("bbbb0002", "192.0.2.2", "01JDZ0000000000000000000A2"),
        ]
    );
    Migrator::down(db, None).await.unwrap();
}

async fn up_down_up(db: &DatabaseConnection) {
    existing_messages_are_chained(db).await;
    existing_senders_are_chained(db).await;
    Migrator::up(db, None).await.unwrap();
    assert_tables(db, true).await;
    assert!(Migrator::get_pending_migrations(db).await.unwrap().is_empty());
    Migrator::down(db, None).await.unwrap();
    assert_tables(db, false).await;
    Migrator::up(db, None).await.unwrap();
    assert_tables(db, true).await;
    // The schema takes what the bot writes: a room and a message with an IPv6 address.
    db.execute_unprepared(
        "INSERT INTO rooms (slug, kind, title, capacity, created_at, updated_at) \
         VALUES ('lobby', 'staff', 'Lobby', 50, '2026-11-25T00:00:00Z', '2026-11-25T00:00:00Z')",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO message_log (id, room, nickname, ip, text, sent_at) \
         VALUES ('01JDZ0000000000000000000AA', 'lobby', 'Al', '2001:db8::1', 'hi', '2026-11-25T00:00:00Z')",
    )
    .await
    .unwrap();
    lookups_use_the_log_indexes(db).await;
}

/// The Discord columns' partial indexes (only rows that have a value) still serve the
/// lookups the bot makes by Discord message and by batch, the senders' tails serve lookups by IP
/// tag, and the log has no index on raw IPs nor on tags.
async fn lookups_use_the_log_indexes(db: &DatabaseConnection) {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    if postgres {
        // The tables are tiny: without this the planner would rightly scan them.
        db.execute_unprepared("SET enable_seqscan = off").await.unwrap();
    }
    let tails_key = if postgres { "visitor_tails_pkey" } else { "sqlite_autoindex_visitor_tails_1" };
    for (query, index) in [
        ("SELECT id FROM message_log WHERE discord_message_id = 42", "message_log_discord"),
        ("SELECT id FROM message_log WHERE discord_message_id IN (42, 43)", "message_log_discord"),
        ("SELECT id FROM message_log WHERE discord_batch = '01JDZ0000000000000000000AA'", "message_log_discord_batch"),
        // How the bot looks up an IP tag (`iptag::tag_range`): a range, which the key serves.
        ("SELECT last_id FROM visitor_tails WHERE ip_tag >= 'abcd1239' AND ip_tag < 'abcd123a'", tails_key),
    ] {
        let explain = if postgres { format!("EXPLAIN {query}") } else { format!("EXPLAIN QUERY PLAN {query}") };
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), explain)).await.unwrap();
        let plan: Vec<String> =
            rows.iter().map(|row| row.try_get_by_index::<String>(if postgres { 0 } else { 3 }).unwrap()).collect();
        assert!(plan.iter().any(|line| line.contains(index)), "{query} should use {index}; plan: {plan:?}");
    }
    // No index on raw IPs (no query uses one), per room (history walks room chains) nor per
    // tag (a tag's messages are a walk back from its senders' tails).
    for gone in ["message_log_ip", "message_log_room_sent", "message_log_ip_tag"] {
        let index = if postgres {
            format!("SELECT indexname FROM pg_indexes WHERE tablename = 'message_log' AND indexname = '{gone}'")
        } else {
            format!("SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{gone}'")
        };
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), index)).await.unwrap();
        assert!(rows.is_empty(), "{gone} should be gone");
    }
}

#[tokio::test]
async fn migrations_run_up_and_down_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("cr-migration-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
    let db = Database::connect(&url).await.unwrap();
    up_down_up(&db).await;
    db.close().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn migrations_run_up_and_down_on_postgres() {
    let admin_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin_url}): {e}"));
    let name = format!("cr_migration_{}", ulid::Ulid::new().to_string().to_lowercase());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let db = Database::connect(format!("{base}/{name}")).await.unwrap();
    up_down_up(&db).await;
    db.close().await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE {name}")).await.unwrap();
}
