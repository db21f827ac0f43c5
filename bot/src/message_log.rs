//! The message log: the complete record of web messages, with the sender's IP, whatever
//! happens to Discord.
//!
//! Each row names the message logged before it in its room (`prev_id`) and `room_tails` holds
//! each room's latest, so a room's history is a walk back by primary key. The log has no
//! per-room index: with many busy rooms such an index put each message of a batch on a page of
//! its own, which SQLite wrote twice (WAL, then checkpoint) — most of what the one-process
//! default wrote per message.
//!
//! The same goes for senders: each visitor message names the message logged before it from the
//! same address (`prev_by_ip`) and `visitor_tails` holds each (tag, address)'s latest, so a
//! moderator's lookup by IP tag reads that small table and walks back, instead of an index on
//! the tag that put each message of a batch on a page of its own too.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use protocol::{LoggedMessage, MessageView, RoomSlug};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteArguments};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement, sqlx,
};

mod mirror;

use crate::BotError;
use crate::entities::{message_log, room_tails, visitor_tails};
use crate::iptag::IpTagger;

/// A message to log, with what only the log keeps.
#[derive(Debug)]
pub struct Entry<'a> {
    pub message: &'a MessageView,
    pub ip: String,
    pub ip_tag: Option<String>,
    /// Set for staff messages, which are on Discord already.
    pub discord_message_id: Option<i64>,
}

/// Whether a batch may hold messages that are logged already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Read from the queue for the first time, or a staff message: its ids are new (a gateway
    /// queues each message once, under an id of its own).
    First,
    /// Reclaimed from a consumer that never acknowledged it, or the retry of a write that may
    /// have committed after all.
    Again,
}

/// How many rooms' tails a log keeps in memory; past that it forgets them all and reads them
/// back as rooms come up (visitor rooms and roulette pairs come and go by the thousand).
const MAX_KNOWN_TAILS: usize = 10_000;

/// How far back a history walk goes looking for messages that were not deleted.
const MAX_HOPS: u64 = 1_000;

/// The log of one database. Clones share it: writes go one at a time, each chaining its rooms'
/// and senders' messages onto the tails the previous write left, which it remembers (reading
/// rows back through the SQLite driver costs more per row than writing them).
#[derive(Clone)]
pub struct MessageLog {
    db: DatabaseConnection,
    /// The latest logged messages as far as known; the lock makes writes one at a time.
    tails: Arc<tokio::sync::Mutex<Known>>,
}

/// Tails as far as known, each map forgotten whole when it grows past [`MAX_KNOWN_TAILS`].
#[derive(Default)]
struct Known {
    /// Room → its latest message.
    rooms: HashMap<String, String>,
    /// Address → its latest message. An address has one tag while the process runs (the
    /// tagging key is read at start), so the address alone keys its (tag, address) tail here.
    senders: HashMap<String, String>,
}

/// What a write moved: rooms' and senders' new tails.
#[derive(Default)]
struct Moved {
    rooms: Vec<(String, String)>,
    senders: Vec<(String, String)>,
}

/// Remember `moved` in `known`, or start over when it would grow past the cap.
fn remember(known: &mut HashMap<String, String>, moved: Vec<(String, String)>) {
    if known.len() + moved.len() > MAX_KNOWN_TAILS {
        known.clear();
    }
    known.extend(moved);
}

