//! Discord's validation rules (the `Invalid Form Body` errors) and rate limits.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// Longest message content, in characters (Unicode scalar values).
pub const CONTENT_MAX: usize = 2000;
/// Most embeds in one message.
pub const EMBEDS_MAX: usize = 10;
/// Embed title.
pub const EMBED_TITLE_MAX: usize = 256;
/// Embed description.
pub const EMBED_DESCRIPTION_MAX: usize = 4096;
/// Fields per embed.
pub const EMBED_FIELDS_MAX: usize = 25;
/// Field name.
pub const EMBED_FIELD_NAME_MAX: usize = 256;
/// Field value.
pub const EMBED_FIELD_VALUE_MAX: usize = 1024;
/// Footer text.
pub const EMBED_FOOTER_MAX: usize = 2048;
/// Author name.
pub const EMBED_AUTHOR_MAX: usize = 256;
/// All embeds of one message together.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// Longest string nonce.
pub const NONCE_MAX: usize = 25;

/// Collects the nested `errors` object of a 50035 `Invalid Form Body` answer:
/// `{"embeds":{"0":{"title":{"_errors":[{"code":..,"message":..}]}}}}`.
#[derive(Default, Debug)]
pub struct FormErrors {
    root: Map<String, Value>,
}

impl FormErrors {
    /// Add one error at `path` (object keys and array indices as strings).
    pub fn add(&mut self, path: &[String], code: &str, message: impl Into<String>) {
        let mut node = &mut self.root;
        for key in path {
            let entry = node.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(next) = entry else { return };
            node = next;
        }
        let list = node.entry("_errors").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!({"code": code, "message": message.into()}));
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// The full error body, or `None` when nothing was wrong.
    pub fn into_body(self) -> Option<Value> {
        if self.root.is_empty() {
            return None;
        }
        Some(json!({"message": "Invalid Form Body", "code": 50035, "errors": Value::Object(self.root)}))
    }
}

pub(crate) fn path(prefix: &[String], rest: &[&str]) -> Vec<String> {
    prefix.iter().cloned().chain(rest.iter().map(|s| (*s).to_owned())).collect()
}

fn chars(value: Option<&Value>) -> usize {
    value.and_then(Value::as_str).map_or(0, |s| s.chars().count())
}

pub(crate) fn max_len(errors: &mut FormErrors, at: Vec<String>, value: Option<&Value>, max: usize) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if s.chars().count() > max {
                errors.add(&at, "BASE_TYPE_MAX_LENGTH", format!("Must be {max} or fewer in length."));
            }
        }
        Some(_) => errors.add(&at, "STRING_TYPE_CONVERT", "Could not interpret value as string."),
    }
}

pub(crate) fn required_text(errors: &mut FormErrors, at: Vec<String>, value: Option<&Value>, max: usize) {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => max_len(errors, at, value, max),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.add(&at, "BASE_TYPE_REQUIRED", "This field is required");
        }
        Some(_) => errors.add(&at, "STRING_TYPE_CONVERT", "Could not interpret value as string."),
    }
}

/// Check `content`, `embeds`, `nonce` and `allowed_mentions` of a message body (create or edit;
/// also an interaction response's `data`, with `prefix = ["data"]`).
pub fn validate_message(body: &Value, prefix: &[String], errors: &mut FormErrors) {
    max_len(errors, path(prefix, &["content"]), body.get("content"), CONTENT_MAX);
    crate::components::validate(body, prefix, errors);
    match body.get("embeds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(embeds)) => validate_embeds(embeds, prefix, errors),
        Some(_) => errors.add(&path(prefix, &["embeds"]), "LIST_TYPE_CONVERT", "Must be an array."),
    }
    match body.get("nonce") {
        None | Some(Value::Null) | Some(Value::Number(_)) => {}
        Some(Value::String(nonce)) => {
            if nonce.chars().count() > NONCE_MAX {
                errors.add(
                    &path(prefix, &["nonce"]),
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {NONCE_MAX} or fewer in length."),
                );
            }
        }
        Some(_) => errors.add(&path(prefix, &["nonce"]), "NONCE_TYPE_INVALID", "Nonce must be a string or integer."),
    }
    if let Some(mentions) = body.get("allowed_mentions").filter(|m| !m.is_null()) {
        let parse: Vec<&str> = mentions
            .get("parse")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for kind in ["users", "roles"] {
            let listed = mentions.get(kind).and_then(Value::as_array).is_some_and(|list| !list.is_empty());
            if listed && parse.contains(&kind) {
                errors.add(
                    &path(prefix, &["allowed_mentions"]),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    format!("parse:[\"{kind}\"] and {kind}: [ids...] are mutually exclusive."),
                );
            }
        }
        for kind in &parse {
            if !["users", "roles", "everyone"].contains(kind) {
                errors.add(
                    &path(prefix, &["allowed_mentions", "parse"]),
                    "ENUM_TYPE_COERCE",
                    format!("Value \"{kind}\" is not a valid enum value."),
                );
            }
        }
    }
}

