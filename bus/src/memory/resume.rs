//! Resume states of the in-process bus: a map by token bounded by [`RESUME_MAX`], each entry
//! with its expiry; expired entries are purged as the map grows and never handed out. The
//! gateway puts a session here only once its socket dropped (see
//! [`Bus::resumes_shared`](crate::Bus::resumes_shared)), so idle connections cost it nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::resume::RESUME_MAX;
use crate::{BusError, ResumeState, Token};

#[derive(Default)]
pub(super) struct Resumes {
    states: HashMap<Token, (ResumeState, Instant)>,
}

impl Resumes {
    pub(super) fn put(&mut self, token: Token, state: &ResumeState, ttl: Duration) -> Result<(), BusError> {
        let now = Instant::now();
        if self.states.len() >= RESUME_MAX && !self.states.contains_key(&token) {
            self.states.retain(|_, (_, expires)| *expires > now);
            if self.states.len() >= RESUME_MAX {
                return Err(BusError::Unavailable("too many sessions kept for resuming".into()));
            }
        }
        self.states.insert(token, (state.clone(), now + ttl));
        Ok(())
    }

    pub(super) fn update(&mut self, token: Token, state: &ResumeState, ttl: Duration) -> bool {
        let now = Instant::now();
        match self.states.get_mut(&token) {
            Some(entry) if entry.1 > now => {
                *entry = (state.clone(), now + ttl);
                true
            }
            _ => false,
        }
    }

    pub(super) fn keep(&mut self, tokens: &[Token], ttl: Duration) {
        let now = Instant::now();
        for token in tokens {
            if let Some((_, expires)) = self.states.get_mut(token)
                && *expires > now
            {
                *expires = now + ttl;
            }
        }
    }

    pub(super) fn take(&mut self, token: Token) -> Option<ResumeState> {
        let (state, expires) = self.states.remove(&token)?;
        (expires > Instant::now()).then_some(state)
    }

    pub(super) fn revoke(&mut self, token: Token) -> bool {
        self.states.remove(&token).is_some_and(|(_, expires)| expires > Instant::now())
    }
}