impl MessageLog {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, tails: Arc::default() }
    }

    /// Write messages with their senders' IP tags; ids already logged are skipped, so a
    /// redelivered queue entry is harmless.
    pub async fn record(
        &self,
        messages: &[LoggedMessage],
        tagger: &IpTagger,
        delivery: Delivery,
    ) -> Result<(), BotError> {
        let entries: Vec<Entry<'_>> = messages
            .iter()
            .map(|m| Entry {
                message: &m.message,
                ip: m.ip.to_string(),
                ip_tag: Some(tagger.describe(m.ip)),
                discord_message_id: None,
            })
            .collect();
        self.insert(&entries, delivery).await
    }

    /// Write entries in one transaction, each chained onto the previous message of its room
    /// and of its sender, and move the rooms' and senders' tails to their newest. Entries whose
    /// id is logged already are left out (looked for when `delivery` says they may be), so a
    /// tail never moves back to a message it had passed.
    pub async fn insert(&self, entries: &[Entry<'_>], delivery: Delivery) -> Result<(), BotError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut known = self.tails.lock().await;
        match self.write(entries, delivery, &mut known).await {
            Ok(moved) => {
                remember(&mut known.rooms, moved.rooms);
                remember(&mut known.senders, moved.senders);
                Ok(())
            }
            Err(e) => {
                // It may have been written after all (a connection lost at commit): read the
                // tails back rather than guess.
                *known = Known::default();
                Err(e)
            }
        }
    }

    /// The write itself; returns the new tails.
    async fn write(&self, entries: &[Entry<'_>], delivery: Delivery, known: &mut Known) -> Result<Moved, BotError> {
        let db = &self.db;
        let ids: Vec<String> = entries.iter().map(|e| e.message.id.to_string()).collect();
        // Reads come before the transaction: a SQLite transaction that reads first and writes
        // later fails when another connection wrote in between. Only this log writes tails,
        // one write at a time, so what is read here is still current when the transaction runs.
        let logged: HashSet<String> = match delivery {
            Delivery::First => HashSet::new(),
            Delivery::Again => message_log::Entity::find()
                .select_only()
                .column(message_log::Column::Id)
                .filter(message_log::Column::Id.is_in(ids.iter().map(String::as_str)))
                .into_tuple::<String>()
                .all(db)
                .await?
                .into_iter()
                .collect(),
        };
        let unknown: HashSet<&str> =
            entries.iter().map(|e| e.message.room.as_str()).filter(|room| !known.rooms.contains_key(*room)).collect();
        if !unknown.is_empty() {
            let stored = room_tails::Entity::find().filter(room_tails::Column::Room.is_in(unknown)).all(db).await?;
            known.rooms.extend(stored.into_iter().map(|tail| (tail.room, tail.last_id)));
        }
        let unknown: HashSet<(&str, &str)> = entries
            .iter()
            .filter_map(|e| Some((e.ip_tag.as_deref()?, e.ip.as_str())))
            .filter(|(_, ip)| !known.senders.contains_key(*ip))
            .collect();
        if !unknown.is_empty() {
            let stored = visitor_tails::Entity::find()
                .filter(visitor_tails::Column::IpTag.is_in(unknown.iter().map(|(tag, _)| *tag)))
                .filter(visitor_tails::Column::Ip.is_in(unknown.iter().map(|(_, ip)| *ip)))
                .all(db)
                .await?;
            known.senders.extend(
                stored
                    .into_iter()
                    .filter(|tail| unknown.contains(&(tail.ip_tag.as_str(), tail.ip.as_str())))
                    .map(|tail| (tail.ip, tail.last_id)),
            );
        }
        // Each room's and each sender's newest entry so far in this batch, and the rows to write.
        let mut tails: HashMap<&str, &str> = HashMap::new();
        let mut senders: HashMap<(&str, &str), usize> = HashMap::new();
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(entries.len());
        for (entry, id) in entries.iter().zip(&ids) {
            if logged.contains(id) {
                continue;
            }
            let m = entry.message;
            let prev_id = match tails.insert(m.room.as_str(), id.as_str()) {
                Some(prev) => Some(prev.to_owned()),
                None => known.rooms.get(&m.room).cloned(),
            };
            // Staff messages have no sender chain.
            let prev_by_ip = match entry.ip_tag.as_deref() {
                Some(tag) => match senders.insert((tag, entry.ip.as_str()), rows.len()) {
                    Some(prev) => rows.get(prev).map(|row| row.id.to_owned()),
                    None => known.senders.get(&entry.ip).cloned(),
                },
                None => None,
            };
            rows.push(Row { id, entry, prev_id, prev_by_ip });
        }
        if rows.is_empty() {
            return Ok(Moved::default());
        }
        let rooms: Vec<(String, String)> =
            tails.into_iter().map(|(room, id)| (room.to_owned(), id.to_owned())).collect();
        let newest: Vec<&Row<'_>> = senders.into_values().filter_map(|i| rows.get(i)).collect();
        match db.get_database_backend() {
            DbBackend::Postgres => write_postgres(db, &rows, &rooms, &newest).await?,
            // SQLite, the only other backend the product opens.
            _ => write_sqlite(db, &rows, &rooms, &newest).await?,
        }
        let senders = newest.iter().map(|row| (row.entry.ip.clone(), row.id.to_owned())).collect();
        Ok(Moved { rooms, senders })
    }
}

/// One row of a write: the entry, its id as text and the messages before it in its room and
/// from its sender.
struct Row<'a> {
    id: &'a str,
    entry: &'a Entry<'a>,
    prev_id: Option<String>,
    prev_by_ip: Option<String>,
}

