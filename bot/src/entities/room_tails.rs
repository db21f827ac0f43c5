use sea_orm::entity::prelude::*;

/// Each room's latest logged message, where a walk back through its history starts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "room_tails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub room: String,
    pub last_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
