//! Discord's rules for message components (the legacy layout: action rows of buttons or one
//! select menu), checked on every message body and interaction response that carries
//! `components`, as Discord answers them: `Invalid Form Body` with the path of the offence.
//! Documented limits: 5 action rows; a row holds up to 5 buttons or exactly one select menu;
//! `custom_id` 1–100 characters and unique within the message; button labels up to 80; a
//! string select has 1–25 options (label and value 1–100, description up to 100, values
//! unique), a placeholder up to 150, `min_values` 0–25 and `max_values` 1–25.

use std::collections::HashSet;

use serde_json::Value;

use crate::limits::{FormErrors, max_len, path, required_text};

/// Action rows per message.
pub const ROWS_MAX: usize = 5;
/// Buttons per action row.
pub const BUTTONS_PER_ROW: usize = 5;
/// Options of a string select.
pub const SELECT_OPTIONS_MAX: usize = 25;

/// Check the `components` of a message body (nothing to do when there are none).
pub fn validate(body: &Value, prefix: &[String], errors: &mut FormErrors) {
    let rows = match body.get("components") {
        None | Some(Value::Null) => return,
        Some(Value::Array(rows)) => rows,
        Some(_) => return errors.add(&path(prefix, &["components"]), "LIST_TYPE_CONVERT", "Must be an array."),
    };
    if rows.len() > ROWS_MAX {
        let at = path(prefix, &["components"]);
        errors.add(&at, "BASE_TYPE_MAX_LENGTH", format!("Must be {ROWS_MAX} or fewer in length."));
    }
    let mut ids = HashSet::new();
    for (r, row) in rows.iter().enumerate() {
        let r = r.to_string();
        let at = |rest: &[&str]| {
            let mut p = path(prefix, &["components", &r]);
            p.extend(rest.iter().map(|s| (*s).to_owned()));
            p
        };
        if row.get("type").and_then(Value::as_u64) != Some(1) {
            errors.add(&at(&["type"]), "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,).");
            continue;
        }
        let Some(children) = row.get("components").and_then(Value::as_array) else {
            errors.add(&at(&["components"]), "BASE_TYPE_REQUIRED", "This field is required");
            continue;
        };
        let selects = children.iter().filter(|c| c.get("type").and_then(Value::as_u64) != Some(2)).count();
        if children.is_empty()
            || (selects == 0 && children.len() > BUTTONS_PER_ROW)
            || (selects > 0 && children.len() > 1)
        {
            let message = "The specified component exceeds the maximum width";
            errors.add(&at(&["components"]), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", message);
        }
        for (c, child) in children.iter().enumerate() {
            let c = c.to_string();
            let at = at(&["components", &c]);
            component(child, &at, &mut ids, errors);
        }
    }
}

/// One button or select menu at `at`.
fn component(child: &Value, at: &[String], ids: &mut HashSet<String>, errors: &mut FormErrors) {
    let kind = child.get("type").and_then(Value::as_u64).unwrap_or(0);
    let link = kind == 2 && child.get("style").and_then(Value::as_u64) == Some(5);
    if !link {
        required_text(errors, path(at, &["custom_id"]), child.get("custom_id"), 100);
        if let Some(id) = child.get("custom_id").and_then(Value::as_str)
            && !ids.insert(id.to_owned())
        {
            let message = format!("Component custom id cannot be duplicated: {id}");
            errors.add(&path(at, &["custom_id"]), "COMPONENT_CUSTOM_ID_DUPLICATED", message);
        }
    }
    match kind {
        2 => {
            if !matches!(child.get("style").and_then(Value::as_u64), Some(1..=6)) {
                errors.add(&path(at, &["style"]), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.");
            }
            max_len(errors, path(at, &["label"]), child.get("label"), 80);
        }
        3 => string_select(child, at, errors),
        // User, role, mentionable and channel selects carry no options.
        5..=8 => max_len(errors, path(at, &["placeholder"]), child.get("placeholder"), 150),
        _ => errors.add(
            &path(at, &["type"]),
            "UNION_TYPE_CHOICES",
            "Value of field \"type\" must be one of (2, 3, 5, 6, 7, 8).",
        ),
    }
}

fn string_select(child: &Value, at: &[String], errors: &mut FormErrors) {
    max_len(errors, path(at, &["placeholder"]), child.get("placeholder"), 150);
    let count = |key: &str| child.get(key).and_then(Value::as_u64);
    if count("min_values").is_some_and(|n| n > 25) {
        errors.add(&path(at, &["min_values"]), "NUMBER_TYPE_MAX", "int value should be less than or equal to 25.");
    }
    if count("max_values").is_some_and(|n| n == 0 || n > 25) {
        errors.add(&path(at, &["max_values"]), "NUMBER_TYPE_MAX", "int value should be between 1 and 25.");
    }
    let Some(options) = child.get("options").and_then(Value::as_array) else {
        return errors.add(&path(at, &["options"]), "BASE_TYPE_REQUIRED", "This field is required");
    };
    if options.is_empty() || options.len() > SELECT_OPTIONS_MAX {
        let message = format!("Must be between 1 and {SELECT_OPTIONS_MAX} in length.");
        errors.add(&path(at, &["options"]), "BASE_TYPE_BAD_LENGTH", message);
    }
    if count("min_values").unwrap_or(1) > options.len() as u64 {
        errors.add(&path(at, &["min_values"]), "NUMBER_TYPE_MAX", "min_values exceeds the number of options.");
    }
    let mut values = HashSet::new();
    for (o, option) in options.iter().enumerate() {
        let o = o.to_string();
        required_text(errors, path(at, &["options", &o, "label"]), option.get("label"), 100);
        required_text(errors, path(at, &["options", &o, "value"]), option.get("value"), 100);
        max_len(errors, path(at, &["options", &o, "description"]), option.get("description"), 100);
        if let Some(value) = option.get("value").and_then(Value::as_str)
            && !values.insert(value)
        {
            let message = format!("Select component option value cannot be duplicated: {value}");
            errors.add(&path(at, &["options", &o, "value"]), "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", message);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors_of(body: Value) -> FormErrors {
        let mut errors = FormErrors::default();
        validate(&body, &[], &mut errors);
        errors
    }

    fn select(options: Value) -> Value {
        json!({"type": 3, "custom_id": "menu", "placeholder": "Pick", "options": options})
    }

    #[test]
    fn documented_layouts_pass() {
        let buttons: Vec<Value> =
            (0..5).map(|i| json!({"type": 2, "style": 1, "label": "b", "custom_id": format!("b{i}")})).collect();
        let options = json!([{"label": "10 minutes", "value": "600"}, {"label": "1 hour", "value": "3600"}]);
        let body =
            json!({"components": [{"type": 1, "components": buttons}, {"type": 1, "components": [select(options)]}]});
        assert!(errors_of(body).is_empty());
    }

    #[test]
    fn what_discord_refuses_is_refused() {
        let option = json!({"label": "a", "value": "1"});
        let bad = [
            json!({"components": [{"type": 1, "components": [select(json!([option])), {"type": 2, "style": 1, "custom_id": "x"}]}]}),
            json!({"components": [{"type": 1, "components": [select(json!([]))]}]}),
            json!({"components": [{"type": 1, "components": [select(json!([option, option]))]}]}),
            json!({"components": [{"type": 1, "components": [select(json!(vec![option.clone(); 26]))]}]}),
            json!({"components": [{"type": 1, "components": [{"type": 3, "options": [option]}]}]}),
            json!({"components": [{"type": 2, "style": 1, "custom_id": "x"}]}),
            json!({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x"}, {"type": 2, "style": 2, "custom_id": "x"}]}]}),
            json!({"components": [{"type": 1, "components": [{"type": 2, "style": 9, "custom_id": "x"}]}]}),
            json!({"components": vec![json!({"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x"}]}); 6]}),
        ];
        for body in bad {
            assert!(!errors_of(body.clone()).is_empty(), "{body}");
        }
    }
}