/// PostgreSQL: the rows and both tails as three JSON parameters of one statement, whose text never
/// changes. A multi-row `VALUES` list is a new statement for every batch size, which the server
/// parses and plans each time (a batch is seldom the size of one it saw lately); one statement
/// is also atomic by itself, so no BEGIN and COMMIT round trips.
async fn write_postgres(
    db: &DatabaseConnection,
    rows: &[Row<'_>],
    moved: &[(String, String)],
    senders: &[&Row<'_>],
) -> Result<(), BotError> {
    const WRITE: &str = "WITH rows AS ( \
           INSERT INTO message_log \
             (id, room, nickname, ip, ip_tag, text, staff, discord_message_id, sent_at, prev_id, prev_by_ip) \
           SELECT id, room, nickname, ip, ip_tag, text, staff, discord_message_id, sent_at, prev_id, prev_by_ip \
           FROM json_to_recordset($1::json) AS r(id varchar, room varchar, nickname varchar, ip varchar, \
             ip_tag varchar, text text, staff boolean, discord_message_id bigint, sent_at timestamptz, prev_id varchar, \
             prev_by_ip varchar) \
           ON CONFLICT (id) DO NOTHING \
         ), rooms AS ( \
           INSERT INTO room_tails (room, last_id) \
           SELECT room, last_id FROM json_to_recordset($2::json) AS t(room varchar, last_id varchar) \
           ON CONFLICT (room) DO UPDATE SET last_id = excluded.last_id \
         ) \
         INSERT INTO visitor_tails (ip_tag, ip, last_id, last_at) \
         SELECT ip_tag, ip, last_id, last_at \
         FROM json_to_recordset($3::json) AS s(ip_tag varchar, ip varchar, last_id varchar, last_at timestamptz) \
         ON CONFLICT (ip_tag, ip) DO UPDATE SET last_id = excluded.last_id, last_at = excluded.last_at";
    let values = json_batch(rows, moved, senders)?;
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, WRITE, values)).await?;
    Ok(())
}

/// A row as the statements read it from JSON.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    id: &'a str,
    room: &'a str,
    nickname: &'a str,
    ip: &'a str,
    ip_tag: Option<&'a str>,
    text: &'a str,
    staff: bool,
    discord_message_id: Option<i64>,
    sent_at: String,
    prev_id: Option<&'a str>,
    prev_by_ip: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct JsonTail<'a> {
    room: &'a str,
    last_id: &'a str,
}

#[derive(serde::Serialize)]
struct JsonSender<'a> {
    ip_tag: Option<&'a str>,
    ip: &'a str,
    last_id: &'a str,
    last_at: String,
}

