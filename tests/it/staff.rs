//! The staff side, private and safe by default, through the fake Discord: who reads
//! the rooms, who speaks as staff, who may run what, and what never reaches Discord.

use std::time::Duration;

use fake_discord::{FakeConfig, FakeDiscord, FakeUser, id_of, perms};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::discord::{
    answer_of, channel_for, connected, discord_env, parent_named, roulette_pair, spawn_with_discord, visitor_room,
};
use crate::support::*;

fn spawn_env(fake: &FakeDiscord, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env = discord_env(fake);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env
}

async fn spawn(env: &[(String, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(&pairs).await
}

/// The text of the bot's answers to an interaction (callback and follow-ups), as staff read it.
async fn answer_text(fake: &FakeDiscord, interaction: u64) -> String {
    answer_of(fake, interaction).await;
    fake.interaction_responses(interaction)
        .iter()
        .filter_map(|r| r["data"]["content"].as_str().or(r["content"].as_str()).map(str::to_owned))
        .collect::<Vec<_>>()
        .join("\n")
}

fn owner(fake: &FakeDiscord) -> FakeUser {
    FakeUser::new(fake.config().owner_id, "guild-owner")
}

#[tokio::test]
async fn every_channel_and_thread_the_bot_creates_is_hidden_from_everyone_and_open_to_staff() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    // A public channel named like a parent, made by anyone with Manage Channels: not adopted.
    let decoy = id_of(&fake.create_channel("roulette", fake_discord::channel_type::TEXT, None));
    let env = spawn_env(&fake, &[("DISCORD_MODERATOR_ROLE_ID", fake.moderator_role_id().to_string())]);
    let app = spawn(&env).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    // A visitor room and a roulette pair that write, so their parents and threads are made.
    let mut host = app.client().await;
    let room = visitor_room(&mut host, "Private talk", "Host").await;
    host.say("hello from a visitor room").await;
    let (mut a, _b, _pair) = roulette_pair(&app, "Ann", "Ben").await;
    a.say("hello stranger").await;
    let visitors = parent_named(&fake, "visitor-rooms").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let roulette = loop {
        let parents: Vec<u64> = fake
            .channels()
            .iter()
            .filter(|c| c["name"] == "roulette" && c["type"] == 0 && id_of(c) != decoy)
            .map(id_of)
            .collect();
        if let Some(p) = parents.first() {
            break *p;
        }
        assert!(tokio::time::Instant::now() < deadline, "no roulette parent of the bot's own");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let threads_ready =
        fake.wait_until(|d| !d.threads_of(visitors).is_empty() && !d.threads_of(roulette).is_empty(), WAIT).await;
    assert!(threads_ready, "threads for {room} and the pair");
    assert!(fake.threads_of(decoy).is_empty(), "nothing is mirrored into the decoy");

    // Every channel the bot asked for came with its overwrites.
    let posts = fake.requests_to("POST", &format!("/guilds/{}/channels", fake.guild_id()));
    assert!(posts.len() >= 5, "lobby, chill, games and two parents: {}", posts.len());
    assert!(posts.iter().all(|r| r.status == 201 && r.body["permission_overwrites"].is_array()));
    let member = fake.add_user("just-a-member", &[]);
    let staff = fake.staff_user();
    let bot = fake.bot_user();
    // Everything in the guild but the decoy is the bot's: channels and threads alike.
    let mut everything: Vec<u64> = fake.channels().iter().map(id_of).filter(|c| *c != decoy).collect();
    everything.extend(fake.threads_of(visitors).iter().map(id_of));
    everything.extend(fake.threads_of(roulette).iter().map(id_of));
    for channel in [lobby, visitors, roulette] {
        assert!(everything.contains(&channel));
    }
    for channel in everything {
        assert!(!fake.everyone_can_view(channel), "@everyone can read {:?}", fake.channel(channel));
        assert_eq!(fake.permissions_in(member.id, channel) & perms::VIEW_CHANNEL, 0);
        for (who, id) in [("staff", staff.id), ("bot", bot.id)] {
            let p = fake.permissions_in(id, channel);
            let needed = perms::VIEW_CHANNEL | perms::SEND_MESSAGES | perms::READ_MESSAGE_HISTORY;
            assert_eq!(p & needed, needed, "{who} in {channel}");
        }
    }
}

#[tokio::test]
async fn under_a_public_category_channels_get_overwrites_and_under_a_private_one_they_sync() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let public = id_of(&fake.create_channel("chat rooms", fake_discord::channel_type::CATEGORY, None));
    let app = spawn(&spawn_env(&fake, &[("DISCORD_CATEGORY_ID", public.to_string())])).await;
    let lobby = channel_for(&fake, "lobby").await;
    assert!(!fake.everyone_can_view(lobby), "{:?}", fake.channel(lobby));
    drop(app);

    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let private = id_of(&fake.create_channel("staff only", fake_discord::channel_type::CATEGORY, None));
    fake.set_overwrite(private, fake.everyone_role_id(), Some((0, 0, perms::VIEW_CHANNEL)));
    let _app = spawn(&spawn_env(&fake, &[("DISCORD_CATEGORY_ID", private.to_string())])).await;
    let lobby = channel_for(&fake, "lobby").await;
    let posts = fake.requests_to("POST", &format!("/guilds/{}/channels", fake.guild_id()));
    assert!(posts.iter().all(|r| r.body.get("permission_overwrites").is_none()), "synced with the category");
    assert!(!fake.everyone_can_view(lobby));
}

#[tokio::test]
async fn a_channel_everyone_can_read_is_made_private_at_start_where_the_bot_may() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    // A parent configured by id that an admin left public.
    let parent = id_of(&fake.create_channel("old-rooms", fake_discord::channel_type::TEXT, None));
    let modlog = id_of(&fake.create_channel("mod-log", fake_discord::channel_type::TEXT, None));
    assert!(fake.everyone_can_view(parent));
    let env = spawn_env(
        &fake,
        &[
            ("DISCORD_VISITOR_CHANNEL_ID", parent.to_string()),
            ("DISCORD_MODLOG_CHANNEL_ID", modlog.to_string()),
            ("DISCORD_MODERATOR_ROLE_ID", fake.moderator_role_id().to_string()),
        ],
    );
    let app = spawn(&env).await;
    assert!(fake.wait_until(|d| !d.everyone_can_view(parent), WAIT).await, "the parent stayed public");
    assert!(fake.wait_until(|d| !d.everyone_can_view(modlog), WAIT).await, "the mod log stayed public");
    let staff = fake.staff_user();
    assert_ne!(fake.permissions_in(staff.id, parent) & perms::VIEW_CHANNEL, 0, "staff keep it");
    assert_ne!(fake.permissions_in(fake.bot_user().id, parent) & perms::VIEW_CHANNEL, 0, "the bot keeps it");
    drop(app);

    // Without Manage Roles the bot cannot change overwrites: it tries, is refused, says so.
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    assert!(fake.set_role_permissions(fake.bot_role_id(), perms::BOT & !perms::MANAGE_ROLES));
    let parent = id_of(&fake.create_channel("old-rooms", fake_discord::channel_type::TEXT, None));
    let app = spawn(&spawn_env(&fake, &[("DISCORD_VISITOR_CHANNEL_ID", parent.to_string())])).await;
    let path = format!("/channels/{parent}/permissions/");
    let refused =
        fake.wait_until(|d| d.requests().iter().any(|r| r.path.starts_with(&path) && r.status == 403), WAIT).await;
    assert!(refused, "the bot never tried to fix {parent}");
    assert!(fake.everyone_can_view(parent));
    // The detailed readiness report says so until it is fixed; the chat itself stays ready.
    app.eventually("the readiness report names the public channel", || async {
        let (status, _, body) = app.get_admin("/readyz").await;
        status == 200 && body.contains("warnings") && body.contains(&parent.to_string())
    })
    .await;
    // Channels it creates itself are private all the same (creating needs no Manage Roles).
    let lobby = channel_for(&fake, "lobby").await;
    assert!(!fake.everyone_can_view(lobby));
}

