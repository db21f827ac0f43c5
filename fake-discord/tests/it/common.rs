//! Helpers shared by the tests.

use std::time::Duration;

use fake_discord::FakeDiscord;
use poise::serenity_prelude as serenity;
use serde_json::Value;
use tokio::sync::mpsc;

/// Every wait in these tests: generous, never an assertion on speed.
pub const WAIT: Duration = Duration::from_secs(10);

/// serenity's HTTP client pointed at the fake, as the bot configures it.
pub fn http(discord: &FakeDiscord) -> serenity::Http {
    serenity::HttpBuilder::new(discord.token())
        .proxy(discord.base_url())
        .ratelimiter_disabled(true)
        .application_id(serenity::ApplicationId::new(discord.application_id()))
        .build()
}

/// The `id` of a Discord JSON object.
pub fn id(value: &Value) -> u64 {
    fake_discord::id_of(value)
}

/// The HTTP status of a serenity error from an unsuccessful request.
pub fn status_of(error: &serenity::Error) -> Option<u16> {
    match error {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(response)) => {
            Some(response.status_code.as_u16())
        }
        _ => None,
    }
}

/// Discord's JSON error code of a serenity error (-1 when serenity could not decode the body).
pub fn code_of(error: &serenity::Error) -> Option<isize> {
    match error {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(response)) => Some(response.error.code),
        _ => None,
    }
}

/// Receive until `pick` accepts an item, or `None` after [`WAIT`].
pub async fn next_matching<T, R>(rx: &mut mpsc::UnboundedReceiver<T>, pick: impl FnMut(T) -> Option<R>) -> Option<R> {
    next_matching_for(rx, WAIT, pick).await
}

/// A raw reqwest client and the `Authorization` value.
pub fn raw(discord: &FakeDiscord) -> (reqwest::Client, String) {
    (reqwest::Client::new(), format!("Bot {}", discord.token()))
}

/// Like [`next_matching`] with another timeout.
pub async fn next_matching_for<T, R>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    timeout: Duration,
    mut pick: impl FnMut(T) -> Option<R>,
) -> Option<R> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let item = tokio::time::timeout_at(deadline, rx.recv()).await.ok()??;
        if let Some(found) = pick(item) {
            return Some(found);
        }
    }
}
