//! What the hub reads of a room's frames for the delivery record (`deliveries`): the text of a
//! visitor's message (its excerpt is what a reply quotes), and the `edited` and `deleted` frames
//! that change it. Everything else passes unread: only frames that start like these two are
//! parsed, and a message's JSON is parsed once per gateway, not per member.

use std::borrow::Cow;

use serde::Deserialize;
use ulid::Ulid;

use crate::deliveries::Record;

#[derive(Deserialize)]
struct Text<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Change<'a> {
    id: Ulid,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

/// The `text` of a message frame's JSON (empty if it has none).
pub fn message_text(json: &[u8]) -> Cow<'_, str> {
    serde_json::from_slice::<Text<'_>>(json).map(|t| t.text).unwrap_or_default()
}

/// Apply a plain frame for everyone to the record when it is an `edited` or `deleted` frame.
pub fn note(json: &[u8], record: &Record) {
    // Frames are written by `ServerFrame::to_json`: the tag comes first.
    let edited = json.starts_with(br#"{"type":"edited","#);
    if !edited && !json.starts_with(br#"{"type":"deleted","#) {
        return;
    }
    let Ok(change) = serde_json::from_slice::<Change<'_>>(json) else { return };
    match change.text {
        Some(text) if edited => record.edit(change.id, &text),
        None if !edited => record.delete(change.id),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use protocol::ServerFrame;

    use super::*;

    #[test]
    fn frames_are_read_as_written() {
        let id = Ulid::new();
        let edited = ServerFrame::Edited { id, text: "new \"one\"".into(), at: None }.to_json();
        let deleted = ServerFrame::Deleted { id }.to_json();
        assert!(edited.starts_with(r#"{"type":"edited","#), "{edited}");
        assert!(deleted.starts_with(r#"{"type":"deleted","#), "{deleted}");
        let message = protocol::MessageView { id, text: "hé \"x\"".into(), ..Default::default() };
        assert_eq!(message_text(ServerFrame::Message(message).to_json().as_bytes()), "hé \"x\"");
        assert_eq!(message_text(b"{}"), "");
    }
}
