use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trusted_tags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tag: String,
    /// JSON array of CIDR networks.
    pub networks: String,
    /// JSON array of device tags.
    pub devices: String,
    pub moderator: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
