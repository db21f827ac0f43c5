//! Messages: the bot's posts (validation, nonces, replies), injected human messages, and how
//! Discord resolves mentions. Edits and deletions are in `message_edits`.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::config::FakeUser;
use crate::limits::{self, FormErrors};
use crate::records::{Member, StoredMessage};
use crate::state::Inner;
use crate::wire::{ApiError, ApiResult, kind, now_iso, parse_id, perms, sid};

impl Inner {
    pub fn message(&self, channel_id: u64, message_id: u64) -> Result<&Value, ApiError> {
        self.channel(channel_id)?;
        self.messages
            .get(&channel_id)
            .and_then(|m| m.get(&message_id))
            .map(|m| &m.json)
            .ok_or_else(ApiError::unknown_message)
    }

    /// Current messages of a channel, oldest first.
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        self.messages.get(&channel_id).map(|m| m.values().map(|s| s.json.clone()).collect()).unwrap_or_default()
    }

    /// `GET /channels/{id}/messages`: newest first, `limit` 1..=100 (50), `before`/`after`/`around`.
    pub fn list_messages(&self, channel_id: u64, query: &HashMap<String, String>) -> ApiResult {
        self.channel(channel_id)?;
        let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
            None => 50,
            Some(Ok(l)) if (1..=100).contains(&l) => l,
            Some(_) => {
                return Err(ApiError::form_one(
                    &["limit"],
                    "NUMBER_TYPE_MAX",
                    "int value should be between 1 and 100.",
                ));
            }
        };
        let id = |key: &str| query.get(key).and_then(|v| v.parse::<u64>().ok());
        let all: Vec<(&u64, &StoredMessage)> =
            self.messages.get(&channel_id).map(|m| m.iter().collect()).unwrap_or_default();
        let picked: Vec<Value> = if let Some(before) = id("before") {
            all.iter().rev().filter(|(k, _)| **k < before).take(limit).map(|(_, m)| m.json.clone()).collect()
        } else if let Some(after) = id("after") {
            let mut list: Vec<Value> =
                all.iter().filter(|(k, _)| **k > after).take(limit).map(|(_, m)| m.json.clone()).collect();
            list.reverse();
            list
        } else if let Some(around) = id("around") {
            let older: Vec<&Value> =
                all.iter().rev().filter(|(k, _)| **k <= around).take(limit.div_ceil(2)).map(|(_, m)| &m.json).collect();
            let newer: Vec<&Value> =
                all.iter().filter(|(k, _)| **k > around).take(limit / 2).map(|(_, m)| &m.json).collect();
            newer.into_iter().rev().chain(older).cloned().collect()
        } else {
            all.iter().rev().take(limit).map(|(_, m)| m.json.clone()).collect()
        };
        Ok((200, Value::Array(picked)))
    }

    /// `POST /channels/{id}/messages` from the bot.
    pub fn post_message(&mut self, channel_id: u64, body: &Value) -> ApiResult {
        let channel_kind = self.channel(channel_id)?["type"].as_u64().unwrap_or(0);
        if !kind::is_textual(channel_kind) {
            return Err(ApiError::new(400, 50008, "Cannot send messages in a non-text channel"));
        }
        if !body.is_object() {
            return Err(ApiError::form_one(&[], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"));
        }
        let mut errors = FormErrors::default();
        limits::validate_message(body, &[], &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        if limits::is_empty_message(body) {
            return Err(ApiError::new(400, 50006, "Cannot send an empty message"));
        }
        let nonce = body.get("nonce").filter(|n| !n.is_null()).cloned();
        let nonce_key = nonce.as_ref().map(|n| match n {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let bot = self.bot_id();
        let enforce = body.get("enforce_nonce").and_then(Value::as_bool).unwrap_or(false);
        if enforce && let Some(key) = &nonce_key {
            let window = self.config.nonce_window;
            if let Some((existing, at)) = self.nonces.get(&(channel_id, bot, key.clone())).copied()
                && at.elapsed() < window
                && let Ok(message) = self.message(channel_id, existing)
            {
                let mut message = message.clone();
                message["nonce"] = nonce.clone().unwrap_or(Value::Null);
                return Ok((200, message));
            }
        }
        let (reference, referenced) = self.resolve_reference(channel_id, body.get("message_reference"))?;
        self.reopen_if_archived(channel_id)?;
        let mut draft = MessageDraft::from_body(body);
        draft.kind = if reference.is_some() { 19 } else { 0 };
        draft.reference = reference;
        draft.referenced = referenced;
        draft.nonce = nonce.clone();
        let bot_user = self.bot_user();
        let mut message = self.store_message(channel_id, &bot_user, draft);
        if let Some(key) = nonce_key {
            let id = parse_id(message.get("id")).unwrap_or(0);
            self.nonces.insert((channel_id, bot, key), (id, Instant::now()));
        }
        if let Some(nonce) = nonce {
            message["nonce"] = nonce;
        }
        Ok((200, message))
    }

    fn resolve_reference(
        &self,
        channel_id: u64,
        reference: Option<&Value>,
    ) -> Result<(Option<Value>, Option<Value>), ApiError> {
        let Some(reference) = reference.filter(|r| !r.is_null()) else { return Ok((None, None)) };
        let ref_channel = parse_id(reference.get("channel_id")).unwrap_or(channel_id);
        let fail = reference.get("fail_if_not_exists").and_then(Value::as_bool).unwrap_or(true);
        let found = parse_id(reference.get("message_id")).and_then(|id| self.message(ref_channel, id).ok());
        match found {
            Some(message) => Ok((
                Some(json!({
                    "type": 0,
                    "channel_id": sid(ref_channel),
                    "message_id": message["id"],
                    "guild_id": sid(self.guild_id()),
                })),
                Some(message.clone()),
            )),
            None if fail => {
                Err(ApiError::form_one(&["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"))
            }
            None => Ok((None, None)),
        }
    }

    /// Store a new message, bump the channel's counters, dispatch MESSAGE_CREATE; returns the
    /// message as REST returns it.
    pub fn store_message(&mut self, channel_id: u64, author: &FakeUser, draft: MessageDraft) -> Value {
        let id = match draft.id {
            Some(id) => id,
            None => self.next_id(),
        };
        let (mentions, mention_roles, mention_everyone) =
            self.mentions(&draft.content, author.id, draft.allowed_mentions.as_ref(), draft.referenced.as_ref());
        let mut message = json!({
            "id": sid(id),
            "channel_id": sid(channel_id),
            "author": Self::user_json(author),
            "content": draft.content,
            "timestamp": now_iso(),
            "edited_timestamp": null,
            "tts": draft.tts,
            "mention_everyone": mention_everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "attachments": [],
            "embeds": draft.embeds,
            "pinned": false,
            "type": draft.kind,
            "flags": draft.flags,
            "components": draft.components,
        });
        if let Some(reference) = draft.reference {
            message["message_reference"] = reference;
        }
        if let Some(referenced) = draft.referenced {
            message["referenced_message"] = referenced;
        }
        if let Some(webhook_id) = draft.webhook_id {
            message["webhook_id"] = sid(webhook_id);
            message["application_id"] = sid(webhook_id);
        }
        if let Some(metadata) = draft.interaction_metadata {
            message["interaction_metadata"] = metadata;
        }
        if !draft.ephemeral {
            self.messages
                .entry(channel_id)
                .or_default()
                .insert(id, StoredMessage { json: message.clone(), author_id: author.id });
            if let Some(channel) = self.channels.get_mut(&channel_id) {
                channel["last_message_id"] = sid(id);
                if channel.get("message_count").is_some() {
                    let count = channel["message_count"].as_u64().unwrap_or(0) + 1;
                    channel["message_count"] = json!(count);
                    let total = channel["total_message_sent"].as_u64().unwrap_or(0) + 1;
                    channel["total_message_sent"] = json!(total);
                }
            }
            let mut event = self.with_guild_fields(&message, author.id);
            if let Some(nonce) = draft.nonce {
                event["nonce"] = nonce;
            }
            self.dispatch("MESSAGE_CREATE", event);
        }
        message
    }

    /// The message as the gateway sends it: with `guild_id` and the author's `member`.
    pub fn with_guild_fields(&self, message: &Value, author_id: u64) -> Value {
        let mut event = message.clone();
        event["guild_id"] = sid(self.guild_id());
        if message.get("webhook_id").is_none()
            && let Some(member) = self.member_json(author_id, false, None)
        {
            event["member"] = member;
        }
        event
    }

    /// Mentions as Discord resolves them: `<@id>`/`<@!id>` of members, `<@&id>` of roles,
    /// `@everyone`/`@here`, all filtered by `allowed_mentions` (absent = everything allowed).
    pub(crate) fn mentions(
        &self,
        content: &str,
        author_id: u64,
        allowed: Option<&Value>,
        replied: Option<&Value>,
    ) -> (Vec<Value>, Vec<Value>, bool) {
        let allowed = allowed.filter(|a| !a.is_null());
        let parse: Vec<&str> = allowed
            .and_then(|a| a.get("parse"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let listed = |key: &str, id: u64| {
            allowed
                .and_then(|a| a.get(key))
                .and_then(Value::as_array)
                .is_some_and(|l| l.iter().any(|v| parse_id(Some(v)) == Some(id)))
        };
        let user_ok = |id: u64| allowed.is_none() || parse.contains(&"users") || listed("users", id);
        let role_ok = |id: u64| allowed.is_none() || parse.contains(&"roles") || listed("roles", id);
        let mut users = Vec::new();
        let mut roles = Vec::new();
        for (is_role, id) in scan_mentions(content) {
            if is_role {
                if self.roles.iter().any(|r| r.id == id) && role_ok(id) && !roles.contains(&id) {
                    roles.push(id);
                }
            } else if self.members.contains_key(&id) && user_ok(id) && !users.contains(&id) {
                users.push(id);
            }
        }
        if let Some(author) = replied.and_then(|m| parse_id(m["author"].get("id"))) {
            let replied_user = allowed.is_none_or(|a| a.get("replied_user").and_then(Value::as_bool).unwrap_or(false));
            if replied_user && !users.contains(&author) && self.members.contains_key(&author) {
                users.push(author);
            }
        }
        let everyone = (content.contains("@everyone") || content.contains("@here"))
            && (allowed.is_none() || parse.contains(&"everyone"))
            && self.permissions_of(author_id) & perms::MENTION_EVERYONE != 0;
        let users = users
            .into_iter()
            .filter_map(|id| {
                let member = self.members.get(&id)?;
                let mut user = Self::user_json(&member.user);
                if let Some(m) = self.member_json(id, false, None) {
                    user["member"] = m;
                }
                Some(user)
            })
            .collect();
        (users, roles.into_iter().map(sid).collect(), everyone)
    }

    /// A message from a human (or another bot) posted in the Discord client.
    pub fn inject_message(&mut self, channel_id: u64, author: &FakeUser, content: &str) -> Value {
        self.members.entry(author.id).or_insert_with(|| Member { user: author.clone(), joined_at: now_iso() });
        // Writing in an archived thread reopens it; a locked one only for those who manage threads.
        let manages_threads = self.permissions_of(author.id) & perms::MANAGE_THREADS != 0;
        if let Err(error) = self.reopen_for(channel_id, manages_threads)
            && self.channels.contains_key(&channel_id)
        {
            return error.body;
        }
        let draft = MessageDraft { content: content.to_owned(), ..MessageDraft::default() };
        self.store_message(channel_id, author, draft)
    }
}

/// Copy the editable fields of an edit body onto a message.
pub fn apply_fields(message: &mut Value, body: &Value) {
    for key in ["content", "embeds", "components", "flags", "attachments"] {
        if let Some(value) = body.get(key) {
            let value = match (key, value) {
                ("content", Value::Null) => Value::String(String::new()),
                ("flags", Value::Null) => json!(0),
                ("embeds", Value::Array(embeds)) => Value::Array(embeds.iter().map(rich).collect()),
                (_, Value::Null) => json!([]),
                _ => value.clone(),
            };
            message[key] = value;
        }
    }
}

/// Add `type: "rich"` to a sent embed, as Discord does.
fn rich(embed: &Value) -> Value {
    let mut embed = embed.clone();
    if embed.is_object() && embed.get("type").is_none() {
        embed["type"] = Value::String("rich".to_owned());
    }
    embed
}

/// `(is_role, id)` for each `<@id>`, `<@!id>`, `<@&id>` in the text.
fn scan_mentions(content: &str) -> Vec<(bool, u64)> {
    let mut found = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, body) = match rest.as_bytes().first() {
            Some(b'&') => (true, &rest[1..]),
            Some(b'!') => (false, &rest[1..]),
            _ => (false, rest),
        };
        if let Some(end) = body.find('>')
            && let Ok(id) = body[..end].parse::<u64>()
        {
            found.push((is_role, id));
        }
    }
    found
}

/// The parts of a new message that differ between REST posts, injections and interaction
/// responses.
#[derive(Debug, Default, Clone)]
pub struct MessageDraft {
    pub id: Option<u64>,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub flags: u64,
    pub tts: bool,
    pub kind: u64,
    pub allowed_mentions: Option<Value>,
    pub reference: Option<Value>,
    pub referenced: Option<Value>,
    pub nonce: Option<Value>,
    pub webhook_id: Option<u64>,
    pub interaction_metadata: Option<Value>,
    /// Kept out of the channel (ephemeral interaction responses).
    pub ephemeral: bool,
}

impl MessageDraft {
    /// Content, embeds, components, flags, tts and allowed mentions of a create body.
    pub fn from_body(body: &Value) -> Self {
        let list = |key: &str| body.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        // SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2 may be set.
        let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0) & (4 | 64 | 4096 | 32768);
        Self {
            content: body.get("content").and_then(Value::as_str).unwrap_or("").to_owned(),
            embeds: list("embeds").iter().map(rich).collect(),
            components: list("components"),
            flags,
            tts: body.get("tts").and_then(Value::as_bool).unwrap_or(false),
            allowed_mentions: body.get("allowed_mentions").cloned(),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_scanned() {
        assert_eq!(scan_mentions("hi <@12> and <@!13> <@&14> <@x> <@"), vec![(false, 12), (false, 13), (true, 14)]);
    }
}
