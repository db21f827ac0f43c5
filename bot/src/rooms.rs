//! Room definitions: the operator's and moderators' view (database) and the gateways' view
//! ([`RoomDef`] on the bus). Operators (`chatroulette rooms …`) and moderators (`/room …`) change
//! rooms through the same calls, [`create`], [`change`] and [`delete`], which also write the
//! audit log.

use bus::Bus;
use chrono::Utc;
use protocol::{RoomDef, RoomKind, RoomSlug};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::BotError;
use crate::entities::{rooms, settings};

/// Largest room anyone may configure.
pub const CAPACITY_MAX: u32 = 10_000;
const TITLE_MAX: usize = 100;
const TOPIC_MAX: usize = 300;
/// Set once the default rooms were created, so rooms an operator removed stay removed.
const SEEDED_KEY: &str = "default_rooms_seeded";

/// The rooms a fresh installation starts with: (slug, title, topic, capacity).
const DEFAULT_ROOMS: &[(&str, &str, &str, u32)] = &[
    ("lobby", "Lobby", "Say hello: everyone starts here.", 50),
    ("chill", "Chill", "Slow talk, good vibes.", 20),
    ("games", "Games", "Video games, board games, any games.", 20),
];

/// A new room, as an operator or moderator describes it.
#[derive(Debug, Clone)]
pub struct NewRoom {
    pub slug: RoomSlug,
    pub capacity: u32,
    pub title: Option<String>,
    pub topic: Option<String>,
    pub listed: bool,
}

/// Changes to a room; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RoomPatch {
    pub capacity: Option<u32>,
    pub title: Option<String>,
    pub topic: Option<String>,
    pub listed: Option<bool>,
    pub locked: Option<bool>,
    pub slowmode_secs: Option<u32>,
    /// Links from visitors in the trust tier.
    pub links: Option<protocol::LinksPolicy>,
}

fn check_capacity(capacity: u32) -> Result<i32, BotError> {
    if (1..=CAPACITY_MAX).contains(&capacity) {
        i32::try_from(capacity).map_err(|_| BotError::Invalid("capacity out of range".into()))
    } else {
        Err(BotError::Invalid(format!("capacity must be between 1 and {CAPACITY_MAX}")))
    }
}

fn check_text(what: &str, value: &str, max: usize) -> Result<String, BotError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(BotError::Invalid(format!("{what} is at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(BotError::Invalid(format!("{what} may not contain control characters")));
    }
    Ok(value.to_owned())
}

fn default_title(slug: &RoomSlug) -> String {
    let mut title = String::new();
    for (i, word) in slug.as_str().split('-').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            title.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            title.extend(first.to_uppercase());
            title.push_str(chars.as_str());
        }
    }
    title
}

/// The bus view of a stored room; `None` (and a warning) for a row that breaks the rules,
/// e.g. edited by hand in the database.
pub fn to_def(model: &rooms::Model) -> Option<RoomDef> {
    let slug = RoomSlug::parse(&model.slug).ok();
    let kind = RoomKind::parse(&model.kind);
    let capacity = u32::try_from(model.capacity).ok().filter(|c| *c >= 1);
    match (slug, kind, capacity) {
        (Some(slug), Some(kind), Some(capacity)) => Some(RoomDef {
            slug,
            kind,
            title: model.title.clone(),
            topic: model.topic.clone(),
            capacity,
            listed: model.listed,
            locked: model.locked,
            slowmode_secs: u32::try_from(model.slowmode_secs).unwrap_or(0),
            owner: None,
            links: links_of(model),
        }),
        _ => {
            tracing::warn!(slug = %model.slug, kind = %model.kind, capacity = model.capacity, "ignoring an invalid room row");
            None
        }
    }
}

/// A stored room's `links` setting; an unknown value (edited by hand) reads as the default.
pub fn links_of(model: &rooms::Model) -> protocol::LinksPolicy {
    protocol::LinksPolicy::parse(&model.links).unwrap_or_default()
}

/// Every room, by slug.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<rooms::Model>, BotError> {
    Ok(rooms::Entity::find().order_by_asc(rooms::Column::Slug).all(db).await?)
}

/// A cheap summary of the staff rooms (how many, and the latest change to any of them), so the
/// periodic sync can tell that nothing changed without reading and decoding every row. Every
/// write to a staff room's definition stamps `updated_at`; a deletion changes the count.
pub async fn fingerprint(db: &DatabaseConnection) -> Result<(i64, Option<String>), BotError> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = format!(
        "SELECT COUNT(*), CAST(MAX(updated_at) AS TEXT) FROM rooms WHERE kind = '{}'",
        RoomKind::Staff.as_str()
    );
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    match row {
        Some(row) => Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)),
        None => Ok((0, None)),
    }
}

