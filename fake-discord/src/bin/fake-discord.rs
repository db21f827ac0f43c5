//! The fake Discord as a process, for tests outside Rust (the browser tests): prints one JSON
//! line `{"base_url", "token", "guild_id"}` on stdout, then serves until stdin closes or the
//! process is killed. Drive it with Discord's own REST API (e.g. DELETE a message to make the
//! bot see MESSAGE_DELETE).

use fake_discord::{FakeConfig, FakeDiscord};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let line = serde_json::json!({
        "base_url": fake.base_url(),
        "token": fake.token(),
        "guild_id": fake.guild_id().to_string(),
    });
    println!("{line}");
    // Serve until whoever started us goes away.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    fake.shutdown();
}
