//! The Discord side of the bot (poise + serenity): the gateway connection, the events that flow
//! back to web rooms (staff messages, edits, deletions), channel creation for rooms, the
//! moderator commands, and the [`mirror`] of web messages into channels (staff rooms) and
//! [`threads`] (visitor rooms and roulette pairs).
//!
//! Serenity is pointed at `DISCORD_API_BASE` (the fake Discord in tests) with its `proxy`
//! setting, which only takes effect with serenity's own rate limiter disabled; that is fine
//! because serenity carries only low-volume calls here (command registration and replies). The
//! one high-volume call, posting mirrored messages, goes through [`rest::Rest`], which paces
//! itself by Discord's rate-limit headers and retries 429s, identically in production and tests.
//!
//! * [`access`]: who may run which command (one table, guild-level permissions);
//! * `commands`: the slash commands and message menus, one file per topic;
//! * `events`: what flows back from Discord into web rooms, and the channel keeper;
//! * `staff_replies`: what a moderator's Discord reply answers on the web (`reply_to`);
//! * [`mirror`]: web messages into Discord, one worker per room;
//! * [`embeds`]: web messages as embeds within Discord's limits;
//! * [`modlog`]: the mod-log posts of cases, posted and edited to match;
//! * [`threads`]: the threads of visitor rooms and roulette pairs;
//! * [`appeals`]: appeals' threads, their buttons and staff replies to the visitor;
//! * [`privacy`]: every channel the bot makes is private to staff;
//! * [`reactions`]: moderators' reactions in Discord, shown on the web as staff reactions;
//! * [`reports`]: visitors' reports posted to the reports channel, and their buttons;
//! * [`rest`]: the REST calls the bot makes itself, with the rate-limit headers in view;
//! * [`budget`]: the global request budget every REST call waits in, urgent ones first;
//! * [`retry`]: the bot's retry helper with the Discord side's policies and REST outcomes;
//! * [`unavailable`]: the database check before every command, and the answer when it is away;
//! * this file: settings, startup, the permission check and `on_error`, where every failed
//!   command and event ends up.

pub mod access;
pub mod appeals;
pub mod budget;
pub mod embeds;
pub mod mirror;
pub mod modlog;
pub mod privacy;
pub mod reactions;
pub mod reports;
pub mod rest;
pub mod retry;
pub mod threads;
pub mod unavailable;

mod commands;
mod events;
mod staff_replies;

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use poise::serenity_prelude as serenity;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};

pub use mirror::{Job, Mirror, MirrorConfig};
pub use reports::Reports;

/// What poise hands every command and event handler.
pub struct Data {
    pub db: DatabaseConnection,
    /// Staff messages are logged through the same log as the web's, which chains each room.
    pub log: crate::message_log::MessageLog,
    pub bus: Arc<dyn Bus>,
    pub guild: serenity::GuildId,
    pub content_warned: std::sync::atomic::AtomicBool,
    pub rest: rest::Rest,
    /// Channel that every moderator action is posted to.
    pub modlog: Option<u64>,
    /// Role whose members may moderate besides those with Manage Messages.
    pub moderator_role: Option<u64>,
    /// `MAX_FILTERS`: `/filter add` refuses more.
    pub max_filters: usize,
    /// Role whose members may run the destructive commands besides those with Manage Server.
    pub admin_role: Option<u64>,
    /// Reports name the reporter by IP tag.
    pub tagger: crate::iptag::IpTagger,
    /// `WARN_LADDER`: what `/warn` leads to.
    pub warn_ladder: crate::warnings::Ladder,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Context<'a> = poise::Context<'a, Data, Error>;

/// `DISCORD_*` settings.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    pub token: SecretString,
    pub guild: u64,
    /// `DISCORD_API_BASE`: unset for Discord itself, the fake's address in tests.
    pub api_base: Option<String>,
    /// `DISCORD_CATEGORY_ID`: category that room channels are created under.
    pub category: Option<u64>,
    /// `DISCORD_MODLOG_CHANNEL_ID`: where moderator actions are posted.
    pub modlog: Option<u64>,
    /// `DISCORD_MODERATOR_ROLE_ID`: members with this role may moderate too, and see the rooms.
    pub moderator_role: Option<u64>,
    /// `DISCORD_ADMIN_ROLE_ID`: members with this role may run the destructive commands too.
    pub admin_role: Option<u64>,
    /// `DISCORD_VISITOR_CHANNEL_ID`: parent channel of the visitor rooms' threads; unset = a
    /// text channel named [`threads::VISITOR_PARENT_NAME`], found or created under the category.
    pub visitor_parent: Option<u64>,
    /// `DISCORD_ROULETTE_CHANNEL_ID`: parent channel of the roulette pairs' threads; unset = a
    /// text channel named [`threads::ROULETTE_PARENT_NAME`], found or created under the category.
    pub roulette_parent: Option<u64>,
    /// `DISCORD_APPEALS_CHANNEL_ID`: channel of the appeals' threads; unset = a private text
    /// channel named [`appeals::CHANNEL_NAME`], found or created under the category.
    pub appeals_channel: Option<u64>,
    pub mirror: MirrorConfig,
    /// `MAX_FILTERS`: most word and regex filters kept.
    pub max_filters: usize,
    /// `DISCORD_REPORTS_CHANNEL_ID`: where reports go; unset = a text channel named
    /// [`reports::channel::NAME`], found or created (private) under the category.
    pub reports: Option<u64>,
    /// The bot's global request budget (Discord allows 50 requests a second).
    pub budget: budget::Limits,
    /// `WARN_LADDER`: what warnings lead to.
    pub warn_ladder: crate::warnings::Ladder,
}

