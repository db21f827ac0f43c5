//! Lookups by IP tag: the addresses a tag stands for, and their messages.

use sea_orm::{DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement};

use crate::BotError;
use crate::entities::{message_log, visitor_tails};

/// The addresses whose messages were logged under IP tag `tag` (see [`crate::iptag::tag_range`]),
/// one per (tag, address), in no set order: an address logged under two tags (a changed tagging
/// key) comes twice.
/// A tag that matches no address's own tag is tried as an IPv6 /64 tag (the second tag of
/// IPv6 footers).
pub async fn addresses_of(db: &DatabaseConnection, tag: &str) -> Result<Vec<String>, BotError> {
    tail_column(db, tag, visitor_tails::Column::Ip).await
}

/// The device tags of `tag`'s senders: the device of each sender's latest logged message (a
/// sender whose client sent none has none), newest first, at most `max`.
pub async fn devices_of(db: &DatabaseConnection, tag: &str, max: usize) -> Result<Vec<String>, BotError> {
    use sea_orm::{ColumnTrait, QueryOrder};
    let tails = tails_of(db, tag).await?;
    let rows: Vec<Option<String>> = message_log::Entity::find()
        .select_only()
        .column(message_log::Column::DeviceTag)
        .filter(message_log::Column::Id.is_in(tails))
        .order_by_desc(message_log::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut devices: Vec<String> = Vec::new();
    for device in rows.into_iter().flatten() {
        if devices.len() < max && !devices.contains(&device) {
            devices.push(device);
        }
    }
    Ok(devices)
}

/// The last logged message id of every sender under `tag` (own tag first, else /64 tag).
async fn tails_of(db: &DatabaseConnection, tag: &str) -> Result<Vec<String>, BotError> {
    tail_column(db, tag, visitor_tails::Column::LastId).await
}

/// One text column of `visitor_tails` for every sender under `tag`: the rows of the address's
/// own tag, else (none matching) those of the /64 tag.
async fn tail_column(
    db: &DatabaseConnection,
    tag: &str,
    column: visitor_tails::Column,
) -> Result<Vec<String>, BotError> {
    for net64 in [false, true] {
        let found: Vec<String> = visitor_tails::Entity::find()
            .select_only()
            .column(column)
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
