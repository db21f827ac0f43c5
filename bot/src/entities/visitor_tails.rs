use sea_orm::entity::prelude::*;

/// Each sender's latest logged message, per (IP tag, address): what a tag resolves to, and
/// where a walk back through that sender's messages starts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "visitor_tails")]
pub struct Model {
    /// The tag as logged (for IPv6, the address's tag, then the /64's).
    #[sea_orm(primary_key, auto_increment = false)]
    pub ip_tag: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ip: String,
    pub last_id: String,
    /// When that message was sent: retention drops the row with the address.
    pub last_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
