//! Guild channels and threads: create, modify, delete, threads from messages, forum posts.

use serde_json::{Value, json};

use crate::limits::{self, FormErrors};
use crate::messages::MessageDraft;
use crate::state::Inner;
use crate::wire::{ApiError, ApiResult, kind, now_iso, parse_id, sid};

impl Inner {
    pub fn channel(&self, id: u64) -> Result<&Value, ApiError> {
        self.channels.get(&id).ok_or_else(ApiError::unknown_channel)
    }

    fn channel_kind(&self, id: u64) -> Option<u64> {
        self.channels.get(&id).and_then(|c| c["type"].as_u64())
    }

    /// Create a guild channel from a `POST /guilds/{id}/channels` body.
    pub fn create_channel(&mut self, body: &Value) -> ApiResult {
        let mut errors = FormErrors::default();
        let channel_kind = body.get("type").and_then(Value::as_u64).unwrap_or(kind::TEXT);
        if !matches!(channel_kind, kind::TEXT | 2 | kind::CATEGORY | kind::ANNOUNCEMENT | 13 | kind::FORUM | 16) {
            errors.add(&["type".to_owned()], "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4, 5, 13, 15, 16}.");
        }
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        let length = name.chars().count();
        if length == 0 || length > 100 {
            errors.add(&["name".to_owned()], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
        }
        let topic_max = if channel_kind == kind::FORUM { 4096 } else { 1024 };
        if body.get("topic").and_then(Value::as_str).is_some_and(|t| t.chars().count() > topic_max) {
            errors.add(
                &["topic".to_owned()],
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {topic_max} or fewer in length."),
            );
        }
        check_slowmode(body, &mut errors);
        let parent_id = parse_id(body.get("parent_id"));
        if let Some(parent) = parent_id
            && (channel_kind == kind::CATEGORY || self.channel_kind(parent) != Some(kind::CATEGORY))
        {
            errors.add(&["parent_id".to_owned()], "CHANNEL_PARENT_INVALID", "Invalid parent channel");
        }
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        let name = if matches!(channel_kind, kind::TEXT | kind::ANNOUNCEMENT | kind::FORUM) {
            text_channel_name(name)
        } else {
            name.to_owned()
        };
        // Without overwrites of its own, a channel made in a category is synced with it: it
        // starts with the category's overwrites.
        let overwrites = match (body.get("permission_overwrites").filter(|o| !o.is_null()), parent_id) {
            (Some(given), _) => given.clone(),
            (None, Some(parent)) => {
                self.channels.get(&parent).map_or_else(|| json!([]), |c| c["permission_overwrites"].clone())
            }
            (None, None) => json!([]),
        };
        let id = self.next_id();
        let position = body.get("position").and_then(Value::as_u64).unwrap_or_else(|| {
            self.channels.values().filter(|c| !kind::is_thread(c["type"].as_u64().unwrap_or(0))).count() as u64
        });
        let mut channel = json!({
            "id": sid(id),
            "type": channel_kind,
            "guild_id": sid(self.guild_id()),
            "name": name,
            "position": position,
            "parent_id": parent_id.map(sid),
            "permission_overwrites": overwrites,
            "nsfw": body.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
            "flags": 0,
        });
        if channel_kind != kind::CATEGORY {
            channel["topic"] = body.get("topic").cloned().unwrap_or(Value::Null);
            channel["rate_limit_per_user"] =
                json!(body.get("rate_limit_per_user").and_then(Value::as_u64).unwrap_or(0));
            channel["last_message_id"] = Value::Null;
            if let Some(duration) = body.get("default_auto_archive_duration").filter(|d| !d.is_null()) {
                channel["default_auto_archive_duration"] = duration.clone();
            }
        }
        if channel_kind == kind::FORUM {
            channel["available_tags"] = body.get("available_tags").cloned().unwrap_or_else(|| json!([]));
            channel["default_reaction_emoji"] = Value::Null;
            channel["default_sort_order"] = Value::Null;
            channel["default_forum_layout"] = json!(0);
            channel["default_thread_rate_limit_per_user"] = json!(0);
        }
        self.channels.insert(id, channel.clone());
        self.dispatch("CHANNEL_CREATE", channel.clone());
        Ok((201, channel))
    }

    /// `PATCH /channels/{id}` (guild channels and threads).
    pub fn modify_channel(&mut self, id: u64, body: &Value) -> ApiResult {
        let channel = self.channel(id)?.clone();
        let channel_kind = channel["type"].as_u64().unwrap_or(0);
        let thread = kind::is_thread(channel_kind);
        let Some(fields) = body.as_object() else {
            return Err(ApiError::form_one(&[], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"));
        };
        let mut errors = FormErrors::default();
        if let Some(name) = fields.get("name") {
            let length = name.as_str().map_or(0, |n| n.chars().count());
            if length == 0 || length > 100 {
                errors.add(&["name".to_owned()], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
            }
        }
        check_slowmode(body, &mut errors);
        if let Some(parent) = parse_id(fields.get("parent_id"))
            && (thread || self.channel_kind(parent) != Some(kind::CATEGORY))
        {
            errors.add(&["parent_id".to_owned()], "CHANNEL_PARENT_INVALID", "Invalid parent channel");
        }
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        let mut updated = channel;
        for (key, value) in fields {
            match key.as_str() {
                "name" => {
                    let name = value.as_str().unwrap_or("");
                    let name = if matches!(channel_kind, kind::TEXT | kind::ANNOUNCEMENT | kind::FORUM) {
                        text_channel_name(name)
                    } else {
                        name.to_owned()
                    };
                    updated["name"] = Value::String(name);
                }
                "archived" | "locked" | "auto_archive_duration" | "invitable" if thread => {
                    if key == "archived" && value.as_bool() != updated["thread_metadata"]["archived"].as_bool() {
                        updated["thread_metadata"]["archive_timestamp"] = Value::String(now_iso());
                    }
                    updated["thread_metadata"][key] = value.clone();
                }
                "topic"
                | "position"
                | "nsfw"
                | "rate_limit_per_user"
                | "permission_overwrites"
                | "default_auto_archive_duration"
                | "flags"
                | "applied_tags"
                | "available_tags" => {
                    updated[key.as_str()] = value.clone();
                }
                "parent_id" if !thread => updated["parent_id"] = parse_id(Some(value)).map_or(Value::Null, sid),
                _ => {}
            }
        }
        self.channels.insert(id, updated.clone());
        self.dispatch(if thread { "THREAD_UPDATE" } else { "CHANNEL_UPDATE" }, updated.clone());
        Ok((200, updated))
    }

    /// `DELETE /channels/{id}`: threads of a deleted channel go too; children of a deleted
    /// category lose their parent.
    pub fn delete_channel(&mut self, id: u64) -> ApiResult {
        let channel = self.channel(id)?.clone();
        let channel_kind = channel["type"].as_u64().unwrap_or(0);
        self.remove_channel(id);
        let children: Vec<u64> = self
            .channels
            .iter()
            .filter(|(_, c)| parse_id(c.get("parent_id")) == Some(id))
            .map(|(child, _)| *child)
            .collect();
        for child in children {
            let child_kind = self.channel_kind(child).unwrap_or(0);
            if kind::is_thread(child_kind) {
                if let Some(thread) = self.remove_channel(child) {
                    self.dispatch("THREAD_DELETE", thread_stub(&thread));
                }
            } else if let Some(c) = self.channels.get_mut(&child) {
                c["parent_id"] = Value::Null;
                let updated = c.clone();
                self.dispatch("CHANNEL_UPDATE", updated);
            }
        }
        if kind::is_thread(channel_kind) {
            self.dispatch("THREAD_DELETE", thread_stub(&channel));
        } else {
            self.dispatch("CHANNEL_DELETE", channel.clone());
        }
        Ok((200, channel))
    }

    fn remove_channel(&mut self, id: u64) -> Option<Value> {
        self.messages.remove(&id);
        self.channels.remove(&id)
    }

    /// Create a thread: from a message (`from_message`), in a text channel, or a forum post.
    pub fn create_thread(&mut self, parent_id: u64, from_message: Option<u64>, body: &Value) -> ApiResult {
        let parent = self.channel(parent_id)?.clone();
        let parent_kind = parent["type"].as_u64().unwrap_or(0);
        if !matches!(parent_kind, kind::TEXT | kind::ANNOUNCEMENT | kind::FORUM)
            || (from_message.is_some() && parent_kind == kind::FORUM)
        {
            return Err(ApiError::wrong_channel_type());
        }
        if let Some(refusal) = &self.thread_refusal {
            return Err(refusal.clone());
        }
        let mut errors = FormErrors::default();
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        let length = name.chars().count();
        if length == 0 || length > 100 {
            errors.add(&["name".to_owned()], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
        }
        let archive = body
            .get("auto_archive_duration")
            .and_then(Value::as_u64)
            .or_else(|| parent.get("default_auto_archive_duration").and_then(Value::as_u64))
            .unwrap_or(1440);
        if ![60, 1440, 4320, 10080].contains(&archive) {
            errors.add(
                &["auto_archive_duration".to_owned()],
                "BASE_TYPE_CHOICES",
                "Value must be one of {60, 1440, 4320, 10080}.",
            );
        }
        check_slowmode(body, &mut errors);
        let thread_kind = if from_message.is_some() || parent_kind == kind::FORUM {
            if parent_kind == kind::ANNOUNCEMENT { kind::ANNOUNCEMENT_THREAD } else { kind::PUBLIC_THREAD }
        } else {
            match body.get("type").and_then(Value::as_u64) {
                Some(k @ (kind::ANNOUNCEMENT_THREAD | kind::PUBLIC_THREAD | kind::PRIVATE_THREAD)) => k,
                Some(_) => {
                    errors.add(&["type".to_owned()], "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.");
                    kind::PUBLIC_THREAD
                }
                None => {
                    // API v10 made `type` required for threads without a message.
                    errors.add(&["type".to_owned()], "BASE_TYPE_REQUIRED", "This field is required");
                    kind::PUBLIC_THREAD
                }
            }
        };
        let starter = if parent_kind == kind::FORUM {
            match body.get("message") {
                Some(message) if message.is_object() => {
                    limits::validate_message(message, &["message".to_owned()], &mut errors);
                    if errors.is_empty() && limits::is_empty_message(message) {
                        return Err(ApiError::new(400, 50006, "Cannot send an empty message"));
                    }
                    Some(message.clone())
                }
                _ => {
                    errors.add(&["message".to_owned()], "BASE_TYPE_REQUIRED", "This field is required");
                    None
                }
            }
        } else {
            None
        };
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        if let Some(message_id) = from_message {
            let message = self.message(parent_id, message_id)?;
            if message.get("thread").is_some() {
                return Err(ApiError::new(400, 160004, "A thread has already been created for this message"));
            }
        }
        let id = match from_message {
            Some(message_id) => message_id,
            None => self.next_id(),
        };
        let now = now_iso();
        let bot = self.bot_id();
        let mut metadata = json!({
            "archived": false,
            "auto_archive_duration": archive,
            "archive_timestamp": now,
            "locked": false,
            "create_timestamp": now,
        });
        if thread_kind == kind::PRIVATE_THREAD {
            metadata["invitable"] = Value::Bool(body.get("invitable").and_then(Value::as_bool).unwrap_or(true));
        }
        let thread = json!({
            "id": sid(id),
            "type": thread_kind,
            "guild_id": sid(self.guild_id()),
            "parent_id": sid(parent_id),
            "owner_id": sid(bot),
            "name": name,
            "last_message_id": null,
            "rate_limit_per_user": body.get("rate_limit_per_user").and_then(Value::as_u64).unwrap_or(0),
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "thread_metadata": metadata,
            "flags": 0,
            "applied_tags": body.get("applied_tags").cloned().unwrap_or_else(|| json!([])),
        });
        self.channels.insert(id, thread.clone());
        let mut created = thread.clone();
        created["newly_created"] = Value::Bool(true);
        created["member"] = json!({"id": sid(id), "user_id": sid(bot), "join_timestamp": now, "flags": 1});
        self.dispatch("THREAD_CREATE", created);
        let mut answer = thread;
        answer["member"] = json!({"id": sid(id), "user_id": sid(bot), "join_timestamp": now, "flags": 1});
        if let Some(message_id) = from_message {
            if let Some(stored) = self.messages.get_mut(&parent_id).and_then(|m| m.get_mut(&message_id)) {
                stored.json["thread"] = answer.clone();
                let flags = stored.json["flags"].as_u64().unwrap_or(0) | 32;
                stored.json["flags"] = json!(flags);
            }
        } else if parent_kind != kind::FORUM && thread_kind != kind::PRIVATE_THREAD {
            // Discord announces a thread started without a message with a system message.
            let bot_user = self.bot_user();
            let notice = MessageDraft {
                content: name.to_owned(),
                kind: 18,
                reference: Some(json!({"type": 0, "channel_id": sid(id), "guild_id": sid(self.guild_id())})),
                ..MessageDraft::default()
            };
            self.store_message(parent_id, &bot_user, notice);
        }
        if let Some(starter) = starter {
            let bot_user = self.bot_user();
            let draft = MessageDraft { id: Some(id), ..MessageDraft::from_body(&starter) };
            let message = self.store_message(id, &bot_user, draft);
            answer["message"] = message;
        }
        Ok((201, answer))
    }

    /// The thread or channel is archived and locked (nothing may be posted), or archived and
    /// is unarchived now (posting to it reopens it, as on Discord).
    pub fn reopen_if_archived(&mut self, channel_id: u64) -> Result<(), ApiError> {
        self.reopen_for(channel_id, false)
    }

    /// [`Self::reopen_if_archived`] for someone who may or may not manage threads: members with
    /// Manage Threads may still post in (and so reopen) a locked thread.
    pub fn reopen_for(&mut self, channel_id: u64, manages_threads: bool) -> Result<(), ApiError> {
        let Some(channel) = self.channels.get_mut(&channel_id) else { return Err(ApiError::unknown_channel()) };
        if channel["thread_metadata"]["archived"] != Value::Bool(true) {
            return Ok(());
        }
        if channel["thread_metadata"]["locked"] == Value::Bool(true) && !manages_threads {
            return Err(ApiError::new(400, 50083, "Thread is archived"));
        }
        channel["thread_metadata"]["archived"] = Value::Bool(false);
        channel["thread_metadata"]["archive_timestamp"] = Value::String(now_iso());
        let updated = channel.clone();
        self.dispatch("THREAD_UPDATE", updated);
        Ok(())
    }
}

fn check_slowmode(body: &Value, errors: &mut FormErrors) {
    if let Some(slowmode) = body.get("rate_limit_per_user").filter(|v| !v.is_null())
        && slowmode.as_u64().is_none_or(|s| s > 21_600)
    {
        errors.add(
            &["rate_limit_per_user".to_owned()],
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 21600.",
        );
    }
}

/// Discord lowercases text channel names and turns spaces into dashes.
fn text_channel_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join("-").to_lowercase()
}

fn thread_stub(thread: &Value) -> Value {
    json!({"id": thread["id"], "guild_id": thread["guild_id"], "parent_id": thread["parent_id"], "type": thread["type"]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_channel_names_are_normalised() {
        assert_eq!(text_channel_name(" Hello  World "), "hello-world");
    }
}
