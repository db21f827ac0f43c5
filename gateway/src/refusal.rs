//! The JSON body of an HTTP refusal, `{code, message}`, shared by the routes and the WebSocket
//! upgrade; the codes are stable and listed in `docs/protocol.md`, "HTTP".

use serde::Serialize;

/// A JSON body for refusals: `{code, message}`.
#[derive(Serialize)]
pub(crate) struct Refusal<'a> {
    pub code: &'a str,
    pub message: &'a str,
}
