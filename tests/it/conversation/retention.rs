//! Retention of authors' changes (`message_edits`), on SQLite and PostgreSQL: their addresses go
//! after `RETENTION_DAYS`, the rows with their texts after `TEXT_RETENTION_DAYS`, by the age of
//! their message, like the log's own rows.

use std::time::Duration;

use bot::retention::{Retention, purge_in_batches};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::retention::{DAY, column, logged, on_postgres, on_sqlite};

async fn changed(db: &DatabaseConnection, id: &str, at: chrono::DateTime<Utc>) {
    let sql = format!(
        "INSERT INTO message_edits (message_id, room, kind, text_before, text_after, at, ip, ip_tag, shadow) VALUES \
         ('{id}', 'lobby', 'edit', 'before', 'after', '{}', '203.0.113.9', 'aaaa0000', false)",
        at.to_rfc3339()
    );
    db.execute_unprepared(&sql).await.unwrap();
}

async fn changes_follow_their_messages(db: DatabaseConnection) {
    let (old, middle, recent) =
        (Utc::now() - chrono::Duration::days(400), Utc::now() - chrono::Duration::days(60), Utc::now());
    for at in [old, middle, recent] {
        let id = logged(&db, at, "x").await;
        changed(&db, &id, at).await;
    }
    let ips_only = Retention { ips: 30 * DAY, texts: Duration::MAX };
    let purged = purge_in_batches(&db, ips_only, 100).await.unwrap();
    assert_eq!(purged.ips, 2 + 2, "two log rows and two changes: {purged:?}");
    let ips = column(&db, "SELECT ip FROM message_edits ORDER BY message_id", "ip").await;
    assert_eq!(ips, ["erased", "erased", "203.0.113.9"]);
    let both = Retention { ips: 30 * DAY, texts: 365 * DAY };
    let purged = purge_in_batches(&db, both, 100).await.unwrap();
    assert_eq!(purged.texts, 1 + 1, "one log text and one change: {purged:?}");
    let kept = column(&db, "SELECT text_before FROM message_edits ORDER BY message_id", "text_before").await;
    assert_eq!(kept, ["before", "before"], "the two younger changes stay");
}

#[tokio::test]
async fn changes_follow_their_messages_on_sqlite() {
    on_sqlite(changes_follow_their_messages).await;
}

#[tokio::test]
async fn changes_follow_their_messages_on_postgres() {
    on_postgres(changes_follow_their_messages).await;
}
