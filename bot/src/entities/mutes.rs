use sea_orm::entity::prelude::*;

/// A mute of one network (see `crate::mutes`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mutes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The case it belongs to.
    pub case_id: i64,
    /// An address or network in CIDR notation.
    pub network: String,
    /// The IP tag the mute was made by, when it was.
    pub ip_tag: Option<String>,
    /// A device tag the mute also covers.
    pub device: Option<String>,
    pub reason: String,
    pub moderator: String,
    /// Never told to the visitor; their messages reach nobody else.
    pub shadow: bool,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub lifted_at: Option<DateTimeUtc>,
    pub lifted_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
