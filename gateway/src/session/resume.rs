//! `resume`: a reconnecting client takes back its session (room, nickname, seat, roulette
//! stranger) with the token of its last `joined`, `matched` or `resumed`, on any gateway. Also
//! where tokens are issued and revoked as a connection enters and leaves rooms.
//!
//! When other processes may take this gateway's tokens (Redis), a session is on the bus from the
//! moment its token is issued; otherwise (the in-process bus) only once its socket dropped, and
//! a session resumed while its old socket is still open is handed over by the registry.
//!
//! The seat is never free in between: the resumed session claims it under the holder id it had,
//! so the claim is granted as a repeat; only when the address changed is the seat given back
//! and claimed again, so the seats-per-address rule is checked against the new address.

use std::sync::Arc;
use std::time::Duration;

use bus::{ResumeState, RouletteResume, Token};
use protocol::{ErrorCode, MessageView, Nickname, RoomDef, RoomKind, ServerFrame};
use ulid::Ulid;

use super::admission::{self, Admitted, Refusal};
use super::park::depart;
use super::resumes::{Flags, Resumes};
use super::roulette::{RouletteMe, Stranger};
use super::{Conn, Joined, encode};

/// This connection's resume token: reserved for a `matched` frame (no flags yet), or issued
/// with its seat and registered.
pub(super) struct Issued {
    pub token: Token,
    pub flags: Option<Arc<Flags>>,
}

/// Longest wait for a session still open here to reach the bus when it is resumed (its socket
/// closes and parks it; see [`Resumes::hand_over`]).
const HANDOVER_WAIT: Duration = Duration::from_secs(5);

/// The messages after `since` in `history` (the room's recent past, oldest first), and whether
/// some were missed beyond it: `since` is older than everything kept and the history is full.
fn missed_since(history: Vec<MessageView>, since: Option<Ulid>) -> (Vec<MessageView>, bool) {
    let Some(since) = since else { return (history, false) };
    if let Some(pos) = history.iter().position(|m| m.id == since) {
        return (history.into_iter().skip(pos + 1).collect(), false);
    }
    let gap = history.first().is_some_and(|m| m.id > since) && history.len() >= bus::HISTORY_LEN;
    (history.into_iter().filter(|m| m.id > since).collect(), gap)
}

impl Conn {
    fn resume_on(&self) -> bool {
        !self.state.config.resume.is_zero()
    }

    /// A token for a `matched` frame; the `joined` that follows issues it with the seat.
    pub(super) async fn reserve_resume(&mut self) -> Option<String> {
        if !self.resume_on() {
            return None;
        }
        self.forget_resume().await;
        let token = Token::new();
        self.issued = Some(Box::new(Issued { token, flags: None }));
        Some(token.to_string())
    }

    /// The token of the current seat, if one was issued.
    pub(super) fn current_resume(&self) -> Option<String> {
        self.issued.as_ref().filter(|i| i.flags.is_some()).map(|i| i.token.to_string())
    }

    /// Make the session in `def` as `nick` resumable (on the bus at once when other processes
    /// may take it): the token for `joined` (`None` when resuming is off or the bus did not
    /// take it).
    pub(super) async fn issue_resume(
        &mut self,
        def: &Arc<RoomDef>,
        nick: &Nickname,
        holder: &str,
        stranger: Option<(&str, &str)>,
    ) -> Option<String> {
        if !self.resume_on() {
            return None;
        }
        let token = match self.issued.take() {
            Some(reserved) if reserved.flags.is_none() => reserved.token,
            other => {
                self.issued = other;
                self.forget_resume().await;
                Token::new()
            }
        };
        if self.state.bus.resumes_shared() {
            let state = self.resume_state(def, nick, holder, stranger, None);
            let live_ttl = self.state.config.presence_ttl + self.state.config.resume;
            if let Err(e) = self.state.bus.put_resume(token, &state, live_ttl).await {
                tracing::warn!(error = %e, "cannot keep a session resumable");
                return None;
            }
        }
        let flags = self.state.resumes.register(token, def, nick.key(), self.address.ip, self.handle.clone());
        self.issued = Some(Box::new(Issued { token, flags: Some(flags) }));
        Some(token.to_string())
    }

    /// Revoke this connection's token (it leaves its room, or enters another). A token reserved
    /// for a `matched` frame is kept for the `joined` that follows.
    pub(super) async fn forget_resume(&mut self) {
        if self.issued.as_ref().is_none_or(|i| i.flags.is_none()) {
            return;
        }
        let Some(issued) = self.issued.take() else { return };
        self.state.resumes.remove(issued.token);
        // A live session is on the bus only when other processes may take it.
        if self.state.bus.resumes_shared()
            && let Err(e) = self.state.bus.revoke_resume(issued.token).await
        {
            tracing::warn!(error = %e, "cannot revoke a resume token; it lapses");
        }
    }

