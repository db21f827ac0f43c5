//! `roulette` and `next`: this connection's side of the roulette (who it is, whom it blocked,
//! whether it waits or has a stranger), and what wakes it while it waits. Pairing itself is in
//! `matchmaker`.

use bus::RoomFeed;
use bytes::Bytes;
use protocol::{Nickname, RouletteMatch, RouletteTicket, ServerFrame};

use super::Conn;

/// Strangers one connection's roulette block list keeps (the last ones blocked).
pub(crate) const BLOCKED_MAX: usize = 50;

/// Who this connection is in the roulette (set by `roulette`, kept while connected).
pub(super) struct RouletteMe {
    pub nick: Nickname,
    pub interests: Vec<String>,
    /// Strangers this connection blocked: never paired again.
    pub blocked: Vec<String>,
    /// The previous stranger: paired again only when nobody else fits, and not before
    /// `again_at_ms` while that stranger still names us as theirs.
    pub last_peer: Option<String>,
    /// Until when (ms since the epoch) we are held apart from `last_peer`.
    pub again_at_ms: i64,
}

/// Queued for a stranger.
pub(super) struct Waiting {
    pub ticket: RouletteTicket,
    /// Where the gateway that pairs us publishes the match notice.
    pub inbox: RoomFeed,
    /// When the pairing rule next changes for this ticket (shared interests stop mattering,
    /// or the hold on the last stranger ends): it is matched again then.
    pub open_at: Option<tokio::time::Instant>,
    /// Changes when the bus lost its data (and the ticket with it): queue it again.
    pub requeue: tokio::sync::watch::Receiver<u64>,
}

/// The stranger of the current pair.
pub(super) struct Stranger {
    pub id: String,
    pub nick: String,
    /// When to check that the stranger really arrived (a notice can cross a disconnect).
    pub check_at: Option<tokio::time::Instant>,
}

/// What woke a connection in the roulette.
pub(super) enum Wake {
    /// A match notice arrived (`None`: the inbox is gone).
    Notice(Option<Bytes>),
    /// Shared interests stop mattering, or the hold on the last stranger ends.
    InterestsExpired,
    /// Time to check that the new stranger really arrived.
    CheckStranger,
    /// The bus lost its data, the ticket with it: queue it again.
    Requeue,
}

/// What the roulette waits for; never resolves for a connection outside it. The waiting is
/// boxed, so only connections in the roulette carry its timers and inbox wait.
pub(super) async fn roulette_wake(waiting: &mut Option<Box<Waiting>>, stranger: Option<&Stranger>) -> Wake {
    let open_at = waiting.as_ref().and_then(|w| w.open_at);
    let check_at = stranger.and_then(|s| s.check_at);
    if waiting.is_none() && check_at.is_none() {
        return std::future::pending().await;
    }
    Box::pin(async move {
        tokio::select! {
            wake = recv_inbox(waiting) => wake,
            () = sleep_until(open_at) => Wake::InterestsExpired,
            () = sleep_until(check_at) => Wake::CheckStranger,
        }
    })
    .await
}

/// The next match notice while waiting, or word that the ticket must be queued again; never
/// resolves otherwise.
async fn recv_inbox(waiting: &mut Option<Box<Waiting>>) -> Wake {
    match waiting {
        Some(waiting) => tokio::select! {
            notice = waiting.inbox.recv() => Wake::Notice(notice),
            Ok(()) = waiting.requeue.changed() => Wake::Requeue,
        },
        None => std::future::pending().await,
    }
}

/// Sleep until `at`; never resolves for `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Add `id` to a block list that keeps the last [`BLOCKED_MAX`] strangers: the list travels
/// with every roulette ticket and every pairing walks it, so it must not grow without bound.
fn remember_block(blocked: &mut Vec<String>, id: &str) {
    if blocked.iter().any(|b| b == id) {
        return;
    }
    if blocked.len() >= BLOCKED_MAX {
        blocked.remove(0);
    }
    blocked.push(id.to_owned());
}

impl Conn {
    /// Leave the roulette queue, if in it.
    pub(super) async fn stop_waiting(&mut self) {
        if let Some(waiting) = self.waiting.take()
            && let Err(e) = self.state.bus.roulette_cancel(&waiting.ticket.id).await
        {
            tracing::warn!(error = %e, "cannot leave the roulette queue; the ticket is skipped once this socket is gone");
        }
    }

