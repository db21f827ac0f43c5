//! The bot: the primary process of a deployment.
//!
//! It owns everything durable: room definitions, the message log (with IPs) and, later, bans and
//! the audit log, in a database reached through sea-orm (SQLite by default, PostgreSQL in
//! production). Gateways never touch the database; the bot talks to them over the [`bus::Bus`]:
//!
//! * [`rooms`]: room definitions, edited by operators (`chatroulette rooms …`) or moderators, are
//!   re-read every few seconds and published to the bus as snapshots and control events;
//! * [`message_log`]: every accepted web message arrives on the durable queue and is written to
//!   `message_log` before the queue entry is acknowledged; recent messages seed the bus history
//!   at start.
//!
//! * [`health`]: background tasks that died and channels left public, for the readiness report.
//!
//! Without `DISCORD_TOKEN` the bot runs headless: everything above, no Discord.

pub mod audit;
pub mod bans;
pub mod db;
pub mod discord;
pub mod entities;
pub mod filters;
pub mod health;
pub mod iptag;
pub mod message_log;
pub mod retention;
pub mod rooms;
mod service;

pub use service::{Bot, BotConfig};

/// Errors of the bot's data layer.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Bus(#[from] bus::BusError),
    #[error("{0}")]
    Invalid(String),
    #[error("no room named {0:?}")]
    NoSuchRoom(String),
    #[error("a room named {0:?} already exists")]
    RoomExists(String),
}
