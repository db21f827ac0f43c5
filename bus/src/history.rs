//! Who may read a history entry: everyone, or only one sender's connections.
//!
//! A shadow-muted visitor's message is kept in its room's history like any other, marked with
//! the sender's address tag and device tag (keyed hashes, never an address): joiners and
//! resumed sessions of the same address key or device see it as sent, everyone else never
//! does ([`Bus::history_for`](crate::Bus::history_for)). The mark is stored next to the
//! message's fields (one JSON object, so the Redis scripts that edit a message by id keep it)
//! and never leaves the bus: readers get plain [`MessageView`]s.

use protocol::MessageView;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Who is reading (or, on an entry, who alone may read it): a connection's address tag and
/// device tag, as the gateways' sender envelope carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The address tag (a keyed hash of the IPv4 address or IPv6 /64).
    pub address: String,
    /// The device tag, when the connection has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl Viewer {
    /// May this viewer read an entry only `only` may read: the same address key, or the same
    /// device?
    pub fn sees(&self, only: &Viewer) -> bool {
        self.address == only.address || (self.device.is_some() && self.device == only.device)
    }
}

/// One history entry as stored: the message, and who alone may read it (`None`: everyone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(flatten)]
    pub message: MessageView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Viewer>,
}

impl Entry {
    pub(crate) fn everyone(message: MessageView) -> Self {
        Self { message, only: None }
    }

    fn visible_to(&self, viewer: Option<&Viewer>) -> bool {
        match (&self.only, viewer) {
            (None, _) => true,
            (Some(only), Some(viewer)) => viewer.sees(only),
            (Some(_), None) => false,
        }
    }
}

/// What `viewer` (`None`: anyone) reads of `entries` (oldest first): the entries after `since`
/// (all of them when `since` is not among them), without those it may not see. `since` is
/// looked for among all entries, so a viewer's own restricted message is a valid `since`.
pub(crate) fn visible<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    since: Option<Ulid>,
    viewer: Option<&Viewer>,
) -> Vec<MessageView> {
    let entries: Vec<&Entry> = entries.into_iter().collect();
    let start = since.and_then(|id| entries.iter().position(|e| e.message.id == id)).map_or(0, |pos| pos + 1);
    entries.into_iter().skip(start).filter(|e| e.visible_to(viewer)).map(|e| e.message.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> MessageView {
        MessageView {
            id: Ulid::new(),
            room: "lobby".into(),
            nick: "Ann".into(),
            text: text.into(),
            at: chrono::Utc::now(),
            ..MessageView::default()
        }
    }

    fn viewer(address: &str, device: Option<&str>) -> Viewer {
        Viewer { address: address.into(), device: device.map(Into::into) }
    }

    #[test]
    fn an_entry_round_trips_and_a_plain_message_reads_as_one() {
        let shadow = Entry { message: message("mine"), only: Some(viewer("aa", Some("d1"))) };
        let json = serde_json::to_string(&shadow).unwrap();
        assert!(json.contains(r#""only":{"address":"aa","device":"d1"}"#), "{json}");
        assert_eq!(serde_json::from_str::<Entry>(&json).unwrap(), shadow);
        let plain = message("hello");
        let read: Entry = serde_json::from_str(&serde_json::to_string(&plain).unwrap()).unwrap();
        assert_eq!(read, Entry::everyone(plain));
        // A client never gets the mark: it is not a field of the message.
        let view: MessageView = serde_json::from_str(&json).unwrap();
        assert!(!serde_json::to_string(&view).unwrap().contains("only"));
    }

    #[test]
    fn restricted_entries_reach_their_address_or_device_only() {
        let sender = viewer("aa", Some("d1"));
        let entries = [
            Entry::everyone(message("one")),
            Entry { message: message("shadow"), only: Some(sender.clone()) },
            Entry::everyone(message("two")),
        ];
        let texts = |v: Vec<MessageView>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
        assert_eq!(texts(visible(&entries, None, None)), ["one", "two"]);
        assert_eq!(texts(visible(&entries, None, Some(&viewer("bb", None)))), ["one", "two"]);
        assert_eq!(texts(visible(&entries, None, Some(&viewer("bb", Some("d2"))))), ["one", "two"]);
        assert_eq!(texts(visible(&entries, None, Some(&viewer("aa", None)))), ["one", "shadow", "two"]);
        assert_eq!(texts(visible(&entries, None, Some(&viewer("cc", Some("d1"))))), ["one", "shadow", "two"]);
        // `since` may name the restricted entry, whoever reads.
        let since = Some(entries[1].message.id);
        assert_eq!(texts(visible(&entries, since, Some(&sender))), ["two"]);
        assert_eq!(texts(visible(&entries, since, None)), ["two"]);
        assert_eq!(texts(visible(&entries, Some(Ulid::new()), None)), ["one", "two"]);
    }
}
