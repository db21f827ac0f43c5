//! Fault 3: a gateway SIGKILLed under its visitors. Two gateways; visitors in the lobby and
//! one in a roulette pair on the first, their company on the second. The first dies: its
//! visitors resume on the second with their tokens and miss nothing (what was said meanwhile
//! arrives in `missed`, no `gap`), keep their nicknames and their stranger; the seat of a
//! visitor who does not come back is freed for everyone else within `PRESENCE_TTL_SECS` (the
//! dead gateway no longer refreshes it), and a visitor who resumes after that, within its
//! `RESUME_SECS`, sits down again if its nickname is still free.

use std::time::Duration;

use serde_json::json;

use crate::cluster::Cluster;
use crate::redis_loss::matched;
use crate::resume::{frames_until_own, join, resume, texts};

/// `RESUME_SECS` here (the cluster's `PRESENCE_TTL_SECS` is 2).
const RESUME_SECS: u64 = 5;

#[tokio::test]
async fn a_killed_gateways_visitors_resume_on_the_other_without_a_gap_and_its_other_seats_are_freed() {
    let mut cluster = Cluster::new().await;
    cluster.env.push(("RESUME_SECS".into(), RESUME_SECS.to_string()));
    let _bot = cluster.bot().await;
    let (mut a, b) = (cluster.gateway().await, cluster.gateway().await);
    cluster.wait_room(&a, "lobby").await;
    cluster.wait_room(&b, "lobby").await;
    // On A: Alice and Carl in the lobby, Ann in a pair with Ben (on B). On B: Bob in the lobby.
    let mut alice = a.client().await;
    let (_, alice_token) = join(&mut alice, "lobby", "Alice").await;
    let mut carl = a.client().await;
    carl.join("lobby", "Carl").await;
    let mut dora = a.client().await;
    let (_, dora_token) = join(&mut dora, "lobby", "Dora").await;
    let mut bob = b.client().await;
    bob.join("lobby", "Bob").await;
    let mut ann = a.client().await;
    ann.send(json!({"type": "roulette", "nick": "Ann", "interests": []})).await;
    ann.wait_for("waiting").await;
    let mut ben = b.client().await;
    ben.send(json!({"type": "roulette", "nick": "Ben", "interests": []})).await;
    let ann_token = matched(&mut ann).await["resume"].as_str().unwrap().to_owned();
    assert_eq!(matched(&mut ben).await["stranger"], "Ann");
    let seen = alice.say("before the crash").await;
    bob.wait_message(&seen).await;
    assert_eq!(cluster.members(&b, "lobby").await, 4);

    a.kill().await;
    drop((alice, carl, dora, ann));
    let said = [bob.say("did A just die?").await, bob.say("hello?").await];

    // Alice comes back on B where she left off: same room and nickname, Bob's two in `missed`.
    let mut alice = b.client().await;
    let resumed = resume(&mut alice, &alice_token, Some(&seen)).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["room"].as_str(), resumed["nick"].as_str()), (Some("lobby"), Some("Alice")));
    assert_eq!(texts(&resumed["missed"]), ["did A just die?", "hello?"]);
    let ids: Vec<&str> = resumed["missed"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, said.each_ref().map(String::as_str));
    assert_eq!(resumed["gap"], false);
    let id = alice.say("back on B").await;
    // Back before her seat lapsed: the room saw her neither leave nor come back.
    let frames = super::frames_before(&mut bob, &id).await;
    assert!(!super::presence_of(&frames, "Alice"), "{frames:?}");

    // Ann comes back to Ben, who never hears that she left.
    let mut ann = b.client().await;
    let resumed = resume(&mut ann, &ann_token, None).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["nick"].as_str(), resumed["stranger"].as_str()), (Some("Ann"), Some("Ben")));
    let id = ann.say("sorry, my server died").await;
    assert_eq!(ben.wait_message(&id).await["nick"], "Ann");
    let frames = frames_until_own(&mut ben, "no problem").await;
    assert!(frames.iter().all(|f| f["type"] != "stranger_left"), "{frames:?}");
    let id = ben.say("still here").await;
    ann.wait_message(&id).await;

    // Carl (and Dora, for now) do not come back: their seats lapse for everyone (the room counts
    // Alice and Bob), and a newcomer may take Carl's nickname.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2 + RESUME_SECS + 3);
    while cluster.members(&b, "lobby").await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the dead gateway's seat was never freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut newcomer = b.client().await;
    newcomer.join("lobby", "Carl").await;
    assert_eq!(cluster.members(&b, "lobby").await, 3);
    // Alice and Ann still hold theirs, past the dead gateway's presence TTL.
    let id = alice.say("still me").await;
    assert_eq!(newcomer.wait_message(&id).await["nick"], "Alice");
    let mut copycat = b.client().await;
    copycat.send(json!({"type": "join", "room": "lobby", "nick": "alice"})).await;
    copycat.expect_error("nick_taken").await;
    // Dora comes back late, after the dead gateway's seats lapsed but within her window.
    let mut dora = b.client().await;
    let resumed = resume(&mut dora, &dora_token, None).await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(cluster.members(&b, "lobby").await, 4);
    cluster.finish().await;
}
