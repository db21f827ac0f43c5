//! What humans do in the Discord client, injected: messages, edits, deletions, interactions;
//! and trouble: refused threads, dropped, closed or invalidated gateway sessions.

use serde_json::{Value, json};

use crate::config::FakeUser;
use crate::interactions::interaction_type;
use crate::messages::MessageDraft;
use crate::server::FakeDiscord;
use crate::state::{Inner, Outbound};
use crate::wire;

/// How Discord refuses to start a thread, for [`FakeDiscord::refuse_thread_creation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadRefusal {
    /// `403 {"code": 50001, "message": "Missing Access"}`: the bot cannot see the parent.
    MissingAccess,
    /// `403 {"code": 50013, "message": "Missing Permissions"}`: no Create Public Threads.
    MissingPermissions,
    /// `400 {"code": 160006, "message": "Maximum number of active threads reached"}`.
    MaxActiveThreads,
    /// Any other answer.
    Other { status: u16, code: u64, message: String },
}

impl ThreadRefusal {
    fn error(&self) -> wire::ApiError {
        match self {
            Self::MissingAccess => wire::ApiError::new(403, 50001, "Missing Access"),
            Self::MissingPermissions => wire::ApiError::new(403, 50013, "Missing Permissions"),
            Self::MaxActiveThreads => wire::ApiError::new(400, 160_006, "Maximum number of active threads reached"),
            Self::Other { status, code, message } => wire::ApiError::new(*status, *code, message),
        }
    }
}

impl FakeDiscord {
    /// A user writes in a channel or thread: stores the message and dispatches MESSAGE_CREATE
    /// (with `guild_id` and `member`). The user becomes a member if it was not. Writing in an
    /// archived thread reopens it (THREAD_UPDATE); in a locked one only members with Manage
    /// Threads may, others get Discord's error body back (`50083`) and nothing is posted.
    /// Returns the message.
    pub fn inject_message(&self, channel_id: u64, author: &FakeUser, content: &str) -> Value {
        self.shared.with(|inner| inner.inject_message(channel_id, author, content))
    }

    /// Like [`Self::inject_message`], as a reply to `reply_to` (type 19, `message_reference`).
    pub fn inject_reply(&self, channel_id: u64, author: &FakeUser, content: &str, reply_to: u64) -> Value {
        self.shared.with(|inner| {
            let referenced = inner.message(channel_id, reply_to).ok().cloned();
            let draft = MessageDraft {
                content: content.to_owned(),
                kind: if referenced.is_some() { 19 } else { 0 },
                reference: referenced.as_ref().map(|r| {
                    json!({"type": 0, "message_id": r["id"], "channel_id": r["channel_id"], "guild_id": inner.guild_id().to_string()})
                }),
                referenced,
                ..MessageDraft::default()
            };
            inner.store_message(channel_id, author, draft)
        })
    }

    /// A user edits their message: dispatches MESSAGE_UPDATE with the full message. `None` if
    /// there is no such message.
    pub fn inject_message_update(&self, channel_id: u64, message_id: u64, new_content: &str) -> Option<Value> {
        self.shared.with(|inner| inner.apply_edit(channel_id, message_id, &json!({"content": new_content})))
    }

    /// Someone deletes a message: dispatches MESSAGE_DELETE `{id, channel_id, guild_id}`.
    /// `false` if there was no such message.
    pub fn inject_message_delete(&self, channel_id: u64, message_id: u64) -> bool {
        self.shared.with(|inner| inner.delete_message(channel_id, message_id).is_ok())
    }

    /// Dispatch a full INTERACTION_CREATE of `kind` ([`interaction_type`]) with this `data`,
    /// from `user` in `channel_id`; `message_id` is the message a component or modal belongs
    /// to. For commands, missing `data.id`/`type`/`guild_id` are filled from the registered
    /// command, and `resolved` from `target_id`. Returns `(interaction id, token)`; the 3 s
    /// callback deadline starts now.
    pub fn inject_interaction(
        &self,
        kind: u64,
        data: Value,
        user: &FakeUser,
        channel_id: u64,
        message_id: Option<u64>,
    ) -> (u64, String) {
        self.shared.with(|inner| inner.inject_interaction(kind, data, user, channel_id, message_id))
    }

    /// A slash command `/name` with `options` (`[{"name","type","value"}]`, or `Value::Null`).
    pub fn inject_slash_command(&self, user: &FakeUser, channel_id: u64, name: &str, options: Value) -> (u64, String) {
        let mut data = json!({"name": name, "type": 1});
        if !options.is_null() {
            data["options"] = options;
        }
        self.inject_interaction(interaction_type::APPLICATION_COMMAND, data, user, channel_id, None)
    }

    /// A message context-menu command `name` on `target_message_id` (in `channel_id`).
    pub fn inject_message_command(
        &self,
        user: &FakeUser,
        channel_id: u64,
        name: &str,
        target_message_id: u64,
    ) -> (u64, String) {
        let data = json!({"name": name, "type": 3, "target_id": target_message_id.to_string()});
        self.inject_interaction(interaction_type::APPLICATION_COMMAND, data, user, channel_id, None)
    }

    /// A click on a button (`values: None`, component type 2) or a choice in a string select
    /// (component type 3) of message `message_id`.
    pub fn inject_component(
        &self,
        user: &FakeUser,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> (u64, String) {
        let data = match values {
            None => json!({"custom_id": custom_id, "component_type": 2}),
            Some(values) => json!({"custom_id": custom_id, "component_type": 3, "values": values}),
        };
        self.inject_interaction(interaction_type::MESSAGE_COMPONENT, data, user, channel_id, Some(message_id))
    }

    /// Autocomplete for `/name`; one option in `options` should have `"focused": true`.
    pub fn inject_autocomplete(&self, user: &FakeUser, channel_id: u64, name: &str, options: Value) -> (u64, String) {
        let data = json!({"name": name, "type": 1, "options": options});
        self.inject_interaction(interaction_type::AUTOCOMPLETE, data, user, channel_id, None)
    }

    /// From now on, answer every attempt to start a thread with `refusal` (`None`: create
    /// threads again). The request is still routed and rate limited first, as on Discord.
    pub fn refuse_thread_creation(&self, refusal: Option<ThreadRefusal>) {
        self.shared.with(|inner| inner.thread_refusal = refusal.as_ref().map(ThreadRefusal::error));
    }

    /// End every gateway connection abruptly (TCP closed, no close frame). Sessions stay
    /// resumable; events dispatched meanwhile are replayed on RESUME.
    pub fn drop_gateway_connections(&self) {
        self.shared.with(|inner| inner.tell_all_connections(|| Outbound::Drop));
    }

    /// Close every gateway connection with `code` (e.g. 4000 "unknown error": resumable).
    pub fn close_gateway_connections(&self, code: u16) {
        self.shared
            .with(|inner| inner.tell_all_connections(|| Outbound::Close(code, "fake-discord closed".to_owned())));
    }

    /// Send op 7 RECONNECT on every connection (the client should reconnect and RESUME).
    pub fn request_reconnect(&self) {
        let frame = json!({"op": 7, "d": null, "s": null, "t": null}).to_string();
        self.shared.with(|inner| inner.tell_all_connections(|| Outbound::Text(frame.clone())));
    }

    /// Invalidate every session: the next RESUME gets op 9 INVALID_SESSION `d: false` and the
    /// client has to IDENTIFY again (serenity waits about 5 s first).
    pub fn invalidate_sessions(&self) {
        self.shared.with(Inner::invalidate_sessions);
    }
}
