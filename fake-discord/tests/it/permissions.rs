//! Permissions: overwrites on create and update, what they need, how they combine, reactions.

use fake_discord::{FakeConfig, FakeDiscord, channel_type, perms};
use serde_json::{Value, json};

use crate::common::{id, raw};

async fn call(discord: &FakeDiscord, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (client, auth) = raw(discord);
    let mut request =
        client.request(method, format!("{}/api/v10{path}", discord.base_url())).header("Authorization", auth);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.unwrap_or(Value::Null))
}

fn private_overwrites(discord: &FakeDiscord) -> Value {
    let see = (perms::VIEW_CHANNEL | perms::SEND_MESSAGES | perms::READ_MESSAGE_HISTORY).to_string();
    json!([
        {"id": discord.everyone_role_id().to_string(), "type": 0, "allow": "0", "deny": perms::VIEW_CHANNEL.to_string()},
        {"id": discord.bot_user().id.to_string(), "type": 1, "allow": see, "deny": "0"},
        {"id": discord.moderator_role_id().to_string(), "type": 0, "allow": see, "deny": "0"},
    ])
}

#[tokio::test]
async fn overwrites_on_create_decide_who_sees_a_channel_and_its_threads() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let guild = discord.guild_id();
    let member = discord.add_user("member", &[]);
    let staff = discord.staff_user();

    let (status, open) =
        call(&discord, reqwest::Method::POST, &format!("/guilds/{guild}/channels"), Some(json!({"name": "open"})))
            .await;
    assert_eq!(status, 201);
    assert!(discord.everyone_can_view(id(&open)));

    let body = json!({"name": "private", "type": 0, "permission_overwrites": private_overwrites(&discord)});
    let (status, private) =
        call(&discord, reqwest::Method::POST, &format!("/guilds/{guild}/channels"), Some(body)).await;
    assert_eq!(status, 201, "{private}");
    let private = id(&private);
    assert!(!discord.everyone_can_view(private));
    assert_eq!(discord.permissions_in(member.id, private) & perms::VIEW_CHANNEL, 0);
    assert_ne!(discord.permissions_in(staff.id, private) & perms::VIEW_CHANNEL, 0);
    assert_ne!(discord.permissions_in(discord.bot_user().id, private) & perms::VIEW_CHANNEL, 0);
    // A thread has no overwrites of its own: its parent's apply.
    let (status, thread) = call(
        &discord,
        reqwest::Method::POST,
        &format!("/channels/{private}/threads"),
        Some(json!({"name": "t", "type": 11})),
    )
    .await;
    assert_eq!(status, 201, "{thread}");
    assert!(!discord.everyone_can_view(id(&thread)));

    // A member overwrite beats the role ones; a role overwrite can grant a channel-only right.
    let helper = discord.add_role("helper", 0);
    let helped = discord.add_user("helped", &[helper]);
    discord.set_overwrite(private, helper, Some((0, perms::VIEW_CHANNEL | perms::MANAGE_MESSAGES, 0)));
    assert_ne!(discord.permissions_in(helped.id, private) & perms::MANAGE_MESSAGES, 0);
    assert_eq!(discord.permissions_of(helped.id) & perms::MANAGE_MESSAGES, 0, "only in that channel");
    discord.set_overwrite(private, helped.id, Some((1, 0, perms::VIEW_CHANNEL)));
    assert_eq!(discord.permissions_in(helped.id, private) & perms::VIEW_CHANNEL, 0);
    // Administrators see everything.
    assert_ne!(discord.permissions_in(discord.config().owner_id, private) & perms::VIEW_CHANNEL, 0);
}

#[tokio::test]
async fn a_channel_made_in_a_category_without_overwrites_is_synced_with_it() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let guild = discord.guild_id();
    let category = id(&discord.create_channel("staff", channel_type::CATEGORY, None));
    discord.set_overwrite(category, discord.everyone_role_id(), Some((0, 0, perms::VIEW_CHANNEL)));
    let body = json!({"name": "inside", "type": 0, "parent_id": category.to_string()});
    let (status, inside) =
        call(&discord, reqwest::Method::POST, &format!("/guilds/{guild}/channels"), Some(body)).await;
    assert_eq!(status, 201);
    assert_eq!(inside["permission_overwrites"], discord.channel(category).unwrap()["permission_overwrites"]);
    assert!(!discord.everyone_can_view(id(&inside)));
}