/// Why the Discord side stopped.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error(transparent)]
    Rest(#[from] rest::RestError),
    #[error(
        "Discord refused the gateway connection: {0}. If it names intents, enable MESSAGE CONTENT INTENT \
         for the bot in the Discord Developer Portal; if it names the token, check DISCORD_TOKEN."
    )]
    Gateway(String),
}

/// Everything the Discord side runs: the REST client for the mirror and the serenity client.
pub struct Discord {
    pub mirror: Mirror,
    pub reports: Reports,
    rest: rest::Rest,
    config: DiscordConfig,
    db: DatabaseConnection,
    log: crate::message_log::MessageLog,
    bus: Arc<dyn Bus>,
    tagger: crate::iptag::IpTagger,
}

/// Permissions the bot needs in the guild.
fn required_permissions() -> serenity::Permissions {
    use serenity::Permissions as P;
    P::VIEW_CHANNEL
        | P::SEND_MESSAGES
        | P::EMBED_LINKS
        | P::READ_MESSAGE_HISTORY
        | P::ADD_REACTIONS
        | P::MANAGE_CHANNELS
        | P::MANAGE_MESSAGES
        | P::CREATE_PUBLIC_THREADS
        | P::SEND_MESSAGES_IN_THREADS
        | P::MANAGE_THREADS
}

impl Discord {
    pub fn new(
        config: DiscordConfig,
        db: DatabaseConnection,
        log: crate::message_log::MessageLog,
        bus: Arc<dyn Bus>,
        tagger: crate::iptag::IpTagger,
        auto_mute: Duration,
    ) -> Result<Self, DiscordError> {
        let rest = rest::Rest::with_budget(config.api_base.as_deref(), config.token.expose_secret(), config.budget)?;
        let parents = threads::Parents::new(&config, rest.clone(), db.clone());
        let mirror = Mirror::new(rest.clone(), db.clone(), log.clone(), bus.clone(), config.mirror.clone(), parents);
        let reports = Reports::new(&config, &rest, db.clone(), log.clone(), tagger.clone(), bus.clone(), auto_mute);
        Ok(Self { mirror, reports, rest, config, db, log, bus, tagger })
    }

