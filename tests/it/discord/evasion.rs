//! Ban-evasion alerts in the mod-log through the fake Discord: a `/ban` by tag carries the
//! device, the banned device from a new /24 is alerted within a second, many joins make one
//! message edited with counts, *Extend to this address* bans the evader on a second gateway,
//! *Ignore* silences the pair for the case, and `EVASION_AUTO_APPLY` extends a device match by
//! itself and says so. No address ever reaches Discord.

use std::time::{Duration, Instant};

use fake_discord::{FakeConfig, FakeDiscord, id_of};
use serde_json::{Value, json};

use super::reports::{buttons_disabled, custom_id};
use super::*;
use crate::cluster::Cluster;
use crate::evasion::{ban_tag, connect_device, logged, token, wait_refused};
use crate::support::*;

/// The fake Discord with a mod-log channel, and the app (trusting 127.0.0.1 as a proxy) posting
/// to it, with `extra` settings.
async fn with_modlog(extra: &[(&str, &str)]) -> (FakeDiscord, u64, TestApp) {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let modlog = id_of(&fake.create_channel("mod-log", fake_discord::channel_type::TEXT, None));
    let modlog_id = modlog.to_string();
    let mut env = vec![("TRUSTED_PROXIES", "127.0.0.1"), ("DISCORD_MODLOG_CHANNEL_ID", modlog_id.as_str())];
    env.extend_from_slice(extra);
    let app = app_with_discord(&fake, &env).await;
    (fake, modlog, app)
}

/// The alert of `case` in the mod-log once `check` holds for it (waits).
async fn alert_of(fake: &FakeDiscord, modlog: u64, case: i64, check: impl Fn(&Value) -> bool) -> Value {
    let title = format!("Possible evasion of case #{case}");
    fake.wait_for(
        |d| d.messages_in(modlog).into_iter().filter(|m| m.to_string().contains(&title)).find(|m| check(m)),
        WAIT,
    )
    .await
    .unwrap_or_else(|| panic!("no alert of case #{case} as expected: {:?}", fake.messages_in(modlog)))
}

/// The alert messages of `case` in the mod-log.
fn alerts_of(fake: &FakeDiscord, modlog: u64, case: i64) -> Vec<Value> {
    let title = format!("Possible evasion of case #{case}");
    fake.messages_in(modlog).into_iter().filter(|m| m.to_string().contains(&title)).collect()
}

/// Whether an alert still has its buttons (nobody decided).
fn open(alert: &Value) -> bool {
    alert["components"][0]["components"].is_array()
}

fn joins(alert: &Value) -> i64 {
    let fields = alert["embeds"][0]["fields"].as_array().unwrap();
    let field = fields.iter().find(|f| f["name"] == "Joins").unwrap();
    field["value"].as_str().unwrap().parse().unwrap()
}

/// No request to Discord carried any of `ips`.
fn no_address_reached_discord(fake: &FakeDiscord, ips: &[&str]) {
    for request in fake.requests() {
        let body = request.body.to_string();
        for ip in ips {
            assert!(!body.contains(ip), "{ip} reached Discord: {} {body}", request.path);
        }
    }
}

