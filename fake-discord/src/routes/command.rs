//! Application commands, guild and global: bulk overwrite, create, list, get, edit, delete.

use serde_json::Value;

use super::{Matched, boxed, check_app, check_guild, not_found, snowflake};
use crate::state::Inner;
use crate::wire::{ApiError, parse_id};

pub(crate) fn route<'a>(inner: &Inner, method: &str, segments: &[&'a str]) -> Result<Matched<'a>, ApiError> {
    Ok(match (method, segments) {
        (_, ["applications", app, "commands", rest @ ..]) => {
            let app = check_app(inner, app)?;
            commands(method, app, false, rest)?
        }
        (_, ["applications", app, "guilds", guild, "commands", rest @ ..]) => {
            let app = check_app(inner, app)?;
            check_guild(inner, guild)?;
            commands(method, app, true, rest)?
        }
        _ => return Err(not_found()),
    })
}

fn commands<'a>(method: &str, app: u64, guild: bool, rest: &[&str]) -> Result<Matched<'a>, ApiError> {
    let template = |global: &'static str, in_guild: &'static str| if guild { in_guild } else { global };
    Ok(match (method, rest) {
        ("GET", []) => boxed(
            template(
                "GET /applications/{application_id}/commands",
                "GET /applications/{application_id}/guilds/{guild_id}/commands",
            ),
            app,
            move |inner, _, _| {
                let list = if guild { inner.guild_commands.clone() } else { inner.global_commands.clone() };
                Ok((200, Value::Array(list)))
            },
        ),
        ("PUT", []) => boxed(
            template(
                "PUT /applications/{application_id}/commands",
                "PUT /applications/{application_id}/guilds/{guild_id}/commands",
            ),
            app,
            move |inner, body, _| inner.overwrite_commands(guild, body),
        ),
        ("POST", []) => boxed(
            template(
                "POST /applications/{application_id}/commands",
                "POST /applications/{application_id}/guilds/{guild_id}/commands",
            ),
            app,
            move |inner, body, _| inner.upsert_command(guild, body),
        ),
        (_, [id]) => {
            let id = snowflake(id, "command_id")?;
            let find = move |inner: &Inner| {
                let list = if guild { &inner.guild_commands } else { &inner.global_commands };
                list.iter()
                    .find(|c| parse_id(c.get("id")) == Some(id))
                    .cloned()
                    .ok_or_else(|| ApiError::new(404, 10063, "Unknown application command"))
            };
            match method {
                "GET" => boxed(
                    template(
                        "GET /applications/{application_id}/commands/{command_id}",
                        "GET /applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                    ),
                    app,
                    move |inner, _, _| Ok((200, find(inner)?)),
                ),
                "PATCH" => boxed(
                    template(
                        "PATCH /applications/{application_id}/commands/{command_id}",
                        "PATCH /applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                    ),
                    app,
                    move |inner, body, _| inner.edit_command(guild, id, body),
                ),
                "DELETE" => boxed(
                    template(
                        "DELETE /applications/{application_id}/commands/{command_id}",
                        "DELETE /applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                    ),
                    app,
                    move |inner, _, _| {
                        find(inner)?;
                        let list = if guild { &mut inner.guild_commands } else { &mut inner.global_commands };
                        list.retain(|c| parse_id(c.get("id")) != Some(id));
                        Ok((204, Value::Null))
                    },
                ),
                _ => return Err(ApiError::new(405, 0, "405: Method Not Allowed")),
            }
        }
        _ => return Err(not_found()),
    })
}
