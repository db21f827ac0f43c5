//! Writing: a batch's rows chained onto their rooms' and senders' previous messages, and the
//! tails moved to the newest, in one transaction.

use std::collections::{HashMap, HashSet};

use protocol::LoggedMessage;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};

use super::{Delivery, Entry, MessageLog};
use crate::BotError;
use crate::entities::{message_log, room_tails, visitor_tails};
use crate::iptag::IpTagger;

/// How many rooms' tails a log keeps in memory; past that it forgets them all and reads them
/// back as rooms come up (visitor rooms and roulette pairs come and go by the thousand).
const MAX_KNOWN_TAILS: usize = 10_000;

/// Tails as far as known, each map forgotten whole when it grows past [`MAX_KNOWN_TAILS`].
#[derive(Default)]
pub(super) struct Known {
    /// Room → its latest message.
    rooms: HashMap<String, String>,
    /// Address → its latest message. An address has one tag while the process runs (the
    /// tagging key is read at start), so the address alone keys its (tag, address) tail here.
    senders: HashMap<String, String>,
}

/// What a write moved: rooms' and senders' new tails.
#[derive(Default)]
struct Moved {
    rooms: Vec<(String, String)>,
    senders: Vec<(String, String)>,
}

/// Remember `moved` in `known`, or start over when it would grow past the cap.
fn remember(known: &mut HashMap<String, String>, moved: Vec<(String, String)>) {
    if known.len() + moved.len() > MAX_KNOWN_TAILS {
        known.clear();
    }
    known.extend(moved);
}
impl MessageLog {
    /// Write messages with their senders' IP tags; ids already logged are skipped, so a
    /// redelivered queue entry is harmless.
    pub async fn record(
        &self,
        messages: &[LoggedMessage],
        tagger: &IpTagger,
        delivery: Delivery,
    ) -> Result<(), BotError> {
        let entries: Vec<Entry<'_>> = messages
            .iter()
            .map(|m| Entry {
                message: &m.message,
                ip: m.ip.to_string(),
                ip_tag: Some(tagger.describe(m.ip)),
                device_tag: m.device.as_deref(),
                discord_message_id: None,
            })
            .collect();
        self.insert(&entries, delivery).await
    }

    /// Write entries in one transaction, each chained onto the previous message of its room
    /// and of its sender, and move the rooms' and senders' tails to their newest. Entries whose
    /// id is logged already are left out (looked for when `delivery` says they may be), so a
    /// tail never moves back to a message it had passed.
    pub async fn insert(&self, entries: &[Entry<'_>], delivery: Delivery) -> Result<(), BotError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut known = self.tails.lock().await;
        match self.write(entries, delivery, &mut known).await {
            Ok(moved) => {
                remember(&mut known.rooms, moved.rooms);
                remember(&mut known.senders, moved.senders);
                Ok(())
            }
            Err(e) => {
                // It may have been written after all (a connection lost at commit): read the
                // tails back rather than guess.
                *known = Known::default();
                Err(e)
            }
        }
    }

    /// The write itself; returns the new tails.
    async fn write(&self, entries: &[Entry<'_>], delivery: Delivery, known: &mut Known) -> Result<Moved, BotError> {
        let db = &self.db;
        let ids: Vec<String> = entries.iter().map(|e| e.message.id.to_string()).collect();
        // Reads come before the transaction: a SQLite transaction that reads first and writes
        // later fails when another connection wrote in between. Only this log writes tails,
        // one write at a time, so what is read here is still current when the transaction runs.
        let logged: HashSet<String> = match delivery {
            Delivery::First => HashSet::new(),
            Delivery::Again => message_log::Entity::find()
                .select_only()
                .column(message_log::Column::Id)
                .filter(message_log::Column::Id.is_in(ids.iter().map(String::as_str)))
                .into_tuple::<String>()
                .all(db)
                .await?
                .into_iter()
                .collect(),
        };
        let unknown: HashSet<&str> =
            entries.iter().map(|e| e.message.room.as_str()).filter(|room| !known.rooms.contains_key(*room)).collect();
        if !unknown.is_empty() {
            let stored = room_tails::Entity::find().filter(room_tails::Column::Room.is_in(unknown)).all(db).await?;
            known.rooms.extend(stored.into_iter().map(|tail| (tail.room, tail.last_id)));
        }
        let unknown: HashSet<(&str, &str)> = entries
            .iter()
            .filter_map(|e| Some((e.ip_tag.as_deref()?, e.ip.as_str())))
            .filter(|(_, ip)| !known.senders.contains_key(*ip))
            .collect();
        if !unknown.is_empty() {
            let stored = visitor_tails::Entity::find()
                .filter(visitor_tails::Column::IpTag.is_in(unknown.iter().map(|(tag, _)| *tag)))
                .filter(visitor_tails::Column::Ip.is_in(unknown.iter().map(|(_, ip)| *ip)))
                .all(db)
                .await?;
            known.senders.extend(
                stored
                    .into_iter()
                    .filter(|tail| unknown.contains(&(tail.ip_tag.as_str(), tail.ip.as_str())))
                    .map(|tail| (tail.ip, tail.last_id)),
            );
        }
        // Each room's and each sender's newest entry so far in this batch, and the rows to write.
        let mut tails: HashMap<&str, &str> = HashMap::new();
        let mut senders: HashMap<(&str, &str), usize> = HashMap::new();
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(entries.len());
        for (entry, id) in entries.iter().zip(&ids) {
            if logged.contains(id) {
                continue;
            }
            let m = entry.message;
            let prev_id = match tails.insert(m.room.as_str(), id.as_str()) {
                Some(prev) => Some(prev.to_owned()),
                None => known.rooms.get(&m.room).cloned(),
            };
            // Staff messages have no sender chain.
            let prev_by_ip = match entry.ip_tag.as_deref() {
                Some(tag) => match senders.insert((tag, entry.ip.as_str()), rows.len()) {
                    Some(prev) => rows.get(prev).map(|row| row.id.to_owned()),
                    None => known.senders.get(&entry.ip).cloned(),
                },
                None => None,
            };
            rows.push(Row { id, entry, prev_id, prev_by_ip });
        }
        if rows.is_empty() {
            return Ok(Moved::default());
        }
        let rooms: Vec<(String, String)> =
            tails.into_iter().map(|(room, id)| (room.to_owned(), id.to_owned())).collect();
        let newest: Vec<&Row<'_>> = senders.into_values().filter_map(|i| rows.get(i)).collect();
        match db.get_database_backend() {
            DbBackend::Postgres => super::postgres::write(db, &rows, &rooms, &newest).await?,
            // SQLite, the only other backend the product opens.
            _ => super::sqlite::write(db, &rows, &rooms, &newest).await?,
        }
        let senders = newest.iter().map(|row| (row.entry.ip.clone(), row.id.to_owned())).collect();
        Ok(Moved { rooms, senders })
    }
}

/// One row of a write: the entry, its id as text and the messages before it in its room and
/// from its sender.
pub(super) struct Row<'a> {
    pub(super) id: &'a str,
    pub(super) entry: &'a Entry<'a>,
    pub(super) prev_id: Option<String>,
    pub(super) prev_by_ip: Option<String>,
}
