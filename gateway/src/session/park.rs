//! A dropped socket: its session is parked for `RESUME_SECS` (the seat held, the room told
//! nothing, a roulette stranger told `stranger_reconnecting`) and ended only if nobody resumes
//! it by then; a kick or ban ends it at once.
//!
//! Whoever takes the session's token off the bus (single-use) decides how it ends: the resumer
//! (see `resume`), or the parked wait here once the window is over. The other side only stops
//! refreshing the seat (`disown_seat`), never frees it nor announces anything.
//!
//! On a bus no other process takes tokens from, the session is put on the bus here, as the
//! socket drops (see [`bus::Bus::resumes_shared`]); a session that cannot be put there ends at
//! once.

use std::sync::Arc;
use std::time::Duration;

use bus::Token;
use protocol::{PresenceEvent, RoomDef, RoomKind, ServerFrame};

use super::resumes::Flags;
use super::{Conn, Joined, encode};
use crate::state::State;

/// How much longer than the window the bus keeps a parked session: the wait takes it off the
/// bus when the window ends (so it can end it), which it could not if it had lapsed just then.
const PARK_MARGIN: Duration = Duration::from_secs(5);

/// The session a parked wait holds.
struct Parked {
    token: Token,
    flags: Arc<Flags>,
    joined: Joined,
    /// Whether the bus holds (or held) the session's state: then whoever takes it off the bus
    /// ends the session; otherwise nobody can have resumed it.
    on_bus: bool,
}

impl Conn {
    /// The socket is gone: park the session when it may be resumed, else end it now.
    pub(super) async fn end(mut self) {
        self.stop_waiting().await;
        let registered = self.issued.as_ref().and_then(|i| i.flags.clone().map(|f| (i.token, f)));
        let (Some((token, flags)), Some(joined)) = (registered, self.joined.as_ref()) else {
            // Not in a room with a resumable session: leave as before.
            return self.leave_room().await;
        };
        let joined = Joined { room: joined.room.clone(), nick: joined.nick.clone(), holder: joined.holder.clone() };
        self.joined = None;
        self.issued = None;
        // Not listening any more: nothing of the room is queued for a socket that is gone.
        self.state.hub.leave(&joined.room.slug, self.handle.id).await;
        let room_open = self.state.directory.get(&joined.room.slug).is_some();
        let parked = room_open && self.state.resumes.park(token, self.state.config.max_connections);
        let shared = self.state.bus.resumes_shared();
        if flags.taken() || flags.revoked() || !parked {
            return finish(&self.state, Parked { token, flags, joined, on_bus: shared }).await;
        }
        let since = match self.state.bus.history_for(&joined.room.slug, None, Some(&self.viewer())).await {
            Ok(history) => history.last().map(|m| m.id),
            Err(_) => None,
        };
        let stranger = self.stranger.as_deref().map(|s| (s.id.as_str(), s.nick.as_str()));
        let resume_state = self.resume_state(&joined.room, &joined.nick, &joined.holder, stranger, since);
        let window = self.state.config.resume;
        let ttl = window + PARK_MARGIN;
        // Shared: the state is on the bus since the token was issued; replaced only if nobody
        // took it meanwhile. Otherwise it goes there now.
        let (announce, on_bus) = if shared {
            match self.state.bus.update_resume(token, &resume_state, ttl).await {
                Ok(updated) => (updated, true),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot park a session; it ends when its window would");
                    (false, true)
                }
            }
        } else {
            match self.state.bus.put_resume(token, &resume_state, ttl).await {
                Ok(()) => (true, true),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot park a session; it ends now");
                    (false, false)
                }
            }
        };
        // A resumer on this gateway waiting for the session may take it now (and then the
        // stranger hears `stranger_back` only, as when the resumer is on another gateway).
        let handed_over = self.state.resumes.on_bus(token);
        if !on_bus {
            return finish(&self.state, Parked { token, flags, joined, on_bus }).await;
        }
        if announce && !handed_over {
            if joined.room.kind == RoomKind::Roulette
                && let Err(e) =
                    self.state.bus.publish(&joined.room.slug, encode(&ServerFrame::StrangerReconnecting {})).await
            {
                tracing::warn!(error = %e, "cannot tell the stranger");
            }
            tracing::debug!(conn = self.handle.id, room = %joined.room.slug, "session parked for resuming");
        }
        let state = self.state.clone();
        drop(self);
        // Not the connection's task: shutdown does not wait for parked sessions (another gateway
        // resumes them, and their seats lapse with this process).
        tokio::spawn(async move {
            let parked = Parked { token, flags, joined, on_bus };
            tokio::select! {
                () = tokio::time::sleep(window) => {}
                () = parked.flags.woken() => {}
            }
            finish(&state, parked).await;
        });
    }
}

/// End a session nobody may resume any more: when its token is still there (nobody resumed it),
/// the seat is freed and the room told; otherwise the resumer holds the seat now.
async fn finish(state: &State, parked: Parked) {
    let Parked { token, flags, joined, on_bus } = parked;
    if !flags.taken() {
        // Still on the bus (or never put there): nobody resumed it, and nobody can now.
        let ours = !on_bus || !matches!(state.bus.take_resume(token).await, Ok(None));
        if ours {
            state.resumes.remove(token);
            return depart(state, &joined.room, joined.nick.as_str(), joined.nick.key(), &joined.holder).await;
        }
    }
    state.resumes.remove(token);
    // Resumed elsewhere: stop refreshing the seat here, unless the resumer on this gateway did.
    if !(flags.taken() && flags.disowned())
        && let Err(e) = state.bus.disown_seat(&joined.room.slug, joined.nick.key(), &joined.holder).await
    {
        tracing::warn!(error = %e, "cannot hand a seat over");
    }
}

/// A session ends for good: free its seat and tell the room (and a roulette stranger), and end a
/// pair left empty.
pub(super) async fn depart(state: &State, room: &RoomDef, nick: &str, key: &str, holder: &str) {
    let slug = &room.slug;
    if let Err(e) = state.bus.release_seat(slug, key, holder).await {
        tracing::warn!(error = %e, %slug, "cannot release a seat; it lapses with its presence entry");
    }
    let presence = ServerFrame::Presence { event: PresenceEvent::Leave, nick: nick.to_owned() };
    if let Err(e) = state.bus.publish(slug, encode(&presence)).await {
        tracing::warn!(error = %e, "cannot announce a leave");
    }
    if room.kind == RoomKind::Roulette {
        if let Err(e) = state.bus.publish(slug, encode(&ServerFrame::StrangerLeft {})).await {
            tracing::warn!(error = %e, "cannot tell the stranger");
        }
        if state.bus.members(slug).await.is_ok_and(|m| m.is_empty()) {
            crate::visitor::close(state, slug, "this chat has ended").await;
        }
    }
}