/// Rooms that exist now: staff rooms, and visitor rooms and pairs that have not ended (read by
/// the `rooms_expires_at` index, not through the ended ones).
pub async fn list_live(db: &DatabaseConnection) -> Result<Vec<rooms::Model>, BotError> {
    Ok(rooms::Entity::find()
        .filter(rooms::Column::ExpiresAt.is_null())
        .order_by_asc(rooms::Column::Slug)
        .all(db)
        .await?)
}

/// The staff rooms, by slug (what the room sync publishes).
pub async fn list_staff(db: &DatabaseConnection) -> Result<Vec<rooms::Model>, BotError> {
    Ok(rooms::Entity::find()
        .filter(rooms::Column::Kind.eq(RoomKind::Staff.as_str()))
        .order_by_asc(rooms::Column::Slug)
        .all(db)
        .await?)
}

/// Up to `limit` slugs of rooms that exist now, for autocomplete: those starting with
/// `partial` first, then those containing it, each by slug. Read with `LIMIT`s in SQL, never the
/// whole table.
pub async fn names_matching(db: &DatabaseConnection, partial: &str, limit: u64) -> Result<Vec<String>, BotError> {
    // Slugs are lowercase letters, digits and dashes: anything else matches nothing (and no
    // LIKE wildcard reaches the query).
    let partial = partial.trim().to_lowercase();
    if !partial.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Ok(Vec::new());
    }
    let slugs = |pattern: String, limit: u64| {
        rooms::Entity::find()
            .select_only()
            .column(rooms::Column::Slug)
            .filter(rooms::Column::ExpiresAt.is_null())
            .filter(rooms::Column::Slug.like(pattern))
            .order_by_asc(rooms::Column::Slug)
            .limit(limit)
            .into_tuple::<String>()
            .all(db)
    };
    let mut names = slugs(format!("{partial}%"), limit).await?;
    let left = limit.saturating_sub(names.len() as u64);
    if left > 0 && !partial.is_empty() {
        // Those containing it further in; the prefix matches are among these, so ask for them too.
        let more = slugs(format!("%{partial}%"), left + names.len() as u64).await?;
        let inner = more.into_iter().filter(|s| !s.starts_with(&partial));
        names.extend(inner.take(usize::try_from(left).unwrap_or(usize::MAX)));
    }
    Ok(names)
}

