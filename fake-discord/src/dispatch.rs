//! Gateway dispatches: every state change is sent to the live sessions as Discord would, with
//! the session's intents applied and a buffer kept for RESUME.

use serde_json::{Value, json};

use crate::state::{Inner, Outbound};
use crate::wire::{intents, parse_id};

impl Inner {
    /// Send an event to every live session (buffered for sessions waiting to RESUME).
    pub fn dispatch(&mut self, event: &str, data: Value) {
        // Invalidated sessions still get events while connected; they just cannot RESUME.
        let targets: Vec<String> =
            self.sessions.values().filter(|s| !s.invalidated || s.conn.is_some()).map(|s| s.id.clone()).collect();
        for session in targets {
            let intents = self.sessions.get(&session).map_or(0, |s| s.intents);
            if let Some(payload) = filter_for_intents(event, &data, intents, self.bot_id()) {
                self.send_dispatch(&session, event, payload);
            }
        }
        self.dispatched.push((event.to_owned(), data));
    }

    /// Send one dispatch to one session with the session's next sequence number.
    pub fn send_dispatch(&mut self, session_id: &str, event: &str, data: Value) {
        let buffer = self.config.replay_buffer;
        let Some(session) = self.sessions.get_mut(session_id) else { return };
        session.seq += 1;
        let frame = json!({"op": 0, "t": event, "s": session.seq, "d": data}).to_string();
        session.events.push_back((session.seq, frame.clone()));
        while session.events.len() > buffer {
            session.events.pop_front();
        }
        if let Some(conn) = session.conn
            && let Some(entry) = self.conns.get(&conn)
        {
            let _ = entry.tx.send(Outbound::Text(frame));
        }
    }

    /// Tell every gateway connection to do something (drop, close, send a frame).
    pub fn tell_all_connections(&mut self, make: impl Fn() -> Outbound) {
        for entry in self.conns.values() {
            let _ = entry.tx.send(make());
        }
    }
}

/// Apply the session's intents: events it did not ask for are not sent; without
/// MESSAGE_CONTENT a message's content, embeds, attachments and components arrive empty unless
/// the bot wrote it or is mentioned in it.
fn filter_for_intents(event: &str, data: &Value, session_intents: u64, bot_id: u64) -> Option<Value> {
    let needed = match event {
        "GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE" | "CHANNEL_CREATE" | "CHANNEL_UPDATE" | "CHANNEL_DELETE"
        | "THREAD_CREATE" | "THREAD_UPDATE" | "THREAD_DELETE" | "THREAD_LIST_SYNC" | "GUILD_ROLE_CREATE"
        | "GUILD_ROLE_UPDATE" | "GUILD_ROLE_DELETE" => intents::GUILDS,
        "MESSAGE_REACTION_ADD" | "MESSAGE_REACTION_REMOVE" => intents::GUILD_MESSAGE_REACTIONS,
        "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" => intents::GUILD_MEMBERS,
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "MESSAGE_DELETE_BULK" => intents::GUILD_MESSAGES,
        _ => 0,
    };
    if session_intents & needed != needed {
        return None;
    }
    if matches!(event, "MESSAGE_CREATE" | "MESSAGE_UPDATE") && session_intents & intents::MESSAGE_CONTENT == 0 {
        let author = parse_id(data["author"].get("id"));
        let mentioned =
            data["mentions"].as_array().is_some_and(|m| m.iter().any(|u| parse_id(u.get("id")) == Some(bot_id)));
        if author != Some(bot_id) && !mentioned {
            let mut blanked = data.clone();
            blanked["content"] = Value::String(String::new());
            for key in ["embeds", "attachments", "components"] {
                blanked[key] = json!([]);
            }
            if let Value::Object(map) = &mut blanked {
                map.remove("poll");
            }
            return Some(blanked);
        }
    }
    Some(data.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn content_is_blanked_without_intent() {
        let message = json!({"author": {"id": "5"}, "content": "secret", "embeds": [{}], "mentions": []});
        let filtered = filter_for_intents("MESSAGE_CREATE", &message, intents::GUILD_MESSAGES, 9).unwrap();
        assert_eq!(filtered["content"], "");
        let own = json!({"author": {"id": "9"}, "content": "mine", "mentions": []});
        assert_eq!(filter_for_intents("MESSAGE_CREATE", &own, intents::GUILD_MESSAGES, 9).unwrap()["content"], "mine");
        assert!(filter_for_intents("MESSAGE_CREATE", &message, intents::GUILDS, 9).is_none());
    }
}
