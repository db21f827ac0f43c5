//! serenity's HTTP client (rate limiter disabled, proxy = the fake) against the REST API.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord};
use poise::serenity_prelude as serenity;
use serde_json::json;

use crate::common::{code_of, http, status_of};

async fn text_channel(discord: &FakeDiscord, http: &serenity::Http, name: &str) -> serenity::ChannelId {
    let guild = serenity::GuildId::new(discord.guild_id());
    guild.create_channel(http, serenity::CreateChannel::new(name).kind(serenity::ChannelType::Text)).await.unwrap().id
}

#[tokio::test]
async fn current_user_channels_and_messages_with_embeds() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let http = http(&discord);

    let me = http.get_current_user().await.unwrap();
    assert_eq!(me.id.get(), discord.bot_user().id);
    assert_eq!(me.name, "chatroulette-bot");
    assert!(me.bot);
    let app = http.get_current_application_info().await.unwrap();
    assert_eq!(app.id.get(), discord.application_id());

    let guild = serenity::GuildId::new(discord.guild_id());
    let partial = http.get_guild(guild).await.unwrap();
    assert_eq!(partial.roles.len(), 3);
    assert!(partial.roles.contains_key(&serenity::RoleId::new(discord.everyone_role_id())));

    let category = guild
        .create_channel(&http, serenity::CreateChannel::new("Rooms").kind(serenity::ChannelType::Category))
        .await
        .unwrap();
    let channel = guild
        .create_channel(
            &http,
            serenity::CreateChannel::new("Lobby Room")
                .kind(serenity::ChannelType::Text)
                .category(category.id)
                .topic("chat"),
        )
        .await
        .unwrap();
    assert_eq!(channel.name, "lobby-room", "Discord normalises text channel names");
    assert_eq!(channel.parent_id, Some(category.id));
    let listed = guild.channels(&http).await.unwrap();
    assert!(listed.contains_key(&channel.id) && listed.contains_key(&category.id));

    let sent = channel
        .id
        .send_message(
            &http,
            serenity::CreateMessage::new()
                .content("two web messages")
                .add_embed(
                    serenity::CreateEmbed::new()
                        .title("alice")
                        .description("hello")
                        .footer(serenity::CreateEmbedFooter::new("#a1b2")),
                )
                .add_embed(serenity::CreateEmbed::new().title("bob").field("ip tag", "x9", true))
                .allowed_mentions(serenity::CreateAllowedMentions::new()),
        )
        .await
        .unwrap();
    assert_eq!(sent.embeds.len(), 2);
    assert_eq!(sent.author.id, me.id);
    let stored = discord.messages_in(channel.id.get());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], sent.id.to_string());
    assert_eq!(stored[0]["embeds"][0]["title"], "alice");
    assert_eq!(stored[0]["embeds"][1]["fields"][0]["value"], "x9");
    let recorded = discord.requests_to("POST", &format!("/channels/{}/messages", channel.id));
    assert_eq!(recorded[0].body["allowed_mentions"]["parse"], json!([]));

    let edited = channel.id.edit_message(&http, sent.id, serenity::EditMessage::new().content("edited")).await.unwrap();
    assert_eq!(edited.content, "edited");
    assert!(edited.edited_timestamp.is_some());
    let fetched = channel.id.message(&http, sent.id).await.unwrap();
    assert_eq!(fetched.content, "edited");
    let page = channel.id.messages(&http, serenity::GetMessages::new().limit(10)).await.unwrap();
    assert_eq!(page.len(), 1);

    channel.id.delete_message(&http, sent.id).await.unwrap();
    assert!(discord.messages_in(channel.id.get()).is_empty());
    let gone = channel.id.message(&http, sent.id).await.unwrap_err();
    assert_eq!((status_of(&gone), code_of(&gone)), (Some(404), Some(10008)));
    let unknown = serenity::ChannelId::new(42).say(&http, "x").await.unwrap_err();
    assert_eq!((status_of(&unknown), code_of(&unknown)), (Some(404), Some(10003)));
}

