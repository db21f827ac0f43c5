//! Turning logged web messages into Discord embeds within Discord's limits: at most 10 embeds
//! and 6000 characters per message, 4096 per description. Web text is never markdown or a
//! mention in Discord: it is escaped, and every request says `allowed_mentions: {parse: []}`.

use serde_json::{Value, json};

use crate::entities::message_log;

pub const MAX_EMBEDS: usize = 10;
pub const MAX_TOTAL: usize = 6000;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_TITLE: usize = 256;

/// Backslash-escape everything Discord would read as markdown, a mention or a link.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')' | '@' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Visitor text for one line of a staff reply (`/lookup`, `/room list`): line breaks and other
/// control characters become spaces (no faked extra rows), then escaped as embeds are (no
/// masked link, heading, mention or code block survives).
pub fn inline(text: &str) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    escape_markdown(&flat)
}

/// A colour stable per nickname (FNV-1a of the case-folded name), never black.
pub fn colour(nick: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in protocol::input::fold(nick).bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash & 0x00ff_ffff) | 0x0040_4040
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

pub fn truncate(s: &str, max: usize) -> String {
    if chars(s) <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn footer_tag(row: &message_log::Model) -> &str {
    row.ip_tag.as_deref().unwrap_or("untagged")
}

/// The embed title naming the room, for posts outside the room's own channel or thread (see
/// [`super::threads::fallback_label`]): escaped, within Discord's 256.
fn title(label: Option<&str>) -> Option<String> {
    label.map(|l| truncate(&escape_markdown(l), MAX_TITLE))
}

fn with_title(mut embed: Value, title: Option<&String>) -> Value {
    if let Some(title) = title {
        embed["title"] = Value::String(title.clone());
    }
    embed
}

/// A message's text as staff read it: escaped; marked when its author edited it, struck through
/// (and still readable) when its author took it back.
fn shown_text(row: &message_log::Model) -> String {
    let text = escape_markdown(&row.text);
    if row.deleted_by.as_deref() == Some(crate::message_log::BY_AUTHOR) {
        return format!("~~{text}~~ *(deleted by its author)*");
    }
    if row.edited_at.is_some() && !row.staff {
        return format!("{text} *(edited)*");
    }
    text
}

/// One message as its own embed: author = nickname, description = text, footer = tag and room
/// (and the room as title when `label` is given).
fn single(row: &message_log::Model, label: Option<&str>) -> (Value, usize) {
    let author = truncate(&row.nickname, 256);
    let description = truncate(&shown_text(row), MAX_DESCRIPTION);
    let footer = format!("{} · #{}", footer_tag(row), row.room);
    let title = title(label);
    let size = chars(&author) + chars(&description) + chars(&footer) + title.as_deref().map_or(0, chars);
    let embed = json!({
        "author": {"name": author},
        "description": description,
        "footer": {"text": footer},
        "timestamp": row.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "color": colour(&row.nickname),
    });
    (with_title(embed, title.as_ref()), size)
}

fn line(row: &message_log::Model) -> String {
    let line = format!(
        "`{}` **{}** `{}`: {}",
        row.sent_at.format("%H:%M:%S"),
        escape_markdown(&row.nickname),
        footer_tag(row),
        shown_text(row)
    );
    truncate(&line, MAX_DESCRIPTION)
}

/// The request body for `rows` (all of them must fit: see [`plan`] with the same `label`).
pub fn payload(rows: &[message_log::Model], nonce: &str, label: Option<&str>) -> Value {
    let embeds = if rows.len() <= MAX_EMBEDS && singles_fit(rows, label) {
        rows.iter().map(|r| single(r, label).0).collect::<Vec<_>>()
    } else {
        coalesced(rows, label)
    };
    json!({
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
        "nonce": nonce,
        "enforce_nonce": true,
    })
}

/// Whether `rows`, posted as one Discord message, went out coalesced (several per embed).
pub fn is_coalesced(rows: &[message_log::Model], label: Option<&str>) -> bool {
    !(rows.len() <= MAX_EMBEDS && singles_fit(rows, label))
}

/// The body that edits the Discord message carrying `rows` (oldest first) after one of them
/// changed: the same layout as it was posted in, within the 6000 total (the longest texts are
/// cut to fit; the log keeps them whole).
pub fn edit_payload(rows: &[message_log::Model], label: Option<&str>, coalesced_before: bool) -> Value {
    let mut rows = rows.to_vec();
    loop {
        let embeds =
            if coalesced_before { coalesced(&rows, label) } else { rows.iter().map(|r| single(r, label).0).collect() };
        let body = json!({"embeds": embeds, "allowed_mentions": {"parse": []}});
        let size = embeds_size(&body);
        let Some(longest) = rows.iter_mut().max_by_key(|r| chars(&r.text)) else { return body };
        if size <= MAX_TOTAL || chars(&longest.text) <= 1 {
            return body;
        }
        let keep = chars(&longest.text).saturating_sub(size - MAX_TOTAL + 8).max(1);
        longest.text = truncate(&longest.text, keep);
    }
}

fn singles_fit(rows: &[message_log::Model], label: Option<&str>) -> bool {
    rows.iter().map(|r| single(r, label).1).sum::<usize>() <= MAX_TOTAL
}

/// Several messages per embed, one line each, for a room that is ahead of Discord.
fn coalesced(rows: &[message_log::Model], label: Option<&str>) -> Vec<Value> {
    let title = title(label);
    let mut embeds = Vec::new();
    let mut description = String::new();
    let mut count = 0;
    let mut first = None;
    let room = rows.first().map(|r| r.room.clone()).unwrap_or_default();
    let flush = |description: &mut String,
                 count: &mut usize,
                 first: &mut Option<&message_log::Model>,
                 embeds: &mut Vec<Value>| {
        if let Some(row) = first.take() {
            let embed = json!({
                "description": std::mem::take(description),
                "footer": {"text": format!("#{} · {} messages", room, count)},
                "timestamp": row.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "color": 0x5865f2,
            });
            embeds.push(with_title(embed, title.as_ref()));
            *count = 0;
        }
    };
    for row in rows {
        let l = line(row);
        let needed = if description.is_empty() { chars(&l) } else { chars(&description) + 1 + chars(&l) };
        if needed > MAX_DESCRIPTION {
            flush(&mut description, &mut count, &mut first, &mut embeds);
        }
        if !description.is_empty() {
            description.push('\n');
        }
        description.push_str(&l);
        count += 1;
        first.get_or_insert(row);
    }
    flush(&mut description, &mut count, &mut first, &mut embeds);
    embeds
}

/// How many of `rows` (a room's waiting messages, oldest first) go into the next request:
/// each as its own embed while the backlog fits one request, otherwise coalesced, always
/// within 10 embeds and 6000 characters, counting the `label` title each embed then carries.
/// Always at least one.
pub fn plan(rows: &[message_log::Model], label: Option<&str>) -> usize {
    if rows.len() <= MAX_EMBEDS {
        let mut total = 0;
        for (i, row) in rows.iter().enumerate() {
            total += single(row, label).1;
            if total > MAX_TOTAL {
                return i.max(1);
            }
        }
        return rows.len();
    }
    // Coalesced: fill embeds line by line, counting what the footers add.
    let mut embeds = 0;
    let mut description = 0;
    let mut total = 0;
    for (i, row) in rows.iter().enumerate() {
        let l = chars(&line(row));
        let footer = 40 + title(label).as_deref().map_or(0, chars);
        let (new_embed, added) =
            if description == 0 || description + 1 + l > MAX_DESCRIPTION { (true, l + footer) } else { (false, l + 1) };
        if (new_embed && embeds == MAX_EMBEDS) || total + added > MAX_TOTAL {
            return i.max(1);
        }
        if new_embed {
            embeds += 1;
            description = l;
        } else {
            description += 1 + l;
        }
        total += added;
    }
    rows.len()
}

/// Discord nonces are at most 25 characters: the batch's first message id without its first
/// character (the ULID's most significant time digit, the same for centuries).
pub fn nonce(first_id: &str) -> String {
    first_id.chars().skip(1).take(25).collect()
}

/// The size Discord counts for a request's embeds (title, description, field names and
/// values, footer text, author name).
pub fn embeds_size(body: &Value) -> usize {
    let text = |v: &Value| v.as_str().map_or(0, chars);
    body["embeds"]
        .as_array()
        .map(|embeds| {
            embeds
                .iter()
                .map(|e| {
                    text(&e["title"])
                        + text(&e["description"])
                        + text(&e["footer"]["text"])
                        + text(&e["author"]["name"])
                        + e["fields"]
                            .as_array()
                            .map_or(0, |f| f.iter().map(|f| text(&f["name"]) + text(&f["value"])).sum())
                })
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize, text: &str) -> message_log::Model {
        message_log::Model {
            id: format!("01JDZ{i:021}"),
            room: "lobby".into(),
            nickname: format!("n{i}"),
            ip: "192.0.2.1".into(),
            ip_tag: Some("abcd1234".into()),
            device_tag: None,
            text: text.into(),
            staff: false,
            discord_message_id: None,
            discord_batch: None,
            sent_at: chrono::Utc::now(),
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
            prev_id: None,
            prev_by_ip: None,
        }
    }

    #[test]
    fn edits_and_deletions_show_in_the_same_layout() {
        let mut rows: Vec<_> = (0..2).map(|i| row(i, "hello")).collect();
        rows[0].text = "fixed *typo*".into();
        rows[0].edited_at = Some(chrono::Utc::now());
        rows[1].deleted_at = Some(chrono::Utc::now());
        rows[1].deleted_by = Some(crate::message_log::BY_AUTHOR.into());
        assert!(!is_coalesced(&rows, None));
        let body = edit_payload(&rows, None, false);
        let embeds = body["embeds"].as_array().unwrap();
        assert_eq!(embeds[0]["description"], "fixed \\*typo\\* *(edited)*");
        assert_eq!(embeds[1]["description"], "~~hello~~ *(deleted by its author)*");
        assert_eq!(body["allowed_mentions"], json!({"parse": []}));
        let lines = edit_payload(&rows, None, true);
        let text = lines["embeds"][0]["description"].as_str().unwrap();
        assert!(text.contains("~~hello~~ *(deleted by its author)*"), "{text}");
        // A longer edit is cut to fit Discord's total.
        let mut long: Vec<_> = (0..3).map(|i| row(i, &"x".repeat(1900))).collect();
        long[1].text = "y".repeat(4000);
        let body = edit_payload(&long, None, false);
        assert!(embeds_size(&body) <= MAX_TOTAL, "{}", embeds_size(&body));
    }

    #[test]
    fn markdown_and_mentions_are_escaped() {
        assert_eq!(escape_markdown("@everyone <@123> **bold**"), "\\@everyone \\<\\@123\\> \\*\\*bold\\*\\*");
        assert_eq!(escape_markdown("plain words"), "plain words");
    }

    #[test]
    fn inline_visitor_text_is_one_inert_line() {
        let masked = "[Discord Support](https://evil.example)\n# Heading\r\n- row";
        let line = inline(masked);
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
        assert_eq!(line, "\\[Discord Support\\]\\(https\\://evil.example\\) \\# Heading  \\- row");
    }

    #[test]
    fn a_small_backlog_goes_out_one_embed_per_message() {
        let rows: Vec<_> = (0..3).map(|i| row(i, "hello")).collect();
        assert_eq!(plan(&rows, None), 3);
        let body = payload(&rows, &nonce(&rows[0].id), None);
        let embeds = body["embeds"].as_array().unwrap();
        assert_eq!(embeds.len(), 3);
        assert_eq!(embeds[0]["author"]["name"], "n0");
        assert_eq!(embeds[0]["footer"]["text"], "abcd1234 · #lobby");
        assert_eq!(body["allowed_mentions"], json!({"parse": []}));
        assert_eq!(body["enforce_nonce"], true);
        assert_eq!(body["nonce"].as_str().unwrap().chars().count(), 25);
    }

    #[test]
    fn long_messages_respect_the_6000_total() {
        let rows: Vec<_> = (0..5).map(|i| row(i, &"x".repeat(2000))).collect();
        let n = plan(&rows, None);
        assert_eq!(n, 2);
        assert!(embeds_size(&payload(&rows[..n], "n", None)) <= MAX_TOTAL);
    }

    #[test]
    fn a_backlog_coalesces_within_every_limit() {
        let rows: Vec<_> = (0..300).map(|i| row(i, &format!("message number {i} with some words"))).collect();
        let n = plan(&rows, None);
        assert!(n > MAX_EMBEDS, "coalescing carries more than 10 messages: {n}");
        let body = payload(&rows[..n], "n", None);
        let embeds = body["embeds"].as_array().unwrap();
        assert!(embeds.len() <= MAX_EMBEDS);
        assert!(embeds_size(&body) <= MAX_TOTAL, "{}", embeds_size(&body));
        for e in embeds {
            assert!(chars(e["description"].as_str().unwrap()) <= MAX_DESCRIPTION);
        }
        let text: String = embeds.iter().map(|e| e["description"].as_str().unwrap().to_owned()).collect();
        assert!(text.contains("message number 0 ") && text.contains(&format!("message number {} ", n - 1)));
        assert!(!text.contains(&format!("message number {} ", n)));
        // Long texts in a backlog still fit.
        let long: Vec<_> = (0..30).map(|i| row(i, &"*".repeat(2000))).collect();
        let n = plan(&long, None);
        assert!(n >= 1);
        assert!(embeds_size(&payload(&long[..n], "n", None)) <= MAX_TOTAL);
    }

    #[test]
    fn posts_outside_the_rooms_thread_carry_the_room_as_title_within_every_limit() {
        let label = "Visitor room *Movie* night · #v-abc";
        let rows: Vec<_> = (0..3).map(|i| row(i, "hello")).collect();
        let body = payload(&rows, "n", Some(label));
        for e in body["embeds"].as_array().unwrap() {
            assert_eq!(e["title"], "Visitor room \\*Movie\\* night · \\#v\\-abc");
        }
        for rows in [
            (0..5).map(|i| row(i, &"x".repeat(2000))).collect::<Vec<_>>(),
            (0..300).map(|i| row(i, &format!("message number {i} with some words"))).collect(),
        ] {
            let n = plan(&rows, Some(label));
            let body = payload(&rows[..n], "n", Some(label));
            assert!(embeds_size(&body) <= MAX_TOTAL, "{}", embeds_size(&body));
            assert!(body["embeds"].as_array().unwrap().iter().all(|e| e["title"].is_string()));
        }
    }
}
