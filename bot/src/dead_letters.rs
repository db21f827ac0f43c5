//! Dead letters: queue entries the consumer gave up on after [`ATTEMPTS`] failed writes (a
//! constraint, a trigger, a row the database refuses), kept in `dead_letters` with the error
//! so that the rest of the queue moves on and an operator can see, fix and replay them. The
//! count ([`count`], then counted up here) is shown in the readiness report and `/metrics`
//! (`chat_dead_letters`) through `crate::health`.
//!
//! A database that refuses every write (down, disk full) refuses the dead letter too: the
//! entry is then left in the queue and retried, and the queue's limit (`QUEUE_MAX`) pushes back
//! on senders.

use bus::QueueEntry;
use chrono::Utc;
use protocol::InboundEvent;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter,
};

use crate::entities::dead_letters;

/// Failed writes of an entry before it is a dead letter.
pub const ATTEMPTS: u32 = 5;

/// Keep `entry`, which failed `attempts` times, last with `error`.
pub async fn record(db: &DatabaseConnection, entry: &QueueEntry, error: &str, attempts: u32) -> Result<(), DbErr> {
    let (kind, room, message_id, payload, ip) = match &entry.event {
        InboundEvent::Message(m) => (
            "message",
            Some(m.message.room.clone()),
            Some(m.message.id.to_string()),
            serde_json::to_string(&m.message),
            Some(m.ip.to_string()),
        ),
        InboundEvent::RoomOpened { room } => {
            ("room_opened", Some(room.slug.to_string()), None, serde_json::to_string(&entry.event), None)
        }
        InboundEvent::RoomClosed { slug } => {
            ("room_closed", Some(slug.to_string()), None, serde_json::to_string(&entry.event), None)
        }
        InboundEvent::Appeal(appeal) => {
            // The payload without the address, which is kept apart.
            let mut payload = serde_json::to_value(&entry.event).unwrap_or_default();
            if let Some(object) = payload.as_object_mut() {
                object.remove("ip");
            }
            ("appeal", None, None, serde_json::to_string(&payload), Some(appeal.ip.to_string()))
        }
        // The author's address is kept apart, as a message's is.
        InboundEvent::MessageEdited(change) | InboundEvent::MessageDeleted(change) => {
            let kind = if change.text.is_some() { "message_edited" } else { "message_deleted" };
            let mut payload = serde_json::to_value(&entry.event).unwrap_or_default();
            if let Some(object) = payload.as_object_mut() {
                object.remove("ip");
            }
            (
                kind,
                Some(change.room.clone()),
                Some(change.id.to_string()),
                serde_json::to_string(&payload),
                Some(change.ip.to_string()),
            )
        }
        // The reporter's address is kept apart (`ip`), so retention erases it: the payload
        // leaves it out.
        InboundEvent::Report(report) => (
            "report",
            Some(report.room.to_string()),
            None,
            serde_json::to_value(&entry.event).map(|mut v| {
                if let Some(fields) = v.as_object_mut() {
                    fields.remove("reporter_ip");
                }
                v.to_string()
            }),
            Some(report.reporter_ip.to_string()),
        ),
    };
    let payload = payload.map_err(|e| DbErr::Custom(format!("cannot encode a dead letter: {e}")))?;
    // A batch retried after a dead letter could not be written may meet the same message again.
    if let Some(id) = &message_id {
        let kept = dead_letters::Entity::find().filter(dead_letters::Column::MessageId.eq(id.as_str())).one(db).await?;
        if kept.is_some() {
            return Ok(());
        }
    }
    dead_letters::ActiveModel {
        entry_id: Set(entry.id.clone()),
        kind: Set(kind.to_owned()),
        room: Set(room),
        message_id: Set(message_id),
        payload: Set(payload),
        ip: Set(ip),
        error: Set(error.to_owned()),
        attempts: Set(i32::try_from(attempts).unwrap_or(i32::MAX)),
        failed_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::error!(entry = %entry.id, kind, %error, attempts, "a queue entry was put in dead_letters");
    crate::health::dead_letter_added();
    Ok(())
}

/// How many dead letters there are; also what the readiness report and the gauge show.
pub async fn count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let n = dead_letters::Entity::find().count(db).await?;
    crate::health::set_dead_letters(n);
    Ok(n)
}
