//! The message log's write path measured alone: `messages` visitor messages over `rooms` rooms
//! (three senders per room, a quarter of them on IPv6), written through [`MessageLog::record`]
//! in batches of the bot's size into a fresh SQLite file or a fresh PostgreSQL database, then
//! one line of `key=value` figures: this process's CPU-seconds, and what the database wrote.
//!
//! ```text
//! cargo run --release -p bot --example logbench -- sqlite [messages] [rooms] [batch]
//! cargo run --release -p bot --example logbench -- postgres://postgres@127.0.0.1:5432/postgres …
//! ```
//!
//! SQLite runs in this process, so its CPU is in `cpu_s` and its writes are this process's
//! `write(2)` bytes (`wchar` of `/proc/self/io`: the database and WAL files; the run ends with a
//! checkpoint so both designs pay for their pages reaching the database file). A PostgreSQL
//! server's work is in its backends: `server_cpu_s` reads their `/proc/<pid>/stat` (the server
//! must run on this machine), and `wal_bytes` sums the WAL records that touched the run's
//! database (`pg_walinspect`), so other databases' traffic on a shared server stays out.

use std::net::IpAddr;
use std::time::Instant;

use bot::iptag::IpTagger;
use bot::message_log::{Delivery, MessageLog};
use chrono::{DateTime, Utc};
use protocol::{LoggedMessage, MessageView};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

type Error = Box<dyn std::error::Error>;

/// The bot's largest queue batch (`BATCH` in the bot's service).
const BOT_BATCH: usize = 500;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args.first().map(String::as_str).unwrap_or("sqlite");
    let number = |i: usize, default: usize| -> Result<usize, Error> {
        Ok(args.get(i).map(|a| a.parse()).transpose()?.unwrap_or(default))
    };
    let (count, rooms, batch) = (number(1, 100_000)?, number(2, 1_000)?, number(3, BOT_BATCH)?);
    let messages = generate(count, rooms.max(1));
    let figures = if target == "sqlite" {
        sqlite(&messages, batch.max(1)).await?
    } else {
        postgres(target, &messages, batch.max(1)).await?
    };
    println!("messages={count} rooms={rooms} batch={batch} {figures}");
    Ok(())
}

/// `count` messages in sending order, each in a room picked at random and from one of that
/// room's three senders, one millisecond apart, ending now.
fn generate(count: usize, rooms: usize) -> Vec<LoggedMessage> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: deterministic, so every run writes the same messages.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let start = Utc::now() - chrono::Duration::milliseconds(count as i64);
    (0..count)
        .map(|i| {
            let room = (next() % rooms as u64) as usize;
            let sender = room * 3 + (next() % 3) as usize;
            let at: DateTime<Utc> = start + chrono::Duration::milliseconds(i as i64);
            let id = ulid::Ulid::from_parts(at.timestamp_millis() as u64, u128::from(next()));
            let ip = if sender % 4 == 3 {
                IpAddr::from([0x2001, 0xdb8, 0, (sender >> 16) as u16, 0, 0, 0, sender as u16])
            } else {
                IpAddr::from([10, (sender >> 16) as u8, (sender >> 8) as u8, sender as u8])
            };
            LoggedMessage {
                message: MessageView {
                    id,
                    room: format!("bench-{room:04}"),
                    nick: format!("visitor{sender}"),
                    text: format!("message {i}: the quick brown fox jumps over the lazy dog"),
                    at,
                    staff: false,
                    ..MessageView::default()
                },
                ip,
                shadow: false,
                device: None,
            }
        })
        .collect()
}

/// Write `messages` through a fresh log in batches of `batch`.
async fn write(db: &DatabaseConnection, messages: &[LoggedMessage], batch: usize) -> Result<(), Error> {
    let log = MessageLog::new(db.clone());
    let tagger = IpTagger::new(b"logbench");
    for chunk in messages.chunks(batch) {
        log.record(chunk, &tagger, Delivery::First).await?;
    }
    Ok(())
}

/// Which design the migrations gave the log: chains have a `room_tails` table.
async fn design(db: &DatabaseConnection) -> Result<&'static str, Error> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT count(*) FROM information_schema.tables WHERE table_name = 'room_tails'",
        _ => "SELECT count(*) FROM sqlite_master WHERE name = 'room_tails'",
    };
    Ok(if scalar(db, sql).await? > 0 { "chains" } else { "indexes" })
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> Result<i64, Error> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(row.ok_or("no row")?.try_get_by_index::<i64>(0)?)
}

