//! Recovery after the bus lost its data (Redis restarted without persistence, or flushed; the
//! bus finds it by its generation key, see `bus/src/redis/recovery.rs`).
//!
//! What the bus lost and this gateway still knows goes back: every room of its directory, the
//! bans and the filters (before anything reads the snapshots again, which would otherwise close
//! the rooms and lift the bans while the bot is away or half-way through republishing; the
//! bot's sync stays the authority and removes whatever ended meanwhile), then every roulette
//! ticket its connections wait with (each waiting connection
//! is woken through [`Recovery::requeue`] and matched again). The bus re-takes this gateway's
//! seats itself, re-checking each room's capacity; a seat it cannot take back is announced
//! here, and its holder is told why and sent away ([`tell_lost_seats`]). Rooms nobody holds
//! any more are closed by the sweeper (or, for those no gateway knows, by the bot).

use std::sync::Arc;

use bus::{LostSeat, SeatLoss};
use protocol::{ErrorCode, ServerFrame};
use tokio::sync::{Mutex, broadcast, watch};

use crate::hub::ConnId;
use crate::state::State;

/// What this gateway recovered so far.
pub struct Recovery {
    /// Losses of the bus this gateway has put its rooms back after; held while it does.
    handled: Mutex<u64>,
    /// Bumped once rooms are back: connections waiting in the roulette queue again.
    requeue: watch::Sender<u64>,
}

impl Default for Recovery {
    fn default() -> Self {
        Self { handled: Mutex::new(0), requeue: watch::channel(0).0 }
    }
}

impl Recovery {
    /// What a connection waiting in the roulette watches: it changes when its ticket must be
    /// queued again.
    pub fn requeue(&self) -> watch::Receiver<u64> {
        self.requeue.subscribe()
    }
}

/// Ask the bus whether it lost its data since this gateway last looked, and if so put back the
/// visitor rooms and pairs this gateway knows and wake its waiting roulette connections. Called
/// before every reload of the room snapshot, and whenever the bus reports a loss. False when the
/// bus could not say whether it lost its data, or what it lost could not be put back: the
/// snapshots must not be trusted then (read from a bus that just came back empty, they would
/// close every room and lift every ban).
pub async fn recover(state: &State) -> bool {
    let losses = match state.bus.data_losses().await {
        Ok(losses) => losses,
        Err(e) => {
            tracing::debug!(error = %e, "cannot ask the bus whether it lost its data");
            return false;
        }
    };
    let mut handled = state.recovery.handled.lock().await;
    if losses <= *handled {
        return true;
    }
    let rooms = state.directory.all();
    let mut restored = 0;
    for room in &rooms {
        match state.bus.restore_room(room).await {
            Ok(true) => restored += 1,
            Ok(false) => {}
            Err(e) => {
                // Tried again at the next reload or loss.
                tracing::warn!(error = %e, "cannot put back the rooms the bus lost; retrying");
                return false;
            }
        }
    }
    if let Err(e) = restore_bans_and_filters(state).await {
        tracing::warn!(error = %e, "cannot put back the bans and filters the bus lost; retrying");
        return false;
    }
    tracing::warn!(restored, known = rooms.len(), "put back the rooms, bans and filters the bus lost");
    *handled = losses;
    state.recovery.requeue.send_replace(losses);
    true
}

/// Put back the bans this gateway enforces and, when the bus has none, its filters: read from an
/// empty snapshot, they would be lifted until the bot republishes them.
async fn restore_bans_and_filters(state: &State) -> Result<(), bus::BusError> {
    let mut seen = std::collections::HashSet::new();
    for (_, ban) in state.bans.networks() {
        if seen.insert(ban.id) {
            state.bus.put_ban(&ban).await?;
        }
    }
    for mute in state.mutes.all() {
        state.bus.put_mute(&mute).await?;
    }
    let filters = state.filters.defs();
    if !filters.is_empty() && state.bus.filters().await?.is_empty() {
        state.bus.put_filters(&filters).await?;
    }
    Ok(())
}

/// Recover whenever the bus reports a loss, until aborted.
pub async fn follow(state: Arc<State>) {
    let mut losses = state.bus.watch_data_losses();
    // The in-process bus never loses its data: its watch fails at once.
    while losses.changed().await.is_ok() {
        recover(&state).await;
    }
    std::future::pending::<()>().await;
}

/// Tell the holders of seats the bus lost and would not give back why they are out, and send
/// them away (`kicked`, then 1000, like a room that ended), until aborted.
pub async fn tell_lost_seats(state: Arc<State>) {
    let mut lost = state.bus.lost_seats();
    let mine = format!("{}:", state.gateway_id);
    loop {
        match lost.recv().await {
            Ok(seat) => {
                // Holders are `gateway:connection`; another process's seats are its own to tell.
                if let Some(conn) = seat.holder.strip_prefix(&mine).and_then(|id| id.parse::<ConnId>().ok()) {
                    send_away(&state, &seat, conn).await;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "some holders of lost seats were not told: they stay in their rooms without a seat until they leave"
                );
            }
            // The in-process bus never loses seats.
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

async fn send_away(state: &State, seat: &LostSeat, conn: ConnId) {
    let (code, why) = match seat.why {
        SeatLoss::Full => (ErrorCode::RoomFull, "the room filled up meanwhile"),
        SeatLoss::NickTaken => (ErrorCode::NickTaken, "somebody else took your nickname meanwhile"),
        SeatLoss::TooManySeats => (ErrorCode::TooManySeats, "your address holds as many seats there as it may"),
    };
    let reason = format!("Your seat was lost when the chat server restarted, and {why}. Join again.");
    let error =
        ServerFrame::Error { code, message: reason.clone(), client_id: None, retry_after_ms: None, expires: None };
    if state.hub.send_away(&seat.room, conn, &error, &reason).await {
        metrics::counter!("chat_seats_lost_total").increment(1);
        tracing::info!(room = %seat.room, conn, "sent away the holder of a seat the bus lost");
    }
}
