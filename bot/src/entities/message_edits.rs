use sea_orm::entity::prelude::*;

/// An author's edit or deletion of its message, with the text it replaced (see
/// `crate::message_log::changes`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_edits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The message's ULID.
    pub message_id: String,
    pub room: String,
    /// `edit` or `delete`.
    pub kind: String,
    /// The text before the change (`None` when the message was not in the log); erased after
    /// `TEXT_RETENTION_DAYS`.
    pub text_before: Option<String>,
    /// An edit's new text; erased with `text_before`.
    pub text_after: Option<String>,
    pub at: DateTimeUtc,
    /// The author's address when it made the change; erased after `RETENTION_DAYS`.
    pub ip: String,
    pub ip_tag: Option<String>,
    pub device_tag: Option<String>,
    /// Made under a shadow mute (nobody else saw it).
    pub shadow: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
