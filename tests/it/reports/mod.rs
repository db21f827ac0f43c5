//! Issue 26 "Reports" (the gateway half) and issue 27's device token: the device tag, the
//! fan-out sender envelope and its visibility rule, the `report` frame and its refusals, and
//! `report_outcome` back to the reporter; a shadow-muted sender's messages in history.

mod envelope;
mod outcome;
mod refusals;
mod shadow;

use serde_json::Value;

use crate::support::{Client, TestApp};

/// A device token as the web client makes them (32 hex digits).
pub fn token() -> String {
    format!("{:032x}", ulid::Ulid::new().0)
}

/// A client from `ip` (the app trusts 127.0.0.1 as a proxy) with `device` as its token.
pub async fn visitor(app: &TestApp, ip: &str, device: Option<&str>) -> Client {
    let path = device.map_or_else(|| "/ws".to_owned(), |d| format!("/ws?device={d}"));
    match Client::connect_to(app.addr, &path, &[("x-forwarded-for", ip)]).await {
        Ok(client) => client,
        Err((status, body)) => panic!("{ip} was refused: {status} {body}"),
    }
}

/// Skip frames until a `message` with `text` arrives.
pub async fn message_with(client: &mut Client, text: &str) -> Value {
    loop {
        let frame = client.wait_for("message").await;
        if frame["text"] == text {
            return frame;
        }
    }
}