#[tokio::test]
async fn changing_overwrites_needs_manage_roles_and_only_the_bots_own_bits() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let guild = discord.guild_id();
    let channel = id(&discord.create_channel("room", channel_type::TEXT, None));
    let everyone = discord.everyone_role_id();
    let deny_view = json!({"type": 0, "allow": "0", "deny": perms::VIEW_CHANNEL.to_string()});
    let path = format!("/channels/{channel}/permissions/{everyone}");

    // Bits the bot does not have (Administrator) may not be granted, on create or update.
    let admin = json!({"type": 0, "allow": perms::ADMINISTRATOR.to_string(), "deny": "0"});
    assert_eq!(call(&discord, reqwest::Method::PUT, &path, Some(admin.clone())).await.0, 403);
    let mut with_admin = admin.clone();
    with_admin["id"] = json!(everyone.to_string());
    let body = json!({"name": "x", "permission_overwrites": [with_admin]});
    assert_eq!(call(&discord, reqwest::Method::POST, &format!("/guilds/{guild}/channels"), Some(body)).await.0, 403);

    // Without Manage Roles: creating with overwrites works, changing them does not.
    let without = perms::BOT & !perms::MANAGE_ROLES;
    assert!(discord.set_role_permissions(discord.bot_role_id(), without));
    let (status, body) = call(&discord, reqwest::Method::PUT, &path, Some(deny_view.clone())).await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(50013)));
    assert!(discord.everyone_can_view(channel));
    let mut deny = deny_view.clone();
    deny["id"] = json!(everyone.to_string());
    let body = json!({"name": "y", "permission_overwrites": [deny]});
    assert_eq!(
        call(&discord, reqwest::Method::POST, &format!("/guilds/{guild}/channels"), Some(body.clone())).await.0,
        201
    );
    // Creating needs Manage Channels.
    assert!(discord.set_role_permissions(discord.bot_role_id(), without & !perms::MANAGE_CHANNELS));
    assert_eq!(call(&discord, reqwest::Method::POST, &format!("/guilds/{guild}/channels"), Some(body)).await.0, 403);

    assert!(discord.set_role_permissions(discord.bot_role_id(), perms::BOT));
    assert_eq!(call(&discord, reqwest::Method::PUT, &path, Some(deny_view)).await.0, 204);
    assert!(!discord.everyone_can_view(channel));
}

#[tokio::test]
async fn the_bot_reacts_once_with_add_reactions_and_read_history() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let channel = id(&discord.create_channel("room", channel_type::TEXT, None));
    let member = discord.add_user("member", &[]);
    let message = id(&discord.inject_message(channel, &member, "hi"));
    let path = format!("/channels/{channel}/messages/{message}/reactions/%E2%9B%94/@me");
    assert_eq!(call(&discord, reqwest::Method::PUT, &path, None).await.0, 204);
    assert_eq!(call(&discord, reqwest::Method::PUT, &path, None).await.0, 204);
    let reactions = discord.reactions_on(channel, message);
    assert_eq!(reactions.len(), 1, "{reactions:?}");
    assert_eq!((reactions[0]["emoji"]["name"].as_str(), reactions[0]["count"].as_u64()), (Some("⛔"), Some(1)));
    assert_eq!(
        call(&discord, reqwest::Method::PUT, &format!("/channels/{channel}/messages/1/reactions/%E2%9B%94/@me"), None)
            .await
            .0,
        404
    );

    // Without Add Reactions in the channel, a new emoji is refused.
    discord.set_overwrite(channel, discord.bot_user().id, Some((1, 0, perms::ADD_REACTIONS)));
    let other = id(&discord.inject_message(channel, &member, "again"));
    let path = format!("/channels/{channel}/messages/{other}/reactions/%E2%9B%94/@me");
    assert_eq!(call(&discord, reqwest::Method::PUT, &path, None).await.0, 403);
    assert!(discord.reactions_on(channel, other).is_empty());
}
