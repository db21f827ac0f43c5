//! Reports in Discord: each report the consumer recorded is posted to the reports channel
//! ([`channel`]) as a message with its buttons, a thread is started from that message, and the
//! messages around the reported one are posted in the thread; moderators decide with the
//! buttons ([`buttons`]).
//!
//! The poster is one task. It is woken as soon as a report is recorded and also looks every
//! few seconds for reports not yet in Discord (made in the last day), so a report recorded
//! while Discord was away, or before a restart, is posted once Discord answers. A report whose
//! message is not in the log yet (the bot is behind) waits for it up to [`MESSAGE_WAIT`], then
//! goes without context. Its calls go through the urgent class of the global budget
//! ([`super::budget`]): ahead of the mirror's backlog. The report message carries a nonce (with
//! `enforce_nonce`), so posting it again after a failure returns the message Discord has; the
//! report's row records it before the thread is started.
//!
//! * [`channel`]: the reports channel, configured, found or created private;
//! * [`render`]: the report message, its buttons and the context's text;
//! * [`buttons`]: *Ban tag* and *Dismiss*, for moderators only.

pub mod buttons;
pub mod channel;
pub mod render;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use protocol::RoomSlug;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::rest::{Posted, Rest};
use super::retry::{self, Policy};
use super::{DiscordConfig, Error};
use crate::entities::reports as report_rows;
use crate::iptag::IpTagger;
use crate::message_log::MessageLog;
use crate::reports;

/// How long a report waits for its message to reach the log before it is posted without
/// the context.
pub const MESSAGE_WAIT: Duration = Duration::from_secs(5);
/// Messages shown before and after the reported one (20 around it).
pub const CONTEXT_EACH_SIDE: u64 = 10;
/// How often the poster looks for reports not yet in Discord when nothing woke it.
const ROUND: Duration = Duration::from_secs(5);
/// While a report waits for its message, how often the log is read again.
const MESSAGE_POLL: Duration = Duration::from_millis(200);
/// How far back reports not yet in Discord are still posted.
const LOOKBACK_HOURS: i64 = 24;
/// Reports posted per round at most.
const PER_ROUND: u64 = 20;

/// The report poster (cheap to clone).
#[derive(Clone)]
pub struct Reports {
    inner: Arc<Inner>,
}

struct Inner {
    /// Urgent: reports go ahead of the mirror's backlog.
    rest: Rest,
    db: DatabaseConnection,
    log: MessageLog,
    tagger: IpTagger,
    config: DiscordConfig,
    bus: Arc<dyn bus::Bus>,
    /// `AUTO_MUTE_SECS`.
    auto_mute: Duration,
    wake: tokio::sync::Notify,
    channel: tokio::sync::Mutex<Option<u64>>,
}

/// What became of one report this round.
enum Outcome {
    Posted,
    /// Its message is not in the log yet.
    Waiting,
}

impl Reports {
    pub fn new(
        config: &DiscordConfig,
        rest: &Rest,
        db: DatabaseConnection,
        log: MessageLog,
        tagger: IpTagger,
        bus: Arc<dyn bus::Bus>,
        auto_mute: Duration,
    ) -> Self {
        let inner = Inner {
            rest: rest.urgent(),
            db,
            log,
            tagger,
            config: config.clone(),
            bus,
            auto_mute,
            wake: tokio::sync::Notify::new(),
            channel: tokio::sync::Mutex::new(None),
        };
        Self { inner: Arc::new(inner) }
    }

