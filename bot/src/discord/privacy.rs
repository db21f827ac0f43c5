//! Every channel the bot makes is private: only the bot and staff read the rooms.
//!
//! A channel is created with `permission_overwrites` that deny View Channel to @everyone (the
//! role whose id is the guild's) and allow View Channel, Send Messages and Read Message History
//! to the bot (a member overwrite) and to the moderator role (`DISCORD_MODERATOR_ROLE_ID`).
//! Creating with overwrites needs only Manage Channels. Under a category that itself denies
//! @everyone, the channel is created without overwrites of its own and so synced with the
//! category; under any other category it gets the overwrites above. Threads have no overwrites:
//! they are private because their parents are.
//!
//! At start (and each round until they are fixed) the channels the bot uses are checked: one
//! that @everyone can view is logged as a warning and fixed with `PUT
//! /channels/{id}/permissions/{overwrite_id}` where the bot has Manage Roles.

use serde_json::{Value, json};

use super::DiscordConfig;
use super::rest::{Rest, RestError, snowflake};

/// The channels @everyone can still view, as sentences for operators (empty when all are
/// private); for a detailed readiness report.
pub static STATUS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The problems [`STATUS`] holds.
pub fn problems() -> Vec<String> {
    STATUS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// Discord permission bits used here.
pub mod bits {
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    /// What the bot and the moderator role are allowed in every channel the bot makes.
    pub const STAFF: u64 = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY;
}

/// The overwrites of a private channel.
pub fn private_overwrites(guild: u64, bot: u64, moderator_role: Option<u64>) -> Value {
    let staff = bits::STAFF.to_string();
    let mut list = vec![
        json!({"id": guild.to_string(), "type": 0, "allow": "0", "deny": bits::VIEW_CHANNEL.to_string()}),
        json!({"id": bot.to_string(), "type": 1, "allow": staff, "deny": "0"}),
    ];
    if let Some(role) = moderator_role {
        list.push(json!({"id": role.to_string(), "type": 0, "allow": bits::STAFF.to_string(), "deny": "0"}));
    }
    Value::Array(list)
}

fn bits_of(value: &Value) -> u64 {
    value.as_str().and_then(|s| s.parse().ok()).or_else(|| value.as_u64()).unwrap_or(0)
}

/// The @everyone overwrite of a channel object, as (allow, deny).
fn everyone_overwrite(channel: &Value, guild: u64) -> (u64, u64) {
    channel["permission_overwrites"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| snowflake(&o["id"]) == Some(guild) && o["type"].as_u64() == Some(0))
        .map_or((0, 0), |o| (bits_of(&o["allow"]), bits_of(&o["deny"])))
}

/// Whether a member with only the @everyone role (whose guild permissions are `everyone`)
/// can view the channel.
pub fn everyone_can_view(channel: &Value, guild: u64, everyone: u64) -> bool {
    if everyone & bits::ADMINISTRATOR != 0 {
        return true;
    }
    let (allow, deny) = everyone_overwrite(channel, guild);
    ((everyone & !deny) | allow) & bits::VIEW_CHANNEL != 0
}

/// Create a private text channel for the bot (under the configured category, if any); its id.
pub async fn create_channel(rest: &Rest, config: &DiscordConfig, name: &str, topic: &str) -> Result<u64, RestError> {
    let overwrites = match config.category {
        Some(category) => {
            let parent = rest.channel(category).await?;
            if everyone_overwrite(&parent, config.guild).1 & bits::VIEW_CHANNEL != 0 {
                // The category is private: sync with it.
                None
            } else {
                Some(private_overwrites(config.guild, rest.bot_id().await?, config.moderator_role))
            }
        }
        None => Some(private_overwrites(config.guild, rest.bot_id().await?, config.moderator_role)),
    };
    rest.create_text_channel(config.guild, name, topic, config.category, overwrites.as_ref()).await
}

/// What checking one channel found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Private,
    /// @everyone could view it; the bot fixed the overwrites.
    Fixed,
    /// @everyone can view it and the bot could not fix it (why).
    Public(String),
}

/// Check that @everyone cannot view `channel`; fix it where the bot may (Manage Roles).
pub async fn check_and_fix(rest: &Rest, config: &DiscordConfig, channel: u64) -> Result<Checked, RestError> {
    let everyone = rest.everyone_permissions(config.guild).await?;
    let object = rest.channel(channel).await?;
    if !everyone_can_view(&object, config.guild, everyone) {
        return Ok(Checked::Private);
    }
    let name = object["name"].as_str().unwrap_or("?").to_owned();
    tracing::warn!(channel, %name, "@everyone can read a channel the bot mirrors rooms into; making it private");
    // Staff first, so neither the bot nor the moderators lose the channel halfway.
    let bot = rest.bot_id().await?;
    let staff = bits::STAFF.to_string();
    let mut steps = vec![(bot, json!({"type": 1, "allow": staff, "deny": "0"}))];
    if let Some(role) = config.moderator_role {
        steps.push((role, json!({"type": 0, "allow": bits::STAFF.to_string(), "deny": "0"})));
    }
    let (allow, deny) = everyone_overwrite(&object, config.guild);
    let everyone_body = json!({
        "type": 0,
        "allow": (allow & !bits::VIEW_CHANNEL).to_string(),
        "deny": (deny | bits::VIEW_CHANNEL).to_string(),
    });
    steps.push((config.guild, everyone_body));
    for (target, body) in steps {
        match rest.set_overwrite(channel, target, &body).await {
            Ok(()) => {}
            Err(RestError::Status { status: 403, .. }) => {
                let why = format!(
                    "#{name} ({channel}) is readable by @everyone and the bot lacks Manage Roles to fix it: \
                     deny View Channel to @everyone on it, or grant the bot Manage Roles"
                );
                tracing::error!("{why}");
                return Ok(Checked::Public(why));
            }
            Err(e) => return Err(e),
        }
    }
    tracing::info!(channel, %name, "the channel is private now");
    Ok(Checked::Fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwrites_decide_whether_everyone_views() {
        let guild = 1;
        let everyone = bits::VIEW_CHANNEL | bits::SEND_MESSAGES;
        let open = json!({"permission_overwrites": []});
        assert!(everyone_can_view(&open, guild, everyone));
        let private = json!({"permission_overwrites": private_overwrites(guild, 2, Some(3))});
        assert!(!everyone_can_view(&private, guild, everyone));
        // A deny for another role is no deny for @everyone.
        let other = json!({"permission_overwrites": [{"id": "9", "type": 0, "allow": "0", "deny": "1024"}]});
        assert!(everyone_can_view(&other, guild, everyone));
        // @everyone without View Channel in the server: private unless the channel allows it.
        assert!(!everyone_can_view(&open, guild, bits::SEND_MESSAGES));
        let allowed = json!({"permission_overwrites": [{"id": "1", "type": 0, "allow": "1024", "deny": "0"}]});
        assert!(everyone_can_view(&allowed, guild, bits::SEND_MESSAGES));
        assert!(everyone_can_view(&private, guild, bits::ADMINISTRATOR));
        let list = private_overwrites(guild, 2, None);
        assert_eq!(list.as_array().map(Vec::len), Some(2));
    }
}
