//! The few Discord REST calls the bot makes itself, with the rate-limit headers in view.
//!
//! The mirror's message posts are the only high-volume calls, so the bot paces them itself:
//! it reads `X-RateLimit-Remaining`/`X-RateLimit-Reset-After` on every answer, waits for the
//! bucket to reset instead of running into it, and retries a 429 after `retry_after` with the
//! same body (and nonce). This path is the same in production and in tests, where the base URL
//! points at the fake Discord.

use std::time::Duration;

use serde_json::Value;

/// Discord's API version.
const API: &str = "/api/v10";

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("cannot reach Discord: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("Discord answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected Discord answer: {0}")]
    Decode(String),
}

/// How long to wait before the next call to the same bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pacing {
    pub remaining: Option<u32>,
    pub reset_after: Option<Duration>,
}

impl Pacing {
    fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self {
            remaining: get("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
            reset_after: get("x-ratelimit-reset-after")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                // A header past any sane pause would overflow a Duration: five minutes at most.
                .map(|s| Duration::from_secs_f64(s.min(300.0))),
        }
    }

    /// The pause the bucket asks for before the next call (zero while calls remain).
    pub fn pause(&self) -> Duration {
        match (self.remaining, self.reset_after) {
            (Some(0), Some(reset)) => reset,
            _ => Duration::ZERO,
        }
    }
}

/// What came of posting a message (or creating or changing a thread).
#[derive(Debug)]
pub enum Posted {
    /// Accepted (or, for a repeated nonce, the existing message returned): the object's id.
    Ok { id: u64, pacing: Pacing },
    /// 429: try the same request again after this long.
    RateLimited { retry_after: Duration, global: bool },
    /// Refused for good (400 invalid body, 403 missing permission, 404 unknown channel).
    Refused { status: u16, body: String },
}

