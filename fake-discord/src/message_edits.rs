//! Edits and deletions of messages: the bot's own (`PATCH`, `DELETE`, bulk delete within two
//! weeks) and those injected as a human's, each dispatched as Discord does.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::limits::{self, FormErrors};
use crate::messages::apply_fields;
use crate::state::Inner;
use crate::wire::{ApiError, ApiResult, DISCORD_EPOCH_MS, now_iso, parse_id, sid};

impl Inner {
    /// `PATCH /channels/{c}/messages/{m}`: only the bot's own messages.
    pub fn edit_message(&mut self, channel_id: u64, message_id: u64, body: &Value) -> ApiResult {
        self.message(channel_id, message_id)?;
        let author = self.messages.get(&channel_id).and_then(|m| m.get(&message_id)).map_or(0, |m| m.author_id);
        if author != self.bot_id() {
            return Err(ApiError::new(403, 50005, "Cannot edit a message authored by another user"));
        }
        let mut errors = FormErrors::default();
        limits::validate_message(body, &[], &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        let message = self.apply_edit(channel_id, message_id, body).ok_or_else(ApiError::unknown_message)?;
        Ok((200, message))
    }

    /// Apply an edit body to a stored message and dispatch MESSAGE_UPDATE.
    pub fn apply_edit(&mut self, channel_id: u64, message_id: u64, body: &Value) -> Option<Value> {
        let stored = self.messages.get(&channel_id)?.get(&message_id)?.clone();
        let mut message = stored.json;
        let content_changed = body.get("content").is_some();
        apply_fields(&mut message, body);
        if content_changed {
            let content = message["content"].as_str().unwrap_or("").to_owned();
            let (mentions, roles, everyone) = self.mentions(
                &content,
                stored.author_id,
                body.get("allowed_mentions"),
                message.get("referenced_message"),
            );
            message["mentions"] = Value::Array(mentions);
            message["mention_roles"] = Value::Array(roles);
            message["mention_everyone"] = Value::Bool(everyone);
        }
        message["edited_timestamp"] = Value::String(now_iso());
        if let Some(slot) = self.messages.get_mut(&channel_id).and_then(|m| m.get_mut(&message_id)) {
            slot.json = message.clone();
        }
        let event = self.with_guild_fields(&message, stored.author_id);
        self.dispatch("MESSAGE_UPDATE", event);
        Some(message)
    }

    /// Delete a message and dispatch MESSAGE_DELETE.
    pub fn delete_message(&mut self, channel_id: u64, message_id: u64) -> ApiResult {
        self.channel(channel_id)?;
        let removed = self.messages.get_mut(&channel_id).and_then(|m| m.remove(&message_id));
        if removed.is_none() {
            return Err(ApiError::unknown_message());
        }
        self.dispatch(
            "MESSAGE_DELETE",
            json!({"id": sid(message_id), "channel_id": sid(channel_id), "guild_id": sid(self.guild_id())}),
        );
        Ok((204, Value::Null))
    }

    /// `POST /channels/{id}/messages/bulk-delete`.
    pub fn bulk_delete(&mut self, channel_id: u64, body: &Value) -> ApiResult {
        self.channel(channel_id)?;
        let ids: Vec<u64> = body
            .get("messages")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|v| parse_id(Some(v))).collect())
            .unwrap_or_default();
        if ids.len() < 2 || ids.len() > 100 {
            return Err(ApiError::form_one(
                &["messages"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 2 and 100 in length.",
            ));
        }
        let two_weeks_ago = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
            .saturating_sub(DISCORD_EPOCH_MS + 14 * 24 * 3600 * 1000))
            << 22;
        if ids.iter().any(|id| *id < two_weeks_ago) {
            return Err(ApiError::new(400, 50034, "You can only bulk delete messages that are under 14 days old."));
        }
        let mut deleted = Vec::new();
        if let Some(messages) = self.messages.get_mut(&channel_id) {
            for id in ids {
                if messages.remove(&id).is_some() {
                    deleted.push(sid(id));
                }
            }
        }
        self.dispatch(
            "MESSAGE_DELETE_BULK",
            json!({"ids": deleted, "channel_id": sid(channel_id), "guild_id": sid(self.guild_id())}),
        );
        Ok((204, Value::Null))
    }
}