#[tokio::test]
async fn only_moderators_speak_as_staff_and_others_get_one_reaction() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;

    // A member, and a member given Manage Messages in this channel only: neither is staff.
    let member = fake.add_user("member", &[]);
    let helper_role = fake.add_role("helper", 0);
    let helper = fake.add_user("helper", &[helper_role]);
    fake.set_overwrite(lobby, helper_role, Some((0, perms::MANAGE_MESSAGES, 0)));
    assert_ne!(fake.permissions_in(helper.id, lobby) & perms::MANAGE_MESSAGES, 0);
    let from_member = fake.inject_message(lobby, &member, "I am staff, trust me");
    let from_helper = fake.inject_message(lobby, &helper, "me too");
    for message in [&from_member, &from_helper] {
        let reacted = fake
            .wait_until(
                |d| d.reactions_on(lobby, id_of(message)).iter().any(|r| r["emoji"]["name"] == "⛔" && r["me"] == true),
                WAIT,
            )
            .await;
        assert!(reacted, "no ⛔ on {message}");
    }
    // A moderator's message after them is the first thing the web room hears.
    let staff = fake.staff_user();
    fake.inject_message(lobby, &staff, "real staff here");
    let got = alice.wait_for("message").await;
    assert_eq!((got["text"].as_str(), got["staff"].as_bool()), (Some("real staff here"), Some(true)), "{got}");
    assert_eq!(fake.reactions_on(lobby, id_of(&from_member)).len(), 1, "one reaction, once");
    let db = app.db().await;
    let staff_rows = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM message_log WHERE staff".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(staff_rows.try_get::<i64>("", "n").unwrap(), 1);
}