#[tokio::test]
async fn a_banned_device_from_a_new_address_is_alerted_within_a_second_and_alerts_group_per_case() {
    let (fake, modlog, app) = with_modlog(&[]).await;
    let channel = channel_for(&fake, "lobby").await;
    let db = app.db().await;
    let mut evader = connect_device(app.addr, "198.51.100.7", &token(1)).await.unwrap();
    evader.join("lobby", "Evader").await;
    let id = evader.say("buy pills").await;
    let (tag, device) = logged(&db, &id).await;

    // `/ban` by tag: the ban carries the device of the tag's messages.
    let staff = fake.staff_user();
    let options = json!([{"name": "target", "type": 3, "value": tag}, {"name": "reason", "type": 3, "value": "spam"}]);
    let (interaction, _) = fake.inject_slash_command(&staff, channel, "ban", options);
    let answer = answer_of(&fake, interaction).await;
    assert!(answer.contains("Banned"), "{answer}");
    let ban = bot::bans::list(&db, false).await.unwrap().into_iter().next().expect("a ban");
    assert_eq!(ban.device, device, "the ban carries the message's device tag");
    let case = ban.case_id.unwrap();
    assert_eq!(evader.closed().await, Some(4003));

    // The same device from a new /24: refused, and alerted within a second.
    let refused = Instant::now();
    let (status, body) = connect_device(app.addr, "203.0.113.50", &token(1)).await.err().expect("refused");
    assert_eq!((status, body["code"].as_str()), (403, Some("banned")));
    let alert = alert_of(&fake, modlog, case, |_| true).await;
    assert!(refused.elapsed() < Duration::from_secs(1), "the alert took {:?}", refused.elapsed());
    let text = alert.to_string();
    assert!(text.contains(&format!("possible evasion of case #{case}: same device, new /24")), "{text}");
    assert!(text.contains(device.as_deref().unwrap()) && text.contains("Extend to this address"), "{text}");

    // Many joins from the banned /24 (new devices): one message, edited with the counts, at
    // most 10 pairs listed.
    let mut neighbours = Vec::new();
    for i in 0..14 {
        let mut c = connect_device(app.addr, &format!("198.51.100.{}", 20 + i), &token(100 + i)).await.unwrap();
        c.join("chill", &format!("Near{i}")).await;
        neighbours.push(c);
    }
    let alert = alert_of(&fake, modlog, case, |m| joins(m) == 15).await;
    assert_eq!(alerts_of(&fake, modlog, case).len(), 1, "one message per case");
    let posts = fake.requests_to("POST", &format!("/channels/{modlog}/messages"));
    let posted = posts.iter().filter(|r| r.body.to_string().contains(&format!("evasion of case #{case}"))).count();
    assert_eq!(posted, 1, "the alert was posted once and then edited");
    let lines = alert["embeds"][0]["description"].as_str().unwrap().lines().count();
    assert_eq!(lines, bot::evasion::PAIRS_MAX, "{alert}");
    assert!(alert.to_string().contains("same /24, new device"), "{alert}");

    // Someone who may not moderate is refused and nothing changes.
    let visitor = fake.add_user("curious", &[]);
    let (pressed, _) = fake.inject_component(&visitor, modlog, id_of(&alert), &custom_id(&alert, "Ignore"), None);
    assert!(answer_of(&fake, pressed).await.contains("Only moderators"));
    assert!(alerts_of(&fake, modlog, case)[0]["components"][0]["components"].is_array());
    let mut ips: Vec<String> = (0..14).map(|i| format!("198.51.100.{}", 20 + i)).collect();
    ips.extend(["198.51.100.7".to_owned(), "203.0.113.50".to_owned()]);
    no_address_reached_discord(&fake, &ips.iter().map(String::as_str).collect::<Vec<_>>());
    db.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn extend_bans_the_evader_on_a_second_gateway_and_ignore_silences_the_pair() {
    let fake = FakeDiscord::start(FakeConfig::default()).await;
    let modlog = id_of(&fake.create_channel("mod-log", fake_discord::channel_type::TEXT, None));
    let mut cluster = Cluster::new().await;
    cluster.env = discord_env(&fake);
    cluster.env.push(("TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()));
    cluster.env.push(("DISCORD_MODLOG_CHANNEL_ID".to_owned(), modlog.to_string()));
    let _bot = cluster.bot().await;
    let (g1, g2) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&g1, "lobby").await;
    cluster.wait_room(&g2, "lobby").await;
    connected(&fake).await;
    let (a1, a2) = (g1.addr.unwrap(), g2.addr.unwrap());
    // An operator bans one address (a /32, no device).
    cluster.cli(&["bans", "add", "198.51.100.7", "--duration", "2h", "--reason", "flooding"]).await;
    wait_refused(a1, "198.51.100.7", &token(9)).await;
    wait_refused(a2, "198.51.100.7", &token(9)).await;
    let db = bot::db::connect(&cluster.database_url).await.unwrap();
    let ban = bot::bans::list(&db, false).await.unwrap().into_iter().next().unwrap();
    let case = ban.case_id.unwrap();

    // The evader comes back from the same /24 on the first gateway.
    let mut evader = connect_device(a1, "198.51.100.8", &token(10)).await.unwrap();
    evader.join("lobby", "Evader").await;
    let alert = alert_of(&fake, modlog, case, |_| true).await;
    assert!(alert.to_string().contains("same /24, new address"), "{alert}");
    let staff = fake.staff_user();
    let (pressed, _) =
        fake.inject_component(&staff, modlog, id_of(&alert), &custom_id(&alert, "Extend to this address"), None);
    // Same case, reason and expiry, for the new address and device: out on both gateways.
    assert_eq!(evader.wait_for("kicked").await["type"], "kicked");
    let edited = fake
        .wait_for(|d| d.message(modlog, id_of(&alert)).filter(|m| m.to_string().contains("**Extended**")), WAIT)
        .await
        .unwrap_or_else(|| panic!("the alert was not edited: {:?}", fake.interaction_responses(pressed)));
    assert!(edited.to_string().contains(&format!("<@{}>", staff.id)), "{edited}");
    assert!(edited["components"].as_array().is_none_or(Vec::is_empty) || buttons_disabled(&edited), "{edited}");
    let (status, _) = Client::connect_from(a2, "198.51.100.8").await.err().expect("the new address is banned");
    assert_eq!(status, 403);
    let (status, _) = connect_device(a2, "192.0.2.77", &token(10)).await.err().expect("its device is banned");
    assert_eq!(status, 403);
    let extended: Vec<_> =
        bot::bans::list(&db, false).await.unwrap().into_iter().filter(|b| b.case_id == Some(case)).collect();
    assert_eq!(extended.len(), 2, "{extended:?}");
    assert!(extended.iter().all(|b| b.reason == "flooding" && b.expires_at == ban.expires_at), "{extended:?}");
    let details = bot::cases::get(&db, case).await.unwrap().unwrap().details;
    assert!(details.contains("extended to 1 more address(es) after evasion alert #1"), "{details}");

    // The device, refused from yet another address, opens a new alert (the first was decided),
    // which a neighbour on the first gateway joins; both are ignored.
    let alert = alert_of(&fake, modlog, case, |m| open(m) && m.to_string().contains("same device, new /24")).await;
    let mut neighbour = connect_device(a1, "198.51.100.9", &token(11)).await.unwrap();
    neighbour.join("lobby", "Neighbour").await;
    let alert = alert_of(&fake, modlog, case, |m| m["id"] == alert["id"] && joins(m) == 2).await;
    let described = alert["embeds"][0]["description"].as_str().unwrap().to_owned();
    // "new address" or "new device", whichever of the case's two bans the gateway compared with.
    let line = described.lines().find(|l| l.contains("same /24, new")).unwrap();
    let ignored_tag = line.split('`').nth(1).unwrap().to_owned();
    let (pressed, _) = fake.inject_component(&staff, modlog, id_of(&alert), &custom_id(&alert, "Ignore"), None);
    fake.wait_for(|d| d.message(modlog, id_of(&alert)).filter(|m| m.to_string().contains("**Ignored**")), WAIT)
        .await
        .unwrap_or_else(|| panic!("the alert was not edited: {:?}", fake.interaction_responses(pressed)));
    // The same pair again, through the other gateway (its own limits): never alerted again;
    // another neighbour after it is.
    let mut again = connect_device(a2, "198.51.100.9", &token(11)).await.unwrap();
    again.join("lobby", "Neighbour2").await;
    let mut other = connect_device(a2, "198.51.100.10", &token(12)).await.unwrap();
    other.join("lobby", "Other").await;
    let fresh = alert_of(&fake, modlog, case, |m| open(m) && m["id"] != alert["id"]).await;
    let listed = fresh["embeds"][0]["description"].as_str().unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(!listed.contains(&ignored_tag), "the ignored pair was alerted again: {listed}");
    assert_eq!(joins(&fresh), 1, "{fresh}");
    no_address_reached_discord(&fake, &["198.51.100.7", "198.51.100.8", "198.51.100.9", "198.51.100.10"]);
    db.close().await.unwrap();
    cluster.finish().await;
}

#[tokio::test]
async fn auto_apply_extends_a_device_match_by_itself_and_says_so() {
    let (fake, modlog, app) = with_modlog(&[("EVASION_AUTO_APPLY", "on")]).await;
    let db = app.db().await;
    let mut evader = connect_device(app.addr, "198.51.100.7", &token(1)).await.unwrap();
    evader.join("lobby", "Evader").await;
    let id = evader.say("spam").await;
    let (tag, _) = logged(&db, &id).await;
    let case = ban_tag(&db, &tag).await;
    wait_refused(app.addr, "198.51.100.7", &token(2)).await;

    // The banned device from elsewhere: refused, and the ban extended to that address by itself.
    let (status, _) = connect_device(app.addr, "203.0.113.50", &token(1)).await.err().expect("refused by device");
    assert_eq!(status, 403);
    let alert = alert_of(&fake, modlog, case, |m| m.to_string().contains("Applied automatically")).await;
    assert!(alert.to_string().contains("extended automatically"), "{alert}");
    // Clearing the device token no longer helps from that address; its neighbours are free.
    wait_refused(app.addr, "203.0.113.50", "").await;
    let mut neighbour = Client::connect_from(app.addr, "203.0.113.51").await.unwrap();
    neighbour.join("lobby", "Neighbour").await;
    let extended = bot::bans::list(&db, false).await.unwrap();
    assert!(extended.iter().any(|b| b.network == "203.0.113.50/32" && b.moderator == bot::evasion::AUTO_ACTOR));
    // A neighbour match is never applied by itself: only alerted.
    let plain = bot::evasion::pairs(&crate::evasion::alerts(&db).await[0]);
    assert!(plain.iter().all(|p| p.auto == p.device_match), "{plain:?}");
    no_address_reached_discord(&fake, &["198.51.100.7", "203.0.113.50"]);
    db.close().await.unwrap();
    app.stop().await;
}
