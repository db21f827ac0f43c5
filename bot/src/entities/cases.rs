use sea_orm::entity::prelude::*;

/// A numbered moderator action (see `crate::cases`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `ban`, `unban`, `mute`, `unmute`, `warn`, `kick`, `purge`, `filter_add`, …
    pub kind: String,
    /// The target as staff see it (a tag, a room, `ban #3 (address)`): never an address.
    pub target: String,
    /// What warnings are counted by: `tag:<tag>` or `net:<networks>`.
    pub subject: Option<String>,
    pub actor: String,
    pub reason: String,
    /// What was done, in words (ban numbers, how long, …).
    pub details: String,
    pub created_at: DateTimeUtc,
    /// When the ban or mute of this case ends; `None` = until lifted (or not a sanction).
    pub expires_at: Option<DateTimeUtc>,
    /// The mod-log post showing this case.
    pub modlog_channel: Option<i64>,
    pub modlog_message: Option<i64>,
    /// The device tag of the target, when known: warnings count per device too.
    pub device: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
