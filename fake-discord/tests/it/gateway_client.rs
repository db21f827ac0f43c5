//! serenity's `Client` against the fake gateway: connect, identify, events, resume.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, channel_type};
use poise::serenity_prelude as serenity;
use tokio::sync::mpsc;

use crate::common::{http, id, next_matching, next_matching_for};

#[derive(Debug)]
enum Seen {
    Ready { session: String, guilds: usize },
    GuildCreate { id: u64, channels: usize, members: usize, roles: usize },
    ChannelCreate { name: String },
    Message { content: String, guild: Option<u64>, member_roles: Option<usize>, author_bot: bool },
    MessageUpdate { content: Option<String> },
    MessageDelete { id: u64 },
    Resumed,
}

struct Recorder(mpsc::UnboundedSender<Seen>);

#[serenity::async_trait]
impl serenity::EventHandler for Recorder {
    async fn ready(&self, _ctx: serenity::Context, ready: serenity::Ready) {
        let _ = self.0.send(Seen::Ready { session: ready.session_id.clone(), guilds: ready.guilds.len() });
    }

    async fn guild_create(&self, _ctx: serenity::Context, guild: serenity::Guild, _is_new: Option<bool>) {
        let _ = self.0.send(Seen::GuildCreate {
            id: guild.id.get(),
            channels: guild.channels.len(),
            members: guild.members.len(),
            roles: guild.roles.len(),
        });
    }

    async fn channel_create(&self, _ctx: serenity::Context, channel: serenity::GuildChannel) {
        let _ = self.0.send(Seen::ChannelCreate { name: channel.name.clone() });
    }

    async fn message(&self, _ctx: serenity::Context, message: serenity::Message) {
        let _ = self.0.send(Seen::Message {
            content: message.content.clone(),
            guild: message.guild_id.map(|g| g.get()),
            member_roles: message.member.as_ref().map(|m| m.roles.len()),
            author_bot: message.author.bot,
        });
    }

    async fn message_update(
        &self,
        _ctx: serenity::Context,
        _old: Option<serenity::Message>,
        _new: Option<serenity::Message>,
        event: serenity::MessageUpdateEvent,
    ) {
        let _ = self.0.send(Seen::MessageUpdate { content: event.content.clone() });
    }

    async fn message_delete(
        &self,
        _ctx: serenity::Context,
        _channel: serenity::ChannelId,
        deleted: serenity::MessageId,
        _guild: Option<serenity::GuildId>,
    ) {
        let _ = self.0.send(Seen::MessageDelete { id: deleted.get() });
    }

    async fn resume(&self, _ctx: serenity::Context, _event: serenity::ResumedEvent) {
        let _ = self.0.send(Seen::Resumed);
    }
}

async fn start_client(
    discord: &FakeDiscord,
    intents: serenity::GatewayIntents,
) -> (mpsc::UnboundedReceiver<Seen>, std::sync::Arc<serenity::ShardManager>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut client =
        serenity::ClientBuilder::new_with_http(http(discord), intents).event_handler(Recorder(tx)).await.unwrap();
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        if let Err(error) = client.start().await {
            eprintln!("client stopped: {error}");
        }
    });
    (rx, shards)
}

fn all_intents() -> serenity::GatewayIntents {
    serenity::GatewayIntents::GUILDS
        | serenity::GatewayIntents::GUILD_MESSAGES
        | serenity::GatewayIntents::MESSAGE_CONTENT
}

