//! The roulette queue: waiting ticket ids in a sorted set by arrival, the tickets in a hash,
//! paired by one script so no ticket is handed to two matchers.

use protocol::RouletteTicket;
use redis::Script;
use redis::aio::ConnectionManager;

use super::keys::Keys;
use super::{decode, encode, unavailable};
use crate::BusError;

/// Pair a ticket with the best waiting one, or queue it.
const ROULETTE: &str = include_str!("lua/roulette.lua");

pub(super) struct Roulette {
    conn: ConnectionManager,
    keys: Keys,
    pair: Script,
}

impl Roulette {
    pub(super) fn new(conn: ConnectionManager, keys: Keys) -> Self {
        Self { conn, keys, pair: Script::new(ROULETTE) }
    }

    pub(super) async fn pair(&self, ticket: &RouletteTicket, now_ms: i64) -> Result<Option<RouletteTicket>, BusError> {
        let found: Option<String> = self
            .pair
            .key(self.keys.roulette_queue())
            .key(self.keys.roulette_tickets())
            .arg(encode(ticket)?)
            .arg(&ticket.id)
            .arg(now_ms)
            .arg(now_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        found.map(|raw| decode(&raw)).transpose()
    }

    pub(super) async fn waiting(&self) -> Result<u64, BusError> {
        redis::cmd("ZCARD")
            .arg(self.keys.roulette_queue())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    /// Waiting tickets, not counting those of `except` (one round trip).
    pub(super) async fn waiting_except(&self, except: &[&str]) -> Result<u64, BusError> {
        if except.is_empty() {
            return self.waiting().await;
        }
        let (all, scores): (u64, Vec<Option<f64>>) = redis::pipe()
            .cmd("ZCARD")
            .arg(self.keys.roulette_queue())
            .cmd("ZMSCORE")
            .arg(self.keys.roulette_queue())
            .arg(except)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut seen: Vec<&str> = Vec::new();
        let excepted = except.iter().zip(&scores).filter(|(id, score)| {
            let first = !seen.contains(id);
            seen.push(id);
            first && score.is_some()
        });
        Ok(all.saturating_sub(excepted.count() as u64))
    }

    pub(super) async fn cancel(&self, id: &str) -> Result<(), BusError> {
        let _: () = redis::pipe()
            .atomic()
            .zrem(self.keys.roulette_queue(), id)
            .ignore()
            .hdel(self.keys.roulette_tickets(), id)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