#[tokio::test]
async fn eleven_embeds_and_oversized_embeds_are_refused() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let http = http(&discord);
    let channel = text_channel(&discord, &http, "limits").await;

    // serenity's builder refuses 11 embeds before sending anything…
    let embeds: Vec<_> = (0..11).map(|i| serenity::CreateEmbed::new().title(format!("e{i}"))).collect();
    let refused = channel.send_message(&http, serenity::CreateMessage::new().embeds(embeds)).await.unwrap_err();
    assert!(matches!(refused, serenity::Error::Model(serenity::ModelError::EmbedAmount)), "{refused:?}");
    // …so send the raw body: the fake answers like Discord.
    let body = json!({"embeds": (0..11).map(|i| json!({"title": format!("e{i}")})).collect::<Vec<_>>()});
    let error = http.send_message(channel, vec![], &body).await.unwrap_err();
    assert_eq!((status_of(&error), code_of(&error)), (Some(400), Some(50035)));

    // serenity checks each embed against 6000 but not their sum: Discord (and the fake) do.
    // (`CreateMessage::embed` *replaces* the embeds; `add_embed` appends.)
    let two = serenity::CreateMessage::new()
        .add_embed(serenity::CreateEmbed::new().description("a".repeat(4000)))
        .add_embed(serenity::CreateEmbed::new().description("b".repeat(2001)));
    let error = channel.send_message(&http, two).await.unwrap_err();
    assert_eq!((status_of(&error), code_of(&error)), (Some(400), Some(50035)));
    if let serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(response)) = &error {
        assert_eq!(response.error.errors[0].code, "MAX_EMBED_SIZE_EXCEEDED");
        assert_eq!(response.error.errors[0].path, "embeds");
    }
    assert!(discord.messages_in(channel.get()).is_empty());
}

#[tokio::test]
async fn nonce_with_enforce_nonce_creates_one_message() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let http = http(&discord);
    let channel = text_channel(&discord, &http, "nonces").await;
    let message = || {
        serenity::CreateMessage::new()
            .content("batch")
            .nonce(serenity::Nonce::String("01HXYZABCDEFGHJKMNPQRSTVW".to_owned()))
            .enforce_nonce(true)
    };
    let first = channel.send_message(&http, message()).await.unwrap();
    let retry = channel.send_message(&http, message()).await.unwrap();
    assert_eq!(first.id, retry.id);
    assert_eq!(discord.messages_in(channel.get()).len(), 1);

    // Without enforce_nonce Discord does not deduplicate.
    let loose = || serenity::CreateMessage::new().content("loose").nonce(serenity::Nonce::String("n2".to_owned()));
    let a = channel.send_message(&http, loose()).await.unwrap();
    let b = channel.send_message(&http, loose()).await.unwrap();
    assert_ne!(a.id, b.id);

    // A nonce over 25 characters is refused.
    let long = serenity::CreateMessage::new().content("x").nonce(serenity::Nonce::String("n".repeat(26)));
    let error = channel.send_message(&http, long).await.unwrap_err();
    assert_eq!(code_of(&error), Some(50035));
}

#[tokio::test]
async fn sixth_message_in_a_window_gets_429() {
    // A long window so the test does not depend on how fast the machine is.
    let config = FakeConfig { message_rate_window: Duration::from_secs(60), ..FakeConfig::default() };
    let discord = FakeDiscord::start(config).await;
    let http = http(&discord);
    let channel = text_channel(&discord, &http, "busy").await;
    let other = text_channel(&discord, &http, "quiet").await;
    for i in 0..5 {
        channel.say(&http, format!("m{i}")).await.unwrap();
    }
    let error = channel.say(&http, "m5").await.unwrap_err();
    assert_eq!(status_of(&error), Some(429));
    // serenity cannot decode Discord's 429 body (it has no `code`).
    assert_eq!(code_of(&error), Some(-1));
    assert_eq!(discord.rate_limited_count(), 1);
    assert_eq!(discord.requests().last().unwrap().status, 429);
    assert_eq!(discord.messages_in(channel.get()).len(), 5);
    // Another channel has its own window.
    other.say(&http, "fine").await.unwrap();
}