    /// Connect and serve until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) -> Result<(), DiscordError> {
        let Self { mirror, reports, rest, config, db, log, bus, tagger } = self;
        let channels = crate::health::spawn(
            "channel upkeep",
            events::keep_channels(db.clone(), rest.clone(), config.clone(), mirror.clone()),
        );
        let poster = crate::health::spawn("report poster", reports.run());
        let desk = appeals::spawn(db.clone(), rest.clone(), config.clone());
        let mut http = serenity::HttpBuilder::new(config.token.expose_secret());
        if let Some(base) = &config.api_base {
            http = http.proxy(base.trim_end_matches('/')).ratelimiter_disabled(true);
        }
        let guild = serenity::GuildId::new(config.guild);
        let data = Data {
            db,
            log,
            bus,
            guild,
            content_warned: std::sync::atomic::AtomicBool::new(false),
            rest,
            modlog: config.modlog,
            moderator_role: config.moderator_role,
            max_filters: config.max_filters,
            admin_role: config.admin_role,
            tagger,
            warn_ladder: config.warn_ladder.clone(),
        };
        if config.moderator_role.is_none() {
            tracing::warn!(
                "DISCORD_MODERATOR_ROLE_ID is unset: the room channels are private, so only administrators \
                 (and members with Manage Messages in the server) will see the rooms"
            );
        }
        let framework = poise::Framework::builder()
            .options(framework_options())
            .setup(move |ctx, ready, framework| {
                Box::pin(async move {
                    tracing::info!(user = %ready.user.name, "connected to Discord");
                    poise::builtins::register_in_guild(ctx, &framework.options().commands, guild).await?;
                    tracing::info!(%guild, "slash commands registered");
                    Ok(data)
                })
            })
            .build();
        let intents = serenity::GatewayIntents::GUILDS
            | serenity::GatewayIntents::GUILD_MESSAGES
            | serenity::GatewayIntents::MESSAGE_CONTENT
            // Not privileged: moderators' reactions on mirrored messages (`reactions`).
            | serenity::GatewayIntents::GUILD_MESSAGE_REACTIONS;
        let mut client = serenity::ClientBuilder::new_with_http(http.build(), intents)
            .framework(framework)
            .await
            .map_err(|e| DiscordError::Gateway(e.to_string()))?;
        let shards = client.shard_manager.clone();
        let result = tokio::select! {
            result = client.start() => result.map_err(|e| DiscordError::Gateway(e.to_string())),
            () = shutdown => {
                shards.shutdown_all().await;
                Ok(())
            }
        };
        channels.abort();
        poster.abort();
        desk.abort();
        result
    }
}

/// The commands, the permission check before each, where errors go, and the event handler.
fn framework_options() -> poise::FrameworkOptions<Data, Error> {
    poise::FrameworkOptions {
        commands: commands::all(),
        command_check: Some(|ctx| Box::pin(access::command_check(ctx))),
        on_error: |error| Box::pin(on_error(error)),
        event_handler: |framework, event| {
            Box::pin(events::handle(framework.serenity_context, event, framework.user_data))
        },
        allowed_mentions: Some(serenity::CreateAllowedMentions::new().empty_users().empty_roles()),
        ..Default::default()
    }
}

/// Log what the bot lacks in the guild, once it is known.
pub(crate) fn check_permissions(guild: &serenity::Guild, bot: serenity::UserId) {
    let Some(member) = guild.members.get(&bot) else {
        tracing::warn!("the bot is not among the guild's members; cannot check its permissions");
        return;
    };
    let missing = required_permissions() - guild.member_permissions(member);
    if missing.is_empty() {
        tracing::info!(guild = %guild.name, "the bot has every permission it needs");
    } else {
        tracing::error!(guild = %guild.name, missing = ?missing, "the bot lacks permissions; grant them to its role");
    }
}

/// How long the channel keeper waits between rounds.
pub(crate) const CHANNEL_ROUND: Duration = Duration::from_secs(5);

/// The one place errors of commands and events end up: logged, and told to the moderator.
async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        poise::FrameworkError::Setup { error, .. } => tracing::error!(%error, "Discord setup failed"),
        poise::FrameworkError::Command { error, ctx, .. } => {
            tracing::error!(command = %ctx.command().name, %error, "command failed");
            let text = if unavailable::is_unavailable(&*error) {
                unavailable::ANSWER.to_owned()
            } else {
                format!("That failed: {error}")
            };
            let _ = ctx.send(poise::CreateReply::default().content(text).ephemeral(true)).await;
        }
        poise::FrameworkError::CommandCheckFailed { ctx, error: Some(error), .. }
            if unavailable::is_unavailable(&*error) =>
        {
            tracing::error!(command = %ctx.command().qualified_name, %error, "refused a command: the database is unavailable");
            let reply = poise::CreateReply::default().content(unavailable::ANSWER).ephemeral(true);
            let _ = ctx.send(reply).await;
        }
        poise::FrameworkError::CommandCheckFailed { ctx, error, .. } => {
            if let Some(error) = error {
                tracing::error!(%error, "permission check failed");
            }
            let needed = access::needed(&ctx.command().qualified_name);
            tracing::info!(
                command = %ctx.command().qualified_name,
                user = %ctx.author().id,
                "refused a command to a member without the permission it needs"
            );
            let text = format!("You may not use this command: it needs {}.", needed.describe());
            let _ = ctx.send(poise::CreateReply::default().content(text).ephemeral(true)).await;
        }
        poise::FrameworkError::EventHandler { error, event, .. } => {
            tracing::error!(event = %event.snake_case_name(), %error, "Discord event handling failed");
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::error!(error = %e, "error while handling an error");
            }
        }
    }
}
