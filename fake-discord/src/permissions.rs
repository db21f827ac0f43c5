//! Permissions as Discord computes them: guild-level from roles, then a channel's overwrites;
//! the bot's own permission checks on the routes that change overwrites; reactions.
//!
//! Discord's order (documented under "Permission Overwrites"): the @everyone role's permissions
//! OR every role of the member (the owner and ADMINISTRATOR have everything); then, in the
//! channel (a thread uses its parent's), the @everyone overwrite's deny then allow, the member's
//! roles' overwrites (all denies, then all allows), and the member's own overwrite.

use serde_json::{Value, json};

use crate::records::Role;
use crate::state::Inner;
use crate::wire::{ApiError, ApiResult, kind, parse_id, perms, sid};

/// Everything (what the owner and administrators have).
pub const ALL: u64 = u64::MAX >> 13;

fn bits(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

impl Inner {
    /// The channel whose overwrites apply to `channel_id`: a thread's parent, else itself.
    fn overwrite_holder(&self, channel_id: u64) -> Option<&Value> {
        let channel = self.channels.get(&channel_id)?;
        if kind::is_thread(channel["type"].as_u64().unwrap_or(0)) {
            return parse_id(channel.get("parent_id")).and_then(|p| self.channels.get(&p));
        }
        Some(channel)
    }

    /// A member's permissions in a channel, overwrites applied (what an interaction's
    /// `member.permissions` carries).
    pub fn permissions_in(&self, user_id: u64, channel_id: u64) -> u64 {
        let base = self.permissions_of(user_id);
        if base & perms::ADMINISTRATOR != 0 || base == ALL {
            return ALL;
        }
        let Some(channel) = self.overwrite_holder(channel_id) else { return base };
        let overwrites: Vec<Value> = channel["permission_overwrites"].as_array().cloned().unwrap_or_default();
        let find = |id: u64, kind: u64| {
            overwrites
                .iter()
                .find(|o| parse_id(o.get("id")) == Some(id) && o["type"].as_u64() == Some(kind))
                .map(|o| (bits(o.get("allow")), bits(o.get("deny"))))
        };
        let mut permissions = base;
        if let Some((allow, deny)) = find(self.guild_id(), 0) {
            permissions = (permissions & !deny) | allow;
        }
        let roles = self.members.get(&user_id).map(|m| m.user.roles.clone()).unwrap_or_default();
        let (mut allow, mut deny) = (0, 0);
        for role in roles {
            if let Some((a, d)) = find(role, 0) {
                allow |= a;
                deny |= d;
            }
        }
        permissions = (permissions & !deny) | allow;
        if let Some((allow, deny)) = find(user_id, 1) {
            permissions = (permissions & !deny) | allow;
        }
        permissions
    }

    /// The bot's guild-level permissions must include `needed`.
    pub fn bot_needs(&self, needed: u64) -> Result<(), ApiError> {
        if self.permissions_of(self.bot_id()) & needed == needed {
            Ok(())
        } else {
            Err(ApiError::new(403, 50013, "Missing Permissions"))
        }
    }

    /// Overwrites may only allow or deny what the bot itself has (unless it is an
    /// administrator).
    fn bot_may_grant(&self, overwrites: &[&Value]) -> Result<(), ApiError> {
        let own = self.permissions_of(self.bot_id());
        let asked = overwrites.iter().fold(0, |acc, o| acc | bits(o.get("allow")) | bits(o.get("deny")));
        if asked & !own == 0 { Ok(()) } else { Err(ApiError::new(403, 50013, "Missing Permissions")) }
    }

    /// `POST /guilds/{id}/channels` by the bot: MANAGE_CHANNELS, and only its own bits in
    /// `permission_overwrites`.
    pub fn bot_creates_channel(&mut self, body: &Value) -> ApiResult {
        self.bot_needs(perms::MANAGE_CHANNELS)?;
        let overwrites: Vec<&Value> =
            body.get("permission_overwrites").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        self.bot_may_grant(&overwrites)?;
        self.create_channel(body)
    }

    /// `PATCH /channels/{id}` by the bot: MANAGE_CHANNELS (MANAGE_THREADS for a thread), and
    /// MANAGE_ROLES when it changes `permission_overwrites`.
    pub fn bot_modifies_channel(&mut self, id: u64, body: &Value) -> ApiResult {
        let thread = kind::is_thread(self.channel(id)?["type"].as_u64().unwrap_or(0));
        if !thread {
            self.bot_needs(perms::MANAGE_CHANNELS)?;
        }
        if let Some(overwrites) = body.get("permission_overwrites").and_then(Value::as_array) {
            self.bot_needs(perms::MANAGE_ROLES)?;
            self.bot_may_grant(&overwrites.iter().collect::<Vec<_>>())?;
        }
        self.modify_channel(id, body)
    }

    /// `PUT /channels/{id}/permissions/{overwrite_id}` by the bot: MANAGE_ROLES, own bits only.
    pub fn bot_sets_overwrite(&self, body: Option<&Value>) -> Result<(), ApiError> {
        self.bot_needs(perms::MANAGE_ROLES)?;
        match body {
            Some(body) => self.bot_may_grant(&[body]),
            None => Ok(()),
        }
    }

    /// Set (`Some(body)`) or remove a channel permission overwrite; dispatches CHANNEL_UPDATE.
    pub fn set_overwrite(&mut self, channel_id: u64, target: u64, body: Option<&Value>) -> ApiResult {
        self.channel(channel_id)?;
        if let Some(body) = body {
            let kind = body.get("type").and_then(Value::as_u64);
            if !matches!(kind, Some(0 | 1)) {
                return Err(ApiError::form_one(&["type"], "BASE_TYPE_CHOICES", "Value must be one of {0, 1}."));
            }
        }
        let Some(channel) = self.channels.get_mut(&channel_id) else { return Err(ApiError::unknown_channel()) };
        let mut list: Vec<Value> = channel["permission_overwrites"].as_array().cloned().unwrap_or_default();
        list.retain(|o| parse_id(o.get("id")) != Some(target));
        if let Some(body) = body {
            let field = |key: &str| {
                body.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())))
            };
            list.push(json!({
                "id": sid(target),
                "type": body["type"],
                "allow": field("allow").unwrap_or_else(|| "0".to_owned()),
                "deny": field("deny").unwrap_or_else(|| "0".to_owned()),
            }));
        }
        channel["permission_overwrites"] = Value::Array(list);
        let updated = channel.clone();
        let event =
            if kind::is_thread(updated["type"].as_u64().unwrap_or(0)) { "THREAD_UPDATE" } else { "CHANNEL_UPDATE" };
        self.dispatch(event, updated);
        Ok((204, Value::Null))
    }

    /// Add a role (dispatches GUILD_ROLE_CREATE); its id.
    pub fn add_role(&mut self, name: &str, permissions: u64) -> u64 {
        let id = self.next_id();
        let position = self.roles.len() as u64;
        let role = Role {
            id,
            name: name.to_owned(),
            permissions,
            position,
            color: 0,
            hoist: false,
            managed: false,
            bot_id: None,
        };
        let json = Self::role_json(&role);
        self.roles.push(role);
        self.dispatch("GUILD_ROLE_CREATE", json!({"guild_id": sid(self.guild_id()), "role": json}));
        id
    }

    /// Change a role's permissions (dispatches GUILD_ROLE_UPDATE).
    pub fn set_role_permissions(&mut self, id: u64, permissions: u64) -> bool {
        let Some(role) = self.roles.iter_mut().find(|r| r.id == id) else { return false };
        role.permissions = permissions;
        let json = Self::role_json(role);
        self.dispatch("GUILD_ROLE_UPDATE", json!({"guild_id": sid(self.guild_id()), "role": json}));
        true
    }

    /// `PUT /channels/{c}/messages/{m}/reactions/{emoji}/@me`: the bot reacts. Needs
    /// READ_MESSAGE_HISTORY in the channel, and ADD_REACTIONS when the emoji is new on the
    /// message. Reacting twice with one emoji changes nothing.
    pub fn add_own_reaction(&mut self, channel_id: u64, message_id: u64, emoji: &str) -> ApiResult {
        self.channel(channel_id)?;
        let bot = self.bot_id();
        let allowed = self.permissions_in(bot, channel_id);
        let Some(stored) = self.messages.get(&channel_id).and_then(|m| m.get(&message_id)) else {
            return Err(ApiError::unknown_message());
        };
        if emoji.is_empty() || emoji.contains(':') {
            // Custom emoji (`name:id`) are not modelled: the fake guild has none.
            return Err(ApiError::new(400, 10014, "Unknown Emoji"));
        }
        let reactions: Vec<Value> = stored.json["reactions"].as_array().cloned().unwrap_or_default();
        let existing = reactions.iter().position(|r| r["emoji"]["name"] == emoji);
        if allowed & perms::READ_MESSAGE_HISTORY == 0 || (existing.is_none() && allowed & perms::ADD_REACTIONS == 0) {
            return Err(ApiError::new(403, 50013, "Missing Permissions"));
        }
        let mut reactions = reactions;
        match existing {
            Some(i) if reactions[i]["me"] == true => return Ok((204, Value::Null)),
            Some(i) => {
                let count = reactions[i]["count"].as_u64().unwrap_or(0) + 1;
                reactions[i]["count"] = json!(count);
                reactions[i]["me"] = json!(true);
            }
            None => reactions.push(json!({
                "count": 1,
                "count_details": {"burst": 0, "normal": 1},
                "me": true,
                "me_burst": false,
                "burst_colors": [],
                "emoji": {"id": null, "name": emoji},
            })),
        }
        if let Some(stored) = self.messages.get_mut(&channel_id).and_then(|m| m.get_mut(&message_id)) {
            stored.json["reactions"] = Value::Array(reactions);
        }
        self.dispatch(
            "MESSAGE_REACTION_ADD",
            json!({
                "user_id": sid(bot),
                "channel_id": sid(channel_id),
                "message_id": sid(message_id),
                "guild_id": sid(self.guild_id()),
                "emoji": {"id": null, "name": emoji},
                "burst": false,
                "type": 0,
            }),
        );
        Ok((204, Value::Null))
    }
}

/// Decode a percent-encoded path segment (reaction emoji travel as `%E2%9B%94`).
pub fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn emoji_segments_decode() {
        assert_eq!(percent_decode("%E2%9B%94").as_deref(), Some("⛔"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%E2%9B"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}
