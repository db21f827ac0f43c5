//! Recent history: one list per room of its last [`HISTORY_LEN`] messages (JSON), oldest first.
//! A message only its sender's connections may read carries the sender's tags in the same JSON
//! object (`crate::history`), filtered out here for every other reader.

use protocol::{MessageView, RoomSlug};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use ulid::Ulid;

use super::keys::Keys;
use super::{decode, encode, unavailable};
use crate::history::{Entry, Viewer, visible};
use crate::{BusError, HISTORY_LEN};

/// Fill a room's history if it is empty.
const SEED: &str = include_str!("lua/seed.lua");
/// Edit or remove one message of a room's history.
const AMEND: &str = include_str!("lua/amend.lua");

pub(super) struct History {
    conn: ConnectionManager,
    keys: Keys,
    seed: Script,
    amend: Script,
}

impl History {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys, seed: Script::new(SEED), amend: Script::new(AMEND) }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Keep `message` (for `only`'s connections alone, when given) in its room's history.
    pub(super) async fn record(&self, message: &MessageView, only: Option<&Viewer>) -> Result<(), BusError> {
        let room = RoomSlug::parse(&message.room).map_err(|e| BusError::Codec(e.to_string()))?;
        let key = self.keys.history(&room);
        let len = isize::try_from(HISTORY_LEN).unwrap_or(isize::MAX);
        let json = match only {
            None => encode(message)?,
            Some(only) => encode(&Entry { message: message.clone(), only: Some(only.clone()) })?,
        };
        let _: () = redis::pipe()
            .atomic()
            .rpush(&key, json)
            .ignore()
            .ltrim(&key, -len, -1)
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn read(
        &self,
        room: &RoomSlug,
        since: Option<Ulid>,
        viewer: Option<&Viewer>,
    ) -> Result<Vec<MessageView>, BusError> {
        let raw: Vec<String> = self.conn().lrange(self.keys.history(room), 0, -1).await.map_err(unavailable)?;
        let entries = raw.iter().map(|r| decode::<Entry>(r)).collect::<Result<Vec<_>, _>>()?;
        Ok(visible(&entries, since, viewer))
    }

    pub(super) async fn amend(&self, room: &RoomSlug, id: Ulid, text: Option<&str>) -> Result<(), BusError> {
        let mut invocation = self.amend.key(self.keys.history(room));
        invocation.arg(id.to_string());
        if let Some(text) = text {
            invocation.arg(text);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    /// Set a message's text and `edited` time (RFC 3339, as the JSON of a message writes it).
    pub(super) async fn edit(
        &self,
        room: &RoomSlug,
        id: Ulid,
        text: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BusError> {
        // Written as serde writes `edited`, so the entry reads back as it would have been stored.
        let at = serde_json::to_value(at).map_err(|e| BusError::Codec(e.to_string()))?;
        let at = at.as_str().unwrap_or_default().to_owned();
        let mut invocation = self.amend.key(self.keys.history(room));
        invocation.arg(id.to_string()).arg(text).arg(at);
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn seed(&self, room: &RoomSlug, messages: Vec<MessageView>) -> Result<(), BusError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut invocation = self.seed.key(self.keys.history(room));
        invocation.arg(HISTORY_LEN);
        for m in &messages {
            invocation.arg(encode(m)?);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }
}