    /// A report was recorded: post it now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Post reports as they are recorded, until the task is aborted.
    pub async fn run(self) {
        loop {
            let pause = match self.inner.post_pending().await {
                Ok(false) => ROUND,
                Ok(true) => MESSAGE_POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot post reports to Discord yet; retrying");
                    Duration::from_secs(2)
                }
            };
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

impl Inner {
    /// Post what is pending; whether a report waits for its message.
    async fn post_pending(&self) -> Result<bool, Error> {
        let since = Utc::now() - chrono::Duration::hours(LOOKBACK_HOURS);
        let mut waiting = false;
        for report in reports::unposted(&self.db, since, PER_ROUND).await? {
            match self.post(report).await? {
                Outcome::Posted => {}
                Outcome::Waiting => waiting = true,
            }
        }
        Ok(waiting)
    }

    async fn channel(&self) -> Result<u64, Error> {
        let mut known = self.channel.lock().await;
        if let Some(id) = *known {
            return Ok(id);
        }
        let id = channel::find_or_create(&self.rest, &self.db, &self.config).await?;
        *known = Some(id);
        Ok(id)
    }

    async fn post(&self, mut report: report_rows::Model) -> Result<Outcome, Error> {
        let row = self.log.by_id(&report.message_id).await?;
        let age = Utc::now().signed_duration_since(report.created_at).to_std().unwrap_or_default();
        if row.is_none() && age < MESSAGE_WAIT {
            return Ok(Outcome::Waiting);
        }
        if let Some(row) = &row {
            // Its tag and the automatic response, as they stand now: the consumer may be attaching
            // this very report (the row it read may show the tag but not yet the mute it is
            // bringing), and `attach` waits for it and reads the report afresh; or the message was
            // logged after the report was recorded, and this attaches it.
            let bus = Some(self.bus.as_ref());
            (report, _) = reports::respond::attach(&self.db, bus, report, row, self.auto_mute).await?;
        }
        let channel = self.channel().await?;
        let reporter_tag = reporter_tag(&self.tagger, &report.reporter_ip);
        let mut body =
            render::message(&render::Reported { report: &report, row: row.as_ref(), reporter_tag: &reporter_tag });
        body["nonce"] = json!(render::nonce(report.id));
        body["enforce_nonce"] = json!(true);
        let posted =
            retry::discord(Policy::DISCORD, "posting a report", || self.rest.create_message(channel, &body)).await?;
        let message = match posted {
            Posted::Ok { id, .. } => id,
            Posted::Refused { status, body } => {
                if status == 404 {
                    // The channel was deleted: found or created again next time.
                    *self.channel.lock().await = None;
                }
                return Err(format!("Discord refused the report: {status} {body}").into());
            }
            Posted::RateLimited { retry_after, .. } => {
                return Err(format!("rate limited for {retry_after:?}").into());
            }
        };
        reports::set_posted(&self.db, report.id, channel, message, None).await?;
        let thread = self.start_thread(channel, message, &report).await;
        if let Some(thread) = thread {
            reports::set_posted(&self.db, report.id, channel, message, Some(thread)).await?;
        }
        let mut bodies = match &row {
            Some(_) => {
                let room = RoomSlug::parse(&report.room)?;
                let id: ulid::Ulid = report.message_id.parse()?;
                let around = self.log.around(&room, id, CONTEXT_EACH_SIDE).await?;
                render::context(&around, &report.message_id)
            }
            None => vec![render::no_context()],
        };
        if report.auto_muted {
            bodies.push(render::auto_muted(self.auto_mute));
        }
        for mut body in bodies {
            if thread.is_none() {
                body["message_reference"] = json!({"message_id": message.to_string(), "fail_if_not_exists": false});
            }
            let target = thread.unwrap_or(channel);
            let sent = retry::discord(Policy::DISCORD, "posting a report's context", || {
                self.rest.create_message(target, &body)
            })
            .await;
            if !matches!(sent, Ok(Posted::Ok { .. })) {
                tracing::warn!(report = report.id, outcome = ?sent, "cannot post a report's context");
            }
        }
        tracing::info!(report = report.id, channel, message, thread = ?thread, "report posted to Discord");
        Ok(Outcome::Posted)
    }

    /// Start the report's thread from its message; `None` when Discord will not (the context
    /// then goes to the channel, as a reply to the report).
    async fn start_thread(&self, channel: u64, message: u64, report: &report_rows::Model) -> Option<u64> {
        let body = json!({"name": render::thread_name(report), "auto_archive_duration": 1440});
        let started = retry::discord(Policy::within(Duration::from_secs(5)), "starting a report's thread", || {
            self.rest.start_thread_from_message(channel, message, &body)
        })
        .await;
        match started {
            Ok(Posted::Ok { id, .. }) => Some(id),
            other => {
                tracing::warn!(report = report.id, outcome = ?other, "no thread for the report; its context goes to the channel");
                None
            }
        }
    }
}

/// The reporter's IP tag (`erased` once retention erased the address).
pub fn reporter_tag(tagger: &IpTagger, ip: &str) -> String {
    ip.parse::<IpAddr>().map_or_else(|_| "erased".to_owned(), |ip| tagger.tag(ip))
}