fn validate_embeds(embeds: &[Value], prefix: &[String], errors: &mut FormErrors) {
    if embeds.len() > EMBEDS_MAX {
        errors.add(
            &path(prefix, &["embeds"]),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {EMBEDS_MAX} or fewer in length."),
        );
    }
    let mut total = 0;
    for (index, embed) in embeds.iter().enumerate() {
        let index = index.to_string();
        let at = |rest: &[&str]| {
            let mut p = path(prefix, &["embeds", &index]);
            p.extend(rest.iter().map(|s| (*s).to_owned()));
            p
        };
        if !embed.is_object() {
            errors.add(&at(&[]), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType");
            continue;
        }
        max_len(errors, at(&["title"]), embed.get("title"), EMBED_TITLE_MAX);
        max_len(errors, at(&["description"]), embed.get("description"), EMBED_DESCRIPTION_MAX);
        total += chars(embed.get("title")) + chars(embed.get("description"));
        if let Some(footer) = embed.get("footer").filter(|f| !f.is_null()) {
            required_text(errors, at(&["footer", "text"]), footer.get("text"), EMBED_FOOTER_MAX);
            total += chars(footer.get("text"));
        }
        if let Some(author) = embed.get("author").filter(|a| !a.is_null()) {
            required_text(errors, at(&["author", "name"]), author.get("name"), EMBED_AUTHOR_MAX);
            total += chars(author.get("name"));
        }
        match embed.get("fields") {
            None | Some(Value::Null) => {}
            Some(Value::Array(fields)) => {
                if fields.len() > EMBED_FIELDS_MAX {
                    errors.add(
                        &at(&["fields"]),
                        "BASE_TYPE_MAX_LENGTH",
                        format!("Must be {EMBED_FIELDS_MAX} or fewer in length."),
                    );
                }
                for (f, field) in fields.iter().enumerate() {
                    let f = f.to_string();
                    required_text(errors, at(&["fields", &f, "name"]), field.get("name"), EMBED_FIELD_NAME_MAX);
                    required_text(errors, at(&["fields", &f, "value"]), field.get("value"), EMBED_FIELD_VALUE_MAX);
                    total += chars(field.get("name")) + chars(field.get("value"));
                }
            }
            Some(_) => errors.add(&at(&["fields"]), "LIST_TYPE_CONVERT", "Must be an array."),
        }
    }
    if total > EMBED_TOTAL_MAX {
        errors.add(
            &path(prefix, &["embeds"]),
            "MAX_EMBED_SIZE_EXCEEDED",
            format!("Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"),
        );
    }
}

/// Whether a create-message body carries nothing to show (Discord answers 50006).
pub fn is_empty_message(body: &Value) -> bool {
    let text = body.get("content").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    let non_empty = |key: &str| body.get(key).and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    !text
        && !non_empty("embeds")
        && !non_empty("sticker_ids")
        && !non_empty("attachments")
        && !non_empty("components")
        && body.get("poll").is_none_or(Value::is_null)
}

/// The validation rules of application command names (`CHAT_INPUT` names must be lowercase).
pub fn validate_commands(commands: &[Value], errors: &mut FormErrors) {
    if commands.len() > 100 {
        errors.add(&[], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
    }
    for (index, command) in commands.iter().enumerate() {
        validate_command(command, &[index.to_string()], errors);
    }
}

/// Check one command object (create or bulk-overwrite item).
pub fn validate_command(command: &Value, prefix: &[String], errors: &mut FormErrors) {
    let kind = command.get("type").and_then(Value::as_u64).unwrap_or(1);
    let name = command.get("name").and_then(Value::as_str).unwrap_or("");
    if kind == 1 {
        check_name(name, &path(prefix, &["name"]), errors);
        required_text(errors, path(prefix, &["description"]), command.get("description"), 100);
        validate_options(command.get("options"), &path(prefix, &["options"]), errors);
    } else if name.is_empty() || name.chars().count() > 32 {
        errors.add(&path(prefix, &["name"]), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.");
    }
}

fn check_name(name: &str, at: &[String], errors: &mut FormErrors) {
    let count = name.chars().count();
    if count == 0 || count > 32 {
        errors.add(at, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.");
    } else if !name.chars().all(|c| c == '-' || c == '_' || c.is_alphanumeric())
        || name.chars().any(|c| c.to_lowercase().next() != Some(c))
    {
        errors.add(at, "APPLICATION_COMMAND_INVALID_NAME", format!("Command name is invalid: {name}"));
    }
}

fn validate_options(options: Option<&Value>, at: &[String], errors: &mut FormErrors) {
    let Some(options) = options.and_then(Value::as_array) else { return };
    if options.len() > 25 {
        errors.add(at, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
    }
    for (index, option) in options.iter().enumerate() {
        let here = path(at, &[&index.to_string()]);
        check_name(option.get("name").and_then(Value::as_str).unwrap_or(""), &path(&here, &["name"]), errors);
        required_text(errors, path(&here, &["description"]), option.get("description"), 100);
        if option.get("choices").and_then(Value::as_array).is_some_and(|c| c.len() > 25) {
            errors.add(&path(&here, &["choices"]), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
        }
        validate_options(option.get("options"), &path(&here, &["options"]), errors);
    }
}

/// A fixed window that starts with the first request after the previous one ended, like
/// Discord's bucket reset.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u32,
}

/// What a rate-limit check decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Let the request through; the numbers describe the bucket after it.
    Allowed { limit: u32, remaining: u32, reset_after: Duration },
    /// Refuse with 429; retry after this long.
    Limited { limit: u32, retry_after: Duration },
}

/// Per-bucket and global fixed windows.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<(String, u64), Window>,
    global: Option<Window>,
}

impl RateLimiter {
    /// Count one request against `bucket`/`major` (a request refused is not counted).
    pub fn hit(&mut self, bucket: &str, major: u64, limit: u32, window: Duration, now: Instant) -> Verdict {
        let slot = self.buckets.entry((bucket.to_owned(), major)).or_insert(Window { started: now, used: 0 });
        check(slot, limit, window, now)
    }

    /// Count one request against the global window.
    pub fn global_hit(&mut self, limit: u32, window: Duration, now: Instant) -> Verdict {
        let slot = self.global.get_or_insert(Window { started: now, used: 0 });
        check(slot, limit, window, now)
    }
}

fn check(slot: &mut Window, limit: u32, window: Duration, now: Instant) -> Verdict {
    if now.duration_since(slot.started) >= window {
        *slot = Window { started: now, used: 0 };
    }
    let reset_after = (slot.started + window).saturating_duration_since(now);
    if slot.used >= limit {
        return Verdict::Limited { limit, retry_after: reset_after };
    }
    slot.used += 1;
    Verdict::Allowed { limit, remaining: limit - slot.used, reset_after }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn window_starts_at_first_request_and_resets() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(5);
        for i in 0..5 {
            let v = limiter.hit("b", 1, 5, w, t0 + Duration::from_millis(i * 10));
            assert!(matches!(v, Verdict::Allowed { remaining, .. } if remaining == 4 - i as u32));
        }
        assert!(matches!(limiter.hit("b", 1, 5, w, t0 + Duration::from_secs(1)), Verdict::Limited { .. }));
        // Other major parameter: separate window.
        assert!(matches!(limiter.hit("b", 2, 5, w, t0 + Duration::from_secs(1)), Verdict::Allowed { .. }));
        assert!(matches!(limiter.hit("b", 1, 5, w, t0 + w), Verdict::Allowed { remaining: 4, .. }));
    }

    #[test]
    fn nested_form_errors() {
        let mut errors = FormErrors::default();
        errors.add(&["embeds".into(), "0".into(), "title".into()], "BASE_TYPE_MAX_LENGTH", "x");
        errors.add(&["embeds".into()], "MAX_EMBED_SIZE_EXCEEDED", "y");
        let body = errors.into_body().unwrap();
        assert_eq!(body["code"], 50035);
        assert_eq!(body["errors"]["embeds"]["0"]["title"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
        assert_eq!(body["errors"]["embeds"]["_errors"][0]["code"], "MAX_EMBED_SIZE_EXCEEDED");
    }

    #[test]
    fn embed_total_counts_characters() {
        let desc = "é".repeat(4000);
        let body = json!({"embeds": [{"description": desc}, {"description": "x".repeat(2001)}]});
        let mut errors = FormErrors::default();
        validate_message(&body, &[], &mut errors);
        let body = errors.into_body().unwrap();
        assert_eq!(body["errors"]["embeds"]["_errors"][0]["code"], "MAX_EMBED_SIZE_EXCEEDED");
        let ok = json!({"embeds": [{"description": "é".repeat(4000)}, {"description": "x".repeat(2000)}]});
        let mut errors = FormErrors::default();
        validate_message(&ok, &[], &mut errors);
        assert!(errors.is_empty());
    }
}
