//! The bot: the primary process of a deployment.
//!
//! It owns everything durable: room definitions, the message log (with IPs), bans, filters and
//! the audit log, in a database reached through sea-orm (SQLite by default, PostgreSQL in
//! production). Gateways never touch the database; the bot talks to them over the [`bus::Bus`].
//! A message from the web is logged by [`message_log`] (fed by `service`'s queue consumer) and
//! posted to Discord by [`discord::mirror`].
//!
//! * [`rooms`]: room definitions, edited by operators (`chatroulette rooms …`) or moderators
//!   (`/room`) through the same calls, re-read every few seconds and published to the bus;
//! * [`message_log`]: every accepted web message arrives on the durable queue and is written to
//!   `message_log` before the queue entry is acknowledged; recent messages seed the bus history
//!   at start;
//! * [`bans`]: bans by address, network or IP tag, made by operators (`chatroulette bans …`) or
//!   moderators (`/ban`) through the same calls, published to the bus at once;
//! * [`appeals`]: banned visitors' appeals, recorded, decided and kept in step on the bus;
//! * [`mutes`]: mutes (plain and shadow) by the same targets, published to the bus at once;
//! * [`cases`]: the numbered case of every moderator action, its reason and duration edited
//!   afterwards;
//! * [`warnings`]: warnings and the `WARN_LADDER` they climb;
//! * [`evasion`]: ban-evasion alerts grouped per case, *Extend* and *Ignore*, and
//!   `EVASION_AUTO_APPLY` (the Discord side is `discord::evasion`);
//! * [`filters`]: word and regex filters, published to every gateway;
//! * [`reports`]: visitors' reports of messages, recorded at once and decided by staff (the
//!   Discord side is `discord::reports`);
//! * [`audit`]: the audit log of every moderator and operator action;
//! * [`iptag`]: the keyed hashes staff see instead of addresses;
//! * [`shield`]: the proof-of-work gate's mode as staff set it, kept and published to every
//!   gateway (with the deployment key the gates sign with);
//! * [`trust`]: the trust tier's staff side: trusted tags and allowed link domains, kept and
//!   published to every gateway (rooms carry their own `links` setting);
//! * [`retention`]: erasing addresses and texts past their retention periods, in batches;
//! * [`dead_letters`]: queue entries the consumer gave up on, kept with their error;
//! * [`discord`]: the Discord side (commands, events back to the web, the mirror);
//! * [`retry`]: the one retry helper and its policies, for database writes and Discord calls;
//! * [`health`]: background tasks that died and channels left public, for the readiness report;
//! * [`db`] and [`entities`]: the connection, migrations and the tables' sea-orm models;
//! * `service`: [`Bot`], the running service: start-up, room sync and the queue consumer.
//!
//! Without `DISCORD_TOKEN` the bot runs headless: everything above, no Discord.

pub mod appeals;
pub mod audit;
pub mod bans;
pub mod cases;
pub mod db;
pub mod dead_letters;
pub mod discord;
pub mod entities;
pub mod evasion;
pub mod filters;
pub mod health;
pub mod iptag;
pub mod message_log;
pub mod mutes;
pub mod reports;
pub mod retention;
pub mod retry;
pub mod rooms;
mod service;
pub mod shield;
pub mod trust;
pub mod warnings;

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
