//! A minimal poise bot against the fake: command registration and interaction answers.

use fake_discord::{FakeConfig, FakeDiscord, channel_type};
use poise::serenity_prelude as serenity;
use serde_json::{Value, json};

use crate::common::{WAIT, http, id};

struct Data;
type Error = Box<dyn std::error::Error + Send + Sync>;
type Context<'a> = poise::Context<'a, Data, Error>;

/// Answer pong
#[poise::command(slash_command)]
async fn ping(ctx: Context<'_>) -> Result<(), Error> {
    ctx.say("pong").await?;
    Ok(())
}

/// Something slow: defer, then answer
#[poise::command(slash_command)]
async fn slow(ctx: Context<'_>) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    ctx.say("done").await?;
    Ok(())
}

/// Repeat the text without pinging anyone
#[poise::command(slash_command)]
async fn echo(ctx: Context<'_>, #[description = "What to say"] text: String) -> Result<(), Error> {
    ctx.send(poise::CreateReply::default().content(text).allowed_mentions(serenity::CreateAllowedMentions::new()))
        .await?;
    Ok(())
}

#[poise::command(context_menu_command = "Quote message")]
async fn quote(ctx: Context<'_>, message: serenity::Message) -> Result<(), Error> {
    ctx.say(format!("quoted: {}", message.content)).await?;
    Ok(())
}

async fn answers(discord: &FakeDiscord, interaction: u64, count: usize) -> Vec<Value> {
    discord
        .wait_for(
            |d| {
                let bodies = d.interaction_responses(interaction);
                (bodies.len() >= count).then_some(bodies)
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|| panic!("no answer to interaction {interaction}: {:?}", discord.requests().last()))
}

#[tokio::test]
async fn poise_registers_commands_and_answers_interactions() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let channel = id(&discord.create_channel("moderation", channel_type::TEXT, None));
    let guild = serenity::GuildId::new(discord.guild_id());
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions { commands: vec![ping(), slow(), echo(), quote()], ..Default::default() })
        .setup(move |ctx, _ready, framework| {
            Box::pin(async move {
                poise::builtins::register_in_guild(ctx, &framework.options().commands, guild).await?;
                Ok(Data)
            })
        })
        .build();
    let intents = serenity::GatewayIntents::GUILDS | serenity::GatewayIntents::GUILD_MESSAGES;
    let mut client =
        serenity::ClientBuilder::new_with_http(http(&discord), intents).framework(framework).await.unwrap();
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        if let Err(error) = client.start().await {
            eprintln!("client stopped: {error}");
        }
    });

    assert!(discord.wait_until(|d| d.commands().len() == 4, WAIT).await, "commands registered");
    let put = discord.requests_to(
        "PUT",
        &format!("/applications/{}/guilds/{}/commands", discord.application_id(), discord.guild_id()),
    );
    assert_eq!(put.len(), 1);
    let names: Vec<&str> = put[0].body.as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["ping", "slow", "echo", "Quote message"]);
    assert_eq!(put[0].status, 200);
    assert!(!discord.requests_to("GET", "/oauth2/applications/@me").is_empty());

    let staff = discord.staff_user();
    let (interaction, _) = discord.inject_slash_command(&staff, channel, "ping", Value::Null);
    let bodies = answers(&discord, interaction, 1).await;
    assert_eq!(bodies[0]["type"], 4);
    assert_eq!(bodies[0]["data"]["content"], "pong");
    let posted = discord.messages_in(channel);
    assert_eq!(posted.last().unwrap()["content"], "pong");
    assert_eq!(posted.last().unwrap()["type"], 20);

    let (interaction, _) = discord.inject_slash_command(&staff, channel, "slow", Value::Null);
    let bodies = answers(&discord, interaction, 2).await;
    assert_eq!((bodies[0]["type"].as_u64(), bodies[0]["data"]["flags"].as_u64()), (Some(5), Some(64)));
    assert_eq!(bodies[1]["content"], "done");
    let messages = discord.interaction_messages(interaction);
    assert_eq!(messages.len(), 1, "the follow-up replaced the thinking message");
    assert_eq!(messages[0]["content"], "done");

    let mention = format!("hi {}", staff.mention());
    let (interaction, _) =
        discord.inject_slash_command(&staff, channel, "echo", json!([{"name": "text", "type": 3, "value": mention}]));
    let bodies = answers(&discord, interaction, 1).await;
    assert_eq!(bodies[0]["data"]["content"], mention);
    assert_eq!(bodies[0]["data"]["allowed_mentions"]["parse"], json!([]));
    let echoed = discord.interaction_messages(interaction);
    assert_eq!(echoed[0]["mentions"], json!([]), "nobody pinged");

    let visitor = discord.add_user("visitor", &[]);
    let target = discord.inject_message(channel, &visitor, "quote me");
    let (interaction, _) = discord.inject_message_command(&staff, channel, "Quote message", id(&target));
    let bodies = answers(&discord, interaction, 1).await;
    assert_eq!(bodies[0]["data"]["content"], "quoted: quote me");

    shards.shutdown_all().await;
}
