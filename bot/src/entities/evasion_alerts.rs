use sea_orm::entity::prelude::*;

/// One ban-evasion alert message: a case's possible evasions within 10 minutes (see
/// `crate::evasion`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evasion_alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    /// `ban` or `mute`: what the case's sanction is.
    pub kind: String,
    /// The ban or mute first matched (its reason, expiry and shadow flag are copied by *Extend*).
    pub sanction_id: i64,
    pub opened_at: DateTimeUtc,
    pub last_at: DateTimeUtc,
    /// Joins counted, all pairs together.
    pub joins: i64,
    /// The distinct (address, device) pairs, JSON (`crate::evasion::Pair`), at most
    /// `crate::evasion::PAIRS_MAX`.
    pub pairs: String,
    /// `open`, `extended`, `ignored`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// Changed since Discord last showed it.
    pub dirty: bool,
    pub discord_channel_id: Option<i64>,
    pub discord_message_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
