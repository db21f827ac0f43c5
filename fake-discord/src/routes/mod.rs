//! The REST routes, by resource: each matched route names its rate-limit bucket and what it
//! does with the state; `rest` runs it.
//!
//! * `guild`: gateway discovery, users, the application, the guild, its roles and members;
//! * `channel`: channels, messages, reactions, threads, permission overwrites;
//! * `command`: application commands, guild and global;
//! * `interaction`: interaction callbacks and the interaction webhooks.

pub(crate) mod channel;
pub(crate) mod command;
pub(crate) mod guild;
pub(crate) mod interaction;

use std::collections::HashMap;

use serde_json::Value;

use crate::state::Inner;
use crate::wire::{ApiError, ApiResult};

/// What a matched route does with the state, the JSON body and the query.
pub(crate) type Action<'a> = Box<dyn FnOnce(&mut Inner, &Value, &HashMap<String, String>) -> ApiResult + 'a>;

/// A matched route: its rate-limit bucket and what it does.
pub(crate) struct Matched<'a> {
    /// `POST /channels/{channel_id}/messages`: the bucket's identity.
    pub template: &'static str,
    /// The top-level id of the path (channel, guild, webhook, interaction), or 0.
    pub major: u64,
    /// Needs `Authorization: Bot <token>`.
    pub auth: bool,
    /// Counts against the global limit (interaction routes do not).
    pub global: bool,
    pub run: Action<'a>,
}

/// Discord's answer to an unknown route.
pub(crate) fn not_found() -> ApiError {
    ApiError::new(404, 0, "404: Not Found")
}

pub(crate) fn snowflake(value: &str, field: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| {
        ApiError::form_one(&[field], "NUMBER_TYPE_COERCE", &format!("Value \"{value}\" is not snowflake."))
    })
}

pub(crate) fn boxed<'a>(
    template: &'static str,
    major: u64,
    run: impl FnOnce(&mut Inner, &Value, &HashMap<String, String>) -> ApiResult + 'a,
) -> Matched<'a> {
    Matched { template, major, auth: true, global: true, run: Box::new(run) }
}

/// The guild id of a path: 404 Unknown Guild for any but the fake's one.
pub(crate) fn check_guild(inner: &Inner, value: &str) -> Result<u64, ApiError> {
    let id = snowflake(value, "guild_id")?;
    if id == inner.guild_id() { Ok(id) } else { Err(ApiError::new(404, 10004, "Unknown Guild")) }
}

/// The application id of a path: 404 Unknown Application for any but the fake's one.
pub(crate) fn check_app(inner: &Inner, value: &str) -> Result<u64, ApiError> {
    let id = snowflake(value, "application_id")?;
    if id == inner.config.application_id { Ok(id) } else { Err(ApiError::new(404, 10002, "Unknown Application")) }
}

/// The channel id of a path.
pub(crate) fn channel(value: &str) -> Result<u64, ApiError> {
    snowflake(value, "channel_id")
}

/// The message id of a path.
pub(crate) fn message(value: &str) -> Result<u64, ApiError> {
    snowflake(value, "message_id")
}
