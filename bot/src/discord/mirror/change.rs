//! An author's edit or deletion reaches the Discord message that carries the web message:
//! after the room's messages queued before it (the same worker, in order), the message is
//! edited in place, in the layout it was posted in (its own embed, or its line of a coalesced
//! one), from the log's rows: an edit shows the new text marked *(edited)*, a deletion strikes
//! the text through, still readable, with *(deleted by its author)*. Every earlier text is in
//! the log (`message_edits`) and `/lookup`. One PATCH per change, in the mirror's budget class.
//! A message never mirrored (given up on, skipped) has nothing to edit.

use protocol::MessageChange;

use super::target::Target;
use super::{Inner, Mirror, Work, lock};
use crate::discord::embeds;
use crate::discord::rest::Posted;
use crate::discord::retry::{self, Policy};
use crate::message_log::Applied;

/// A change waiting for its room's worker.
#[derive(Debug)]
pub(super) struct Change {
    pub entry_id: String,
    pub change: MessageChange,
    pub applied: Applied,
}

impl Mirror {
    /// An author's change, logged already (`entry_id` is its queue entry): edit the Discord
    /// message after the messages submitted before it, then acknowledge.
    pub fn change(&self, entry_id: String, change: MessageChange, applied: Applied) {
        let mut in_flight = lock(&self.inner.in_flight);
        let mut workers = lock(&self.inner.workers);
        if !in_flight.insert(entry_id.clone()) {
            return;
        }
        metrics::gauge!("chat_mirror_backlog").increment(1.0);
        let room = change.room.clone();
        self.inner.hand_over(&mut workers, room, Work::Change(Box::new(Change { entry_id, change, applied })));
    }
}

impl Inner {
    /// Edit the Discord message carrying the changed web message; logged and dropped when
    /// Discord refuses (the log has the change either way).
    pub(super) async fn apply_change(&self, room: &str, change: &Change) {
        let Some(row) = &change.applied.row else { return };
        let Some(discord_id) = row.discord_message_id.and_then(|id| u64::try_from(id).ok()) else { return };
        let Target::Post { channel, label, .. } = self.target_of(room).await else { return };
        let mut rows = match self.log.carried_by(row.discord_message_id.unwrap_or_default(), false).await {
            Ok(rows) => rows,
            Err(e) => return tracing::error!(error = %e, "cannot read the rows of an edited Discord message"),
        };
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        // The layout it was posted in: what the rows made before this change.
        let mut before = rows.clone();
        for r in before.iter_mut().filter(|r| r.id == row.id) {
            if let Some(previous) = &change.applied.previous {
                r.text.clone_from(previous);
            }
            r.edited_at = None;
            r.deleted_by = None;
        }
        self.quote_remembered(&mut before);
        let coalesced = embeds::is_coalesced(&before, label.as_deref());
        self.quote_remembered(&mut rows);
        // Made under a shadow mute: staff see that nobody else saw it.
        for r in rows.iter_mut().filter(|r| r.id == row.id && change.change.shadow) {
            let tag = r.ip_tag.as_deref().unwrap_or("untagged");
            r.ip_tag = Some(format!("{tag} · shadow-muted"));
        }
        let body = embeds::edit_payload(&rows, label.as_deref(), coalesced);
        let edit = || self.rest.edit_message(channel, discord_id, &body);
        match retry::discord(Policy::DISCORD, "editing a mirrored message", edit).await {
            Ok(Posted::Ok { .. }) => metrics::counter!("chat_mirror_changes_total").increment(1),
            Ok(Posted::Refused { status, body }) => {
                tracing::warn!(status, %body, message = %row.id, "Discord refused to edit a mirrored message");
            }
            Ok(Posted::RateLimited { .. }) | Err(_) => {
                tracing::error!(message = %row.id, "gave up editing a mirrored message; the log has the change");
            }
        }
    }
}
