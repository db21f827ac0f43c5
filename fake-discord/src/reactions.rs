//! Reactions by users, injected: a member adds or removes a reaction on a message, which is
//! recorded on the message (`reactions[]`, as REST returns it) and dispatched as Discord does,
//! under the GUILD_MESSAGE_REACTIONS intent: MESSAGE_REACTION_ADD `{user_id, channel_id,
//! message_id, guild_id, member, emoji, message_author_id, burst, burst_colors, type}` and
//! MESSAGE_REACTION_REMOVE `{user_id, channel_id, message_id, guild_id, emoji, burst, type}`.
//! Custom emoji are `{id, name, animated}`, Unicode ones `{id: null, name}`.

use serde_json::{Value, json};

use crate::config::FakeUser;
use crate::records::Member;
use crate::server::FakeDiscord;
use crate::state::Inner;
use crate::wire::{now_iso, sid};

/// An emoji as a reaction carries it: Unicode (`"👍"`) or custom (`"name:id"`).
fn emoji_json(emoji: &str) -> Value {
    match emoji.split_once(':') {
        Some((name, id)) if id.parse::<u64>().is_ok() => json!({"id": id, "name": name, "animated": false}),
        _ => json!({"id": null, "name": emoji}),
    }
}

impl Inner {
    /// `user` adds (`add`) or removes a reaction: false when the message does not exist, or
    /// when nothing changes (a second add, a remove of what is not there), as Discord sends no
    /// event then.
    pub fn user_reaction(&mut self, channel_id: u64, message_id: u64, user: &FakeUser, emoji: &str, add: bool) -> bool {
        self.members.entry(user.id).or_insert_with(|| Member { user: user.clone(), joined_at: now_iso() });
        let Some(stored) = self.messages.get_mut(&channel_id).and_then(|m| m.get_mut(&message_id)) else {
            return false;
        };
        let author = stored.author_id;
        let emoji_value = emoji_json(emoji);
        let mut reactions: Vec<Value> = stored.json["reactions"].as_array().cloned().unwrap_or_default();
        let existing = reactions.iter().position(|r| r["emoji"]["name"] == emoji_value["name"]);
        let name = emoji_value["name"].as_str().unwrap_or_default().to_owned();
        let key = (message_id, user.id, name);
        if add == self.user_reactions.contains(&key) {
            return false;
        }
        match (existing, add) {
            (Some(i), true) => {
                reactions[i]["count"] = json!(reactions[i]["count"].as_u64().unwrap_or(0) + 1);
                reactions[i]["count_details"]["normal"] = reactions[i]["count"].clone();
            }
            (None, true) => reactions.push(json!({
                "count": 1,
                "count_details": {"burst": 0, "normal": 1},
                "me": false,
                "me_burst": false,
                "burst_colors": [],
                "emoji": emoji_value.clone(),
            })),
            (Some(i), false) => {
                let count = reactions[i]["count"].as_u64().unwrap_or(1).saturating_sub(1);
                if count == 0 {
                    reactions.remove(i);
                } else {
                    reactions[i]["count"] = json!(count);
                    reactions[i]["count_details"]["normal"] = json!(count);
                }
            }
            (None, false) => return false,
        }
        stored.json["reactions"] = Value::Array(reactions);
        if add {
            self.user_reactions.insert(key);
        } else {
            self.user_reactions.remove(&key);
        }
        let mut event = json!({
            "user_id": sid(user.id),
            "channel_id": sid(channel_id),
            "message_id": sid(message_id),
            "guild_id": sid(self.guild_id()),
            "emoji": emoji_value,
            "burst": false,
            "type": 0,
        });
        if add {
            event["member"] = self.member_json(user.id, true, None).unwrap_or(Value::Null);
            event["message_author_id"] = sid(author);
            event["burst_colors"] = json!([]);
            self.dispatch("MESSAGE_REACTION_ADD", event);
        } else {
            self.dispatch("MESSAGE_REACTION_REMOVE", event);
        }
        true
    }
}

impl FakeDiscord {
    /// `user` reacts with `emoji` (Unicode, or `name:id` for a custom one) on a message:
    /// dispatches MESSAGE_REACTION_ADD (with `member`) to sessions with the
    /// GUILD_MESSAGE_REACTIONS intent. The user becomes a member if it was not. False when there
    /// is no such message or the user had reacted so already.
    pub fn inject_reaction_add(&self, channel_id: u64, message_id: u64, user: &FakeUser, emoji: &str) -> bool {
        self.shared.with(|inner| inner.user_reaction(channel_id, message_id, user, emoji, true))
    }

    /// `user` takes its reaction `emoji` back: dispatches MESSAGE_REACTION_REMOVE. False when
    /// there was none.
    pub fn inject_reaction_remove(&self, channel_id: u64, message_id: u64, user: &FakeUser, emoji: &str) -> bool {
        self.shared.with(|inner| inner.user_reaction(channel_id, message_id, user, emoji, false))
    }
}
