//! Everything the fake sends must deserialize into serenity's models: a malformed gateway
//! event is dropped by serenity without any error, so this guards against silent gaps.

use fake_discord::{FakeConfig, FakeDiscord, channel_type, interaction_type};
use poise::serenity_prelude as serenity;
use serde_json::{Value, json};

use crate::common::{http, id, raw};

async fn call(discord: &FakeDiscord, method: reqwest::Method, path: &str, body: Value) -> Value {
    let (client, auth) = raw(discord);
    let response = client
        .request(method.clone(), format!("{}/api/v10{path}", discord.base_url()))
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value = response.json::<Value>().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    value
}

#[tokio::test]
async fn every_object_and_event_parses_as_serenity_models() {
    let discord = FakeDiscord::start(FakeConfig::default()).await;
    let post = reqwest::Method::POST;
    let category = id(&discord.create_channel("Rooms", channel_type::CATEGORY, None));
    let room = id(&discord.create_channel("Room One", channel_type::TEXT, Some(category)));
    let forum = id(&discord.create_channel("reports", channel_type::FORUM, None));
    let staff = discord.staff_user();
    let visitor = discord.add_user("visitor", &[]);
    let bot = discord.bot_user();

    // Messages: the bot's, a human's with mentions, replies, edits, deletes.
    let embed = json!({"title": "alice", "description": "hi", "color": 3447003, "footer": {"text": "#tag"},
        "author": {"name": "web"}, "fields": [{"name": "a", "value": "b", "inline": true}], "timestamp": "2026-11-02T10:00:00+00:00"});
    let by_bot = call(
        &discord,
        post.clone(),
        &format!("/channels/{room}/messages"),
        json!({"embeds": [embed], "nonce": "n1", "enforce_nonce": true}),
    )
    .await;
    let human = discord.inject_message(
        room,
        &staff,
        &format!("{} and <@&{}> look", bot.mention(), discord.moderator_role_id()),
    );
    discord.inject_reply(room, &visitor, "replying", id(&human));
    call(&discord, post.clone(), &format!("/channels/{room}/messages"), json!({"content": "reply", "message_reference": {"message_id": id(&human).to_string()}, "allowed_mentions": {"parse": [], "replied_user": false}})).await;
    discord.inject_message_update(room, id(&human), "edited").unwrap();
    let extra = call(&discord, post.clone(), &format!("/channels/{room}/messages"), json!({"content": "x"})).await;
    let extra2 = call(&discord, post.clone(), &format!("/channels/{room}/messages"), json!({"content": "y"})).await;
    let (client, auth) = raw(&discord);
    let bulk = client
        .post(format!("{}/api/v10/channels/{room}/messages/bulk-delete", discord.base_url()))
        .header("Authorization", &auth)
        .json(&json!({"messages": [extra["id"], extra2["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bulk.status().as_u16(), 204);
    call(
        &discord,
        reqwest::Method::PATCH,
        &format!("/channels/{room}/messages/{}", id(&by_bot)),
        json!({"content": "now with text"}),
    )
    .await;

    // Threads: from a message, standalone, forum post; archive; overwrites.
    let from_message = call(
        &discord,
        post.clone(),
        &format!("/channels/{room}/messages/{}/threads", id(&by_bot)),
        json!({"name": "talk"}),
    )
    .await;
    discord.inject_message(id(&from_message), &visitor, "in thread");
    let standalone = call(
        &discord,
        post.clone(),
        &format!("/channels/{room}/threads"),
        json!({"name": "visitor room", "type": 11, "auto_archive_duration": 60}),
    )
    .await;
    let private =
        call(&discord, post.clone(), &format!("/channels/{room}/threads"), json!({"name": "pair", "type": 12})).await;
    let forum_post = call(
        &discord,
        post.clone(),
        &format!("/channels/{forum}/threads"),
        json!({"name": "report", "message": {"content": "details"}}),
    )
    .await;
    assert_eq!(forum_post["message"]["id"], forum_post["id"]);
    call(&discord, reqwest::Method::PATCH, &format!("/channels/{}", id(&standalone)), json!({"archived": true})).await;
    call(
        &discord,
        reqwest::Method::PATCH,
        &format!("/channels/{room}"),
        json!({"rate_limit_per_user": 5, "topic": "slow"}),
    )
    .await;
    let overwrite = client
        .put(format!("{}/api/v10/channels/{room}/permissions/{}", discord.base_url(), discord.everyone_role_id()))
        .header("Authorization", &auth)
        .json(&json!({"type": 0, "allow": "0", "deny": "2048"}))
        .send()
        .await
        .unwrap();
    assert_eq!(overwrite.status().as_u16(), 204);

    // Commands.
    let commands = call(&discord, reqwest::Method::PUT,
        &format!("/applications/{}/guilds/{}/commands", discord.application_id(), discord.guild_id()),
        json!([{"name": "room", "description": "Rooms", "options": [{"name": "name", "description": "Name", "type": 3, "required": true, "autocomplete": true}]},
               {"name": "Ban author", "type": 3}, {"name": "Inspect", "type": 2}])).await;
    for command in commands.as_array().unwrap() {
        serde_json::from_value::<serenity::Command>(command.clone()).unwrap();
    }

    // Interactions of every kind, and responses that create or update messages.
    let options = json!([{"name": "name", "type": 3, "value": "lobby"}]);
    let (slash, slash_token) = discord.inject_slash_command(&staff, room, "room", options);
    call(&discord, post.clone(), &format!("/interactions/{slash}/{slash_token}/callback"),
        json!({"type": 4, "data": {"content": "created", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "Ok", "custom_id": "ok"}]}]}})).await;
    let original = discord.interaction_messages(slash).remove(0);
    let (button, button_token) = discord.inject_component(&staff, room, id(&original), "ok", None);
    call(
        &discord,
        post.clone(),
        &format!("/interactions/{button}/{button_token}/callback"),
        json!({"type": 7, "data": {"content": "clicked", "components": []}}),
    )
    .await;
    let (select, select_token) = discord.inject_component(&staff, room, id(&original), "pick", Some(vec!["a".into()]));
    call(
        &discord,
        post.clone(),
        &format!("/interactions/{select}/{select_token}/callback"),
        json!({"type": 4, "data": {"content": "picked"}}),
    )
    .await;
    let (menu, menu_token) = discord.inject_message_command(&staff, room, "Ban author", id(&human));
    call(
        &discord,
        post.clone(),
        &format!("/interactions/{menu}/{menu_token}/callback"),
        json!({"type": 4, "data": {"content": "which?", "flags": 64}}),
    )
    .await;
    discord.inject_interaction(
        interaction_type::APPLICATION_COMMAND,
        json!({"name": "Inspect", "type": 2, "target_id": visitor.id.to_string()}),
        &staff,
        room,
        None,
    );
    let (auto, auto_token) = discord.inject_autocomplete(
        &staff,
        room,
        "room",
        json!([{"name": "name", "type": 3, "value": "lo", "focused": true}]),
    );
    call(
        &discord,
        post.clone(),
        &format!("/interactions/{auto}/{auto_token}/callback"),
        json!({"type": 8, "data": {"choices": [{"name": "lobby", "value": "lobby"}]}}),
    )
    .await;
    discord.inject_interaction(interaction_type::MODAL_SUBMIT,
        json!({"custom_id": "reason", "components": [{"type": 1, "components": [{"type": 4, "custom_id": "why", "value": "spam"}]}]}), &staff, room, Some(id(&original)));

    // Deletions last.
    discord.inject_message_delete(room, id(&human));
    call(&discord, reqwest::Method::DELETE, &format!("/channels/{}", id(&private)), Value::Null).await;
    call(&discord, reqwest::Method::DELETE, &format!("/channels/{category}"), Value::Null).await;

    // REST objects.
    for channel in discord.channels() {
        serde_json::from_value::<serenity::GuildChannel>(channel.clone()).unwrap_or_else(|e| panic!("{e}: {channel}"));
        for message in discord.messages_in(id(&channel)) {
            serde_json::from_value::<serenity::Message>(message.clone()).unwrap_or_else(|e| panic!("{e}: {message}"));
        }
    }
    for interaction in [slash, menu, select] {
        for message in discord.interaction_messages(interaction) {
            serde_json::from_value::<serenity::Message>(message.clone()).unwrap_or_else(|e| panic!("{e}: {message}"));
        }
    }
    let http = http(&discord);
    http.get_guild(serenity::GuildId::new(discord.guild_id())).await.unwrap();
    http.get_member(serenity::GuildId::new(discord.guild_id()), serenity::UserId::new(staff.id)).await.unwrap();
    http.get_guild_roles(serenity::GuildId::new(discord.guild_id())).await.unwrap();
    http.get_guild_active_threads(serenity::GuildId::new(discord.guild_id())).await.unwrap();
    http.get_bot_gateway().await.unwrap();

    // Gateway events, each as serenity would parse it.
    let events = discord.dispatched_events();
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
        "THREAD_CREATE",
        "THREAD_UPDATE",
        "THREAD_DELETE",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_DELETE_BULK",
        "INTERACTION_CREATE",
        "GUILD_MEMBER_ADD",
    ] {
        assert!(names.contains(&expected), "{expected} never dispatched");
    }
    // The check below is meaningful: serenity turns a malformed known event into `Unknown`.
    let broken: serenity::Event = serde_json::from_value(json!({"t": "MESSAGE_CREATE", "d": {"id": "1"}})).unwrap();
    assert!(matches!(broken, serenity::Event::Unknown(_)));
    for (name, data) in &events {
        let event: serenity::Event =
            serde_json::from_value(json!({"t": name, "d": data})).unwrap_or_else(|e| panic!("{name}: {e}: {data}"));
        assert!(!matches!(event, serenity::Event::Unknown(_)), "{name} would be dropped by serenity: {data}");
        if name == "INTERACTION_CREATE" {
            let parsed: serenity::Interaction =
                serde_json::from_value(data.clone()).unwrap_or_else(|e| panic!("{e}: {data}"));
            match data["type"].as_u64() {
                Some(2) => assert!(matches!(parsed, serenity::Interaction::Command(_))),
                Some(3) => assert!(matches!(parsed, serenity::Interaction::Component(_))),
                Some(4) => assert!(matches!(parsed, serenity::Interaction::Autocomplete(_))),
                Some(5) => assert!(matches!(parsed, serenity::Interaction::Modal(_))),
                other => panic!("unexpected interaction type {other:?}"),
            }
        }
        if name == "MESSAGE_CREATE" {
            serde_json::from_value::<serenity::Message>(data.clone()).unwrap_or_else(|e| panic!("{e}: {data}"));
        }
    }
    let message_command = events
        .iter()
        .find(|(name, d)| name == "INTERACTION_CREATE" && d["data"]["type"] == 3)
        .map(|(_, d)| d.clone())
        .unwrap();
    let serenity::Interaction::Command(command) = serde_json::from_value(message_command).unwrap() else { panic!() };
    assert_eq!(command.data.resolved.messages.len(), 1);
    assert_eq!(command.member.as_ref().unwrap().roles, vec![serenity::RoleId::new(discord.moderator_role_id())]);
}
