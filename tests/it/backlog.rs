//! Push-back and dead letters (issue 25), on SQLite and PostgreSQL: a database that refuses
//! every write fills the queue up to `QUEUE_MAX`, past which `say` is refused as `unavailable`
//! with nothing of the message sent or logged, and service is normal once it drains; a message
//! the database refuses alone becomes a dead letter after 5 tries, and later ones are logged.
//! Depth, age and dead letters show in `/metrics` and the detailed readiness report.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;

use crate::chat::fresh_postgres_database;
use crate::support::{TestApp, spawn_app_on, temp_dir};

/// Make the database refuse inserts into `table` whose text is `text` (any text: `None`).
pub(crate) async fn refuse_inserts(db: &DatabaseConnection, name: &str, table: &str, text: Option<&str>) {
    let when = text.map(|t| format!("NEW.text = '{t}'"));
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let check = when.unwrap_or_else(|| "TRUE".to_owned());
            db.execute_unprepared(&format!(
                "CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN IF {check} THEN \
                 RAISE EXCEPTION 'refused by test trigger {name}'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            .await
            .unwrap();
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
            ))
            .await
            .unwrap();
        }
        _ => {
            let when = when.map(|w| format!("WHEN {w}")).unwrap_or_default();
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} {when} \
                 BEGIN SELECT RAISE(ABORT, 'refused by test trigger {name}'); END"
            ))
            .await
            .unwrap();
        }
    }
}

async fn allow_inserts(db: &DatabaseConnection, name: &str, table: &str) {
    let on = if db.get_database_backend() == DbBackend::Postgres { format!(" ON {table}") } else { String::new() };
    db.execute_unprepared(&format!("DROP TRIGGER {name}{on}")).await.unwrap();
}

async fn texts(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let column = if table == "dead_letters" { "payload" } else { "text" };
    let sql = format!("SELECT {column} FROM {table} ORDER BY id");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|row| row.try_get("", column).unwrap()).collect()
}

/// The queue as the detailed readiness report shows it.
async fn queue(app: &TestApp) -> Value {
    let (_, _, body) = app.get_admin("/readyz").await;
    let report: Value = serde_json::from_str(&body).unwrap();
    report["queue"].clone()
}

