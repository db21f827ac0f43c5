//! Migrations run up, down and up again on SQLite and on the machine's PostgreSQL server
//! (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`), each run in a
//! database of its own that is dropped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

const TABLES: &[&str] = &["rooms", "bans", "message_log", "audit_log", "settings", "filters"];

async fn assert_tables(db: &DatabaseConnection, present: bool) {
    let manager = migration::SchemaManager::new(db);
    for table in TABLES {
        assert_eq!(manager.has_table(*table).await.unwrap(), present, "table {table}");
    }
}

async fn up_down_up(db: &DatabaseConnection) {
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
