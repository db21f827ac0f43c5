//! What a report looks like in Discord: the report message (with its buttons, and once
//! decided, who decided what), the thread's name and the context posted in it. Visitor text
//! is escaped ([`embeds::escape_markdown`]) and no request mentions anyone.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::discord::embeds::{self, escape_markdown, inline, truncate};
use crate::entities::{message_log, reports};
use crate::reports::State;

/// `custom_id` prefix of the report buttons: `report:<action>:<report id>`.
pub const PREFIX: &str = "report:";

/// What a button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ban the reported tag.
    Ban,
    /// Mute the reported tag for the length chosen in the menu ([`MUTE_CHOICES`]).
    Mute,
    /// Close the report without acting.
    Dismiss,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Ban => "ban",
            Self::Mute => "mute",
            Self::Dismiss => "dismiss",
        }
    }

    /// The button's `custom_id` for report `id`.
    pub fn custom_id(self, id: i64) -> String {
        format!("{PREFIX}{}:{id}", self.name())
    }

    /// `report:ban:12` → (Ban, 12).
    pub fn parse(custom_id: &str) -> Option<(Self, i64)> {
        let rest = custom_id.strip_prefix(PREFIX)?;
        let (name, id) = rest.split_once(':')?;
        let action = match name {
            "ban" => Self::Ban,
            "mute" => Self::Mute,
            "dismiss" => Self::Dismiss,
            _ => return None,
        };
        Some((action, id.parse().ok()?))
    }
}

/// The lengths the *Mute* menu offers: the option's value (seconds) and label. Only these are
/// accepted back (a press carries what the client sent, and any client can send anything).
pub const MUTE_CHOICES: [(u64, &str); 5] =
    [(600, "10 minutes"), (3_600, "1 hour"), (21_600, "6 hours"), (86_400, "24 hours"), (604_800, "7 days")];

/// The first of [`MUTE_CHOICES`].
pub const DEFAULT_MUTE: std::time::Duration = std::time::Duration::from_secs(MUTE_CHOICES[0].0);

/// The length a *Mute* menu choice names (`values` of the interaction), if it is one it offers.
pub fn mute_choice(values: &[String]) -> Option<std::time::Duration> {
    let [value] = values else { return None };
    MUTE_CHOICES
        .iter()
        .find(|(secs, _)| secs.to_string() == *value)
        .map(|(secs, _)| std::time::Duration::from_secs(*secs))
}

/// The reported message as the report shows it: its row in the log, if found.
pub struct Reported<'a> {
    pub report: &'a reports::Model,
    pub row: Option<&'a message_log::Model>,
    /// The reporter's IP tag (never the address).
    pub reporter_tag: &'a str,
}

fn field(name: &str, value: String, inline: bool) -> Value {
    let value = if value.is_empty() { "-".to_owned() } else { truncate(&value, 1024) };
    json!({"name": name, "value": value, "inline": inline})
}

/// The decision line: who decided what, and when.
pub fn decision(report: &reports::Model) -> Option<String> {
    let state = State::parse(&report.state)?;
    let what = match state {
        State::Open => return None,
        State::Decided(protocol::ReportVerdict::Banned) => "Tag banned",
        State::Decided(protocol::ReportVerdict::Muted) => {
            let length = report.mute_secs.and_then(|s| u64::try_from(s).ok()).map(std::time::Duration::from_secs);
            return Some(match length {
                Some(length) => {
                    format!("Tag muted for {} by {}{}", crate::bans::humanize(length), decider(report), when(report))
                }
                None => format!("Tag muted by {}{}", decider(report), when(report)),
            });
        }
        State::Decided(protocol::ReportVerdict::Dismissed) => "Dismissed",
    };
    Some(format!("{what} by {}{}", decider(report), when(report)))
}

fn decider(report: &reports::Model) -> String {
    report.decided_by.as_deref().map_or_else(|| "someone".to_owned(), who)
}

