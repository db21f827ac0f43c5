//! The JSON shapes Discord gives the fake's users, members, roles, the guild and the
//! application, as REST answers and gateway payloads carry them.

use serde_json::{Value, json};

use crate::config::FakeUser;
use crate::records::Role;
use crate::state::Inner;
use crate::wire::{kind, sid};

impl Inner {
    /// A user object.
    pub fn user_json(user: &FakeUser) -> Value {
        let mut value = json!({
            "id": sid(user.id),
            "username": user.username,
            "global_name": user.global_name,
            "discriminator": if user.bot { "1234" } else { "0" },
            "avatar": null,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
            "collectibles": null,
            "clan": null,
            "primary_guild": null,
        });
        if user.bot {
            value["bot"] = Value::Bool(true);
        }
        value
    }

    /// The bot's own user object, as `/users/@me` and READY give it.
    pub fn bot_user_json(&self) -> Value {
        let mut value = Self::user_json(&self.bot_user());
        value["verified"] = Value::Bool(true);
        value["mfa_enabled"] = Value::Bool(false);
        value["email"] = Value::Null;
        value["locale"] = Value::String("en-US".to_owned());
        value["bio"] = Value::String(String::new());
        value
    }

    /// A guild member object; `with_user` includes `user`, `with_permissions` (a channel) the
    /// `permissions` string computed for that channel, overwrites included (interactions).
    pub fn member_json(&self, user_id: u64, with_user: bool, with_permissions: Option<u64>) -> Option<Value> {
        let member = self.members.get(&user_id)?;
        let mut value = json!({
            "roles": member.user.roles.iter().map(|r| sid(*r)).collect::<Vec<_>>(),
            "nick": null,
            "avatar": null,
            "banner": null,
            "joined_at": member.joined_at,
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
        });
        if with_user {
            value["user"] = Self::user_json(&member.user);
        }
        if let Some(channel) = with_permissions {
            value["permissions"] = Value::String(self.permissions_in(user_id, channel).to_string());
        }
        Some(value)
    }

    pub fn role_json(role: &Role) -> Value {
        let mut value = json!({
            "id": sid(role.id),
            "name": role.name,
            "description": null,
            "color": role.color,
            "colors": {"primary_color": role.color, "secondary_color": null, "tertiary_color": null},
            "hoist": role.hoist,
            "icon": null,
            "unicode_emoji": null,
            "position": role.position,
            "permissions": role.permissions.to_string(),
            "managed": role.managed,
            "mentionable": false,
            "flags": 0,
        });
        if let Some(bot_id) = role.bot_id {
            value["tags"] = json!({"bot_id": sid(bot_id)});
        }
        value
    }

    /// The guild object of `GET /guilds/{id}`; `full` adds the GUILD_CREATE extras.
    pub fn guild_json(&self, full: bool) -> Value {
        let mut value = json!({
            "id": sid(self.guild_id()),
            "name": self.config.guild_name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": sid(self.config.owner_id),
            "region": null,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": self.roles.iter().map(Self::role_json).collect::<Vec<_>>(),
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500_000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw": false,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
        });
        if full {
            let members: Vec<Value> = self.members.keys().filter_map(|id| self.member_json(*id, true, None)).collect();
            let (threads, channels): (Vec<Value>, Vec<Value>) =
                self.channels.values().cloned().partition(|c| kind::is_thread(c["type"].as_u64().unwrap_or(0)));
            let threads: Vec<Value> =
                threads.into_iter().filter(|t| t["thread_metadata"]["archived"] != Value::Bool(true)).collect();
            let extra = json!({
                "joined_at": self.created,
                "large": false,
                "unavailable": false,
                "member_count": self.members.len(),
                "voice_states": [],
                "members": members,
                "channels": channels,
                "threads": threads,
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
                "lazy": true,
            });
            if let (Value::Object(base), Value::Object(extra)) = (&mut value, extra) {
                base.extend(extra);
            }
        }
        value
    }

    /// Application info (`/oauth2/applications/@me`).
    pub fn application_json(&self) -> Value {
        let owner = self.members.get(&self.config.owner_id).map(|m| Self::user_json(&m.user));
        json!({
            "id": sid(self.config.application_id),
            "name": self.config.bot_username,
            "icon": null,
            "description": "Textual Chatroulette bot (fake Discord)",
            "summary": "",
            "type": null,
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "1ad3f2cb6e0b1e0c4a8d6f3f1b8d2a0c9e7f5d3b1a9c8e7f6d5c4b3a2e1f0d9c",
            "flags": self.application_flags(),
            "owner": owner,
            "team": null,
            "hook": true,
            "bot": self.bot_user_json(),
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "approximate_guild_count": 1,
            "integration_types_config": {"0": {}},
        })
    }

    /// GATEWAY_PRESENCE_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED
    /// and APPLICATION_COMMAND_BADGE, as for an unverified bot with the intents switched on.
    pub fn application_flags(&self) -> u64 {
        (1 << 13) | (1 << 15) | (1 << 19) | (1 << 23)
    }
}
