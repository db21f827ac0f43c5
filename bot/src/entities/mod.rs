//! sea-orm models of the tables the bot owns (schema in the `migration` crate). Database
//! models stay here; what crosses a process boundary is in `protocol`.

pub mod appeals;
pub mod audit_log;
pub mod bans;
pub mod cases;
pub mod dead_letters;
pub mod filters;
pub mod message_edits;
pub mod message_log;
pub mod mutes;
pub mod reports;
pub mod room_tails;
pub mod rooms;
pub mod settings;
pub mod visitor_tails;
