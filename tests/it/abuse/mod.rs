//! Attacks on the chat, each through real sockets against the real app, asserting on what the
//! server counts rather than on time. SECURITY.md lists them with the limit that holds.

mod upgrade;
mod websocket;