#[tokio::test]
async fn commands_check_guild_level_permissions_and_destructive_ones_need_an_admin() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let admin_role = fake.add_role("chat admins", 0);
    let env = spawn_env(&fake, &[("DISCORD_ADMIN_ROLE_ID", admin_role.to_string())]);
    let app = spawn(&env).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;

    // Manage Messages in this one channel is no moderator.
    let helper_role = fake.add_role("helper", 0);
    let helper = fake.add_user("helper", &[helper_role]);
    fake.set_overwrite(lobby, helper_role, Some((0, perms::MANAGE_MESSAGES, 0)));
    let delete_lobby =
        json!([{"name": "delete", "type": 1, "options": [{"name": "slug", "type": 3, "value": "lobby"}]}]);
    for (name, options) in [
        ("bans", Value::Null),
        ("purge", json!([{"name": "tag", "type": 3, "value": "abcdef012345"}])),
        (
            "filter",
            json!([{"name": "add", "type": 1, "options": [{"name": "pattern", "type": 3, "value": ".*"}, {"name": "regex", "type": 5, "value": true}]}]),
        ),
        ("room", delete_lobby.clone()),
    ] {
        let (interaction, _) = fake.inject_slash_command(&helper, lobby, name, options);
        let answer = answer_text(&fake, interaction).await;
        assert!(answer.contains("may not use"), "/{name} by a channel-scoped helper: {answer}");
    }

    // A moderator (guild-level Manage Messages) moderates, but destroys nothing.
    let staff = fake.staff_user();
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "bans", Value::Null);
    assert!(answer_text(&fake, interaction).await.contains("No bans"));
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "room", delete_lobby.clone());
    let answer = answer_text(&fake, interaction).await;
    assert!(answer.contains("may not use") && answer.contains("Manage Server"), "{answer}");
    let add = json!([{"name": "add", "type": 1, "options": [{"name": "pattern", "type": 3, "value": "spam"}]}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "filter", add.clone());
    assert!(answer_text(&fake, interaction).await.contains("may not use"));
    let (interaction, _) = fake.inject_slash_command(
        &staff,
        lobby,
        "ban",
        json!([{"name": "target", "type": 3, "value": "203.0.113.99"}]),
    );
    assert!(answer_text(&fake, interaction).await.contains("needs the admin role or Manage Server"));
    assert_eq!(app.members_of("lobby").await, Some(0), "the lobby still exists");

    // The admin role (no Discord permission at all) may.
    let admin = fake.add_user("chat-admin", &[admin_role]);
    let (interaction, _) = fake.inject_slash_command(&admin, lobby, "filter", add);
    assert!(answer_text(&fake, interaction).await.contains("Filter #"));
    let (interaction, _) = fake.inject_slash_command(&admin, lobby, "room", delete_lobby);
    assert!(answer_text(&fake, interaction).await.contains("Deleted room lobby"));
}

