//! `report`: a visitor reports a message it received to the moderators.
//!
//! A report is checked against what this connection received (the room's delivery record,
//! `deliveries`, read through the hub with this connection's join watermark), never against a
//! database: a gateway has none. The roulette partner stays reportable for [`LAST_PAIR_KEPT`]
//! after `next`: on leaving a pair the connection keeps its share of the pair's record (at most
//! [`crate::deliveries::RECORD_MAX`] entries, allocated only then). Refusals, in order:
//! `bad_frame` (a note over [`REPORT_NOTE_MAX`]), `unknown_message`, `cannot_report_self`,
//! `already_reported` (by this connection, or by this device on any gateway: a claim on the bus,
//! [`bus::Bus::claim_report`], kept for [`DEVICE_REPORT_TTL`] and given back when the report is
//! refused later or not queued), `rate_limited` (the address's report bucket). An accepted report is queued for the bot as
//! [`InboundEvent::Report`] and answered by `reported {id}`; the bot's decision comes back as a
//! control event and reaches this connection as `report_outcome` (`control`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use protocol::frames::REPORT_NOTE_MAX;
use protocol::{ErrorCode, InboundEvent, ReportEvent, ReportReason, RoomKind, RoomSlug, ServerFrame};
use ulid::Ulid;

use super::admission::{Admitted, Refusal};
use super::{Conn, Joined};
use crate::deliveries::Delivery;

/// How long the last roulette partner stays reportable after the pair ended for us.
pub(crate) const LAST_PAIR_KEPT: Duration = Duration::from_secs(600);
/// Message ids one connection remembers having reported.
const REPORTED_MAX: usize = 200;
/// How long a device's report of a message keeps it from reporting that message again.
pub(crate) const DEVICE_REPORT_TTL: Duration = Duration::from_secs(86_400);
/// Reports per address per minute (an IPv6 /64 is one address; a shared address gets its
/// factor's worth).
pub(crate) const REPORTS_PER_MINUTE: u32 = 5;

/// A connection's reporting state, boxed and made on its first report or roulette pair end.
#[derive(Default)]
pub(super) struct Reports {
    /// Ids this connection reported, the last [`REPORTED_MAX`].
    reported: VecDeque<Ulid>,
    last_pair: Option<LastPair>,
}

/// What this connection received in its last roulette pair, until `until`.
struct LastPair {
    room: RoomSlug,
    /// Our nickname there.
    nick_key: String,
    until: Instant,
    deliveries: Vec<Delivery>,
}

