//! The WebSocket protocol itself (RFC 6455), server side: the upgrade handshake, frame decoding
//! and encoding, and [`Socket`], which drives one connection's reads and writes from its own task.
//!
//! Written here rather than taken from tungstenite for memory and fan-out cost:
//! - an idle socket holds no read or write buffer: reads go through one scratch buffer per worker
//!   thread, and only an incomplete frame is ever kept per socket;
//! - a server frame is encoded once, header included ([`text`]), and the same bytes are written to
//!   every recipient, several frames per vectored write when they queue up.
//!
//! Frames to a socket go through its [`Outbox`]: a bounded queue that anyone may push to without
//! awaiting, and where close orders are left. Nothing a peer does grows memory without bound: a
//! socket owes at most one pong (the answer to the latest ping, RFC 6455 §5.5.3), stops reading
//! while its writes are blocked, and keeps at most one incomplete frame or message.
//!
//! * `handshake`: the upgrade request and its 101 answer.
//! * `codec`: frame encoding (once per frame, shared by every recipient) and decoding.
//! * `outbox`: the bounded per-socket queue and close orders.
//! * `socket`: one connection's reads and writes.
//! * `autobahn` (tests only): the Autobahn test suite's cases 1 to 7, as tests of our own.

mod codec;
mod handshake;
mod outbox;
mod socket;

#[cfg(test)]
mod autobahn;
#[cfg(test)]
mod testing;

use salvo::hyper::upgrade::Upgraded;
use salvo::rt::tokio::TokioIo;

pub use codec::{append_text, ping, text};
pub use handshake::accept;
pub use outbox::{CloseOrder, Outbox, Pushed};
pub use salvo::hyper::upgrade::OnUpgrade;
#[cfg(test)]
pub use socket::Ending;
pub use socket::{Event, Socket};

/// The byte stream of an upgraded connection.
pub type Io = TokioIo<Upgraded>;

/// Every close code the gateway sends (RFC 6455 §7.4.1, and 4003 of `docs/protocol.md`).
pub mod code {
    /// Normal closure (kicked, room closed; the answer to a peer's close without a code).
    pub const NORMAL: u16 = 1000;
    /// Going away (keepalive missed).
    pub const GOING_AWAY: u16 = 1001;
    /// Service restart: the gateway is restarting; connect again after the `restarting`
    /// frame's `retry_after_ms`.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The peer broke the framing rules.
    pub const PROTOCOL: u16 = 1002;
    /// A message of a kind the chat does not speak (binary).
    pub const UNSUPPORTED: u16 = 1003;
    /// A text message that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// Policy violation (a reader too slow to keep up).
    pub const POLICY: u16 = 1008;
    /// A frame or message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// Banned: do not reconnect (an application code, like HTTP 403).
    pub const BANNED: u16 = 4003;

    /// May a peer send this code in a close frame (RFC 6455 §7.4, the IANA registry, and the
    /// ranges for libraries and applications)? 1004, 1005, 1006 and 1015 are reserved for
    /// reports, never for the wire.
    pub fn valid_on_wire(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}
