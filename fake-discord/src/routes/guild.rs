//! Gateway discovery, the bot's user and application, other users, the guild, its channel
//! list, roles, members and active threads.

use serde_json::{Value, json};

use super::{Matched, boxed, check_guild, not_found, snowflake};
use crate::state::Inner;
use crate::wire::{ApiError, kind};

pub(crate) fn route<'a>(
    inner: &Inner,
    ws_url: &'a str,
    method: &str,
    segments: &[&'a str],
) -> Result<Matched<'a>, ApiError> {
    Ok(match (method, segments) {
        ("GET", ["gateway"]) => {
            Matched { auth: false, ..boxed("GET /gateway", 0, move |_, _, _| Ok((200, json!({"url": ws_url})))) }
        }
        ("GET", ["gateway", "bot"]) => boxed("GET /gateway/bot", 0, move |_, _, _| {
            Ok((
                200,
                json!({
                    "url": ws_url,
                    "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
                }),
            ))
        }),
        ("GET", ["users", "@me"]) => boxed("GET /users/@me", 0, |inner, _, _| Ok((200, inner.bot_user_json()))),
        ("GET", ["users", user]) => {
            let user = snowflake(user, "user_id")?;
            boxed("GET /users/{user_id}", 0, move |inner, _, _| {
                inner
                    .members
                    .get(&user)
                    .map(|m| (200, Inner::user_json(&m.user)))
                    .ok_or_else(|| ApiError::new(404, 10013, "Unknown User"))
            })
        }
        ("GET", ["oauth2", "applications", "@me"]) => {
            boxed("GET /oauth2/applications/@me", 0, |inner, _, _| Ok((200, inner.application_json())))
        }
        ("GET", ["applications", "@me"]) => {
            boxed("GET /applications/@me", 0, |inner, _, _| Ok((200, inner.application_json())))
        }
        ("GET", ["guilds", guild]) => {
            let guild = check_guild(inner, guild)?;
            boxed("GET /guilds/{guild_id}", guild, |inner, _, _| Ok((200, inner.guild_json(false))))
        }
        ("GET", ["guilds", guild, "channels"]) => {
            let guild = check_guild(inner, guild)?;
            boxed("GET /guilds/{guild_id}/channels", guild, |inner, _, _| {
                let list: Vec<Value> = inner
                    .channels
                    .values()
                    .filter(|c| !kind::is_thread(c["type"].as_u64().unwrap_or(0)))
                    .cloned()
                    .collect();
                Ok((200, Value::Array(list)))
            })
        }
        ("POST", ["guilds", guild, "channels"]) => {
            let guild = check_guild(inner, guild)?;
            boxed("POST /guilds/{guild_id}/channels", guild, |inner, body, _| inner.bot_creates_channel(body))
        }
        ("GET", ["guilds", guild, "roles"]) => {
            let guild = check_guild(inner, guild)?;
            boxed("GET /guilds/{guild_id}/roles", guild, |inner, _, _| {
                Ok((200, Value::Array(inner.roles.iter().map(Inner::role_json).collect())))
            })
        }
        ("GET", ["guilds", guild, "members", user]) => {
            let guild = check_guild(inner, guild)?;
            let user = snowflake(user, "user_id")?;
            boxed("GET /guilds/{guild_id}/members/{user_id}", guild, move |inner, _, _| {
                inner
                    .member_json(user, true, None)
                    .map(|m| (200, m))
                    .ok_or_else(|| ApiError::new(404, 10007, "Unknown Member"))
            })
        }
        ("GET", ["guilds", guild, "threads", "active"]) => {
            let guild = check_guild(inner, guild)?;
            boxed("GET /guilds/{guild_id}/threads/active", guild, |inner, _, _| {
                let threads: Vec<Value> = inner
                    .channels
                    .values()
                    .filter(|c| {
                        kind::is_thread(c["type"].as_u64().unwrap_or(0))
                            && c["thread_metadata"]["archived"] != Value::Bool(true)
                    })
                    .cloned()
                    .collect();
                Ok((200, json!({"threads": threads, "members": []})))
            })
        }
        _ => return Err(not_found()),
    })
}
