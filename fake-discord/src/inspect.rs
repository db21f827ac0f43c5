//! What tests read back: recorded requests, channels, messages, commands, interaction
//! answers, gateway dispatches and sessions; and waiting for them.

use std::time::Duration;

use serde_json::Value;

use crate::records::RecordedRequest;
use crate::server::FakeDiscord;
use crate::wire::{self, parse_id};

impl FakeDiscord {
    /// Every REST request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|inner| inner.requests.clone())
    }

    /// Requests with this method whose path (without `/api/v10`) is exactly `path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.shared
            .read(|inner| inner.requests.iter().filter(|r| r.method == method && r.path == path).cloned().collect())
    }

    /// How many requests got 429 (route and global limits).
    pub fn rate_limited_count(&self) -> usize {
        self.shared.read(|inner| inner.rate_limited)
    }

    /// Every channel and thread of the guild, by id.
    pub fn channels(&self) -> Vec<Value> {
        self.shared.read(|inner| inner.channels.values().cloned().collect())
    }

    /// One channel or thread.
    pub fn channel(&self, channel_id: u64) -> Option<Value> {
        self.shared.read(|inner| inner.channels.get(&channel_id).cloned())
    }

    /// A channel's current (not deleted) messages, oldest first, as REST returns them.
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        self.shared.read(|inner| inner.messages_in(channel_id))
    }

    /// The threads (archived ones included) whose parent is `parent_id`, oldest first.
    pub fn threads_of(&self, parent_id: u64) -> Vec<Value> {
        self.shared.read(|inner| {
            inner
                .channels
                .values()
                .filter(|c| {
                    wire::kind::is_thread(c["type"].as_u64().unwrap_or(0))
                        && parse_id(c.get("parent_id")) == Some(parent_id)
                })
                .cloned()
                .collect()
        })
    }

    /// One current message.
    pub fn message(&self, channel_id: u64, message_id: u64) -> Option<Value> {
        self.shared.read(|inner| inner.message(channel_id, message_id).ok().cloned())
    }

    /// The guild's application commands as last registered.
    pub fn commands(&self) -> Vec<Value> {
        self.shared.read(|inner| inner.guild_commands.clone())
    }

    /// The global application commands as last registered.
    pub fn global_commands(&self) -> Vec<Value> {
        self.shared.read(|inner| inner.global_commands.clone())
    }

    /// Every accepted body the bot sent for an interaction, in order: the callback
    /// (`{"type":4,"data":{…}}`), then follow-ups and edits of its messages.
    pub fn interaction_responses(&self, interaction_id: u64) -> Vec<Value> {
        self.shared.read(|inner| inner.interactions.get(&interaction_id).map(|s| s.bodies.clone()).unwrap_or_default())
    }

    /// The messages an interaction produced (original response first), ephemeral ones included.
    pub fn interaction_messages(&self, interaction_id: u64) -> Vec<Value> {
        self.shared.read(|inner| inner.interaction_messages(interaction_id))
    }

    /// Every gateway dispatch so far (event name, payload before intent filtering), once each
    /// however many sessions got it. READY, GUILD_CREATE and RESUMED are per session and not
    /// listed.
    pub fn dispatched_events(&self) -> Vec<(String, Value)> {
        self.shared.read(|inner| inner.dispatched.clone())
    }

    /// How many IDENTIFYs succeeded.
    pub fn identify_count(&self) -> usize {
        self.shared.read(|inner| inner.identifies)
    }

    /// How many RESUMEs succeeded.
    pub fn resume_count(&self) -> usize {
        self.shared.read(|inner| inner.resumes)
    }

    /// Gateway connections that are identified (or resumed) right now.
    pub fn connected_sessions(&self) -> usize {
        self.shared.read(|inner| inner.conns.values().filter(|c| c.session.is_some()).count())
    }

    /// Wait until `check` returns `Some`, re-checking at every state change (and at least every
    /// 50 ms); `None` after `timeout`.
    pub async fn wait_for<T>(&self, mut check: impl FnMut(&FakeDiscord) -> Option<T>, timeout: Duration) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed();
            if let Some(found) = check(self) {
                return Some(found);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), changed).await;
        }
    }

    /// Wait until `predicate` holds; `false` after `timeout`.
    pub async fn wait_until(&self, mut predicate: impl FnMut(&FakeDiscord) -> bool, timeout: Duration) -> bool {
        self.wait_for(|d| predicate(d).then_some(()), timeout).await.is_some()
    }
}