/// A gauge's value in `/metrics`.
async fn gauge(app: &TestApp, name: &str) -> Option<f64> {
    let (status, _, body) = app.get_admin("/metrics").await;
    assert_eq!(status, 200);
    body.lines().find_map(|line| line.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

async fn a_full_queue_refuses_messages_until_it_drains(app: TestApp) {
    let db = app.db().await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    let (mut bob, _) = app.joined("lobby", "Bob").await;
    // Disk full, say: neither the log nor the dead letters take anything.
    refuse_inserts(&db, "stall_log", "message_log", None).await;
    refuse_inserts(&db, "stall_dead", "dead_letters", None).await;
    for i in 0..3 {
        alice.say(&format!("queued {i}")).await;
    }
    alice.send(serde_json::json!({"type": "say", "text": "refused", "client_id": "c-refused"})).await;
    let refusal = alice.expect_error("unavailable").await;
    assert_eq!(refusal["client_id"], "c-refused", "{refusal}");
    assert!(refusal["message"].as_str().unwrap().contains("overloaded"), "{refusal}");
    // The backlog shows in the readiness report and the metrics.
    let report = queue(&app).await;
    assert_eq!(report["depth"], 3, "{report}");
    assert!(report["oldest_age_secs"].as_f64().is_some(), "{report}");
    assert_eq!(gauge(&app, "chat_queue_depth").await, Some(3.0));
    assert!(gauge(&app, "chat_queue_oldest_age_seconds").await.is_some());

    // Space is back: everything queued is logged, the queue drains and messages flow again.
    allow_inserts(&db, "stall_log", "message_log").await;
    allow_inserts(&db, "stall_dead", "dead_letters").await;
    app.eventually("the queue drains", || async { queue(&app).await["depth"] == 0 }).await;
    let after = alice.say("after").await;
    // Bob saw the queued messages and then "after", never the refused one.
    let mut seen = Vec::new();
    loop {
        let frame = bob.wait_for("message").await;
        seen.push(frame["text"].as_str().unwrap().to_owned());
        if frame["id"] == after.as_str() {
            break;
        }
    }
    assert_eq!(seen, ["queued 0", "queued 1", "queued 2", "after"]);
    app.eventually("the last message is logged", || async { texts(&db, "message_log").await.len() == 4 }).await;
    assert_eq!(texts(&db, "message_log").await, ["queued 0", "queued 1", "queued 2", "after"]);
    assert!(texts(&db, "dead_letters").await.is_empty());
    db.close().await.unwrap();
    drop((alice, bob));
    app.stop().await;
}

async fn a_poisoned_message_becomes_a_dead_letter(app: TestApp) {
    let db = app.db().await;
    refuse_inserts(&db, "poison", "message_log", Some("poison")).await;
    let (mut alice, _) = app.joined("lobby", "Alice").await;
    alice.say("before").await;
    alice.say("poison").await;
    alice.say("after").await;
    app.eventually("the poisoned message is a dead letter", || async { !texts(&db, "dead_letters").await.is_empty() })
        .await;
    app.eventually("the others are logged", || async { texts(&db, "message_log").await.len() == 2 }).await;
    assert_eq!(texts(&db, "message_log").await, ["before", "after"]);
    let sql = "SELECT kind, room, error, attempts, ip FROM dead_letters";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.try_get::<String>("", "kind").unwrap(), "message");
    assert_eq!(row.try_get::<String>("", "room").unwrap(), "lobby");
    assert!(row.try_get::<String>("", "error").unwrap().contains("refused by test trigger poison"));
    assert!(row.try_get::<i32>("", "attempts").unwrap() >= 5);
    assert_eq!(row.try_get::<Option<String>>("", "ip").unwrap().as_deref(), Some("127.0.0.1"));
    let payload: Value = serde_json::from_str(&texts(&db, "dead_letters").await[0]).unwrap();
    assert_eq!(payload["text"], "poison");
    // Acknowledged: the queue moved on, and the dead letter is counted.
    app.eventually("the queue drains", || async { queue(&app).await["depth"] == 0 }).await;
    assert_eq!(queue(&app).await["dead_letters"], 1);
    assert_eq!(gauge(&app, "chat_dead_letters").await, Some(1.0));
    let (_, _, body) = app.get_admin("/readyz").await;
    assert!(body.contains("dead_letters"), "{body}");
    db.close().await.unwrap();
    drop(alice);
    app.stop().await;
}

async fn on_sqlite(overrides: &[(&str, &str)]) -> TestApp {
    let dir = temp_dir();
    let url = format!("sqlite://{}?mode=rwc", dir.join("chat.db").display());
    spawn_app_on(dir, &url, overrides).await
}

#[tokio::test]
async fn a_full_queue_refuses_messages_until_it_drains_on_sqlite() {
    a_full_queue_refuses_messages_until_it_drains(on_sqlite(&[("QUEUE_MAX", "3")]).await).await;
}

#[tokio::test]
async fn a_full_queue_refuses_messages_until_it_drains_on_postgres() {
    let (url, drop_db) = fresh_postgres_database().await;
    a_full_queue_refuses_messages_until_it_drains(spawn_app_on(temp_dir(), &url, &[("QUEUE_MAX", "3")]).await).await;
    drop_db.await;
}

#[tokio::test]
async fn a_poisoned_message_becomes_a_dead_letter_on_sqlite() {
    a_poisoned_message_becomes_a_dead_letter(on_sqlite(&[]).await).await;
}

#[tokio::test]
async fn a_poisoned_message_becomes_a_dead_letter_on_postgres() {
    let (url, drop_db) = fresh_postgres_database().await;
    a_poisoned_message_becomes_a_dead_letter(spawn_app_on(temp_dir(), &url, &[]).await).await;
    drop_db.await;
}

/// Over Redis, with the real binaries: while no bot reads the stream, a gateway takes
/// `QUEUE_MAX` messages and refuses the next; a bot that comes back logs them, and the gateway
/// takes messages again.
#[tokio::test]
async fn a_full_stream_refuses_messages_in_a_split_deployment() {
    let mut cluster = crate::cluster::Cluster::new().await;
    cluster.env.push(("QUEUE_MAX".to_owned(), "3".to_owned()));
    let mut bot = cluster.bot().await;
    let gateway = cluster.gateway().await;
    cluster.wait_room(&gateway, "lobby").await;
    bot.stop().await;
    let mut alice = gateway.client().await;
    alice.join("lobby", "Alice").await;
    for i in 0..3 {
        alice.say(&format!("queued {i}")).await;
    }
    alice.send(serde_json::json!({"type": "say", "text": "refused"})).await;
    let refusal = alice.expect_error("unavailable").await;
    assert!(refusal["message"].as_str().unwrap().contains("overloaded"), "{refusal}");
    let _bot = cluster.bot().await;
    cluster.wait_logged(3).await;
    let deadline = tokio::time::Instant::now() + crate::support::WAIT;
    loop {
        alice.send(serde_json::json!({"type": "say", "text": "after", "client_id": "after"})).await;
        let frame = loop {
            let frame = alice.next().await;
            if matches!(frame["type"].as_str(), Some("ack" | "error")) {
                break frame;
            }
        };
        if frame["type"] == "ack" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still refused after the bot caught up: {frame}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    cluster.wait_logged(4).await;
    drop(alice);
    cluster.finish().await;
}