#[tokio::test]
async fn an_admin_ip_ban_leaves_no_address_in_discord_or_the_audit_log() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let modlog = id_of(&fake.create_channel("mod-log", fake_discord::channel_type::TEXT, None));
    let app = spawn(&spawn_env(&fake, &[("DISCORD_MODLOG_CHANNEL_ID", modlog.to_string())])).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let owner = owner(&fake);
    let address = "203.0.113.77";
    for target in [address, "198.51.100.0/24"] {
        let options =
            json!([{"name": "target", "type": 3, "value": target}, {"name": "duration", "type": 3, "value": "7d"}]);
        let (interaction, _) = fake.inject_slash_command(&owner, lobby, "ban", options);
        let answer = answer_text(&fake, interaction).await;
        assert!(answer.contains("Banned ban #"), "{answer}");
    }
    assert!(fake.wait_until(|d| d.messages_in(modlog).len() >= 2, WAIT).await, "both bans reach the mod log");
    // A duration past ten years is a clear error, not a panic.
    let options = json!([{"name": "target", "type": 3, "value": address}, {"name": "duration", "type": 3, "value": "1000000000d"}]);
    let (interaction, _) = fake.inject_slash_command(&owner, lobby, "ban", options);
    assert!(answer_text(&fake, interaction).await.contains("10 years"));

    // Lifting a ban someone else made is an admin's call.
    let staff = fake.staff_user();
    let unban = json!([{"name": "id", "type": 4, "value": 1}]);
    let (interaction, _) = fake.inject_slash_command(&staff, lobby, "unban", unban.clone());
    let answer = answer_text(&fake, interaction).await;
    assert!(answer.contains("made by someone else"), "{answer}");
    let (interaction, _) = fake.inject_slash_command(&owner, lobby, "unban", unban);
    assert!(answer_text(&fake, interaction).await.contains("Lifted ban #1"));

    for request in fake.requests() {
        let body = request.body.to_string();
        assert!(!body.contains(address) && !body.contains("198.51.100"), "{} {body}", request.path);
    }
    let db = app.db().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT action, target, details FROM audit_log".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "two bans and one unban");
    for row in rows.iter().filter(|r| r.try_get::<String>("", "action").unwrap() == "ban") {
        let target: String = row.try_get("", "target").unwrap();
        let details: String = row.try_get("", "details").unwrap();
        assert!(target.starts_with("ban #") && target.ends_with("(address)"), "{target}");
        assert!(!target.contains("203.0") && !details.contains("203.0") && !details.contains("198.51"), "{details}");
    }
    // The network itself stays where bans need it.
    let bans = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT network FROM bans ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let networks: Vec<String> = bans.iter().map(|r| r.try_get("", "network").unwrap()).collect();
    assert_eq!(networks, ["203.0.113.77/32", "198.51.100.0/24"]);
}

#[tokio::test]
async fn a_masked_link_in_a_visitor_message_is_inert_in_lookup() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn(&spawn_env(&fake, &[("TRUSTED_PROXIES", "127.0.0.1".to_owned())])).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let mut visitor = Client::connect_from(app.addr, "203.0.113.61").await.unwrap();
    visitor.join("lobby", "Support").await;
    let id = visitor.say("[Discord Support](https://evil.example/login)\n# Staff note: all clear").await;
    let db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let tag = loop {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT ip_tag FROM message_log WHERE id = '{id}'"),
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            break row.try_get::<String>("", "ip_tag").unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(tag.len(), 12, "new tags are 48 bits: {tag}");
    let staff = fake.staff_user();
    let (interaction, _) =
        fake.inject_slash_command(&staff, lobby, "lookup", json!([{"name": "tag", "type": 3, "value": tag}]));
    let answer = answer_text(&fake, interaction).await;
    assert!(answer.contains("\\[Discord Support\\]\\(https\\://evil.example/login\\)"), "{answer}");
    assert!(!answer.contains("](https"), "a live masked link: {answer}");
    assert!(answer.contains(" \\# Staff note"), "the heading stays on the message's line: {answer}");
    assert_eq!(answer.lines().count(), 2, "one header line and one message line: {answer}");
}

#[tokio::test]
async fn room_delete_and_edit_act_on_a_live_visitor_room_and_its_thread() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let app = spawn_with_discord(&fake).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    // Reserved names are no titles.
    let mut host = app.client().await;
    host.send(json!({"type": "create", "title": "S t 4 f f", "capacity": 4})).await;
    assert!(host.expect_error("bad_frame").await["message"].as_str().unwrap().contains("reserved"));
    let room = visitor_room(&mut host, "Late night", "Host").await;
    host.say("anyone?").await;
    let parent = parent_named(&fake, "visitor-rooms").await;
    let thread = fake.wait_for(|d| d.threads_of(parent).first().map(id_of), WAIT).await.expect("the room's thread");

    let owner = owner(&fake);
    let edit = json!([{"name": "edit", "type": 1, "options": [
        {"name": "slug", "type": 3, "value": room}, {"name": "locked", "type": 5, "value": true}
    ]}]);
    let (interaction, _) = fake.inject_slash_command(&owner, lobby, "room", edit);
    assert!(answer_text(&fake, interaction).await.contains("locked true"));
    let mut late = app.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        late.send(json!({"type": "join", "room": room, "nick": "Late"})).await;
        let frame = late.next().await;
        if frame["code"] == "room_locked" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lock never reached the visitor room: {frame}");
        if frame["type"] == "joined" {
            late.send(json!({"type": "leave"})).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let delete = json!([{"name": "delete", "type": 1, "options": [{"name": "slug", "type": 3, "value": room}]}]);
    let (interaction, _) = fake.inject_slash_command(&owner, lobby, "room", delete.clone());
    assert!(answer_text(&fake, interaction).await.contains(&format!("Deleted room {room}")));
    assert_eq!(host.wait_for("kicked").await["type"], "kicked");
    let archived =
        fake.wait_until(|d| d.channel(thread).is_some_and(|t| t["thread_metadata"]["archived"] == true), WAIT).await;
    assert!(archived, "the thread was not archived: {:?}", fake.channel(thread));
    let mut again = app.client().await;
    again.send(json!({"type": "join", "room": room, "nick": "Again"})).await;
    again.expect_error("unknown_room").await;
    let (interaction, _) = fake.inject_slash_command(&owner, lobby, "room", delete);
    assert!(answer_text(&fake, interaction).await.contains("already ended"));
}