/// The rows, the rooms' tails and the senders' tails as three JSON arrays for PostgreSQL.
fn json_batch(
    rows: &[Row<'_>],
    moved: &[(String, String)],
    senders: &[&Row<'_>],
) -> Result<[sea_orm::Value; 3], BotError> {
    // Microseconds, as PostgreSQL keeps them (and as a bound timestamp is cut).
    let time = |at: &chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let rows: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|row| {
            let m = row.entry.message;
            JsonRow {
                id: row.id,
                room: &m.room,
                nickname: &m.nick,
                ip: &row.entry.ip,
                ip_tag: row.entry.ip_tag.as_deref(),
                text: &m.text,
                staff: m.staff,
                discord_message_id: row.entry.discord_message_id,
                sent_at: time(&m.at),
                prev_id: row.prev_id.as_deref(),
                prev_by_ip: row.prev_by_ip.as_deref(),
            }
        })
        .collect();
    let tails: Vec<JsonTail<'_>> = moved.iter().map(|(room, id)| JsonTail { room, last_id: id }).collect();
    let senders: Vec<JsonSender<'_>> = senders
        .iter()
        .map(|row| JsonSender {
            ip_tag: row.entry.ip_tag.as_deref(),
            ip: &row.entry.ip,
            last_id: row.id,
            last_at: time(&row.entry.message.at),
        })
        .collect();
    let encode = |e: serde_json::Error| BotError::Invalid(format!("cannot encode the log batch: {e}"));
    Ok([
        serde_json::to_string(&rows).map_err(encode)?.into(),
        serde_json::to_string(&tails).map_err(encode)?.into(),
        serde_json::to_string(&senders).map_err(encode)?.into(),
    ])
}

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
async fn write_sqlite(
    db: &DatabaseConnection,
    rows: &[Row<'_>],
    moved: &[(String, String)],
    senders: &[&Row<'_>],
) -> Result<(), BotError> {
    static ROWS: LazyLock<String> = LazyLock::new(|| {
        chunk_insert(
            "INSERT INTO message_log \
               (id, room, nickname, ip, ip_tag, text, staff, discord_message_id, sent_at, prev_id, prev_by_ip) \
             SELECT * FROM (VALUES {}) WHERE column1 IS NOT NULL ON CONFLICT (id) DO NOTHING",
            11,
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
                .bind(m.text.as_str())
                .bind(m.staff)
                .bind(row.entry.discord_message_id)
                .bind(as_bound(&m.at))
                .bind(row.prev_id.as_deref())
                .bind(row.prev_by_ip.as_deref());
        }
        pad(query, chunk.len(), 11).execute(&mut *txn).await.map_err(driver_error)?;
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

/// The room's last `limit` messages that were not deleted, oldest first: a walk back from the
/// room's tail that stops once it has `limit` of them or has gone [`MAX_HOPS`] messages back,
/// deleted ones included. A chain only ever points back to a message logged before, so the
/// walk meets no message twice.
pub async fn recent(db: &DatabaseConnection, room: &RoomSlug, limit: u64) -> Result<Vec<MessageView>, BotError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let param = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "WITH RECURSIVE chain(id, prev_id, kept, hops) AS ( \
             SELECT m.id, m.prev_id, CASE WHEN m.deleted_at IS NULL THEN 1 ELSE 0 END, 1 \
             FROM room_tails t JOIN message_log m ON m.id = t.last_id WHERE t.room = {param} \
           UNION ALL \
             SELECT m.id, m.prev_id, c.kept + CASE WHEN m.deleted_at IS NULL THEN 1 ELSE 0 END, c.hops + 1 \
             FROM chain c JOIN message_log m ON m.id = c.prev_id \
             WHERE c.kept < {limit} AND c.hops < {MAX_HOPS} \
         ) \
         SELECT m.* FROM chain c JOIN message_log m ON m.id = c.id WHERE m.deleted_at IS NULL"
    );
    let mut rows = message_log::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, [room.as_str().into()]))
        .all(db)
        .await?;
    // Chain order is logging order; a room's history is shown in sending order.
    rows.sort_by(|a, b| (a.sent_at, &a.id).cmp(&(b.sent_at, &b.id)));
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.id.parse().ok()?;
            Some(MessageView {
                id,
                room: row.room,
                nick: row.nickname,
                text: row.text,
                at: row.sent_at,
                staff: row.staff,
            })
        })
        .collect())
}