async fn message_with(rx: &mut mpsc::UnboundedReceiver<Seen>, text: &str) -> Option<Seen> {
    next_matching(rx, |seen| match &seen {
        Seen::Message { content, .. } if content == text => Some(seen),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn connects_receives_events_and_resumes_after_a_drop() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let lobby = id(&discord.create_channel("lobby", channel_type::TEXT, None));
    let (mut rx, shards) = start_client(&discord, all_intents()).await;

    let ready = next_matching(&mut rx, |s| matches!(s, Seen::Ready { .. }).then_some(s)).await.expect("READY");
    assert!(matches!(ready, Seen::Ready { guilds: 1, .. }));
    let guild =
        next_matching(&mut rx, |s| matches!(s, Seen::GuildCreate { .. }).then_some(s)).await.expect("GUILD_CREATE");
    let Seen::GuildCreate { id: guild_id, channels, members, roles } = guild else { unreachable!() };
    assert_eq!((guild_id, channels, members, roles), (discord.guild_id(), 1, 2, 3));
    assert_eq!(discord.requests_to("GET", "/gateway").len(), 1);

    discord.create_channel("Second Room", channel_type::TEXT, None);
    let created = next_matching(&mut rx, |s| matches!(s, Seen::ChannelCreate { .. }).then_some(s)).await;
    assert!(matches!(created, Some(Seen::ChannelCreate { name }) if name == "second-room"));

    let staff = discord.staff_user();
    let injected = discord.inject_message(lobby, &staff, "hello from staff");
    let seen = message_with(&mut rx, "hello from staff").await.expect("MESSAGE_CREATE");
    assert!(
        matches!(seen, Seen::Message { guild: Some(g), member_roles: Some(1), author_bot: false, .. } if g == discord.guild_id())
    );
    discord.inject_message_update(lobby, id(&injected), "edited by staff").unwrap();
    let update = next_matching(&mut rx, |s| matches!(s, Seen::MessageUpdate { .. }).then_some(s)).await;
    assert!(matches!(update, Some(Seen::MessageUpdate { content: Some(c) }) if c == "edited by staff"));
    assert!(discord.inject_message_delete(lobby, id(&injected)));
    let delete = next_matching(&mut rx, |s| matches!(s, Seen::MessageDelete { .. }).then_some(s)).await;
    assert!(matches!(delete, Some(Seen::MessageDelete { id }) if id == self::id(&injected)));

    // The bot's own REST posts come back as MESSAGE_CREATE too.
    let http = http(&discord);
    serenity::ChannelId::new(lobby).say(&http, "from the bot").await.unwrap();
    assert!(matches!(message_with(&mut rx, "from the bot").await, Some(Seen::Message { author_bot: true, .. })));

    // Connection lost: serenity resumes; a message injected while it was away is replayed.
    discord.drop_gateway_connections();
    discord.inject_message(lobby, &staff, "while away");
    // The replayed message arrives before RESUMED; wait for both.
    let (mut resumed, mut replayed) = (false, false);
    next_matching(&mut rx, |seen| {
        match seen {
            Seen::Resumed => resumed = true,
            Seen::Message { content, .. } if content == "while away" => replayed = true,
            _ => {}
        }
        (resumed && replayed).then_some(())
    })
    .await
    .expect("RESUMED and the replayed message");
    discord.inject_message(lobby, &staff, "after resume");
    assert!(message_with(&mut rx, "after resume").await.is_some());
    assert_eq!(discord.identify_count(), 1, "resumed, not re-identified");
    assert_eq!(discord.resume_count(), 1);

    // A close code that allows resuming behaves the same.
    discord.close_gateway_connections(4000);
    assert!(next_matching(&mut rx, |s| matches!(s, Seen::Resumed).then_some(())).await.is_some());
    discord.inject_message(lobby, &staff, "after close");
    assert!(message_with(&mut rx, "after close").await.is_some());

    // Op 7 RECONNECT: serenity reconnects and resumes as well.
    discord.request_reconnect();
    assert!(next_matching(&mut rx, |s| matches!(s, Seen::Resumed).then_some(())).await.is_some());
    discord.inject_message(lobby, &staff, "after reconnect");
    assert!(message_with(&mut rx, "after reconnect").await.is_some());
    assert_eq!((discord.identify_count(), discord.resume_count()), (1, 3));
    shards.shutdown_all().await;
}

#[tokio::test]
async fn invalidated_session_makes_serenity_identify_again() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let lobby = id(&discord.create_channel("lobby", channel_type::TEXT, None));
    let (mut rx, shards) = start_client(&discord, all_intents()).await;
    let Some(Seen::Ready { session: first, .. }) =
        next_matching(&mut rx, |s| matches!(s, Seen::Ready { .. }).then_some(s)).await
    else {
        panic!("no READY");
    };
    discord.invalidate_sessions();
    discord.drop_gateway_connections();
    // serenity waits about 5 s after INVALID_SESSION before identifying again.
    let second = next_matching_for(&mut rx, Duration::from_secs(30), |s| match s {
        Seen::Ready { session, .. } => Some(session),
        _ => None,
    })
    .await
    .expect("second READY");
    assert_ne!(first, second);
    assert_eq!(discord.identify_count(), 2);
    discord.inject_message(lobby, &discord.staff_user(), "new session");
    assert!(message_with(&mut rx, "new session").await.is_some());
    shards.shutdown_all().await;
}

#[tokio::test]
async fn without_message_content_intent_content_is_empty() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let lobby = id(&discord.create_channel("lobby", channel_type::TEXT, None));
    let intents = serenity::GatewayIntents::GUILDS | serenity::GatewayIntents::GUILD_MESSAGES;
    let (mut rx, shards) = start_client(&discord, intents).await;
    assert!(next_matching(&mut rx, |s| matches!(s, Seen::GuildCreate { .. }).then_some(())).await.is_some());
    let staff = discord.staff_user();
    discord.inject_message(lobby, &staff, "secret");
    let seen =
        next_matching(&mut rx, |s| matches!(s, Seen::Message { .. }).then_some(s)).await.expect("MESSAGE_CREATE");
    assert!(matches!(seen, Seen::Message { ref content, .. } if content.is_empty()), "{seen:?}");
    // Mentioning the bot makes the content visible, as on Discord.
    let mention = format!("{} help", discord.bot_user().mention());
    discord.inject_message(lobby, &staff, &mention);
    assert!(message_with(&mut rx, &mention).await.is_some());
    shards.shutdown_all().await;
}