/// Visitor rooms and roulette pairs that have not ended, by slug (filtered in SQL: the table
/// gains a row per pair).
pub async fn open_visitor_rooms(db: &DatabaseConnection) -> Result<Vec<String>, BotError> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    Ok(rooms::Entity::find()
        .select_only()
        .column(rooms::Column::Slug)
        .filter(rooms::Column::Kind.ne(RoomKind::Staff.as_str()))
        .filter(rooms::Column::ExpiresAt.is_null())
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Create a staff room.
pub async fn add(db: &DatabaseConnection, room: NewRoom) -> Result<rooms::Model, BotError> {
    if rooms::Entity::find_by_id(room.slug.as_str()).one(db).await?.is_some() {
        return Err(BotError::RoomExists(room.slug.to_string()));
    }
    let title = match room.title {
        Some(t) => check_text("title", &t, TITLE_MAX)?,
        None => default_title(&room.slug),
    };
    let topic = check_text("topic", room.topic.as_deref().unwrap_or_default(), TOPIC_MAX)?;
    let model = new_row(&room.slug, RoomKind::Staff, title, topic, check_capacity(room.capacity)?, room.listed);
    Ok(model.insert(db).await?)
}

/// A fresh room row: unlocked, no slow mode, not mirrored yet, not ended.
fn new_row(
    slug: &RoomSlug,
    kind: RoomKind,
    title: String,
    topic: String,
    capacity: i32,
    listed: bool,
) -> rooms::ActiveModel {
    let now = Utc::now();
    rooms::ActiveModel {
        slug: Set(slug.to_string()),
        kind: Set(kind.as_str().to_owned()),
        title: Set(title),
        topic: Set(topic),
        capacity: Set(capacity),
        listed: Set(listed),
        locked: Set(false),
        slowmode_secs: Set(0),
        links: Set(protocol::LinksPolicy::default().as_str().to_owned()),
        discord_channel_id: Set(None),
        discord_thread_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        expires_at: Set(None),
    }
}

/// Record a visitor room or roulette pair a gateway opened (again: a no-op), so the log's
/// rooms are known and the mirror can keep its Discord thread.
pub async fn record_opened(db: &DatabaseConnection, room: &RoomDef) -> Result<(), BotError> {
    if rooms::Entity::find_by_id(room.slug.as_str()).one(db).await?.is_some() {
        return Ok(());
    }
    let title = room.title.chars().take(TITLE_MAX).collect();
    let capacity = i32::try_from(room.capacity).unwrap_or(i32::MAX);
    new_row(&room.slug, room.kind, title, String::new(), capacity, room.listed).insert(db).await?;
    Ok(())
}

/// Mark a visitor room or roulette pair as ended (`expires_at`), keeping the row for the log.
pub async fn record_closed(db: &DatabaseConnection, slug: &RoomSlug) -> Result<Option<rooms::Model>, BotError> {
    let Some(existing) = rooms::Entity::find_by_id(slug.as_str()).one(db).await? else {
        return Ok(None);
    };
    if existing.kind == RoomKind::Staff.as_str() || existing.expires_at.is_some() {
        return Ok(Some(existing));
    }
    let mut model: rooms::ActiveModel = existing.into();
    let now = Utc::now();
    model.expires_at = Set(Some(now));
    model.updated_at = Set(now);
    Ok(Some(model.update(db).await?))
}

/// Change a room.
pub async fn edit(db: &DatabaseConnection, slug: &RoomSlug, patch: RoomPatch) -> Result<rooms::Model, BotError> {
    let Some(existing) = rooms::Entity::find_by_id(slug.as_str()).one(db).await? else {
        return Err(BotError::NoSuchRoom(slug.to_string()));
    };
    let mut model: rooms::ActiveModel = existing.into();
    if let Some(capacity) = patch.capacity {
        model.capacity = Set(check_capacity(capacity)?);
    }
    if let Some(title) = patch.title {
        let title = check_text("title", &title, TITLE_MAX)?;
        if title.is_empty() {
            return Err(BotError::Invalid("title may not be empty".into()));
        }
        model.title = Set(title);
    }
    if let Some(topic) = patch.topic {
        model.topic = Set(check_text("topic", &topic, TOPIC_MAX)?);
    }
    if let Some(listed) = patch.listed {
        model.listed = Set(listed);
    }
    if let Some(locked) = patch.locked {
        model.locked = Set(locked);
    }
    if let Some(secs) = patch.slowmode_secs {
        model.slowmode_secs = Set(i32::try_from(secs.min(21_600)).unwrap_or(21_600));
    }
    if let Some(links) = patch.links {
        model.links = Set(links.as_str().to_owned());
    }
    model.updated_at = Set(Utc::now());
    Ok(model.update(db).await?)
}

/// Delete a room.
pub async fn remove(db: &DatabaseConnection, slug: &RoomSlug) -> Result<(), BotError> {
    let result = rooms::Entity::delete_by_id(slug.as_str()).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(BotError::NoSuchRoom(slug.to_string()));
    }
    Ok(())
}

/// Create a staff room and write the audit log; its channel and bus definition follow from the
/// bot's room sync.
pub async fn create(db: &DatabaseConnection, room: NewRoom, by: &str) -> Result<rooms::Model, BotError> {
    let room = add(db, room).await?;
    crate::audit::record(db, by, "room_create", &room.slug, &format!("capacity {}", room.capacity)).await?;
    Ok(room)
}

/// Change a room and write the audit log; `None` when it is a visitor room or pair that has
/// already ended. A staff room reaches gateways through the bot's room sync; an open visitor
/// room or pair lives on the bus, not in that sync, so it is changed there at once.
pub async fn change(
    db: &DatabaseConnection,
    bus: Option<&dyn Bus>,
    slug: &RoomSlug,
    patch: RoomPatch,
    by: &str,
) -> Result<Option<rooms::Model>, BotError> {
    let live = find_live(db, bus, slug).await?;
    if matches!(live, Live::Ended) {
        return Ok(None);
    }
    let room = edit(db, slug, patch).await?;
    if let (Live::OnBus(mut def), Some(bus)) = (live, bus) {
        def.capacity = u32::try_from(room.capacity).unwrap_or(def.capacity);
        def.title.clone_from(&room.title);
        def.topic.clone_from(&room.topic);
        def.listed = room.listed;
        def.locked = room.locked;
        def.slowmode_secs = u32::try_from(room.slowmode_secs).unwrap_or(0);
        def.links = links_of(&room);
        bus.put_room(&def).await?;
        bus.publish_control(&protocol::ControlEvent::RoomUpserted { room: def }).await?;
    }
    crate::audit::record(db, by, "room_edit", &room.slug, &describe(&room)).await?;
    Ok(Some(room))
}