async fn sqlite(messages: &[LoggedMessage], batch: usize) -> Result<String, Error> {
    let dir = std::env::temp_dir().join(format!("logbench-{}", ulid::Ulid::new()));
    let file = dir.join("log.db");
    let db = bot::db::connect(&format!("sqlite://{}?mode=rwc", file.display())).await?;
    bot::db::migrate(&db).await?;
    let design = design(&db).await?;
    let (cpu, io, wall) = (cpu_ticks("self")?, written("wchar")?, Instant::now());
    write(&db, messages, batch).await?;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    let (cpu, io, wall) = (cpu_ticks("self")? - cpu, written("wchar")? - io, wall.elapsed());
    let rows = scalar(&db, "SELECT count(*) FROM message_log").await?;
    db.close().await?;
    let size = std::fs::metadata(&file)?.len();
    std::fs::remove_dir_all(&dir)?;
    Ok(format!(
        "db=sqlite design={design} rows={rows} cpu_s={:.2} wall_s={:.2} written_bytes={io} file_bytes={size}",
        seconds(cpu),
        wall.as_secs_f64()
    ))
}

async fn postgres(admin_url: &str, messages: &[LoggedMessage], batch: usize) -> Result<String, Error> {
    let admin = Database::connect(admin_url).await?;
    let name = format!("logbench_{}", ulid::Ulid::new().to_string().to_lowercase());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    let db = bot::db::connect(&format!("{base}/{name}")).await?;
    bot::db::migrate(&db).await?;
    let design = design(&db).await?;
    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_walinspect").await?;
    let oid = scalar(&db, "SELECT oid::bigint FROM pg_database WHERE datname = current_database()").await?;
    // Pages first touched after a checkpoint are logged whole: start every run just after one.
    db.execute_unprepared("CHECKPOINT").await?;
    let lsn = |db: &DatabaseConnection| {
        let db = db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_current_wal_lsn()::text"))
                .await?;
            Ok::<String, Error>(row.ok_or("no row")?.try_get_by_index::<String>(0)?)
        }
    };
    let start_lsn = lsn(&db).await?;
    let server_before = backends_cpu(&db, &name).await?;
    let (cpu, wall) = (cpu_ticks("self")?, Instant::now());
    write(&db, messages, batch).await?;
    let (cpu, wall) = (cpu_ticks("self")? - cpu, wall.elapsed());
    let server_after = backends_cpu(&db, &name).await?;
    let server: u64 = server_after
        .iter()
        .map(|(pid, after)| after - server_before.iter().find(|(p, _)| p == pid).map_or(0, |b| b.1))
        .sum();
    let end_lsn = lsn(&db).await?;
    let wal = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*)::bigint, coalesce(sum(record_length), 0)::bigint, coalesce(sum(fpi_length), 0)::bigint \
             FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) WHERE block_ref LIKE $3",
            [start_lsn.into(), end_lsn.into(), format!("% rel %/{oid}/%").into()],
        ))
        .await?
        .ok_or("no row")?;
    let (records, wal_bytes, fpi_bytes): (i64, i64, i64) =
        (wal.try_get_by_index(0)?, wal.try_get_by_index(1)?, wal.try_get_by_index(2)?);
    let rows = scalar(&db, "SELECT count(*) FROM message_log").await?;
    let size = scalar(
        &db,
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
    )
    .await?;
    db.close().await?;
    admin.execute_unprepared(&format!("DROP DATABASE {name}")).await?;
    Ok(format!(
        "db=postgres design={design} rows={rows} cpu_s={:.2} server_cpu_s={:.2} wall_s={:.2} wal_records={records} \
         wal_bytes={wal_bytes} wal_fpi_bytes={fpi_bytes} relation_bytes={size}",
        seconds(cpu),
        seconds(server),
        wall.as_secs_f64()
    ))
}

/// CPU ticks (utime + stime) of every backend connected to database `name`, by pid.
async fn backends_cpu(db: &DatabaseConnection, name: &str) -> Result<Vec<(i64, u64)>, Error> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pid::bigint FROM pg_stat_activity WHERE datname = $1",
            [name.into()],
        ))
        .await?;
    let mut ticks = Vec::new();
    for row in rows {
        let pid: i64 = row.try_get_by_index(0)?;
        ticks.push((pid, cpu_ticks(&pid.to_string())?));
    }
    Ok(ticks)
}

/// utime + stime of `/proc/<pid>/stat`, in clock ticks.
fn cpu_ticks(pid: &str) -> Result<u64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').ok_or("bad stat")?.1.split_whitespace().collect();
    let field = |n: usize| -> Result<u64, Error> { Ok(fields.get(n).ok_or("short stat")?.parse()?) };
    // utime and stime are fields 14 and 15 of the line: the 12th and 13th after the name.
    Ok(field(11)? + field(12)?)
}

/// Clock ticks as seconds (`CLK_TCK` is 100 on Linux).
fn seconds(ticks: u64) -> f64 {
    ticks as f64 / 100.0
}

/// A counter of `/proc/self/io`.
fn written(key: &str) -> Result<u64, Error> {
    let io = std::fs::read_to_string("/proc/self/io")?;
    let line = io.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(": ")).ok_or("no such counter")?;
    Ok(line.trim().parse()?)
}