impl Conn {
    /// Check a `report` frame: what it reports, or why not.
    pub(super) async fn admit_report(
        &mut self,
        id: Ulid,
        reason: ReportReason,
        note: Option<String>,
    ) -> Result<Admitted, Refusal> {
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > REPORT_NOTE_MAX) {
            return Err(Refusal::new(ErrorCode::BadFrame, format!("a note is at most {REPORT_NOTE_MAX} characters")));
        }
        let Some((room, own_key, delivery)) = self.received(id).await else {
            return Err(Refusal::new(
                ErrorCode::UnknownMessage,
                "you can report a message you received here (among your last 200), or your last stranger's for 10 minutes",
            ));
        };
        if protocol::input::nick_key(&delivery.nick) == own_key || self.sender().same_device(&delivery.sender) {
            return Err(Refusal::new(ErrorCode::CannotReportSelf, "that message is yours"));
        }
        let already = || Refusal::new(ErrorCode::AlreadyReported, "you reported that message already");
        if self.reports.as_ref().is_some_and(|r| r.reported.contains(&id)) {
            return Err(already());
        }
        // This device, on any gateway: claimed now, given back below if the report goes no further.
        let device = self.device.map(|d| d.to_string());
        if let Some(device) = &device {
            match self.state.bus.claim_report(device, id, DEVICE_REPORT_TTL).await {
                Ok(true) => {}
                Ok(false) => return Err(already()),
                Err(e) => {
                    tracing::error!(error = %e, "cannot check a report against the device's earlier ones");
                    let message = "the chat is temporarily unavailable; your report was not sent, please try again";
                    return Err(Refusal::new(ErrorCode::Unavailable, message));
                }
            }
        }
        let now = Instant::now();
        let taken = self.limits.address(&self.state, &self.address, now).reports.take(now);
        if let Err(wait) = taken {
            self.release_report(device.as_deref(), id).await;
            let message = format!("your address may send {REPORTS_PER_MINUTE} reports a minute; wait a moment");
            return Err(Refusal { retry_after: Some(wait), ..Refusal::new(ErrorCode::RateLimited, message) });
        }
        let reporter_since = chrono::DateTime::from_timestamp_millis(self.opened_ms).unwrap_or_else(chrono::Utc::now);
        Ok(Admitted::Report(Box::new(ReportEvent {
            message: id,
            room,
            nick: delivery.nick.into(),
            reason,
            note,
            reporter: self.holder(),
            reporter_ip: self.address.ip,
            reporter_device: device,
            reporter_since,
            at: chrono::Utc::now(),
        })))
    }

    /// Message `id` as this connection received it: in its room now, or in its last pair.
    async fn received(&self, id: Ulid) -> Option<(RoomSlug, String, Delivery)> {
        if let Some(joined) = &self.joined
            && let Some(members) = self.state.hub.members(&joined.room.slug).await
            && let Some(delivery) = members.received(self.handle.id, id)
        {
            return Some((joined.room.slug.clone(), joined.nick.key().to_owned(), delivery));
        }
        let pair = self.reports.as_ref()?.last_pair.as_ref().filter(|p| p.until > Instant::now())?;
        let delivery = pair.deliveries.iter().rev().find(|d| d.id == id)?.clone();
        Some((pair.room.clone(), pair.nick_key.clone(), delivery))
    }

    /// `report`, admitted: queue it for the bot, then confirm.
    pub(super) async fn report(&mut self, event: ReportEvent) {
        let (id, device) = (event.message, event.reporter_device.clone());
        if let Err(e) = self.state.bus.enqueue(&InboundEvent::Report(event)).await {
            tracing::error!(error = %e, "cannot queue a report");
            self.release_report(device.as_deref(), id).await;
            let message = "the chat is temporarily unavailable; your report was not sent, please try again";
            return self.error(ErrorCode::Unavailable, message, None, None);
        }
        metrics::counter!("chat_reports_total").increment(1);
        let reports = self.reports.get_or_insert_default();
        if reports.reported.len() >= REPORTED_MAX {
            reports.reported.pop_front();
        }
        reports.reported.push_back(id);
        self.handle.send_frame(&ServerFrame::Reported { id });
    }

    /// Give back the device's claim on reporting `id` (the report went no further).
    async fn release_report(&self, device: Option<&str>, id: Ulid) {
        if let Some(device) = device
            && let Err(e) = self.state.bus.release_report(device, id).await
        {
            tracing::warn!(error = %e, "cannot give back a report claim; the device may not report that message for a day");
        }
    }

    /// Leaving `joined`: if it is a roulette pair, keep what this connection received there
    /// for [`LAST_PAIR_KEPT`], so the partner stays reportable after `next`.
    pub(super) async fn keep_last_pair(&mut self, joined: &Joined) {
        if joined.room.kind != RoomKind::Roulette {
            return;
        }
        let Some(members) = self.state.hub.members(&joined.room.slug).await else { return };
        let deliveries = members.received_all(self.handle.id);
        let reports = match (&mut self.reports, deliveries.is_empty()) {
            (None, true) => return,
            (reports, _) => reports.get_or_insert_default(),
        };
        reports.last_pair = (!deliveries.is_empty()).then(|| LastPair {
            room: joined.room.slug.clone(),
            nick_key: joined.nick.key().to_owned(),
            until: Instant::now() + LAST_PAIR_KEPT,
            deliveries,
        });
    }
}
