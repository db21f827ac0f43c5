//! Writing a chained batch to SQLite.

use std::sync::{Arc, LazyLock};

use sea_orm::sqlx::sqlite::{Sqlite, SqliteArguments};
use sea_orm::{DatabaseConnection, sqlx};

use super::write::Row;
use crate::BotError;

/// Rows per SQLite statement: each table's insert is one statement of fixed text for this many
/// rows, run once per full or partial chunk of a batch, unused rows bound as NULL and skipped.
const SQLITE_CHUNK: usize = 64;

/// SQLite: each table's rows bound positionally into one multi-row `VALUES` statement of fixed
/// text ([`SQLITE_CHUNK`] rows; a short chunk is padded with NULL rows that `WHERE … IS NOT
/// NULL` leaves out), all in one transaction, through the driver itself, which copies each value
/// once, rather than through ORM values that are copied again. Fixed text is prepared once and kept
/// by the driver; a `VALUES` list whose length followed the batch was new text for every batch
/// size, and reading the rows out of a JSON array (`json_each`) made SQLite turn each row back
/// into JSON text once for every column it read, most of what a batch cost it. Times are bound
/// as text in the driver's own format, so the stored text compares with bound times as before.
pub(super) async fn write(
    db: &DatabaseConnection,
    rows: &[Row<'_>],
    moved: &[(String, String)],
    senders: &[&Row<'_>],
) -> Result<(), BotError> {
    static ROWS: LazyLock<String> = LazyLock::new(|| {
        chunk_insert(
            "INSERT INTO message_log \
               (id, room, nickname, ip, ip_tag, device_tag, text, staff, discord_message_id, sent_at, prev_id, \
                prev_by_ip) \
             SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL ON CONFLICT (id) DO NOTHING",
            12,
        )
    });
    static ROOMS: LazyLock<String> = LazyLock::new(|| {
        chunk_insert(
            "INSERT INTO room_tails (room, last_id) SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL \
             ON CONFLICT (room) DO UPDATE SET last_id = excluded.last_id",
            2,
        )
    });
    static SENDERS: LazyLock<String> = LazyLock::new(|| {
        chunk_insert(
            "INSERT INTO visitor_tails (ip_tag, ip, last_id, last_at) SELECT * FROM (VALUES {}) \
             WHERE column2 IS NOT NULL \
             ON CONFLICT (ip_tag, ip) DO UPDATE SET last_id = excluded.last_id, last_at = excluded.last_at",
            4,
        )
    });
    let as_bound = |at: &chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    // `write` only calls this for a SQLite connection, which is always a pool of the driver's.
    let pool = db.get_sqlite_connection_pool();
    let mut txn = pool.begin().await.map_err(driver_error)?;
    for chunk in rows.chunks(SQLITE_CHUNK) {
        let mut query = sqlx::query(ROWS.as_str());
        for row in chunk {
            let m = row.entry.message;
            query = query
                .bind(row.id)
                .bind(m.room.as_str())
                .bind(m.nick.as_str())
                .bind(row.entry.ip.as_str())
                .bind(row.entry.ip_tag.as_deref())
                .bind(row.entry.device_tag)
                .bind(m.text.as_str())
                .bind(m.staff)
                .bind(row.entry.discord_message_id)
                .bind(as_bound(&m.at))
                .bind(row.prev_id.as_deref())
                .bind(row.prev_by_ip.as_deref());
        }
        pad(query, chunk.len(), 12).execute(&mut *txn).await.map_err(driver_error)?;
    }
    for chunk in moved.chunks(SQLITE_CHUNK) {
        let mut query = sqlx::query(ROOMS.as_str());
        for (room, id) in chunk {
            query = query.bind(room.as_str()).bind(id.as_str());
        }
        pad(query, chunk.len(), 2).execute(&mut *txn).await.map_err(driver_error)?;
    }
    for chunk in senders.chunks(SQLITE_CHUNK) {
        let mut query = sqlx::query(SENDERS.as_str());
        for row in chunk {
            let at = as_bound(&row.entry.message.at);
            query = query.bind(row.entry.ip_tag.as_deref()).bind(row.entry.ip.as_str()).bind(row.id).bind(at);
        }
        pad(query, chunk.len(), 4).execute(&mut *txn).await.map_err(driver_error)?;
    }
    txn.commit().await.map_err(driver_error)?;
    Ok(())
}

/// A driver error as the ORM reports one, so callers see one kind of database error.
fn driver_error(error: sqlx::Error) -> sea_orm::DbErr {
    sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(Arc::new(error)))
}

/// A query of the log's SQLite statements, bound by position.
type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// `template` with its `{}` replaced by [`SQLITE_CHUNK`] rows of `columns` placeholders.
fn chunk_insert(template: &str, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    template.replacen("{}", &vec![row; SQLITE_CHUNK].join(", "), 1)
}

/// `query`, which has `rows` rows of `columns` values bound, with NULL bound for the rest of
/// its [`SQLITE_CHUNK`] rows.
fn pad(mut query: SqliteQuery<'_>, rows: usize, columns: usize) -> SqliteQuery<'_> {
    for _ in 0..(SQLITE_CHUNK - rows) * columns {
        query = query.bind(None::<&str>);
    }
    query
}
