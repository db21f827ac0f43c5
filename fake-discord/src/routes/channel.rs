//! Channels, their messages and reactions, threads, typing and permission overwrites.

use serde_json::Value;

use super::{Matched, boxed, channel, message, not_found, snowflake};
use crate::wire::{ApiError, kind};

pub(crate) fn route<'a>(method: &str, segments: &[&'a str]) -> Result<Matched<'a>, ApiError> {
    Ok(match (method, segments) {
        ("GET", ["channels", id]) => {
            let id = channel(id)?;
            boxed("GET /channels/{channel_id}", id, move |inner, _, _| Ok((200, inner.channel(id)?.clone())))
        }
        ("PATCH", ["channels", id]) => {
            let id = channel(id)?;
            boxed("PATCH /channels/{channel_id}", id, move |inner, body, _| inner.bot_modifies_channel(id, body))
        }
        ("DELETE", ["channels", id]) => {
            let id = channel(id)?;
            boxed("DELETE /channels/{channel_id}", id, move |inner, _, _| inner.delete_channel(id))
        }
        ("GET", ["channels", id, "messages"]) => {
            let id = channel(id)?;
            boxed("GET /channels/{channel_id}/messages", id, move |inner, _, query| inner.list_messages(id, query))
        }
        ("POST", ["channels", id, "messages"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/messages", id, move |inner, body, _| inner.post_message(id, body))
        }
        ("POST", ["channels", id, "messages", "bulk-delete"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/messages/bulk-delete", id, move |inner, body, _| {
                inner.bulk_delete(id, body)
            })
        }
        ("GET", ["channels", id, "messages", m]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("GET /channels/{channel_id}/messages/{message_id}", id, move |inner, _, _| {
                Ok((200, inner.message(id, m)?.clone()))
            })
        }
        ("PATCH", ["channels", id, "messages", m]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("PATCH /channels/{channel_id}/messages/{message_id}", id, move |inner, body, _| {
                inner.edit_message(id, m, body)
            })
        }
        ("DELETE", ["channels", id, "messages", m]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("DELETE /channels/{channel_id}/messages/{message_id}", id, move |inner, _, _| {
                inner.delete_message(id, m)
            })
        }
        ("PUT", ["channels", id, "messages", m, "reactions", emoji, "@me"]) => {
            let (id, m) = (channel(id)?, message(m)?);
            let emoji =
                crate::permissions::percent_decode(emoji).ok_or_else(|| ApiError::new(400, 10014, "Unknown Emoji"))?;
            boxed("PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", id, move |inner, _, _| {
                inner.add_own_reaction(id, m, &emoji)
            })
        }
        ("POST", ["channels", id, "messages", m, "threads"]) => {
            let (id, m) = (channel(id)?, message(m)?);
            boxed("POST /channels/{channel_id}/messages/{message_id}/threads", id, move |inner, body, _| {
                inner.create_thread(id, Some(m), body)
            })
        }
        ("POST", ["channels", id, "threads"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/threads", id, move |inner, body, _| inner.create_thread(id, None, body))
        }
        ("PUT", ["channels", id, "thread-members", "@me"]) => {
            let id = channel(id)?;
            boxed("PUT /channels/{channel_id}/thread-members/@me", id, move |inner, _, _| {
                let channel_kind = inner.channel(id)?["type"].as_u64().unwrap_or(0);
                if kind::is_thread(channel_kind) { Ok((204, Value::Null)) } else { Err(ApiError::wrong_channel_type()) }
            })
        }
        ("POST", ["channels", id, "typing"]) => {
            let id = channel(id)?;
            boxed("POST /channels/{channel_id}/typing", id, move |inner, _, _| {
                inner.channel(id)?;
                Ok((204, Value::Null))
            })
        }
        ("PUT", ["channels", id, "permissions", target]) => {
            let (id, target) = (channel(id)?, snowflake(target, "overwrite_id")?);
            boxed("PUT /channels/{channel_id}/permissions/{overwrite_id}", id, move |inner, body, _| {
                inner.bot_sets_overwrite(Some(body))?;
                inner.set_overwrite(id, target, Some(body))
            })
        }
        ("DELETE", ["channels", id, "permissions", target]) => {
            let (id, target) = (channel(id)?, snowflake(target, "overwrite_id")?);
            boxed("DELETE /channels/{channel_id}/permissions/{overwrite_id}", id, move |inner, _, _| {
                inner.bot_sets_overwrite(None)?;
                inner.set_overwrite(id, target, None)
            })
        }
        _ => return Err(not_found()),
    })
}