    /// What the bus keeps of this connection's session in `def`.
    pub(super) fn resume_state(
        &self,
        def: &RoomDef,
        nick: &Nickname,
        holder: &str,
        stranger: Option<(&str, &str)>,
        since: Option<Ulid>,
    ) -> ResumeState {
        let roulette = match (def.kind, &self.roulette, stranger) {
            (RoomKind::Roulette, Some(me), Some((id, stranger))) => Some(RouletteResume {
                interests: me.interests.clone(),
                blocked: me.blocked.clone(),
                last_peer: me.last_peer.clone(),
                stranger_id: id.to_owned(),
                stranger_nick: stranger.to_owned(),
            }),
            _ => None,
        };
        ResumeState {
            room: def.slug.clone(),
            nick: nick.to_string(),
            key: nick.key().to_owned(),
            holder: holder.to_owned(),
            address: self.address_tag(),
            inbox: self.state.resumes.inbox.clone(),
            since,
            roulette,
        }
    }

    /// Admission of `resume`: the first frame of a connection, from an address no ban covers,
    /// within the address's joins.
    pub(super) fn admit_resume(&mut self, token: String, since: Option<Ulid>) -> Result<Admitted, Refusal> {
        if self.joined.is_some() || self.waiting.is_some() {
            return Err(Refusal::new(ErrorCode::BadFrame, "resume is the first frame of a connection"));
        }
        self.check_ban()?;
        self.take_join()?;
        Ok(Admitted::Resume { token, since })
    }

    fn expired(&self) {
        self.error(
            ErrorCode::ResumeExpired,
            "that session is over; join again (this connection is ready for it)",
            None,
            None,
        );
    }

    /// `resume`, admitted: take the session off the bus and sit down in it again.
    pub(super) async fn resume(&mut self, token: String, since: Option<Ulid>) {
        let Some(token) = Token::parse(&token).filter(|_| self.resume_on()) else {
            return self.expired();
        };
        let state = match self.take_session(token).await {
            Ok(Some(state)) => state,
            Ok(None) => return self.expired(),
            Err(e) => return self.unavailable(e),
        };
        // The session is ours now: its old socket is closed and its parked wait ended, wherever
        // they are; on this gateway at once, before the seat is claimed again.
        if state.inbox == self.state.resumes.inbox {
            self.state.resumes.taken(token, true);
            if let Err(e) = self.state.bus.disown_seat(&state.room, &state.key, &state.holder).await {
                tracing::warn!(error = %e, "cannot take a seat over");
            }
        } else {
            Resumes::tell_taken(&self.state, &state.inbox, token).await;
        }
        let (Some(def), Ok(nick)) = (self.state.directory.get(&state.room), Nickname::parse(&state.nick)) else {
            // The room ended meanwhile.
            if let Some(def) = self.state.directory.get(&state.room) {
                depart(&self.state, &def, &state.nick, &state.key, &state.holder).await;
            }
            return self.expired();
        };
        self.sit_again(def, nick, state, since).await;
    }

    /// Take the session `token` names off the bus. On a bus no other process takes tokens from,
    /// a session whose socket is still open here is not there yet: its socket is closed, and
    /// the session taken once it parked.
    async fn take_session(&self, token: Token) -> Result<Option<ResumeState>, bus::BusError> {
        if let Some(state) = self.state.bus.take_resume(token).await? {
            return Ok(Some(state));
        }
        if self.state.bus.resumes_shared() {
            return Ok(None);
        }
        let Some(parked) = self.state.resumes.hand_over(token) else { return Ok(None) };
        if tokio::time::timeout(HANDOVER_WAIT, parked).await.is_err() {
            tracing::warn!("a resumed session did not reach the bus in time");
            return Ok(None);
        }
        self.state.bus.take_resume(token).await
    }