/// A room's settings in one line, for the audit log and replies.
pub fn describe(room: &rooms::Model) -> String {
    format!(
        "capacity {}, locked {}, slowmode {} s, listed {}, links {}",
        room.capacity,
        room.locked,
        room.slowmode_secs,
        room.listed,
        links_of(room)
    )
}

/// Delete a room and write the audit log; `false` when it is a visitor room or pair that has
/// already ended. People in it are sent back to the room list: a staff room by the bot's room
/// sync, an open visitor room or pair at once, as a gateway ends one.
pub async fn delete(
    db: &DatabaseConnection,
    bus: Option<&dyn Bus>,
    slug: &RoomSlug,
    by: &str,
) -> Result<bool, BotError> {
    match (find_live(db, bus, slug).await?, bus) {
        (Live::Ended, _) => return Ok(false),
        (Live::OnBus(_), Some(bus)) => {
            // Off the bus (members are sent away on every gateway), then the bot's own queue
            // records it closed and archives its thread after its messages.
            if bus.remove_room(slug).await? {
                bus.publish_control(&protocol::ControlEvent::RoomRemoved { slug: slug.clone(), ended: false }).await?;
                bus.enqueue(&protocol::InboundEvent::RoomClosed { slug: slug.clone() }).await?;
            }
        }
        (Live::Staff | Live::Unknown, _) | (Live::OnBus(_), None) => remove(db, slug).await?,
    }
    crate::audit::record(db, by, "room_delete", slug.as_str(), "").await?;
    Ok(true)
}

/// What [`change`] and [`delete`] act on.
enum Live {
    /// A staff room: its row, which the bot's room sync publishes.
    Staff,
    /// A visitor room or roulette pair that is still open: its definition on the bus.
    OnBus(RoomDef),
    /// A visitor room or pair not ended in the database, with no bus to ask (the operator's
    /// shell without `REDIS_URL`): only its row is changed.
    Unknown,
    /// A visitor room or pair that has ended.
    Ended,
}

async fn find_live(db: &DatabaseConnection, bus: Option<&dyn Bus>, slug: &RoomSlug) -> Result<Live, BotError> {
    let Some(row) = rooms::Entity::find_by_id(slug.as_str()).one(db).await? else {
        return Err(BotError::NoSuchRoom(slug.to_string()));
    };
    if row.kind == RoomKind::Staff.as_str() {
        return Ok(Live::Staff);
    }
    if row.expires_at.is_some() {
        return Ok(Live::Ended);
    }
    let Some(bus) = bus else {
        return Ok(Live::Unknown);
    };
    Ok(match bus.rooms().await?.into_iter().find(|r| r.slug == *slug) {
        Some(def) => Live::OnBus(def),
        None => Live::Ended,
    })
}

/// On the very first start, create the default rooms. Returns how many were created.
pub async fn seed_defaults(db: &DatabaseConnection) -> Result<usize, BotError> {
    if settings::Entity::find_by_id(SEEDED_KEY).one(db).await?.is_some() {
        return Ok(0);
    }
    let existing = list(db).await?;
    let mut created = 0;
    for (slug, title, topic, capacity) in DEFAULT_ROOMS {
        if existing.iter().any(|r| r.slug == *slug) {
            continue;
        }
        let slug = RoomSlug::parse(slug).map_err(|e| BotError::Invalid(e.to_string()))?;
        add(
            db,
            NewRoom {
                slug,
                capacity: *capacity,
                title: Some((*title).to_owned()),
                topic: Some((*topic).to_owned()),
                listed: true,
            },
        )
        .await?;
        created += 1;
    }
    settings::ActiveModel { key: Set(SEEDED_KEY.to_owned()), value: Set(Utc::now().to_rfc3339()) }.insert(db).await?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_titles_read_well() {
        assert_eq!(default_title(&RoomSlug::parse("night-owls").unwrap()), "Night Owls");
        assert_eq!(default_title(&RoomSlug::parse("a1").unwrap()), "A1");
    }
}
