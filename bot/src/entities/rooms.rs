use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub topic: String,
    pub capacity: i32,
    pub listed: bool,
    pub locked: bool,
    pub slowmode_secs: i32,
    /// `refuse`, `inert` or `allow`: links from visitors in the trust tier.
    pub links: String,
    pub discord_channel_id: Option<i64>,
    pub discord_thread_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
