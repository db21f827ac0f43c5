//! The real bot against the fake Discord (REST + Gateway on 127.0.0.1), by topic, sharing the
//! setup below: a fake Discord, the app pointed at it, the bot connected to its gateway.

mod appeals;
mod auto_mute;
mod bans;
mod conversation;
mod lookup;
mod mirror;
mod moderation;
mod reactions;
mod reports;
mod sanctions;
mod staff_replies;
mod threads;

use std::time::Duration;

use fake_discord::{FakeDiscord, id_of};

use crate::support::*;

pub(crate) use self::threads::{parent_named, roulette_pair, visitor_room};

pub(crate) fn discord_env(fake: &FakeDiscord) -> Vec<(String, String)> {
    vec![
        ("DISCORD_TOKEN".to_owned(), fake.token().to_owned()),
        ("DISCORD_GUILD_ID".to_owned(), fake.guild_id().to_string()),
        ("DISCORD_API_BASE".to_owned(), fake.base_url()),
    ]
}

/// The app pointed at `fake`, with `extra` environment variables, started but maybe not yet
/// connected to the gateway.
async fn spawn_with(fake: &FakeDiscord, extra: &[(&str, &str)]) -> TestApp {
    let mut env = discord_env(fake);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(&pairs).await
}

pub(crate) async fn spawn_with_discord(fake: &FakeDiscord) -> TestApp {
    spawn_with(fake, &[]).await
}

/// The setup the tests here share: the app pointed at `fake` with `extra` environment
/// variables, once its bot is connected to the gateway (so injected events reach it).
pub(crate) async fn app_with_discord(fake: &FakeDiscord, extra: &[(&str, &str)]) -> TestApp {
    let app = spawn_with(fake, extra).await;
    connected(fake).await;
    app
}

/// Wait until the bot created the room's channel; its id.
pub(crate) async fn channel_for(fake: &FakeDiscord, room: &str) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(c) = fake.channels().iter().find(|c| c["name"] == room) {
            return id_of(c);
        }
        assert!(tokio::time::Instant::now() < deadline, "no channel was created for {room}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the bot is connected to the gateway (so injected events reach it).
pub(crate) async fn connected(fake: &FakeDiscord) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.connected_sessions() == 0 || fake.commands().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the bot never connected to the gateway");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything the bot answered to an interaction, as text.
pub(crate) async fn answer_of(fake: &FakeDiscord, interaction: u64) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text: String = fake.interaction_responses(interaction).iter().map(|r| r.to_string()).collect();
        if text.contains("content") {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to interaction {interaction}: {:?}",
            fake.requests()
                .iter()
                .filter(|r| r.path.contains("interactions") || r.path.contains("webhooks"))
                .map(|r| format!("{} {} {}", r.path, r.status, r.body))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