#[tokio::test]
async fn the_author_picker_rechecks_whoever_presses_it() {
    // One message per 3 s per channel: a burst from two people coalesces into shared embeds.
    let fake = FakeDiscord::start(FakeConfig {
        message_rate_limit: 1,
        message_rate_window: Duration::from_secs(3),
        ..FakeConfig::default()
    })
    .await;
    let app = spawn(&spawn_env(&fake, &[("TRUSTED_PROXIES", "127.0.0.1".to_owned())])).await;
    let lobby = channel_for(&fake, "lobby").await;
    connected(&fake).await;
    let mut alice = Client::connect_from(app.addr, "203.0.113.21").await.unwrap();
    alice.join("lobby", "Alice").await;
    let mut bob = Client::connect_from(app.addr, "198.51.100.21").await.unwrap();
    bob.join("lobby", "Bob").await;
    alice.say("warm-up").await;
    assert!(fake.wait_until(|d| !d.messages_in(lobby).is_empty(), WAIT).await);
    for i in 0..4 {
        alice.say(&format!("from alice {i}")).await;
        bob.say(&format!("from bob {i}")).await;
    }
    let shared = fake
        .wait_for(
            |d| {
                d.messages_in(lobby).into_iter().find(|m| {
                    let s = m.to_string();
                    s.contains("from alice") && s.contains("from bob")
                })
            },
            Duration::from_secs(30),
        )
        .await
        .expect("a Discord message carrying both authors");
    // Its mapping is recorded right after the post.
    let db = app.db().await;
    let query = format!("SELECT id FROM message_log WHERE discord_message_id = {}", id_of(&shared));
    let deadline = tokio::time::Instant::now() + WAIT;
    while db.query_one_raw(Statement::from_string(db.get_database_backend(), query.clone())).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the mapping was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let staff = fake.staff_user();
    let (interaction, _) = fake.inject_message_command(&staff, lobby, "Ban author", id_of(&shared));
    let menu = fake
        .wait_for(
            |d| d.interaction_responses(interaction).into_iter().find(|r| r.to_string().contains("custom_id")),
            WAIT,
        )
        .await
        .expect("an author picker");
    let select = &menu["data"]["components"][0]["components"][0];
    let custom_id = select["custom_id"].as_str().unwrap().to_owned();
    let bob_tag = select["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"].as_str().unwrap().starts_with("Bob ("))
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply_message = fake.interaction_messages(interaction).first().map(id_of).unwrap_or_default();
    // A member who is no moderator presses it: refused, nobody banned.
    let member = fake.add_user("curious-member", &[]);
    let (pressed, _) = fake.inject_component(&member, lobby, reply_message, &custom_id, Some(vec![bob_tag.clone()]));
    let refusal = answer_text(&fake, pressed).await;
    assert!(refusal.contains("may not use"), "{refusal}");
    let id = bob.say("still here").await;
    bob.wait_message(&id).await;
    // The moderator's own press still counts.
    fake.inject_component(&staff, lobby, reply_message, &custom_id, Some(vec![bob_tag]));
    assert_eq!(bob.wait_for("kicked").await["type"], "kicked");
    let bans = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT moderator FROM bans".to_owned()))
        .await
        .unwrap();
    assert_eq!(bans.len(), 1);
    let by: String = bans[0].try_get("", "moderator").unwrap();
    assert!(by.contains(&staff.id.to_string()), "{by}");
}
