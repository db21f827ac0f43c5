//! Resume states on Redis: one string per token (`{prefix}:resume:{token}`, JSON) with a TTL.
//! Taking one is `GETDEL`, so a token is used once whichever gateways race for it; replacing
//! one is `SET … XX`, so a session already taken elsewhere is never brought back.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::keys::Keys;
use super::{decode, encode, millis, unavailable};
use crate::{BusError, ResumeState, Token};

/// Tokens whose TTL one pipeline extends.
const KEEP_CHUNK: usize = 500;

pub(super) struct Resumes {
    conn: ConnectionManager,
    keys: Keys,
}

impl Resumes {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub(super) async fn put(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<(), BusError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.resume(token))
            .arg(encode(state)?)
            .arg("PX")
            .arg(millis(ttl).max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn update(&self, token: Token, state: &ResumeState, ttl: Duration) -> Result<bool, BusError> {
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.keys.resume(token))
            .arg(encode(state)?)
            .arg("PX")
            .arg(millis(ttl).max(1))
            .arg("XX")
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(reply.is_some())
    }

    pub(super) async fn keep(&self, tokens: &[Token], ttl: Duration) -> Result<(), BusError> {
        for chunk in tokens.chunks(KEEP_CHUNK) {
            let mut pipe = redis::pipe();
            for &token in chunk {
                pipe.cmd("PEXPIRE").arg(self.keys.resume(token)).arg(millis(ttl).max(1)).ignore();
            }
            let _: () = pipe.query_async(&mut self.conn()).await.map_err(unavailable)?;
        }
        Ok(())
    }

    pub(super) async fn take(&self, token: Token) -> Result<Option<ResumeState>, BusError> {
        let raw: Option<String> = redis::cmd("GETDEL")
            .arg(self.keys.resume(token))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        raw.as_deref().map(decode).transpose()
    }

    pub(super) async fn revoke(&self, token: Token) -> Result<bool, BusError> {
        let removed: i64 =
            redis::cmd("DEL").arg(self.keys.resume(token)).query_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(removed > 0)
    }
}