fn when(report: &reports::Model) -> String {
    report.decided_at.map_or_else(String::new, |at| format!(" <t:{}:f>", at.timestamp()))
}

/// Who decided, as staff read it: `discord:<id> (<name>)` as a mention (shown as the member's
/// name; mentions in embeds notify nobody) and the name; anything else escaped.
pub(crate) fn who(by: &str) -> String {
    let parsed = by.strip_prefix("discord:").and_then(|rest| {
        let (id, name) = rest.split_once(' ')?;
        let name = name.strip_prefix('(')?.strip_suffix(')')?;
        id.parse::<u64>().ok().map(|id| format!("<@{id}> ({})", inline(name)))
    });
    parsed.unwrap_or_else(|| inline(by))
}

/// The report message: embed, buttons and the *Mute* menu (disabled once decided, or, for
/// *Ban tag* and *Mute*, without a tag).
pub fn message(reported: &Reported<'_>) -> Value {
    let r = reported.report;
    let tag = r.reported_tag.as_deref();
    let text = match reported.row {
        Some(row) if row.deleted_at.is_some() => format!("{} *(deleted)*", escape_markdown(&row.text)),
        Some(row) if row.text.is_empty() => "*(text erased)*".to_owned(),
        Some(row) => escape_markdown(&row.text),
        None => "*(not in the message log)*".to_owned(),
    };
    let mut fields = vec![
        field("Room", format!("#{}", inline(&r.room)), true),
        field("Reported", format!("{} · tag `{}`", inline(&r.reported_nick), tag.unwrap_or("unknown")), true),
        field("Reporter", format!("tag `{}`", reported.reporter_tag), true),
        field("Reason", r.reason.replace('_', " "), true),
    ];
    if let Some(note) = r.note.as_deref().filter(|n| !n.is_empty()) {
        fields.push(field("Note", escape_markdown(note), false));
    }
    if r.auto_muted {
        fields.push(field(
            "Automatic mute",
            "three distinct reporters: the tag is shadow-muted until a moderator decides".to_owned(),
            false,
        ));
    }
    let decided = decision(r);
    if let Some(line) = &decided {
        fields.push(field("Decision", line.clone(), false));
    }
    let embed = json!({
        "title": format!("🚩 Report #{} · {}", r.id, r.reason.replace('_', " ")),
        "description": truncate(&text, 2000),
        "fields": fields,
        "footer": {"text": format!("message {}", r.message_id)},
        "timestamp": r.created_at.to_rfc3339(),
        "color": if decided.is_some() { 0x0080_8080 } else { 0x00e0_4040 },
    });
    let open = decided.is_none();
    let button = |label: &str, style: u8, action: Action, enabled: bool| json!({"type": 2, "style": style, "label": label, "custom_id": action.custom_id(r.id), "disabled": !enabled});
    // A string select (component type 3) in a row of its own, as Discord requires; choosing a
    // length is the decision.
    let options: Vec<Value> =
        MUTE_CHOICES.iter().map(|(secs, label)| json!({"label": label, "value": secs.to_string()})).collect();
    let menu = json!({
        "type": 3, "custom_id": Action::Mute.custom_id(r.id), "placeholder": "Mute for…",
        "min_values": 1, "max_values": 1, "options": options, "disabled": !(open && tag.is_some()),
    });
    json!({
        "embeds": [embed],
        "components": [
            {"type": 1, "components": [
                button("Ban tag", 4, Action::Ban, open && tag.is_some()),
                button("Dismiss", 2, Action::Dismiss, open),
            ]},
            {"type": 1, "components": [menu]},
        ],
        "allowed_mentions": {"parse": []},
    })
}

/// The thread's name.
pub fn thread_name(report: &reports::Model) -> String {
    let nick: String = report.reported_nick.chars().filter(|c| !c.is_control()).collect();
    truncate(&format!("Report #{} · {}", report.id, nick.trim()), 100)
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}

