use sea_orm::entity::prelude::*;

/// A queue entry the bot gave up on (see `crate::dead_letters`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The queue entry's id.
    pub entry_id: String,
    /// `message`, `room_opened`, `room_closed` or `report`.
    pub kind: String,
    pub room: Option<String>,
    /// A message's ULID.
    pub message_id: Option<String>,
    /// The event as JSON, without the sender's address.
    pub payload: String,
    /// The sender's address, erased after `RETENTION_DAYS`.
    pub ip: Option<String>,
    /// The last error.
    pub error: String,
    pub attempts: i32,
    pub failed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
