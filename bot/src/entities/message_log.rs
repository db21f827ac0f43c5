use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_log")]
pub struct Model {
    /// The message's ULID, as sent to clients.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub room: String,
    pub nickname: String,
    pub ip: String,
    pub ip_tag: Option<String>,
    /// The sender's device tag, if its client sent a device token (erased with `ip`).
    pub device_tag: Option<String>,
    pub text: String,
    pub staff: bool,
    /// The Discord message carrying it; shared by the messages of one batch.
    pub discord_message_id: Option<i64>,
    /// The mirror batch this message was planned into (the batch's first message id).
    pub discord_batch: Option<String>,
    pub sent_at: DateTimeUtc,
    pub edited_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    /// `author` when its sender took it back (`delete`); `None` otherwise (a moderator's).
    pub deleted_by: Option<String>,
    /// The message logged before this one in the same room (`None` for a room's first): a
    /// room's history is a walk back from its `room_tails` row.
    pub prev_id: Option<String>,
    /// The message logged before this one from the same address and tag (`None` for staff,
    /// for a sender's first, and once retention erased the address): a tag's messages are a
    /// walk back from its `visitor_tails` rows.
    pub prev_by_ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
