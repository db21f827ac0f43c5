//! The delivery record: which messages a connection received, without a list per connection.
//!
//! Each room with local members keeps its last [`RECORD_MAX`] message deliveries (message id,
//! sender's address and device tags, nickname, visibility), each stamped with the room's join
//! count when the hub took it from the feed. A member's join watermark is the join count it
//! joined as (`hub`'s `since`, which the fan-out keeps anyway): it received a recorded message
//! if the stamp is at or after its watermark and the message was visible to it. So "among this
//! connection's last 200 deliveries" costs the room 200 entries, not 200 per idle connection,
//! and nothing is allocated per member when it joins.
//!
//! Messages restricted to their sender's address or device (a shadow mute's) are kept apart,
//! in a list of their own with the same bound: only the sender's connections find them there,
//! and a shadow-muted flood never pushes what everyone received out of everyone's record.
//!
//! Each delivery also keeps the first characters of its text (what a reply quotes), brought up
//! to date by the room's `edited` frames, and is marked by its `deleted` frame: a reply to it, or
//! its author's `edit` or `delete`, is then refused as `unknown_message`.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ulid::Ulid;

use crate::envelope::{Envelope, Sender, Visibility};

/// Message deliveries a room remembers (the "last 200 deliveries").
pub const RECORD_MAX: usize = 200;

/// One message delivered to a room's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Ulid,
    pub sender: Sender,
    pub nick: Box<str>,
    /// The first [`protocol::frames::REPLY_EXCERPT_CHARS`] characters of its current text.
    pub excerpt: Box<str>,
    /// Taken down (by its author or a moderator).
    pub deleted: bool,
    /// The room's join count when the frame was taken: members that joined as this join or
    /// earlier received it.
    joins: u64,
    visibility: Visibility,
}

impl Delivery {
    /// Did a member that joined as join number `since`, who is `who`, receive it?
    pub fn reached(&self, since: u64, who: &Sender) -> bool {
        self.joins >= since
            && match self.visibility {
                Visibility::Everyone => true,
                Visibility::Sender => self.sender.matches(who),
                Visibility::Device => self.sender.same_device(who),
            }
    }
}

/// A room's recent deliveries, oldest first.
#[derive(Default)]
pub struct Record {
    lists: Mutex<Lists>,
}

/// The deliveries to everyone, and those restricted to their sender's address or device.
#[derive(Default)]
struct Lists {
    everyone: VecDeque<Delivery>,
    restricted: VecDeque<Delivery>,
}

impl Lists {
    fn all(&self) -> impl Iterator<Item = &Delivery> {
        self.everyone.iter().chain(&self.restricted)
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Delivery> {
        self.everyone.iter_mut().rev().chain(self.restricted.iter_mut().rev())
    }
}

impl Record {
    fn lock(&self) -> MutexGuard<'_, Lists> {
        self.lists.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remember a message frame taken from the feed when the room had had `joins` joins.
    pub fn add(&self, envelope: &Envelope<'_>, joins: u64, text: &str) {
        let Some(id) = envelope.id else { return };
        let excerpt = excerpt(text);
        let mut lists = self.lock();
        let recent = match envelope.visibility {
            Visibility::Everyone => &mut lists.everyone,
            Visibility::Sender | Visibility::Device => &mut lists.restricted,
        };
        if recent.len() >= RECORD_MAX {
            recent.pop_front();
        }
        recent.push_back(Delivery {
            id,
            sender: envelope.sender,
            nick: envelope.nick.into(),
            excerpt,
            deleted: false,
            joins,
            visibility: envelope.visibility,
        });
    }

    /// The delivery of message `id`, if a member that joined as `since` and is `who` got it.
    pub fn received(&self, id: Ulid, since: u64, who: &Sender) -> Option<Delivery> {
        self.lock().all().find(|d| d.id == id && d.reached(since, who)).cloned()
    }

    /// Message `id` has a new text (an `edited` frame for everyone).
    pub fn edit(&self, id: Ulid, text: &str) {
        if let Some(d) = self.lock().all_mut().find(|d| d.id == id) {
            d.excerpt = excerpt(text);
        }
    }

    /// Message `id` was taken down (a `deleted` frame).
    pub fn delete(&self, id: Ulid) {
        if let Some(d) = self.lock().all_mut().find(|d| d.id == id) {
            d.deleted = true;
        }
    }

