use sea_orm::entity::prelude::*;

/// A visitor's appeal of a case (see `crate::appeals`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "appeals")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 32 hex digits: the visitor's only key to the appeal.
    pub token: String,
    /// The case appealed (the `cases` table's number).
    pub case_no: i64,
    /// The ban of the case in force on the visitor, when it is a ban.
    pub ban_id: Option<i64>,
    /// The mute of the case in force on the visitor, when it is a mute.
    pub mute_id: Option<i64>,
    /// `open`, `lifted`, `shortened` or `denied`.
    pub state: String,
    pub text: String,
    /// The caller's address, erased after `RETENTION_DAYS`.
    pub ip: Option<String>,
    /// The caller's IP tag (kept with the address, erased with it).
    pub ip_tag: Option<String>,
    /// Staff replies, JSON `[{at, text}]`, oldest first, at most 50.
    pub replies: String,
    /// After *Shorten*: when the sanction ends now.
    pub expires_at: Option<DateTimeUtc>,
    /// Who decided (`discord:<id>`), and when.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The appeal's thread in the appeals channel, once posted.
    pub discord_thread_id: Option<i64>,
    /// The message with the buttons, in that thread.
    pub discord_message_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
