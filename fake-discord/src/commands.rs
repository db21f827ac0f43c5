//! Application commands, guild and global: bulk overwrite, create, edit.

use serde_json::{Map, Value, json};

use crate::limits::{self, FormErrors};
use crate::state::Inner;
use crate::wire::{ApiError, ApiResult, parse_id, sid};

impl Inner {
    fn commands_mut(&mut self, guild: bool) -> &mut Vec<Value> {
        if guild { &mut self.guild_commands } else { &mut self.global_commands }
    }

    fn command_object(&mut self, sent: &Value, guild: bool, id: Option<u64>) -> Value {
        let mut command = match sent {
            Value::Object(map) => Value::Object(map.clone()),
            _ => Value::Object(Map::new()),
        };
        let id = match id {
            Some(id) => id,
            None => self.next_id(),
        };
        let version = self.next_id();
        command["id"] = sid(id);
        command["application_id"] = sid(self.config.application_id);
        if guild {
            command["guild_id"] = sid(self.guild_id());
        } else if command.get("dm_permission").is_none() {
            command["dm_permission"] = Value::Bool(true);
        }
        let kind = command.get("type").and_then(Value::as_u64).unwrap_or(1);
        command["type"] = json!(kind);
        if command.get("description").is_none_or(Value::is_null) {
            command["description"] = Value::String(String::new());
        }
        for key in ["default_member_permissions", "contexts", "name_localizations", "description_localizations"] {
            if command.get(key).is_none() {
                command[key] = Value::Null;
            }
        }
        if command.get("integration_types").is_none_or(Value::is_null) {
            command["integration_types"] = json!([0]);
        }
        if command.get("nsfw").is_none() {
            command["nsfw"] = Value::Bool(false);
        }
        command["version"] = sid(version);
        command
    }

    /// `PUT .../commands`: replace the whole list; commands keep their id by name and type.
    pub fn overwrite_commands(&mut self, guild: bool, body: &Value) -> ApiResult {
        let Some(list) = body.as_array() else {
            return Err(ApiError::form_one(&[], "LIST_TYPE_CONVERT", "Must be an array."));
        };
        let mut errors = FormErrors::default();
        limits::validate_commands(list, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        let old = self.commands_mut(guild).clone();
        let mut new = Vec::new();
        for sent in list {
            let existing = find_command(&old, sent);
            new.push(self.command_object(sent, guild, existing));
        }
        *self.commands_mut(guild) = new.clone();
        Ok((200, Value::Array(new)))
    }

    /// `POST .../commands`: create, or replace the one with the same name and type.
    pub fn upsert_command(&mut self, guild: bool, body: &Value) -> ApiResult {
        let mut errors = FormErrors::default();
        limits::validate_command(body, &[], &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        let existing = find_command(self.commands_mut(guild), body);
        let command = self.command_object(body, guild, existing);
        let list = self.commands_mut(guild);
        list.retain(|c| parse_id(c.get("id")) != existing);
        list.push(command.clone());
        Ok((if existing.is_some() { 200 } else { 201 }, command))
    }

    /// `PATCH .../commands/{id}`.
    pub fn edit_command(&mut self, guild: bool, id: u64, body: &Value) -> ApiResult {
        let Some(old) = self.commands_mut(guild).iter().find(|c| parse_id(c.get("id")) == Some(id)).cloned() else {
            return Err(ApiError::new(404, 10063, "Unknown application command"));
        };
        let mut merged = old;
        if let (Value::Object(target), Value::Object(changes)) = (&mut merged, body) {
            target.extend(changes.clone());
        }
        let mut errors = FormErrors::default();
        limits::validate_command(&merged, &[], &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::form(errors));
        }
        let command = self.command_object(&merged, guild, Some(id));
        for slot in self.commands_mut(guild).iter_mut() {
            if parse_id(slot.get("id")) == Some(id) {
                *slot = command.clone();
            }
        }
        Ok((200, command))
    }
}

fn find_command(list: &[Value], sent: &Value) -> Option<u64> {
    let kind = sent.get("type").and_then(Value::as_u64).unwrap_or(1);
    list.iter()
        .find(|c| c.get("name") == sent.get("name") && c.get("type").and_then(Value::as_u64).unwrap_or(1) == kind)
        .and_then(|c| parse_id(c.get("id")))
}
