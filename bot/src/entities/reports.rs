use sea_orm::entity::prelude::*;

/// A visitor's report of a message (see `crate::reports`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The reported message's ULID.
    pub message_id: String,
    pub room: String,
    /// The reported message's nickname; erased (empty) after `TEXT_RETENTION_DAYS`.
    pub reported_nick: String,
    /// The sender's IP tag, from the message log (`None` until the message is found there).
    pub reported_tag: Option<String>,
    /// `spam`, `harassment`, `sexual`, `hate`, `minor_safety` or `other`.
    pub reason: String,
    /// The reporter's note; erased after `TEXT_RETENTION_DAYS`.
    pub note: Option<String>,
    /// The reporting connection (`gateway:conn`), where `report_outcome` goes.
    pub reporter: String,
    /// The reporter's address; `erased` after `RETENTION_DAYS`.
    pub reporter_ip: String,
    /// The reporter's device tag; erased (`None`) with the address.
    pub reporter_device: Option<String>,
    pub reporter_since: DateTimeUtc,
    pub created_at: DateTimeUtc,
    /// `open`, `banned`, `muted` or `dismissed`.
    pub state: String,
    /// Who decided (`discord:<id> (<name>)`, or `auto` for the automatic mute).
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// How long its *Mute* muted, in seconds (the moderator's choice; `None` unless muted).
    pub mute_secs: Option<i64>,
    /// This report's count brought the automatic mute of its tag.
    pub auto_muted: bool,
    /// Where the report was posted: the reports channel, its message, the thread started from it.
    pub discord_channel_id: Option<i64>,
    pub discord_message_id: Option<i64>,
    pub discord_thread_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
