//! Appeals on the in-process bus: records by token and each case's open appeal, each with its
//! expiry, bounded by [`APPEALS_MAX`] (expired entries are purged as the map fills).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use protocol::{AppealRecord, AppealState};

use crate::{APPEALS_MAX, BusError};

#[derive(Default)]
pub(super) struct Appeals {
    records: HashMap<String, (AppealRecord, Instant)>,
    /// case → the token of its open appeal.
    open: HashMap<i64, (String, Instant)>,
}

impl Appeals {
    fn purge(&mut self, now: Instant) {
        self.records.retain(|_, (_, expires)| *expires > now);
        self.open.retain(|_, (_, expires)| *expires > now);
    }

    fn make_room(&mut self, token: &str, now: Instant) -> Result<(), BusError> {
        if self.records.len() >= APPEALS_MAX && !self.records.contains_key(token) {
            self.purge(now);
            if self.records.len() >= APPEALS_MAX {
                return Err(BusError::Unavailable("too many appeals kept".into()));
            }
        }
        Ok(())
    }

    pub(super) fn open(&mut self, appeal: &AppealRecord, ttl: Duration) -> Result<bool, BusError> {
        let now = Instant::now();
        if self.open.get(&appeal.case).is_some_and(|(_, expires)| *expires > now) {
            return Ok(false);
        }
        self.make_room(&appeal.token, now)?;
        self.open.insert(appeal.case, (appeal.token.clone(), now + ttl));
        self.records.insert(appeal.token.clone(), (appeal.clone(), now + ttl));
        Ok(true)
    }

    pub(super) fn put(&mut self, appeal: &AppealRecord, ttl: Duration) -> Result<(), BusError> {
        let now = Instant::now();
        self.make_room(&appeal.token, now)?;
        if appeal.state == AppealState::Open {
            self.open.insert(appeal.case, (appeal.token.clone(), now + ttl));
        } else {
            self.free_case(appeal);
        }
        self.records.insert(appeal.token.clone(), (appeal.clone(), now + ttl));
        Ok(())
    }

    pub(super) fn get(&self, token: &str) -> Option<AppealRecord> {
        self.records.get(token).filter(|(_, expires)| *expires > Instant::now()).map(|(record, _)| record.clone())
    }

    pub(super) fn remove(&mut self, appeal: &AppealRecord) {
        self.records.remove(&appeal.token);
        self.free_case(appeal);
    }

    /// The case no longer has `appeal` open (another appeal of it stays).
    fn free_case(&mut self, appeal: &AppealRecord) {
        if self.open.get(&appeal.case).is_some_and(|(token, _)| *token == appeal.token) {
            self.open.remove(&appeal.case);
        }
    }
}
