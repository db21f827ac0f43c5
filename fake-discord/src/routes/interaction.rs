//! Interaction callbacks and the interaction webhooks (`@original`, follow-ups).

use super::{Action, Matched, boxed, not_found, snowflake};
use crate::wire::ApiError;

pub(crate) fn route<'a>(method: &str, segments: &[&'a str]) -> Result<Matched<'a>, ApiError> {
    Ok(match (method, segments) {
        ("POST", ["interactions", id, token, "callback"]) => {
            let id = snowflake(id, "interaction_id")?;
            let token = (*token).to_owned();
            Matched {
                auth: false,
                global: false,
                ..boxed("POST /interactions/{interaction_id}/{token}/callback", id, move |inner, body, _| {
                    inner.interaction_callback(id, &token, body)
                })
            }
        }
        ("POST", ["webhooks", app, token]) => {
            let app = snowflake(app, "webhook_id")?;
            let token = (*token).to_owned();
            Matched {
                auth: false,
                global: false,
                ..boxed("POST /webhooks/{webhook_id}/{token}", app, move |inner, body, _| {
                    inner.webhook_execute(app, &token, body)
                })
            }
        }
        (_, ["webhooks", app, token, "messages", which]) => {
            let app = snowflake(app, "webhook_id")?;
            let token = (*token).to_owned();
            let which = (*which).to_owned();
            let run: Action<'a> = match method {
                "GET" => Box::new(move |inner, _, _| inner.webhook_get(app, &token, &which)),
                "PATCH" => Box::new(move |inner, body, _| inner.webhook_edit(app, &token, &which, body)),
                "DELETE" => Box::new(move |inner, _, _| inner.webhook_delete(app, &token, &which)),
                _ => return Err(ApiError::new(405, 0, "405: Method Not Allowed")),
            };
            Matched {
                template: match method {
                    "GET" => "GET /webhooks/{webhook_id}/{token}/messages/{message_id}",
                    "PATCH" => "PATCH /webhooks/{webhook_id}/{token}/messages/{message_id}",
                    _ => "DELETE /webhooks/{webhook_id}/{token}/messages/{message_id}",
                },
                major: app,
                auth: false,
                global: false,
                run,
            }
        }
        _ => return Err(not_found()),
    })
}
