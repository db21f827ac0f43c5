//! Writing a chained batch to PostgreSQL.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::write::Row;
use crate::BotError;

/// PostgreSQL: the rows and both tails as three JSON parameters of one statement, whose text never
/// changes. A multi-row `VALUES` list is a new statement for every batch size, which the server
/// parses and plans each time (a batch is seldom the size of one it saw lately); one statement
/// is also atomic by itself, so no BEGIN and COMMIT round trips.
pub(super) async fn write(
    db: &DatabaseConnection,
    rows: &[Row<'_>],
    moved: &[(String, String)],
    senders: &[&Row<'_>],
) -> Result<(), BotError> {
    const WRITE: &str = "WITH rows AS ( \
           INSERT INTO message_log \
             (id, room, nickname, ip, ip_tag, device_tag, text, staff, discord_message_id, sent_at, prev_id, \
              prev_by_ip) \
           SELECT id, room, nickname, ip, ip_tag, device_tag, text, staff, discord_message_id, sent_at, prev_id, \
             prev_by_ip \
           FROM json_to_recordset($1::json) AS r(id varchar, room varchar, nickname varchar, ip varchar, \
             ip_tag varchar, device_tag varchar, text text, staff boolean, discord_message_id bigint, sent_at timestamptz, prev_id varchar, \
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
    device_tag: Option<&'a str>,
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
                device_tag: row.entry.device_tag,
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
