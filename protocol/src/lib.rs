//! Everything that crosses a process boundary in Textual Chatroulette.
//!
//! * [`frames`]: the WebSocket contract between browsers and gateways (inbound and outbound kept
//!   apart, one serde enum each, tagged by `"type"`).
//! * [`filter`]: the moderators' word and regex filters, compiled one way for the bot and the
//!   gateways, applied to case- and NFKC-folded text.
//! * [`input`]: the input rules (nickname, message text, room slug and title, roulette interests)
//!   as validated newtypes, so the rest of the code never sees unchecked strings, and the text
//!   cleaning every message goes through.
//! * [`appeals`]: a sanctioned visitor's appeal, as the gateway queues it and the bus keeps it.
//! * [`changes`]: a visitor's edit or deletion of its own message, queued for the bot.
//! * [`events`]: what the gateways and the bot exchange over the bus (room definitions, logged
//!   messages, control events).
//!
//! No I/O lives here: the crate is shared by every process role and by tests.

pub mod appeals;
pub mod changes;
pub mod events;
pub mod filter;
pub mod frames;
pub mod input;

pub use appeals::{AppealEvent, AppealRecord, AppealReply, AppealState};
pub use changes::MessageChange;
pub use events::{
    BanDef, ControlEvent, FilterAction, FilterDef, InboundEvent, LoggedMessage, MuteDef, ReportEvent, RoomDef,
    RoomKind, RouletteMatch, RouletteTicket,
};
pub use frames::{
    ClientFrame, ErrorCode, Expires, Limits, MessageView, PresenceEvent, ReportReason, ReportVerdict, ServerFrame,
};
pub use input::{MessageText, Nickname, RoomSlug, RoomTitle};

/// Version reported in the `hello` frame.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
