//! The reports channel: `DISCORD_REPORTS_CHANNEL_ID`, or a text channel named [`NAME`] under
//! `DISCORD_CATEGORY_ID` (found by name there only), or without a category the one the bot
//! created before (its id kept in `settings`), or else created, private to staff like every
//! channel the bot makes ([`crate::discord::privacy`]). A channel that merely has the name
//! elsewhere is never adopted: anyone with Manage Channels could otherwise make a public
//! `reports` channel and read every report.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::Value;

use crate::discord::rest::{Rest, snowflake};
use crate::discord::{DiscordConfig, Error};
use crate::entities::settings;

/// Name of the reports channel when `DISCORD_REPORTS_CHANNEL_ID` is unset.
pub const NAME: &str = "reports";
/// The `settings` key of the reports channel the bot created.
const KEY: &str = "discord_reports_channel";

/// The reports channel the bot created, if any (for the privacy check).
pub async fn remembered(db: &DatabaseConnection) -> Result<Option<u64>, Error> {
    let row = settings::Entity::find_by_id(KEY).one(db).await?;
    Ok(row.and_then(|r| r.value.parse().ok()))
}

async fn remember(db: &DatabaseConnection, channel: u64) -> Result<(), Error> {
    let row = settings::ActiveModel { key: Set(KEY.to_owned()), value: Set(channel.to_string()) };
    settings::Entity::insert(row)
        .on_conflict(OnConflict::column(settings::Column::Key).update_column(settings::Column::Value).to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Find or create the reports channel.
pub async fn find_or_create(rest: &Rest, db: &DatabaseConnection, config: &DiscordConfig) -> Result<u64, Error> {
    if let Some(id) = config.reports {
        return Ok(id);
    }
    let remembered = remembered(db).await?;
    let existing = rest.guild_channels(config.guild).await?.into_iter().find_map(|c: Value| {
        let id = snowflake(&c["id"])?;
        let adoptable = match config.category {
            Some(category) => snowflake(&c["parent_id"]) == Some(category) && c["name"] == NAME,
            None => remembered == Some(id),
        };
        (c["type"].as_u64() == Some(0) && adoptable).then_some(id)
    });
    if let Some(id) = existing {
        tracing::info!(channel = id, "using the existing reports channel");
        return Ok(id);
    }
    let topic = "Visitors' reports: one thread per report, with the messages around it. Staff only.";
    let id = crate::discord::privacy::create_channel(rest, config, NAME, topic).await?;
    tracing::info!(channel = id, "created the reports channel (private to staff)");
    remember(db, id).await?;
    Ok(id)
}
