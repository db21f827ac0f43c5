//! Reactions on messages (issue 29): who reacted with what on one message, and the totals the
//! room sees.
//!
//! A message's reactions are kept per reactor: a visitor's device tag (or, without one, its
//! connection), `~` + that for a shadow-muted visitor (kept apart and never counted, so nobody
//! else's totals change), or a Discord moderator (`staff`). The totals a room sees are
//! [`ReactionCounts`]: visitors' counts per emoji and the emoji staff added. [`MessageReactions`]
//! is the rule both buses keep: the in-process bus holds it as it is, Redis keeps the same fields
//! in one hash per message changed by `redis/lua/react.lua`. Both also write the totals into the
//! message's entry in the room's history, so a joiner's history carries them at no extra cost.

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::frames::ReactionCounts;

/// Reactors one message keeps at most (visitors and staff); a new one beyond is refused.
pub const REACTORS_PER_MESSAGE_MAX: usize = 1000;
/// Emoji one reactor may have on one message at most (the offered set is smaller anyway; staff
/// may use any emoji).
pub const EMOJI_PER_REACTOR_MAX: usize = 20;
/// Longest emoji accepted, in bytes (a family ZWJ sequence is 25; Discord's custom emoji names
/// are shorter than this too).
pub const EMOJI_BYTES_MAX: usize = 64;
/// Distinct emoji staff may show on one message.
pub const STAFF_EMOJI_MAX: usize = 20;
/// Shadow-muted reactors one message keeps at most (each is told the totals with its own
/// reactions added whenever they change, see [`ReactionOutcome::Changed::shadow`]).
pub const SHADOW_REACTORS_MAX: usize = 50;
/// How long a message's reactions are kept after their last change.
pub const REACTIONS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What one reactor does to one emoji on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionKind {
    /// A visitor's `react`: on when off, off when on. Counted.
    Toggle,
    /// A shadow-muted visitor's `react`: toggled in a set of its own, never counted.
    ShadowToggle,
    /// A moderator added the emoji in Discord (idempotent).
    StaffAdd,
    /// A moderator removed it (idempotent).
    StaffRemove,
}

/// One change to a message's reactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionChange {
    /// Who: a device tag, a connection id, or a Discord user id (see the module doc).
    pub reactor: String,
    pub emoji: String,
    pub kind: ReactionKind,
}

/// What a change left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReactionOutcome {
    /// The room's totals after the change, and the emoji the reactor has on the message now
    /// (its shadow set for a shadow toggle). `shadow`: each shadow-muted reactor of the message
    /// with its emoji, so that it can be shown the new totals with its own added (it must
    /// never see them drop to what others see).
    Changed { counts: ReactionCounts, mine: Vec<String>, shadow: Vec<(String, Vec<String>)> },
    /// The message holds [`REACTORS_PER_MESSAGE_MAX`] reactors (or its staff
    /// [`STAFF_EMOJI_MAX`] emoji) already: nothing changed.
    Full,
}

/// One message's reactions, by reactor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageReactions {
    visitors: BTreeMap<String, Vec<String>>,
    shadow: BTreeMap<String, Vec<String>>,
    staff: BTreeMap<String, Vec<String>>,
}

impl MessageReactions {
    fn reactors(&self) -> usize {
        self.visitors.len() + self.shadow.len() + self.staff.len()
    }

    fn set_mut(&mut self, kind: ReactionKind) -> &mut BTreeMap<String, Vec<String>> {
        match kind {
            ReactionKind::Toggle => &mut self.visitors,
            ReactionKind::ShadowToggle => &mut self.shadow,
            ReactionKind::StaffAdd | ReactionKind::StaffRemove => &mut self.staff,
        }
    }

