//! Word and regex filters: `/filter add`, `/filter remove` and `/filter list`.

use super::{actor, record, reply};
use crate::discord::{Context, Error};

/// What a filter does.
#[derive(Debug, poise::ChoiceParameter)]
pub enum FilterMode {
    #[name = "block"]
    Block,
    #[name = "mask"]
    Mask,
}

/// Manage word and regex filters.
#[poise::command(
    slash_command,
    guild_only,
    ephemeral,
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("filter_add", "filter_remove", "filter_list")
)]
pub async fn filter(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Block or mask a word (whole word, any case) or a regular expression.
#[poise::command(slash_command, rename = "add", ephemeral)]
async fn filter_add(
    ctx: Context<'_>,
    #[description = "A word, or a regular expression with regex:true"] pattern: String,
    #[description = "block (refuse the message) or mask (replace with ***)"] action: Option<FilterMode>,
    #[description = "Treat the pattern as a regular expression"] regex: Option<bool>,
) -> Result<(), Error> {
    let data = ctx.data();
    let action = match action.unwrap_or(FilterMode::Block) {
        FilterMode::Block => protocol::FilterAction::Block,
        FilterMode::Mask => protocol::FilterAction::Mask,
    };
    let row =
        crate::filters::add(&data.db, &pattern, regex.unwrap_or(false), action, &actor(ctx), data.max_filters).await?;
    crate::filters::publish(&data.db, data.bus.as_ref()).await?;
    let details = format!("{} {:?}", row.action, row.pattern);
    record(ctx, "filter_add", &format!("filter #{}", row.id), "", &details).await?;
    reply(
        ctx,
        format!(
            "Filter #{} added: {} `{}`. Every gateway applies it now.",
            row.id,
            row.action,
            row.pattern.replace('`', "'")
        ),
    )
    .await
}

/// Remove a filter by its number.
#[poise::command(slash_command, rename = "remove", ephemeral)]
async fn filter_remove(
    ctx: Context<'_>,
    #[description = "The filter's number, from /filter list"] id: i64,
) -> Result<(), Error> {
    let data = ctx.data();
    crate::filters::remove(&data.db, id).await?;
    crate::filters::publish(&data.db, data.bus.as_ref()).await?;
    record(ctx, "filter_remove", &format!("filter #{id}"), "", "").await?;
    reply(ctx, format!("Filter #{id} removed.")).await
}

/// List the filters.
#[poise::command(slash_command, rename = "list", ephemeral)]
async fn filter_list(ctx: Context<'_>) -> Result<(), Error> {
    let rows = crate::filters::list(&ctx.data().db).await?;
    if rows.is_empty() {
        return reply(ctx, "No filters.").await;
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|f| {
            format!(
                "#{} {} {} `{}`",
                f.id,
                f.action,
                if f.is_regex { "regex" } else { "word" },
                f.pattern.replace('`', "'")
            )
        })
        .collect();
    reply(ctx, lines.join("\n")).await
}
