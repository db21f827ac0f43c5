//! Resume states of the in-process bus: a map bounded by [`RESUME_MAX`], each entry with its
//! expiry; expired entries are purged as the map grows and never handed out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::resume::RESUME_MAX;
use crate::{BusError, ResumeState};

#[derive(Default)]
pub(super) struct Resumes {
    states: HashMap<String, (ResumeState, Instant)>,
}

impl Resumes {
    pub(super) fn put(&mut self, token: &str, state: &ResumeState, ttl: Duration) -> Result<(), BusError> {
        let now = Instant::now();
        if self.states.len() >= RESUME_MAX && !self.states.contains_key(token) {
            self.states.retain(|_, (_, expires)| *expires > now);
            if self.states.len() >= RESUME_MAX {
                return Err(BusError::Unavailable("too many sessions kept for resuming".into()));
            }
        }
        self.states.insert(token.to_owned(), (state.clone(), now + ttl));
        Ok(())
    }

    pub(super) fn update(&mut self, token: &str, state: &ResumeState, ttl: Duration) -> bool {
        let now = Instant::now();
        match self.states.get_mut(token) {
            Some(entry) if entry.1 > now => {
                *entry = (state.clone(), now + ttl);
                true
            }
            _ => false,
        }
    }

    pub(super) fn keep(&mut self, tokens: &[String], ttl: Duration) {
        let now = Instant::now();
        for token in tokens {
            if let Some((_, expires)) = self.states.get_mut(token)
                && *expires > now
            {
                *expires = now + ttl;
            }
        }
    }

    pub(super) fn take(&mut self, token: &str) -> Option<ResumeState> {
        let (state, expires) = self.states.remove(token)?;
        (expires > Instant::now()).then_some(state)
    }

    pub(super) fn revoke(&mut self, token: &str) -> bool {
        self.states.remove(token).is_some_and(|(_, expires)| expires > Instant::now())
    }
}
