//! The trust tier's records in memory (`crate::trust`): bounded by [`TRUST_RECORDS_MAX`] (the
//! least recently seen go first) and forgotten [`crate::trust::TRUST_RECORD_TTL`] after their
//! subject was last seen.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use protocol::TrustList;

use crate::trust::{TRUST_RECORDS_MAX, TrustRecord};

#[derive(Default)]
pub(super) struct Trust {
    /// Subject → record, last seen and its place in `order`.
    records: HashMap<String, (TrustRecord, Instant, u64)>,
    /// Order of last activity → subject, for evicting the least recently seen.
    order: BTreeMap<u64, String>,
    next: u64,
    pub list: TrustList,
}

impl Trust {
    /// See `Bus::trust_note`.
    pub fn note(&mut self, subjects: &[String], messages: u64, now_ms: i64, ttl: Duration) -> Vec<TrustRecord> {
        let now = Instant::now();
        subjects
            .iter()
            .map(|subject| {
                let fresh = TrustRecord { first_ms: now_ms, messages: 0 };
                let mut record = match self.records.remove(subject) {
                    Some((record, until, seq)) => {
                        self.order.remove(&seq);
                        if until > now { record } else { fresh }
                    }
                    None => fresh,
                };
                record.messages = record.messages.saturating_add(messages);
                self.next += 1;
                self.order.insert(self.next, subject.clone());
                self.records.insert(subject.clone(), (record, now + ttl, self.next));
                self.evict();
                record
            })
            .collect()
    }

    /// See `Bus::trust_records`.
    pub fn get(&self, subjects: &[String]) -> Vec<Option<TrustRecord>> {
        let now = Instant::now();
        subjects.iter().map(|s| self.records.get(s).filter(|(_, until, _)| *until > now).map(|(r, _, _)| *r)).collect()
    }

    fn evict(&mut self) {
        while self.records.len() > TRUST_RECORDS_MAX {
            let Some((_, subject)) = self.order.pop_first() else { break };
            self.records.remove(&subject);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_count_and_stay_bounded() {
        let mut trust = Trust::default();
        let ttl = Duration::from_secs(60);
        let a = vec!["d:a".to_owned()];
        assert_eq!(trust.note(&a, 0, 5, ttl), vec![TrustRecord { first_ms: 5, messages: 0 }]);
        assert_eq!(trust.note(&a, 1, 9, ttl), vec![TrustRecord { first_ms: 5, messages: 1 }]);
        for i in 0..TRUST_RECORDS_MAX + 10 {
            trust.note(&[format!("a:{i}")], 1, 1, ttl);
        }
        assert_eq!(trust.records.len(), TRUST_RECORDS_MAX);
        assert_eq!(trust.order.len(), TRUST_RECORDS_MAX);
        assert_eq!(trust.get(&a), vec![None], "the least recently seen went first");
    }
}
