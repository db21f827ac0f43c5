//! Replies, and editing and deleting one's own message (issue 29), through real sockets: the
//! `message` frame's `reply_to`, `edit` and `delete` with their refusals (`unknown_message`,
//! `not_yours`, `edit_window_over`, `muted`, `rate_limited`), what the room and later joiners
//! see, a shadow-muted author's changes, ownership after a resume, and the log keeping every
//! earlier text. The Discord side is in `discord::conversation`.

mod edits;
mod replies;
mod retention;

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Client;

/// Send `frame` and return the first `error` frame after it (room traffic and earlier
/// changes' frames are skipped).
pub(crate) async fn answer(client: &mut Client, frame: Value) -> Value {
    client.send(frame).await;
    loop {
        let f = client.next().await;
        if f["type"] == "error" {
            return f;
        }
    }
}

/// Skip frames until one of `kind` about message `id`.
pub(crate) async fn wait_about(client: &mut Client, kind: &str, id: &str) -> Value {
    loop {
        let frame = client.wait_for(kind).await;
        if frame["id"] == id {
            return frame;
        }
    }
}

/// True if no frame about message `id` arrives within `within` (only to show that something
/// does not happen: the positive cases wait for their event).
pub(crate) async fn nothing_about(client: &mut Client, id: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Err(_) => return true,
            Ok(frame) if frame["id"] == id && frame["type"] != "message" => return false,
            Ok(_) => continue,
        }
    }
}

pub(crate) fn edit(id: &str, text: &str) -> Value {
    json!({"type": "edit", "id": id, "text": text, "client_id": "e1"})
}

pub(crate) fn delete(id: &str) -> Value {
    json!({"type": "delete", "id": id})
}
