//! The trust tier on Redis (`crate::trust`): one hash per subject (`first`: first seen in ms,
//! `messages`: messages counted), written in one pipeline per call and given the record's TTL
//! each time (so a subject's record lapses a TTL after it was last seen); the staff-trusted
//! tags and allowed domains are one JSON string the bot writes again at every sync.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::keys::Keys;
use super::{decode, encode, millis, unavailable};
use crate::BusError;
use crate::trust::TrustRecord;

pub(super) struct Trust {
    conn: ConnectionManager,
    keys: Keys,
}

impl Trust {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    pub(super) async fn note(
        &self,
        subjects: &[String],
        messages: u64,
        now_ms: i64,
        ttl: Duration,
    ) -> Result<Vec<TrustRecord>, BusError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for subject in subjects {
            let key = self.keys.trust(subject);
            pipe.hset_nx(&key, "first", now_ms).ignore();
            pipe.hincr(&key, "messages", messages);
            pipe.hget(&key, "first");
            pipe.pexpire(&key, i64::try_from(millis(ttl)).unwrap_or(i64::MAX).max(1)).ignore();
        }
        let values: Vec<i64> = pipe.query_async(&mut self.conn.clone()).await.map_err(unavailable)?;
        Ok(values
            .chunks_exact(2)
            .map(|pair| TrustRecord { messages: u64::try_from(pair[0]).unwrap_or(0), first_ms: pair[1] })
            .collect())
    }

    pub(super) async fn records(&self, subjects: &[String]) -> Result<Vec<Option<TrustRecord>>, BusError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for subject in subjects {
            pipe.cmd("HMGET").arg(self.keys.trust(subject)).arg("first").arg("messages");
        }
        let values: Vec<(Option<i64>, Option<i64>)> =
            pipe.query_async(&mut self.conn.clone()).await.map_err(unavailable)?;
        Ok(values
            .into_iter()
            .map(|(first, messages)| {
                first.map(|first_ms| TrustRecord {
                    first_ms,
                    messages: messages.and_then(|m| u64::try_from(m).ok()).unwrap_or(0),
                })
            })
            .collect())
    }

    pub(super) async fn put_list(&self, list: &protocol::TrustList) -> Result<(), BusError> {
        self.conn.clone().set::<_, _, ()>(self.keys.trust_list(), encode(list)?).await.map_err(unavailable)
    }

    pub(super) async fn list(&self) -> Result<protocol::TrustList, BusError> {
        let raw: Option<String> = self.conn.clone().get(self.keys.trust_list()).await.map_err(unavailable)?;
        Ok(raw.as_deref().map(decode).transpose()?.unwrap_or_default())
    }
}
