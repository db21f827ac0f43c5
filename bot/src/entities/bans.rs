use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// An address or network in CIDR notation.
    pub network: String,
    /// The IP tag the ban was made by, when it was.
    pub ip_tag: Option<String>,
    pub reason: String,
    pub moderator: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub lifted_at: Option<DateTimeUtc>,
    pub lifted_by: Option<String>,
    /// The case it belongs to (`None` for bans made before cases existed).
    pub case_id: Option<i64>,
    /// A device tag the ban also covers, from any address.
    pub device: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