    /// Claim the session's seat again and send `resumed` (the room sees no leave nor join).
    async fn sit_again(&mut self, def: Arc<RoomDef>, nick: Nickname, state: ResumeState, since: Option<Ulid>) {
        let holder = state.holder.clone();
        let address = self.address_tag();
        let per_address = self.seats_per_address(&def);
        let local = match self
            .state
            .hub
            .join(self.state.bus.as_ref(), &def.slug, self.handle.clone(), nick.key(), self.sender())
            .await
        {
            Ok(local) => local,
            Err(e) => {
                depart(&self.state, &def, nick.as_str(), nick.key(), &holder).await;
                return self.unavailable(e);
            }
        };
        if address != state.address {
            // Another address: the seats-per-address rule is checked for it, as for a join.
            self.release(&def.slug, nick.key(), &holder).await;
        }
        let seat = bus::Seat { nick: nick.to_string(), key: nick.key().to_owned(), holder: holder.clone(), address };
        let claim = self.state.bus.claim_seat(&def.slug, &seat, def.capacity, per_address).await;
        let members = match claim.map(|claim| admission::seat(claim, &def, &nick, per_address)) {
            Ok(Ok(members)) => members,
            Ok(Err(refusal)) => {
                self.state.hub.leave(&def.slug, self.handle.id).await;
                depart(&self.state, &def, nick.as_str(), nick.key(), &holder).await;
                return self.refuse(refusal);
            }
            Err(e) => {
                self.state.hub.leave(&def.slug, self.handle.id).await;
                depart(&self.state, &def, nick.as_str(), nick.key(), &holder).await;
                return self.unavailable(e);
            }
        };
        let (missed, gap) = match self.state.bus.history_for(&def.slug, None, Some(&self.viewer())).await {
            Ok(history) => missed_since(history, since.or(state.since)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read what a resumed session missed");
                (Vec::new(), false)
            }
        };
        // The roulette side: the same stranger, if still there.
        let mut stranger = None;
        if let Some(r) = state.roulette.filter(|_| def.kind == RoomKind::Roulette) {
            let key = protocol::input::nick_key(&r.stranger_nick);
            let present = members.iter().any(|m| protocol::input::nick_key(m) == key);
            self.roulette = Some(Box::new(RouletteMe {
                nick: nick.clone(),
                interests: r.interests,
                blocked: r.blocked,
                last_peer: r.last_peer,
                // Not held apart from anyone: the pair was not ended by a `next`.
                again_at_ms: 0,
            }));
            if present {
                stranger = Some(Box::new(Stranger { id: r.stranger_id, nick: r.stranger_nick, check_at: None }));
            } else {
                if let Some(me) = self.roulette.as_mut() {
                    me.last_peer = Some(r.stranger_id);
                }
            }
        }
        let pair = stranger.as_deref().map(|s| (s.id.as_str(), s.nick.as_str()));
        let resume = self.issue_resume(&def, &nick, &holder, pair).await;
        local.activate(
            self.handle.id,
            &ServerFrame::Resumed {
                room: def.slug.to_string(),
                nick: nick.to_string(),
                members,
                missed,
                gap,
                locked: def.locked,
                slowmode_secs: def.slowmode_secs,
                resume,
                stranger: stranger.as_ref().map(|s| s.nick.clone()),
            },
        );
        self.tell_mute();
        if def.kind == RoomKind::Roulette {
            if stranger.is_some() {
                if let Err(e) = self.state.bus.publish(&def.slug, encode(&ServerFrame::StrangerBack {})).await {
                    tracing::warn!(error = %e, "cannot tell the stranger");
                }
            } else {
                self.handle.send_frame(&ServerFrame::StrangerLeft {});
            }
        }
        self.stranger = stranger;
        self.joined = Some(Joined { room: def, nick, holder });
        metrics::counter!("chat_resumed_total").increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(n: usize) -> Vec<MessageView> {
        (0..n)
            .map(|i| MessageView {
                id: Ulid::from_parts(1000 + i as u64, 0),
                room: "lobby".into(),
                nick: "Al".into(),
                text: i.to_string(),
                at: chrono::Utc::now(),
                staff: false,
                ..MessageView::default()
            })
            .collect()
    }

    #[test]
    fn what_was_missed_and_whether_more_was() {
        let few = messages(5);
        let (missed, gap) = missed_since(few.clone(), Some(few[2].id));
        assert_eq!((missed.len(), gap), (2, false));
        assert_eq!(missed_since(few.clone(), None).0.len(), 5);
        // Older than everything kept, but nothing was trimmed: no gap.
        let (missed, gap) = missed_since(few, Some(Ulid::from_parts(1, 0)));
        assert_eq!((missed.len(), gap), (5, false));
        let full = messages(bus::HISTORY_LEN);
        let (missed, gap) = missed_since(full, Some(Ulid::from_parts(1, 0)));
        assert_eq!((missed.len(), gap), (bus::HISTORY_LEN, true));
    }
}
