//! Authors' edits and deletions: the log keeps every text a message ever had.
//!
//! A change writes a `message_edits` row with the text it replaced (and an edit's new text),
//! the author's address, IP tag and device tag, then changes the message's row: its new text
//! and `edited_at`, or `deleted_at` with `deleted_by = author` (the row stays). Both in one
//! transaction. `(message_id, at, kind)` is unique: a change delivered twice is applied once, and
//! an older change redelivered after a newer one never brings its text back.

use protocol::MessageChange;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use super::MessageLog;
use crate::entities::{message_edits, message_log};
use crate::iptag::IpTagger;

/// What `deleted_by` says of a message its author took back.
pub const BY_AUTHOR: &str = "author";

/// An applied change, as the mirror needs it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The message's row after the change (`None` when the message is not in the log).
    pub row: Option<message_log::Model>,
    /// False when this change was applied before (a redelivery): nothing changed now.
    pub new: bool,
    /// The text before this change.
    pub previous: Option<String>,
}

impl MessageLog {
    /// Apply an author's edit (`change.text` set) or deletion to the log, keeping what it
    /// replaced.
    pub async fn change(&self, change: &MessageChange, tagger: &IpTagger) -> Result<Applied, DbErr> {
        let id = change.id.to_string();
        let txn = self.db.begin().await?;
        let row = message_log::Entity::find_by_id(id.as_str()).one(&txn).await?;
        let kind = if change.text.is_some() { "edit" } else { "delete" };
        let evidence = message_edits::ActiveModel {
            message_id: Set(id.clone()),
            room: Set(change.room.clone()),
            kind: Set(kind.to_owned()),
            text_before: Set(row.as_ref().map(|r| r.text.clone())),
            text_after: Set(change.text.clone()),
            at: Set(change.at),
            ip: Set(change.ip.to_string()),
            ip_tag: Set(Some(tagger.describe(change.ip))),
            device_tag: Set(change.device.clone()),
            shadow: Set(change.shadow),
            ..Default::default()
        };
        let conflict = OnConflict::columns([
            message_edits::Column::MessageId,
            message_edits::Column::At,
            message_edits::Column::Kind,
        ])
        .do_nothing()
        .to_owned();
        let inserted =
            message_edits::Entity::insert(evidence).on_conflict(conflict).exec_without_returning(&txn).await?;
        let Some(row) = row.filter(|_| inserted > 0) else {
            txn.commit().await?;
            let row = message_log::Entity::find_by_id(id.as_str()).one(&self.db).await?;
            return Ok(Applied { row, new: false, previous: None });
        };
        let previous = Some(row.text.clone());
        let mut active: message_log::ActiveModel = row.into();
        match &change.text {
            Some(text) => {
                active.text = Set(text.clone());
                active.edited_at = Set(Some(change.at));
            }
            None => {
                active.deleted_at = Set(Some(change.at));
                active.deleted_by = Set(Some(BY_AUTHOR.to_owned()));
            }
        }
        let row = active.update(&txn).await?;
        txn.commit().await?;
        Ok(Applied { row: Some(row), new: true, previous })
    }

    /// Every change of message `id`, oldest first (what staff read of its earlier texts).
    pub async fn changes_of(&self, id: &str) -> Result<Vec<message_edits::Model>, DbErr> {
        message_edits::Entity::find()
            .filter(message_edits::Column::MessageId.eq(id))
            .order_by_asc(message_edits::Column::At)
            .all(&self.db)
            .await
    }
}
