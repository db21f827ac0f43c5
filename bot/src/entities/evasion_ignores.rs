use sea_orm::entity::prelude::*;

/// An (IP tag, device tag) pair staff told to ignore for one case (see `crate::evasion`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evasion_ignores")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub ip_tag: String,
    /// The device tag, or empty for a connection without one.
    pub device: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