    /// Every recorded delivery that member got (at most [`RECORD_MAX`] of each list), oldest
    /// first (by message id).
    pub fn received_all(&self, since: u64, who: &Sender) -> Vec<Delivery> {
        let mut all: Vec<Delivery> = self.lock().all().filter(|d| d.reached(since, who)).cloned().collect();
        all.sort_by_key(|d| d.id);
        all
    }
}

fn excerpt(text: &str) -> Box<str> {
    text.chars().take(protocol::frames::REPLY_EXCERPT_CHARS).collect::<String>().into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceTag;
    use crate::envelope::AddressTag;

    fn who(address: u8, device: Option<&[u8; 12]>) -> Sender {
        Sender {
            address: AddressTag::parse(&[b'0' + address; 24]).unwrap(),
            device: device.and_then(|d| DeviceTag::parse(d)),
        }
    }

    #[test]
    fn a_member_received_what_came_after_its_join_and_was_visible_to_it() {
        let record = Record::default();
        let (alice, bob) = (who(1, Some(b"aaaaaaaaaaaa")), who(2, None));
        let (early, late, hidden) = (Ulid::new(), Ulid::new(), Ulid::new());
        let envelope = |id, visibility| Envelope { visibility, sender: alice, id: Some(id), nick: "alice" };
        record.add(&envelope(early, Visibility::Everyone), 1, "e");
        record.add(&envelope(late, Visibility::Everyone), 2, "l");
        record.add(&envelope(hidden, Visibility::Sender), 2, "h");
        record.add(&Envelope { id: None, ..envelope(early, Visibility::Everyone) }, 2, "");
        // Bob joined as join 2: he got `late` only.
        assert_eq!(record.received(early, 2, &bob), None);
        assert_eq!(record.received(late, 2, &bob).map(|d| d.nick), Some("alice".into()));
        assert_eq!(record.received(hidden, 2, &bob), None, "restricted to alice's address or device");
        let alice_tab = who(3, Some(b"aaaaaaaaaaaa"));
        assert!(record.received(hidden, 1, &alice_tab).is_some(), "her other tab, same device");
        assert_eq!(record.received_all(1, &bob).len(), 2);
        assert_eq!(record.received_all(1, &alice).len(), 3, "typing frames are not recorded");
        // Edits bring the excerpt up to date; a deletion marks the delivery.
        record.edit(late, &"é".repeat(100));
        let edited = record.received(late, 2, &bob).unwrap();
        assert_eq!((edited.excerpt.chars().count(), edited.deleted), (protocol::frames::REPLY_EXCERPT_CHARS, false));
        record.delete(late);
        assert!(record.received(late, 2, &bob).unwrap().deleted);
    }

    #[test]
    fn restricted_deliveries_never_push_out_what_everyone_received() {
        let record = Record::default();
        let (shadowed, bob) = (who(1, Some(b"aaaaaaaaaaaa")), who(2, None));
        let seen = Ulid::new();
        record.add(&Envelope { visibility: Visibility::Everyone, sender: bob, id: Some(seen), nick: "bob" }, 1, "x");
        let flood: Vec<Ulid> = (0..RECORD_MAX + 5).map(|_| Ulid::new()).collect();
        for id in &flood {
            record.add(
                &Envelope { visibility: Visibility::Sender, sender: shadowed, id: Some(*id), nick: "sh" },
                1,
                "x",
            );
        }
        assert!(record.received(seen, 1, &bob).is_some(), "bob's own record still has it");
        assert!(record.received(seen, 1, &shadowed).is_some());
        assert_eq!(record.received_all(1, &bob).len(), 1, "none of the restricted ones is bob's");
        assert!(record.received(flood[RECORD_MAX + 4], 1, &bob).is_none());
        let own = record.received_all(1, &shadowed);
        assert_eq!(own.len(), RECORD_MAX + 1, "the restricted list is bounded too");
        assert!(own.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    }

    #[test]
    fn the_record_is_bounded() {
        let record = Record::default();
        let sender = who(1, None);
        let first = Ulid::new();
        record.add(&Envelope { visibility: Visibility::Everyone, sender, id: Some(first), nick: "a" }, 1, "x");
        for _ in 0..RECORD_MAX {
            record.add(
                &Envelope { visibility: Visibility::Everyone, sender, id: Some(Ulid::new()), nick: "a" },
                1,
                "x",
            );
        }
        assert_eq!(record.received_all(1, &sender).len(), RECORD_MAX);
        assert_eq!(record.received(first, 1, &sender), None, "the oldest left the record");
    }
}