/// A small REST client authenticated as the bot.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    auth: String,
    bot_id: std::sync::Arc<std::sync::OnceLock<u64>>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Rest {
    /// `api_base` is `DISCORD_API_BASE` (tests) or `None` for Discord itself.
    pub fn new(api_base: Option<&str>, token: &str) -> Result<Self, RestError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent("DiscordBot (https://github.com/textual-chatroulette, 0.1)")
            .build()?;
        let root = api_base.unwrap_or("https://discord.com").trim_end_matches('/');
        Ok(Self { http, base: format!("{root}{API}"), auth: format!("Bot {token}"), bot_id: Default::default() })
    }

    /// POST /channels/{id}/messages.
    pub async fn create_message(&self, channel: u64, body: &Value) -> Result<Posted, RestError> {
        let request = self.http.post(format!("{}/channels/{channel}/messages", self.base));
        self.send(request, body).await
    }

    /// POST /channels/{id}/threads: a thread without a starter message; `Posted::Ok` carries the
    /// thread's id. Discord limits thread creation on a bucket of its own (per parent channel)
    /// and may answer a burst with a 429 whose `retry_after` is minutes.
    pub async fn create_thread(&self, parent: u64, body: &Value) -> Result<Posted, RestError> {
        let request = self
            .http
            .post(format!("{}/channels/{parent}/threads", self.base))
            .header("x-audit-log-reason", "chat room mirror");
        self.send(request, body).await
    }

    /// PATCH /channels/{id}: e.g. `{"archived": true, "locked": true}` for a thread.
    pub async fn modify_channel(&self, channel: u64, body: &Value) -> Result<Posted, RestError> {
        let request = self
            .http
            .patch(format!("{}/channels/{channel}", self.base))
            .header("x-audit-log-reason", "chat room ended");
        self.send(request, body).await
    }

    /// PATCH /channels/{c}/messages/{m}: edit one of the bot's own messages (a case's mod-log
    /// post when the case changes).
    pub async fn edit_message(&self, channel: u64, message: u64, body: &Value) -> Result<Posted, RestError> {
        let request = self.http.patch(format!("{}/channels/{channel}/messages/{message}", self.base));
        self.send(request, body).await
    }

    /// PUT /channels/{c}/messages/{m}/reactions/{emoji}/@me: the bot reacts with a Unicode
    /// emoji (idempotent: a second call changes nothing).
    pub async fn add_own_reaction(&self, channel: u64, message: u64, emoji: &str) -> Result<(), RestError> {
        let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
        let response = self
            .http
            .put(format!("{}/channels/{channel}/messages/{message}/reactions/{encoded}/@me", self.base))
            .header("authorization", &self.auth)
            .header("content-length", "0")
            .send()
            .await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(RestError::Status { status, body: response.text().await? })
    }

    /// GET /guilds/{id}/channels (threads are not listed).
    pub async fn guild_channels(&self, guild: u64) -> Result<Vec<Value>, RestError> {
        let response = self
            .http
            .get(format!("{}/guilds/{guild}/channels", self.base))
            .header("authorization", &self.auth)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if !(200..300).contains(&status) {
            return Err(RestError::Status { status, body: text });
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| RestError::Decode(e.to_string()))?;
        value.as_array().cloned().ok_or_else(|| RestError::Decode(format!("not a channel list: {text}")))
    }

    /// Send a JSON request and sort the answer: accepted (with the object's id), rate limited,
    /// refused for good (4xx), or failed (5xx, transport).
    async fn send(&self, request: reqwest::RequestBuilder, body: &Value) -> Result<Posted, RestError> {
        let response = request.header("authorization", &self.auth).json(body).send().await?;
        let status = response.status().as_u16();
        let pacing = Pacing::from_headers(response.headers());
        let retry_header =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<f64>().ok());
        let text = response.text().await?;
        match status {
            200..=299 => {
                let value: Value = serde_json::from_str(&text).map_err(|e| RestError::Decode(e.to_string()))?;
                let id = snowflake(&value["id"]).ok_or_else(|| RestError::Decode(format!("no id in {text}")))?;
                Ok(Posted::Ok { id, pacing })
            }
            429 => {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let seconds = value["retry_after"].as_f64().or(retry_header).unwrap_or(1.0);
                let retry_after = Duration::from_secs_f64(seconds.clamp(0.0, 300.0));
                Ok(Posted::RateLimited { retry_after, global: value["global"].as_bool().unwrap_or(false) })
            }
            400..=499 => Ok(Posted::Refused { status, body: text }),
            _ => Err(RestError::Status { status, body: text }),
        }
    }

    /// GET a JSON object (or list) from `path`.
    async fn get_json(&self, path: &str) -> Result<Value, RestError> {
        let response = self.http.get(format!("{}{path}", self.base)).header("authorization", &self.auth).send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if !(200..300).contains(&status) {
            return Err(RestError::Status { status, body: text });
        }
        serde_json::from_str(&text).map_err(|e| RestError::Decode(e.to_string()))
    }

    /// GET /channels/{id}.
    pub async fn channel(&self, channel: u64) -> Result<Value, RestError> {
        self.get_json(&format!("/channels/{channel}")).await
    }

    /// The bot's own user id (GET /users/@me, asked once).
    pub async fn bot_id(&self) -> Result<u64, RestError> {
        if let Some(id) = self.bot_id.get() {
            return Ok(*id);
        }
        let me = self.get_json("/users/@me").await?;
        let id = snowflake(&me["id"]).ok_or_else(|| RestError::Decode(format!("no id in {me}")))?;
        Ok(*self.bot_id.get_or_init(|| id))
    }

    /// The guild permissions of the @everyone role (GET /guilds/{id}/roles).
    pub async fn everyone_permissions(&self, guild: u64) -> Result<u64, RestError> {
        let roles = self.get_json(&format!("/guilds/{guild}/roles")).await?;
        let everyone = roles
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| snowflake(&r["id"]) == Some(guild))
            .ok_or_else(|| RestError::Decode("the guild has no @everyone role".to_owned()))?;
        Ok(everyone["permissions"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0))
    }

    /// PUT /channels/{id}/permissions/{overwrite_id} (needs Manage Roles).
    pub async fn set_overwrite(&self, channel: u64, target: u64, body: &Value) -> Result<(), RestError> {
        let response = self
            .http
            .put(format!("{}/channels/{channel}/permissions/{target}", self.base))
            .header("authorization", &self.auth)
            .header("x-audit-log-reason", "chat rooms are for staff only")
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(RestError::Status { status, body: response.text().await? })
    }

    /// POST /guilds/{id}/channels: a text channel, under `parent` (a category) if given, with
    /// these `permission_overwrites` (none: synced with the category).
    pub async fn create_text_channel(
        &self,
        guild: u64,
        name: &str,
        topic: &str,
        parent: Option<u64>,
        overwrites: Option<&Value>,
    ) -> Result<u64, RestError> {
        let mut body = serde_json::json!({"name": name, "type": 0, "topic": topic});
        if let Some(parent) = parent {
            body["parent_id"] = Value::String(parent.to_string());
        }
        if let Some(overwrites) = overwrites {
            body["permission_overwrites"] = overwrites.clone();
        }
        let response = self
            .http
            .post(format!("{}/guilds/{guild}/channels", self.base))
            .header("authorization", &self.auth)
            .header("x-audit-log-reason", "chat room mirror")
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        if !(200..300).contains(&status) {
            return Err(RestError::Status { status, body: text });
        }
        let value: Value = serde_json::from_str(&text).map_err(|e| RestError::Decode(e.to_string()))?;
        snowflake(&value["id"]).ok_or_else(|| RestError::Decode(format!("no channel id in {text}")))
    }
}

/// Discord sends snowflakes as strings.
pub fn snowflake(value: &Value) -> Option<u64> {
    value.as_str().and_then(|s| s.parse().ok()).or_else(|| value.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_waits_only_when_the_bucket_is_empty() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.insert("x-ratelimit-reset-after", "4.250".parse().unwrap());
        assert_eq!(Pacing::from_headers(&headers).pause(), Duration::from_millis(4250));
        headers.insert("x-ratelimit-remaining", "3".parse().unwrap());
        assert_eq!(Pacing::from_headers(&headers).pause(), Duration::ZERO);
        assert_eq!(Pacing::default().pause(), Duration::ZERO);
    }
}