    /// Apply `change` (see [`ReactionKind`]).
    pub fn apply(&mut self, change: &ReactionChange) -> ReactionOutcome {
        let reactors = self.reactors();
        let shadows = self.shadow.len();
        let staff_emoji = self.counts().staff;
        let set = self.set_mut(change.kind);
        let had = set.get(&change.reactor).is_some_and(|e| e.contains(&change.emoji));
        let add = match change.kind {
            ReactionKind::Toggle | ReactionKind::ShadowToggle => !had,
            ReactionKind::StaffAdd => true,
            ReactionKind::StaffRemove => false,
        };
        if add && !had {
            let new_reactor = !set.contains_key(&change.reactor);
            let mine = set.get(&change.reactor).map_or(0, Vec::len);
            let new_staff_emoji = change.kind == ReactionKind::StaffAdd
                && !staff_emoji.contains(&change.emoji)
                && staff_emoji.len() >= STAFF_EMOJI_MAX;
            let new_shadow = change.kind == ReactionKind::ShadowToggle && new_reactor && shadows >= SHADOW_REACTORS_MAX;
            if (new_reactor && reactors >= REACTORS_PER_MESSAGE_MAX)
                || mine >= EMOJI_PER_REACTOR_MAX
                || new_staff_emoji
                || new_shadow
            {
                return ReactionOutcome::Full;
            }
            set.entry(change.reactor.clone()).or_default().push(change.emoji.clone());
        } else if !add
            && had
            && let Some(emoji) = set.get_mut(&change.reactor)
        {
            emoji.retain(|e| *e != change.emoji);
            if emoji.is_empty() {
                set.remove(&change.reactor);
            }
        }
        let mine = set.get(&change.reactor).cloned().unwrap_or_default();
        let shadow = self.shadow.iter().map(|(r, e)| (r.clone(), e.clone())).collect();
        ReactionOutcome::Changed { counts: self.counts(), mine, shadow }
    }

    /// The totals the room sees: visitors' counts per emoji, and the emoji staff added (sorted).
    pub fn counts(&self) -> ReactionCounts {
        let mut counts = BTreeMap::new();
        for emoji in self.visitors.values().flatten() {
            *counts.entry(emoji.clone()).or_insert(0u32) += 1;
        }
        let mut staff: Vec<String> = self.staff.values().flatten().cloned().collect();
        staff.sort();
        staff.dedup();
        ReactionCounts { counts, staff }
    }

    pub fn is_empty(&self) -> bool {
        self.reactors() == 0
    }
}

/// The totals as a message view carries them: `None` when there are none.
pub fn shown(counts: &ReactionCounts) -> Option<ReactionCounts> {
    (!counts.counts.is_empty() || !counts.staff.is_empty()).then(|| counts.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(reactor: &str, emoji: &str, kind: ReactionKind) -> ReactionChange {
        ReactionChange { reactor: reactor.into(), emoji: emoji.into(), kind }
    }

    fn changed(outcome: ReactionOutcome) -> (ReactionCounts, Vec<String>) {
        match outcome {
            ReactionOutcome::Changed { counts, mine, .. } => (counts, mine),
            ReactionOutcome::Full => panic!("full"),
        }
    }

    #[test]
    fn toggles_count_per_reactor_and_shadow_and_staff_apart() {
        let mut r = MessageReactions::default();
        let (counts, mine) = changed(r.apply(&change("a", "👍", ReactionKind::Toggle)));
        assert_eq!((counts.counts["👍"], mine), (1, vec!["👍".to_owned()]));
        let (counts, _) = changed(r.apply(&change("b", "👍", ReactionKind::Toggle)));
        assert_eq!(counts.counts["👍"], 2);
        let (counts, mine) = changed(r.apply(&change("a", "👍", ReactionKind::Toggle)));
        assert_eq!((counts.counts["👍"], mine.len()), (1, 0));
        let (counts, mine) = changed(r.apply(&change("~c", "😂", ReactionKind::ShadowToggle)));
        assert_eq!((counts.counts.get("😂"), mine), (None, vec!["😂".to_owned()]));
        changed(r.apply(&change("d:1", "🎉", ReactionKind::StaffAdd)));
        let (counts, _) = changed(r.apply(&change("d:2", "🎉", ReactionKind::StaffAdd)));
        assert_eq!(counts.staff, vec!["🎉".to_owned()]);
        changed(r.apply(&change("d:1", "🎉", ReactionKind::StaffRemove)));
        let (counts, _) = changed(r.apply(&change("d:1", "🎉", ReactionKind::StaffRemove)));
        assert_eq!(counts.staff, vec!["🎉".to_owned()], "the other moderator's stays");
        let (counts, _) = changed(r.apply(&change("d:2", "🎉", ReactionKind::StaffRemove)));
        assert!(counts.staff.is_empty());
    }

    #[test]
    fn reactors_are_bounded() {
        let mut r = MessageReactions::default();
        for i in 0..REACTORS_PER_MESSAGE_MAX {
            changed(r.apply(&change(&i.to_string(), "👍", ReactionKind::Toggle)));
        }
        assert_eq!(r.apply(&change("new", "👍", ReactionKind::Toggle)), ReactionOutcome::Full);
        // One already there may still change its own.
        changed(r.apply(&change("0", "❤️", ReactionKind::Toggle)));
    }
}
