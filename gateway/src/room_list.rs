//! `GET /api/rooms` from a cache at most [`MAX_AGE`] old.
//!
//! The list is the one anonymous request that reads the bus for every listed room, so a burst of
//! requests must not become a burst of seat counts on Redis: one request at a time refreshes the
//! cached body (the others wait for it and share it), and only once the body is [`MAX_AGE`] old.
//! Whatever the request rate, seats are counted at most once a second per gateway, in one round
//! trip (see `Bus::occupancy`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::state::State;

/// One entry of `GET /api/rooms`.
#[derive(Serialize)]
pub(crate) struct RoomEntry<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub topic: &'a str,
    pub members: u32,
    pub capacity: u32,
    pub locked: bool,
    /// Minimum seconds between two messages of one person (0 = off).
    pub slowmode_secs: u32,
    /// `staff` or `visitor` (pairs are never listed).
    pub kind: &'a str,
}

/// How old a served room list may be.
pub const MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct RoomListCache {
    /// The last body and when the seat count behind it began.
    body: Mutex<Option<(Instant, Bytes)>>,
    /// Held while the body is refreshed, so concurrent requests count seats once.
    refresh: tokio::sync::Mutex<()>,
}

impl RoomListCache {
    fn fresh(&self) -> Option<Bytes> {
        let body = self.body.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        body.as_ref().filter(|(at, _)| at.elapsed() < MAX_AGE).map(|(_, body)| body.clone())
    }
}

/// The JSON body of `GET /api/rooms`.
pub async fn body(state: &State) -> Result<Bytes, bus::BusError> {
    let cache = &state.room_list;
    if let Some(body) = cache.fresh() {
        return Ok(body);
    }
    let _refreshing = cache.refresh.lock().await;
    // Somebody else may have refreshed it while this request waited.
    if let Some(body) = cache.fresh() {
        return Ok(body);
    }
    let started = Instant::now();
    let rooms = state.directory.listed();
    let slugs: Vec<_> = rooms.iter().map(|r| r.slug.clone()).collect();
    let counts = state.bus.occupancy(&slugs).await?;
    metrics::counter!("chat_seat_counts_total", "for" => "room_list").increment(1);
    let entries: Vec<RoomEntry<'_>> = rooms
        .iter()
        .zip(counts)
        .map(|(r, members)| RoomEntry {
            slug: r.slug.as_str(),
            title: &r.title,
            topic: &r.topic,
            members,
            capacity: r.capacity,
            locked: r.locked,
            slowmode_secs: r.slowmode_secs,
            kind: r.kind.as_str(),
        })
        .collect();
    let body = Bytes::from(serde_json::to_vec(&entries).map_err(|e| bus::BusError::Codec(e.to_string()))?);
    *cache.body.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((started, body.clone()));
    Ok(body)
}