    /// `roulette`, admitted: out of any room, into the queue as `nick` with `interests`
    /// (keeping the block list and last stranger of an earlier go).
    pub(super) async fn roulette(&mut self, nick: Nickname, interests: Vec<String>) {
        self.leave_room().await;
        self.stop_waiting().await;
        let (blocked, last_peer, again_at_ms) =
            self.roulette.take().map(|r| (r.blocked, r.last_peer, r.again_at_ms)).unwrap_or_default();
        self.roulette = Some(Box::new(RouletteMe { nick, interests, blocked, last_peer, again_at_ms }));
        self.queue().await;
    }

    /// The first step of `next`, taken by admission before it counts the joins: forget the
    /// current stranger (blocked from now on if `block`; else held apart for
    /// `roulette_again_after`, then paired again only when nobody else fits). Whether there
    /// was one.
    pub(super) fn let_go_of_stranger(&mut self, block: bool) -> bool {
        let again_after = i64::try_from(self.state.config.roulette_again_after.as_millis()).unwrap_or(i64::MAX);
        let Some(me) = &mut self.roulette else { return false };
        let Some(stranger) = self.stranger.take() else { return false };
        if block {
            remember_block(&mut me.blocked, &stranger.id);
        }
        me.last_peer = Some(stranger.id);
        me.again_at_ms = chrono::Utc::now().timestamp_millis().saturating_add(again_after);
        true
    }

    /// `next`, admitted (the stranger already let go): out of the pair, back into the queue.
    pub(super) async fn next(&mut self) {
        self.leave_room().await;
        self.queue().await;
    }

    /// `next` while waiting: say so again.
    pub(super) fn still_waiting(&self) {
        if let Some(waiting) = &self.waiting {
            self.handle.send_frame(&ServerFrame::Waiting {
                interests: waiting.ticket.interests.clone(),
                looking: None,
                online: None,
            });
        }
    }

    /// A match notice on the inbox: another gateway paired us.
    pub(super) async fn on_match_notice(&mut self, notice: Option<Bytes>) {
        let Some(bytes) = notice else {
            // The bus dropped the inbox: queue again on a fresh one.
            self.stop_waiting().await;
            return self.queue().await;
        };
        let notice: RouletteMatch = match serde_json::from_slice(&bytes) {
            Ok(notice) => notice,
            Err(e) => return tracing::warn!(error = %e, "ignoring a malformed match notice"),
        };
        // The ticket left the queue with this notice.
        self.waiting = None;
        // The stranger who paired us sat down before telling us: an empty pair means they left
        // already and it ended (or is ending) empty. Wait on rather than sit in a dead pair.
        if self.state.bus.members(&notice.room.slug).await.is_ok_and(|m| m.is_empty()) {
            tracing::debug!(room = %notice.room.slug, "the stranger left before we arrived; waiting on");
            return self.queue().await;
        }
        let def = self.state.directory.upsert(notice.room);
        self.enter_pair(def, notice.stranger.id, notice.stranger.nick, notice.common).await;
    }

    /// The bus lost its data, this connection's ticket with it: queue it again (or pair it).
    pub(super) async fn requeue(&mut self) {
        let Some(waiting) = self.waiting.take() else { return };
        self.match_ticket(waiting.ticket, waiting.inbox, false).await;
    }

    /// The pairing rule changed for the waiting ticket (nobody sharing an interest came in
    /// time, or the hold on the last stranger ended): match it again.
    pub(super) async fn interests_expired(&mut self) {
        let Some(mut waiting) = self.waiting.take() else { return };
        waiting.open_at = None;
        self.match_ticket(waiting.ticket, waiting.inbox, false).await;
    }

    /// The grace period of a new pair is over: is the stranger there?
    pub(super) async fn check_stranger(&mut self) {
        let (Some(stranger), Some(joined)) = (&mut self.stranger, &self.joined) else { return };
        stranger.check_at = None;
        let key = protocol::input::nick_key(&stranger.nick);
        let present = match self.state.bus.members(&joined.room.slug).await {
            Ok(members) => members.iter().any(|m| protocol::input::nick_key(m) == key),
            Err(_) => true,
        };
        if !present {
            self.handle.send_frame(&ServerFrame::StrangerLeft {});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_list_keeps_the_last_fifty() {
        let mut blocked = Vec::new();
        for i in 0..120 {
            remember_block(&mut blocked, &format!("s{i}"));
            remember_block(&mut blocked, &format!("s{i}"));
        }
        assert_eq!(blocked.len(), BLOCKED_MAX);
        assert_eq!(blocked.first().map(String::as_str), Some("s70"));
        assert_eq!(blocked.last().map(String::as_str), Some("s119"));
    }
}