/// The context around the reported message (oldest first), as the bodies of the messages that
/// carry it: one line per message, the reported one marked, at most one embed of
/// [`CONTEXT_DESCRIPTION`] characters per body.
pub fn context(rows: &[message_log::Model], reported: &str) -> Vec<Value> {
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let mark = if row.id == reported { "▶ " } else { "" };
            let who = if row.staff {
                "staff".to_owned()
            } else {
                row.ip_tag.as_deref().map_or("?", crate::reports::own_tag).to_owned()
            };
            let text =
                if row.deleted_at.is_some() { format!("{} (deleted)", inline(&row.text)) } else { inline(&row.text) };
            format!("{mark}`{}` **{}** `{who}`: {}", time(row.sent_at), inline(&row.nickname), truncate(&text, 300))
        })
        .collect();
    let mut bodies = Vec::new();
    let mut chunk = String::new();
    let total = lines.len();
    for line in lines {
        if !chunk.is_empty() && chunk.chars().count() + line.chars().count() + 1 > CONTEXT_DESCRIPTION {
            bodies.push(std::mem::take(&mut chunk));
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.push_str(&line);
    }
    if !chunk.is_empty() {
        bodies.push(chunk);
    }
    let parts = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, description)| {
            let title = if parts > 1 {
                format!("Context ({total} messages, part {} of {parts})", i + 1)
            } else {
                format!("Context ({total} messages)")
            };
            json!({"embeds": [{"title": title, "description": description}], "allowed_mentions": {"parse": []}})
        })
        .collect()
}

/// Longest context description (Discord allows 4096).
pub const CONTEXT_DESCRIPTION: usize = 4000;

/// Posted in the thread of the report that brought the automatic shadow mute.
pub fn auto_muted(length: std::time::Duration) -> Value {
    let text = format!(
        "⚠️ Automatic first response: reports from {} distinct reporters within {} minutes shadow-muted this tag \
         for {} (their messages reach nobody else; they are not told). It ends by itself unless a moderator \
         confirms: *Mute* or *Ban tag* above, or `/mute`, `/ban`.",
        crate::reports::auto::THRESHOLD,
        crate::reports::auto::WINDOW.as_secs() / 60,
        crate::bans::humanize(length),
    );
    json!({"content": text, "allowed_mentions": {"parse": []}})
}

/// Posted in the thread when the reported message never reached the log.
pub fn no_context() -> Value {
    json!({"content": "The reported message is not in the message log (yet): no context to show.", "allowed_mentions": {"parse": []}})
}

/// The nonce of a report's message: posting it again returns the one Discord has.
pub fn nonce(id: i64) -> String {
    embeds::nonce(&format!("xreport{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciders_are_mentioned_by_id() {
        assert_eq!(who("discord:42 (mod_one)"), "<@42> (mod\\_one)");
        assert_eq!(who("auto"), "auto");
    }

    #[test]
    fn only_offered_mute_lengths_are_taken() {
        assert_eq!(mute_choice(&["3600".to_owned()]), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(mute_choice(&["604800".to_owned()]), Some(std::time::Duration::from_secs(604_800)));
        for bad in [vec![], vec!["3601".to_owned()], vec!["600".to_owned(), "3600".to_owned()], vec!["-1".to_owned()]] {
            assert_eq!(mute_choice(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn buttons_round_trip() {
        assert_eq!(Action::parse(&Action::Ban.custom_id(12)), Some((Action::Ban, 12)));
        assert_eq!(Action::parse(&Action::Dismiss.custom_id(7)), Some((Action::Dismiss, 7)));
        assert_eq!(Action::parse(&Action::Mute.custom_id(3)), Some((Action::Mute, 3)));
        assert_eq!(Action::parse("report:nuke:1"), None);
        assert_eq!(Action::parse("other:ban:1"), None);
    }
}
