//! Replies in Discord: a web message that answers another is posted as a Discord reply
//! (`message_reference`) to the Discord message carrying the original, when that message shows
//! it in an embed of its own (or is a staff message); its embed also opens with a quoted line
//! (`↪ nick: excerpt`), which is all there is when the original's embed is coalesced, not
//! posted yet or gone. A Discord message has one reference: the batch's first reply gets it.
//!
//! Quotes are kept (bounded, for a day) by message id, so an edit that re-renders a Discord
//! message keeps them; the log itself does not store replies.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use protocol::frames::ReplyRef;
use serde_json::{Value, json};

use super::{Inner, Job};
use crate::discord::embeds;
use crate::entities::message_log;

/// Quotes remembered for re-rendering after an edit.
pub(super) const QUOTES_MAX: u64 = 100_000;
pub(super) const QUOTES_TTL: Duration = Duration::from_secs(86_400);

/// The quoted line a reply's embed opens with, before the text (both escaped when rendered).
fn quoted(reply: &ReplyRef, text: &str) -> String {
    format!("↪ {}: {}\n{text}", reply.nick, reply.excerpt)
}

impl Inner {
    /// Open the text of each reply among `rows` with its quote (from the jobs, remembered for
    /// later edits) before it is planned or posted.
    pub(super) fn quote_replies(
        &self,
        mut rows: Vec<message_log::Model>,
        queue: &VecDeque<Job>,
    ) -> Vec<message_log::Model> {
        let replies: HashMap<String, &ReplyRef> = queue
            .iter()
            .filter_map(|j| j.message.message.reply_to.as_ref().map(|r| (j.message.message.id.to_string(), r)))
            .collect();
        for row in &mut rows {
            if let Some(reply) = replies.get(&row.id) {
                self.quotes.insert(row.id.clone(), (*reply).clone());
                row.text = quoted(reply, &row.text);
            }
        }
        rows
    }

    /// The same, from the remembered quotes (a re-render after an edit).
    pub(super) fn quote_remembered(&self, rows: &mut [message_log::Model]) {
        for row in rows {
            if let Some(reply) = self.quotes.get(&row.id) {
                row.text = quoted(&reply, &row.text);
            }
        }
    }

    /// The `message_reference` for a batch (`batch`'s message ids, oldest first): to the Discord
    /// message carrying the original of its first reply, when that shows it in its own embed.
    pub(super) async fn reference(&self, batch: &[message_log::Model], label: Option<&str>) -> Option<Value> {
        let reply = batch.iter().find_map(|row| self.quotes.get(&row.id))?;
        let original = self.log.by_id(&reply.id.to_string()).await.ok().flatten()?;
        let discord_id = original.discord_message_id?;
        if !original.staff {
            let carried = self.log.carried_by(discord_id, false).await.ok()?;
            if carried.is_empty() || embeds::is_coalesced(&carried, label) {
                return None;
            }
        }
        Some(json!({"message_id": discord_id.to_string(), "fail_if_not_exists": false}))
    }
}
