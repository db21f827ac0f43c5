//! Interactions: building INTERACTION_CREATE for injected slash commands, context menus,
//! components and autocomplete, and the bot's side: the callback (3 s deadline, once) and the
//! webhook follow-ups (`@original`, follow-up messages, edits, deletes).

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::config::FakeUser;
use crate::limits::{self, FormErrors};
use crate::messages::{MessageDraft, apply_fields};
use crate::records::{InteractionState, Member};
use crate::state::Inner;
use crate::wire::{ApiError, ApiResult, now_iso, parse_id, sid};

/// Interaction types (`type` of the interaction object).
pub mod interaction_type {
    /// A slash command, user command or message command.
    pub const APPLICATION_COMMAND: u64 = 2;
    /// A button or select menu.
    pub const MESSAGE_COMPONENT: u64 = 3;
    /// Autocomplete of a command option.
    pub const AUTOCOMPLETE: u64 = 4;
    /// A modal was submitted.
    pub const MODAL_SUBMIT: u64 = 5;
}

const EPHEMERAL: u64 = 64;
const LOADING: u64 = 128;

impl Inner {
    /// Build and dispatch an INTERACTION_CREATE; returns `(id, token)`.
    pub fn inject_interaction(
        &mut self,
        kind: u64,
        data: Value,
        user: &FakeUser,
        channel_id: u64,
        message_id: Option<u64>,
    ) -> (u64, String) {
        self.members.entry(user.id).or_insert_with(|| Member { user: user.clone(), joined_at: now_iso() });
        let id = self.next_id();
        let token = format!("aW50ZXJhY3Rpb246{id}:{}", ulid::Ulid::new());
        let mut data = match data {
            Value::Object(map) => Value::Object(map),
            _ => json!({}),
        };
        let mut command_kind = None;
        if matches!(kind, interaction_type::APPLICATION_COMMAND | interaction_type::AUTOCOMPLETE) {
            let data_kind = data.get("type").and_then(Value::as_u64).unwrap_or(1);
            command_kind = Some(data_kind);
            data["type"] = json!(data_kind);
            if data.get("id").is_none() {
                let registered = self
                    .guild_commands
                    .iter()
                    .chain(self.global_commands.iter())
                    .find(|c| c.get("name") == data.get("name") && c["type"].as_u64() == Some(data_kind))
                    .cloned();
                match registered {
                    Some(command) => {
                        data["id"] = command["id"].clone();
                        if let Some(guild) = command.get("guild_id") {
                            data["guild_id"] = guild.clone();
                        }
                    }
                    None => {
                        let fresh = self.next_id();
                        data["id"] = sid(fresh);
                    }
                }
            }
            self.resolve_target(&mut data, channel_id);
        }
        let channel = self.channels.get(&channel_id).cloned().unwrap_or_else(|| json!({"type": 0, "name": ""}));
        let mut partial_channel = json!({
            "id": sid(channel_id),
            "type": channel["type"],
            "name": channel["name"],
            "guild_id": sid(self.guild_id()),
            "parent_id": channel.get("parent_id").cloned().unwrap_or(Value::Null),
            "flags": 0,
            "permissions": self.permissions_in(user.id, channel_id).to_string(),
        });
        if let Some(metadata) = channel.get("thread_metadata") {
            partial_channel["thread_metadata"] = metadata.clone();
        }
        let guild_id = self.guild_id();
        let mut interaction = json!({
            "id": sid(id),
            "application_id": sid(self.config.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": sid(channel_id),
            "channel": partial_channel,
            "guild_id": sid(guild_id),
            "guild": {"id": sid(guild_id), "locale": "en-US", "features": []},
            "member": self.member_json(user.id, true, Some(channel_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": sid(guild_id)},
            "context": 0,
            "attachment_size_limit": 10_485_760,
            "app_permissions": self.permissions_in(self.bot_id(), channel_id).to_string(),
            "data": data,
        });
        if matches!(kind, interaction_type::MESSAGE_COMPONENT | interaction_type::MODAL_SUBMIT) {
            let message = message_id.and_then(|m| self.find_any_message(channel_id, m));
            match message {
                Some(message) => interaction["message"] = message,
                None if kind == interaction_type::MESSAGE_COMPONENT => {
                    // A component interaction always carries its message; invent one if the
                    // test did not name a stored one (e.g. an ephemeral message).
                    let fake_id = message_id.unwrap_or_else(|| self.next_id());
                    let bot = self.bot_user();
                    interaction["message"] = json!({
                        "id": sid(fake_id), "channel_id": sid(channel_id), "author": Inner::user_json(&bot),
                        "content": "", "timestamp": now_iso(), "edited_timestamp": null, "tts": false,
                        "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
                        "embeds": [], "pinned": false, "type": 0, "flags": EPHEMERAL, "components": [],
                    });
                }
                None => {}
            }
        }
        let mut metadata = json!({
            "id": sid(id),
            "type": kind,
            "user": Inner::user_json(user),
            "authorizing_integration_owners": {"0": sid(guild_id)},
        });
        if kind == interaction_type::APPLICATION_COMMAND {
            metadata["name"] = interaction["data"]["name"].clone();
            metadata["command_type"] = interaction["data"]["type"].clone();
            if let Some(target) = interaction["data"].get("target_id") {
                let key = if command_kind == Some(3) { "target_message_id" } else { "target_user" };
                metadata[key] = target.clone();
            }
        } else if kind == interaction_type::MESSAGE_COMPONENT {
            metadata["interacted_message_id"] = interaction["message"]["id"].clone();
        } else {
            metadata = Value::Null;
        }
        let state = InteractionState {
            token: token.clone(),
            kind,
            command_kind,
            channel_id,
            created: Instant::now(),
            acknowledged: None,
            callback_type: None,
            component_message: parse_id(interaction["message"].get("id")),
            original: None,
            ephemeral: BTreeMap::new(),
            followups: Vec::new(),
            bodies: Vec::new(),
            metadata,
        };
        self.interactions.insert(id, state);
        self.interaction_tokens.insert(token.clone(), id);
        self.dispatch("INTERACTION_CREATE", interaction);
        (id, token)
    }

    /// Fill `resolved` for user and message commands from `target_id`.
    fn resolve_target(&self, data: &mut Value, channel_id: u64) {
        let Some(target) = parse_id(data.get("target_id")) else { return };
        if data.get("resolved").is_some() {
            return;
        }
        match data["type"].as_u64() {
            Some(3) => {
                let found = self
                    .messages
                    .get(&channel_id)
                    .and_then(|m| m.get(&target))
                    .or_else(|| self.messages.values().find_map(|m| m.get(&target)));
                if let Some(message) = found {
                    let mut message = message.json.clone();
                    message["guild_id"] = sid(self.guild_id());
                    data["resolved"] = json!({"messages": {target.to_string(): message}});
                }
            }
            Some(2) => {
                if let Some(member) = self.members.get(&target) {
                    let user = Inner::user_json(&member.user);
                    let mut resolved = json!({"users": {target.to_string(): user}});
                    if let Some(m) = self.member_json(target, false, Some(channel_id)) {
                        resolved["members"] = json!({target.to_string(): m});
                    }
                    data["resolved"] = resolved;
                }
            }
            _ => {}
        }
    }

    fn interaction_by_token(&self, application_id: u64, token: &str) -> Result<u64, ApiError> {
        let unknown = || ApiError::new(404, 10015, "Unknown Webhook");
        if application_id != self.config.application_id {
            return Err(unknown());
        }
        let id = *self.interaction_tokens.get(token).ok_or_else(unknown)?;
        let state = self.interactions.get(&id).ok_or_else(unknown)?;
        if state.created.elapsed() > self.config.interaction_token_lifetime {
            return Err(ApiError::new(401, 50027, "Invalid Webhook Token"));
        }
        if state.acknowledged.is_none() {
            return Err(unknown());
        }
        Ok(id)
    }

    /// `POST /interactions/{id}/{token}/callback`.
    pub fn interaction_callback(&mut self, id: u64, token: &str, body: &Value) -> ApiResult {
        let unknown = || ApiError::new(404, 10062, "Unknown interaction");
        let state = self.interactions.get(&id).filter(|s| s.token == token).ok_or_else(unknown)?.clone();
        if state.acknowledged.is_some() {
            return Err(ApiError::new(400, 40060, "Interaction has already been acknowledged."));
        }
        if state.created.elapsed() > self.config.interaction_timeout {
            return Err(unknown());
        }
        let response_type = body.get("type").and_then(Value::as_u64).unwrap_or(0);
        let allowed: &[u64] = match state.kind {
            interaction_type::APPLICATION_COMMAND => &[4, 5, 9, 12],
            interaction_type::MESSAGE_COMPONENT => &[4, 5, 6, 7, 9, 12],
            interaction_type::AUTOCOMPLETE => &[8],
            interaction_type::MODAL_SUBMIT => &[4, 5, 6, 7],
            _ => &[1],
        };
        if !allowed.contains(&response_type) {
            return Err(ApiError::form_one(
                &["type"],
                "INTERACTION_RESPONSE_TYPE_INVALID",
                "Invalid interaction response type",
            ));
        }
        let empty = json!({});
        let data = body.get("data").filter(|d| !d.is_null()).unwrap_or(&empty);
        let mut errors = FormErrors::default();
        if matches!(response_type, 4 | 7) {
            limits::validate_message(data, &["data".to_owned()], &mut errors);
        }
        if response_type == 8 && data.get("choices").and_then(Value::as_array).is_some_and(|c| c.len() > 25) {
            errors.add(
                &["data".to_owned(), "choices".to_owned()],
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        if response_type == 4 && limits::is_empty_message(data) {
            return Err(ApiError::new(400, 50006, "Cannot send an empty message"));
        }
        let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
        match response_type {
            4 => {
                let draft = MessageDraft::from_body(data);
                self.respond_with_message(id, draft, flags & EPHEMERAL != 0, true);
            }
            5 => {
                let draft = MessageDraft { flags: LOADING | (flags & EPHEMERAL), ..MessageDraft::default() };
                self.respond_with_message(id, draft, flags & EPHEMERAL != 0, true);
            }
            7 => {
                if let Some(message_id) = state.component_message {
                    self.edit_any_message(state.channel_id, message_id, data);
                }
            }
            _ => {}
        }
        if let Some(slot) = self.interactions.get_mut(&id) {
            slot.acknowledged = Some(Instant::now());
            slot.callback_type = Some(response_type);
            slot.bodies.push(body.clone());
        }
        Ok((204, Value::Null))
    }

    /// Post a message for an interaction (the original response or a follow-up).
    fn respond_with_message(&mut self, id: u64, mut draft: MessageDraft, ephemeral: bool, original: bool) -> Value {
        let Some(state) = self.interactions.get(&id).cloned() else { return Value::Null };
        draft.kind = match state.command_kind {
            Some(1) if state.kind == interaction_type::APPLICATION_COMMAND => 20,
            Some(_) if state.kind == interaction_type::APPLICATION_COMMAND => 23,
            _ => 0,
        };
        draft.webhook_id = Some(self.config.application_id);
        draft.ephemeral = ephemeral;
        if ephemeral {
            draft.flags |= EPHEMERAL;
        }
        if !state.metadata.is_null() {
            let mut metadata = state.metadata.clone();
            if !original && let Some(original_id) = state.original {
                metadata["original_response_message_id"] = sid(original_id);
            }
            draft.interaction_metadata = Some(metadata);
        }
        let bot = self.bot_user();
        let message = self.store_message(state.channel_id, &bot, draft);
        let message_id = parse_id(message.get("id")).unwrap_or(0);
        if let Some(slot) = self.interactions.get_mut(&id) {
            if ephemeral {
                slot.ephemeral.insert(message_id, message.clone());
            }
            if original {
                slot.original = Some(message_id);
            } else {
                slot.followups.push(message_id);
            }
        }
        message
    }

    fn resolve_webhook_message(&self, id: u64, which: &str) -> Result<u64, ApiError> {
        let state = self.interactions.get(&id).ok_or_else(ApiError::unknown_message)?;
        let message_id = if which == "@original" { state.original } else { which.parse().ok() };
        let message_id = message_id.ok_or_else(ApiError::unknown_message)?;
        if state.original == Some(message_id) || state.followups.contains(&message_id) {
            Ok(message_id)
        } else {
            Err(ApiError::unknown_message())
        }
    }

    /// The current JSON of an interaction's message (ephemeral or in its channel).
    pub fn interaction_message(&self, id: u64, message_id: u64) -> Option<Value> {
        let state = self.interactions.get(&id)?;
        if let Some(message) = state.ephemeral.get(&message_id) {
            return Some(message.clone());
        }
        self.messages.get(&state.channel_id)?.get(&message_id).map(|m| m.json.clone())
    }

    /// `POST /webhooks/{app}/{token}`: a follow-up (or, after a deferred response, the
    /// replacement of the "thinking…" message, as on Discord).
    pub fn webhook_execute(&mut self, application_id: u64, token: &str, body: &Value) -> ApiResult {
        let id = self.interaction_by_token(application_id, token)?;
        let mut errors = FormErrors::default();
        limits::validate_message(body, &[], &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        if limits::is_empty_message(body) {
            return Err(ApiError::new(400, 50006, "Cannot send an empty message"));
        }
        if let Some(slot) = self.interactions.get_mut(&id) {
            slot.bodies.push(body.clone());
        }
        let loading = self.interactions.get(&id).and_then(|s| s.original).filter(|original| {
            self.interaction_message(id, *original).is_some_and(|m| m["flags"].as_u64().unwrap_or(0) & LOADING != 0)
        });
        if let Some(original) = loading {
            let message = self.edit_interaction_message(id, original, body)?;
            return Ok((200, message));
        }
        let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0);
        let draft = MessageDraft::from_body(body);
        let message = self.respond_with_message(id, draft, flags & EPHEMERAL != 0, false);
        Ok((200, message))
    }

    /// `PATCH /webhooks/{app}/{token}/messages/{id|@original}`.
    pub fn webhook_edit(&mut self, application_id: u64, token: &str, which: &str, body: &Value) -> ApiResult {
        let id = self.interaction_by_token(application_id, token)?;
        let message_id = self.resolve_webhook_message(id, which)?;
        let mut errors = FormErrors::default();
        limits::validate_message(body, &[], &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        if let Some(slot) = self.interactions.get_mut(&id) {
            slot.bodies.push(body.clone());
        }
        let message = self.edit_interaction_message(id, message_id, body)?;
        Ok((200, message))
    }

    fn edit_interaction_message(&mut self, id: u64, message_id: u64, body: &Value) -> Result<Value, ApiError> {
        let current = self.interaction_message(id, message_id).ok_or_else(ApiError::unknown_message)?;
        let loading = current["flags"].as_u64().unwrap_or(0) & LOADING != 0;
        let mut body = body.clone();
        if loading {
            // The first edit of a deferred response replaces the "thinking…" state.
            let keep = current["flags"].as_u64().unwrap_or(0) & EPHEMERAL;
            body["flags"] = json!(keep | (body.get("flags").and_then(Value::as_u64).unwrap_or(0) & 4));
        }
        let ephemeral = self.interactions.get(&id).is_some_and(|s| s.ephemeral.contains_key(&message_id));
        if ephemeral {
            let mut message = current;
            apply_fields(&mut message, &body);
            if !loading {
                message["edited_timestamp"] = Value::String(now_iso());
            }
            if let Some(slot) = self.interactions.get_mut(&id) {
                slot.ephemeral.insert(message_id, message.clone());
            }
            return Ok(message);
        }
        let channel_id = self.interactions.get(&id).map_or(0, |s| s.channel_id);
        self.apply_edit(channel_id, message_id, &body).ok_or_else(ApiError::unknown_message)
    }

    /// `GET /webhooks/{app}/{token}/messages/{id|@original}`.
    pub fn webhook_get(&self, application_id: u64, token: &str, which: &str) -> ApiResult {
        let id = self.interaction_by_token(application_id, token)?;
        let message_id = self.resolve_webhook_message(id, which)?;
        let message = self.interaction_message(id, message_id).ok_or_else(ApiError::unknown_message)?;
        Ok((200, message))
    }

    /// `DELETE /webhooks/{app}/{token}/messages/{id|@original}`.
    pub fn webhook_delete(&mut self, application_id: u64, token: &str, which: &str) -> ApiResult {
        let id = self.interaction_by_token(application_id, token)?;
        let message_id = self.resolve_webhook_message(id, which)?;
        let removed = self.interactions.get_mut(&id).and_then(|s| s.ephemeral.remove(&message_id));
        if removed.is_none() {
            let channel_id = self.interactions.get(&id).map_or(0, |s| s.channel_id);
            self.delete_message(channel_id, message_id)?;
        }
        Ok((204, Value::Null))
    }

    /// A message in a channel, or an ephemeral message of some interaction.
    fn find_any_message(&self, channel_id: u64, message_id: u64) -> Option<Value> {
        self.messages
            .get(&channel_id)
            .and_then(|c| c.get(&message_id))
            .map(|m| m.json.clone())
            .or_else(|| self.interactions.values().find_map(|i| i.ephemeral.get(&message_id).cloned()))
    }

    /// Edit a message in a channel, or an ephemeral message of some interaction (UPDATE_MESSAGE
    /// on a component of an ephemeral message).
    fn edit_any_message(&mut self, channel_id: u64, message_id: u64, body: &Value) {
        if self.apply_edit(channel_id, message_id, body).is_some() {
            return;
        }
        let owner = self.interactions.iter().find(|(_, i)| i.ephemeral.contains_key(&message_id)).map(|(id, _)| *id);
        if let Some(owner) = owner {
            let _ = self.edit_interaction_message(owner, message_id, body);
        }
    }

    /// Every message an interaction produced: the original response first, then follow-ups.
    pub fn interaction_messages(&self, id: u64) -> Vec<Value> {
        let Some(state) = self.interactions.get(&id) else { return Vec::new() };
        state.original.iter().chain(state.followups.iter()).filter_map(|m| self.interaction_message(id, *m)).collect()
    }
}