/// The addresses whose messages were logged under IP tag `tag` (see [`crate::iptag::tag_range`]),
/// one per (tag, address), in no set order: an address logged under two tags (a changed tagging
/// key) comes twice.
/// A tag that matches no address's own tag is tried as an IPv6 /64 tag (the second tag of
/// IPv6 footers).
pub async fn addresses_of(db: &DatabaseConnection, tag: &str) -> Result<Vec<String>, BotError> {
    for net64 in [false, true] {
        let found: Vec<String> = visitor_tails::Entity::find()
            .select_only()
            .column(visitor_tails::Column::Ip)
            .filter(crate::iptag::tag_match(visitor_tails::Column::IpTag, tag, net64))
            .into_tuple()
            .all(db)
            .await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

/// The last logged message id of every sender under `tag` (own tag first, else /64 tag).
async fn tails_of(db: &DatabaseConnection, tag: &str) -> Result<Vec<String>, BotError> {
    for net64 in [false, true] {
        let found: Vec<String> = visitor_tails::Entity::find()
            .select_only()
            .column(visitor_tails::Column::LastId)
            .filter(crate::iptag::tag_match(visitor_tails::Column::IpTag, tag, net64))
            .into_tuple()
            .all(db)
            .await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

/// Which messages a walk by [`by_tag`] counts and returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// Every message, deleted ones included (what a moderator reads back).
    All,
    /// Only messages not deleted yet: deleted ones are passed over, neither counted nor
    /// returned, so a second purge reaches past what the first took. Only `after` limits how
    /// many deleted ones a walk passes, so give one.
    Undeleted,
}

/// Messages logged under IP tag `tag`, newest first: a walk back from each of the tag's
/// senders that stops after `per_sender` messages `walk` counts, at the first message sent at
/// or before `after` when given, and where retention erased the address.
pub async fn by_tag(
    db: &DatabaseConnection,
    tag: &str,
    per_sender: u64,
    after: Option<chrono::DateTime<chrono::Utc>>,
    walk: Walk,
) -> Result<Vec<message_log::Model>, BotError> {
    let starts = tails_of(db, tag).await?;
    if starts.is_empty() || per_sender == 0 {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let mut values: Vec<sea_orm::Value> = starts.into_iter().map(Into::into).collect();
    let placeholder = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() };
    let anchors: Vec<String> = (1..=values.len()).map(placeholder).collect();
    let mut param = |value: sea_orm::Value| {
        values.push(value);
        placeholder(values.len())
    };
    let (anchor_after, step_after) = match after {
        Some(at) => (format!("AND m.sent_at > {}", param(at.into())), format!("AND m.sent_at > {}", param(at.into()))),
        None => (String::new(), String::new()),
    };
    // `hops` counts the messages the walk counts; passed-over ones add nothing.
    let (counts, returned) = match walk {
        Walk::All => ("1", ""),
        Walk::Undeleted => ("CASE WHEN m.deleted_at IS NULL THEN 1 ELSE 0 END", "WHERE m.deleted_at IS NULL"),
    };
    let sql = format!(
        "WITH RECURSIVE chain(id, prev, hops) AS ( \
             SELECT m.id, m.prev_by_ip, {counts} FROM message_log m \
             WHERE m.id IN ({}) AND m.ip_tag IS NOT NULL {anchor_after} \
           UNION ALL \
             SELECT m.id, m.prev_by_ip, c.hops + {counts} FROM chain c JOIN message_log m ON m.id = c.prev \
             WHERE c.hops < {per_sender} AND m.ip_tag IS NOT NULL {step_after} \
         ) \
         SELECT m.* FROM chain c JOIN message_log m ON m.id = c.id {returned}",
        anchors.join(", ")
    );
    let mut rows =
        message_log::Entity::find().from_raw_sql(Statement::from_sql_and_values(backend, sql, values)).all(db).await?;
    rows.sort_by(|a, b| (b.sent_at, &b.id).cmp(&(a.sent_at, &a.id)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use chrono::{Duration, Utc};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ConnectionTrait, Database, PaginatorTrait};

    use super::*;

    fn message(room: &str, text: &str, at_secs: i64) -> LoggedMessage {
        LoggedMessage {
            message: MessageView {
                id: ulid::Ulid::new(),
                room: room.to_owned(),
                nick: "al".to_owned(),
                text: text.to_owned(),
                at: Utc::now() + Duration::seconds(at_secs),
                staff: false,
            },
            ip: IpAddr::from([203, 0, 113, 9]),
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
            &[Entry { message: &staff, ip: "staff".to_owned(), ip_tag: None, discord_message_id: Some(7) }],
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
        let row = |id: ulid::Ulid| async move {
            message_log::Entity::find_by_id(id.to_string()).one(db).await.unwrap().unwrap()
        };
        let staff_row = row(staff.id).await;
        assert_eq!(
            (staff_row.room.as_str(), staff_row.nickname.as_str(), staff_row.ip.as_str(), staff_row.ip_tag.as_deref()),
            ("lobby", "al", "staff", None)
        );
        assert_eq!((staff_row.text.as_str(), staff_row.staff, staff_row.discord_message_id), ("staff", true, Some(7)));
        assert_eq!(staff_row.sent_at.timestamp_micros(), staff.at.timestamp_micros());
        // Stored times compare with bound ones, as retention and /purge compare them.
        let earlier =
            message_log::Entity::find().filter(message_log::Column::SentAt.lt(staff.at)).count(db).await.unwrap();
        assert_eq!(earlier, 3, "l1, h1 and l2 were sent before the staff message");
        // Equal only when the stored text is exactly what a bound time is.
        let same =
            message_log::Entity::find().filter(message_log::Column::SentAt.eq(staff.at)).count(db).await.unwrap();
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
        let from =
            |ip: IpAddr, room: &str, text: &str, at_secs: i64| LoggedMessage { ip, ..message(room, text, at_secs) };
        let log = MessageLog::new(db.clone());
        let first = [from(al, "lobby", "a1", -600), from(bo, "help", "b1", -500), from(al, "help", "a2", -400)];
        log.record(&first, &tagger, Delivery::First).await.unwrap();
        let staff = MessageView { staff: true, ..message("lobby", "staff", -300).message };
        log.insert(
            &[Entry { message: &staff, ip: "staff".to_owned(), ip_tag: None, discord_message_id: Some(7) }],
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
        let row = |id: ulid::Ulid| async move {
            message_log::Entity::find_by_id(id.to_string()).one(db).await.unwrap().unwrap()
        };
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

    async fn sqlite() -> (DatabaseConnection, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cr-log-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", dir.join("log.db").display())).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        (db, dir)
    }

    /// A migrated database of its own on the machine's PostgreSQL, and the server's admin
    /// connection that drops it.
    async fn postgres() -> (DatabaseConnection, DatabaseConnection, String) {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin_url}): {e}"));
        let name = format!("cr_log_{}", ulid::Ulid::new().to_string().to_lowercase());
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let db = crate::db::connect(&format!("{base}/{name}")).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        (db, admin, name)
    }

    #[tokio::test]
    async fn history_walks_back_through_each_room_on_sqlite() {
        let (db, dir) = sqlite().await;
        walks_back_through_each_room(&db).await;
        db.close().await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn history_walks_back_through_each_room_on_postgres() {
        let (db, admin, name) = postgres().await;
        walks_back_through_each_room(&db).await;
        db.close().await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE {name}")).await.unwrap();
    }

    #[tokio::test]
    async fn a_tag_walks_back_through_its_senders_messages_on_sqlite() {
        let (db, dir) = sqlite().await;
        walks_back_through_each_sender(&db).await;
        db.close().await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_tag_walks_back_through_its_senders_messages_on_postgres() {
        let (db, admin, name) = postgres().await;
        walks_back_through_each_sender(&db).await;
        db.close().await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE {name}")).await.unwrap();
    }
}
