//! Who may do what on the staff side: one table for every command, menu and button.
//!
//! An interaction's `member.permissions` is computed by Discord for the channel the interaction
//! runs in, overwrites included: someone given Manage Messages in one channel would pass a
//! check on it. So the bot never reads it. It computes **guild-level** permissions itself, from
//! the guild's roles in serenity's cache and the member's roles (which are guild-wide): the
//! @everyone role's permissions OR every role's, everything for the owner and for
//! Administrator. On top of that:
//!
//! * [`Level::Moderator`]: the moderator role (`DISCORD_MODERATOR_ROLE_ID`) or guild-level
//!   Manage Messages;
//! * [`Level::Admin`]: the admin role (`DISCORD_ADMIN_ROLE_ID`) or guild-level Manage Guild
//!   (Administrator and the owner have it).
//!
//! A command missing from [`TABLE`] needs [`Level::Admin`] (fail closed); a unit test in
//! `commands` keeps the table and the registered commands in step.

use poise::serenity_prelude as serenity;

use super::{Context, Data, Error};

/// What a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The moderator role or guild-level Manage Messages.
    Moderator,
    /// The admin role or guild-level Manage Guild.
    Admin,
}

impl Level {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Moderator => "the moderator role or Manage Messages in the server",
            Self::Admin => "the admin role or Manage Server",
        }
    }
}

/// Every command (by its qualified name: `room delete`, `ban_author`) and what it needs. Some
/// commands check more inside: `/ban` by IP or CIDR and `/unban` of another moderator's ban
/// need [`Level::Admin`].
pub const TABLE: &[(&str, Level)] = &[
    ("room", Level::Moderator),
    ("room create", Level::Moderator),
    ("room edit", Level::Moderator),
    ("room list", Level::Moderator),
    ("room delete", Level::Admin),
    ("room links", Level::Moderator),
    ("ban", Level::Moderator),
    ("unban", Level::Moderator),
    ("bans", Level::Moderator),
    ("kick", Level::Moderator),
    ("lookup", Level::Moderator),
    ("purge", Level::Moderator),
    ("filter", Level::Moderator),
    ("filter list", Level::Moderator),
    ("filter add", Level::Admin),
    ("filter remove", Level::Admin),
    ("mute", Level::Moderator),
    ("unmute", Level::Moderator),
    ("warn", Level::Moderator),
    ("case", Level::Moderator),
    ("reason", Level::Moderator),
    ("duration", Level::Moderator),
    ("shield", Level::Moderator),
    ("trust", Level::Moderator),
    ("untrust", Level::Moderator),
    ("links", Level::Moderator),
    ("links allow", Level::Moderator),
    ("links remove", Level::Moderator),
    ("links list", Level::Moderator),
    // Message context menus, by their command names ("Ban author", "Author's recent
    // messages", "Delete everywhere" in the client).
    ("ban_author", Level::Moderator),
    ("author_messages", Level::Moderator),
    ("delete_everywhere", Level::Moderator),
];

/// What `command` needs ([`Level::Admin`] when it is not in the table).
pub fn needed(command: &str) -> Level {
    TABLE.iter().find(|(name, _)| *name == command).map_or(Level::Admin, |(_, level)| *level)
}

/// Guild-level permissions of a member from the cached guild roles: None when the guild is not
/// cached (yet), which grants nothing.
pub fn guild_permissions(
    cache: &serenity::Cache,
    guild: serenity::GuildId,
    user: serenity::UserId,
    roles: &[serenity::RoleId],
) -> Option<serenity::Permissions> {
    let guild = cache.guild(guild)?;
    if guild.owner_id == user {
        return Some(serenity::Permissions::all());
    }
    let everyone = serenity::RoleId::new(guild.id.get());
    let permissions = std::iter::once(&everyone)
        .chain(roles)
        .filter_map(|id| guild.roles.get(id))
        .fold(serenity::Permissions::empty(), |acc, role| acc | role.permissions);
    Some(if permissions.administrator() { serenity::Permissions::all() } else { permissions })
}

/// The highest level a member reaches, if any.
pub fn level_of(
    cache: &serenity::Cache,
    data: &Data,
    user: serenity::UserId,
    roles: &[serenity::RoleId],
) -> Option<Level> {
    let has = |role: Option<u64>| role.is_some_and(|r| roles.contains(&serenity::RoleId::new(r)));
    let permissions = guild_permissions(cache, data.guild, user, roles).unwrap_or_else(serenity::Permissions::empty);
    if has(data.admin_role) || permissions.manage_guild() {
        Some(Level::Admin)
    } else if has(data.moderator_role) || permissions.manage_messages() {
        Some(Level::Moderator)
    } else {
        None
    }
}

/// Whether a member reaches `level`.
pub fn reaches(
    cache: &serenity::Cache,
    data: &Data,
    user: serenity::UserId,
    roles: &[serenity::RoleId],
    level: Level,
) -> bool {
    level_of(cache, data, user, roles).is_some_and(|l| l >= level)
}

/// The level of the member who runs a command.
async fn level_of_author(ctx: Context<'_>) -> Option<Level> {
    let member = ctx.author_member().await?;
    level_of(ctx.serenity_context().cache.as_ref(), ctx.data(), ctx.author().id, &member.roles)
}

/// Whether the member who runs a command reaches `level`: the one check behind the framework's
/// [`command_check`], the administrator-only parts of moderator commands and autocomplete.
pub async fn author_reaches(ctx: Context<'_>, level: Level) -> bool {
    level_of_author(ctx).await.is_some_and(|l| l >= level)
}

/// The framework's check before every command: the table, then (for those it lets through)
/// whether the database answers; when it does not, the command fails with
/// [`super::unavailable::DatabaseUnavailable`] before doing anything.
pub async fn command_check(ctx: Context<'_>) -> Result<bool, Error> {
    if !author_reaches(ctx, needed(&ctx.command().qualified_name)).await {
        return Ok(false);
    }
    super::unavailable::check(&ctx.data().db).await?;
    Ok(true)
}
