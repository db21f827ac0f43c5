//! The automatic first response, wired: once a report's tag is known, the reports against that
//! tag in the last [`auto::WINDOW`] are counted ([`auto::should_mute`]); at [`auto::THRESHOLD`]
//! distinct reporters the tag is shadow-muted for `AUTO_MUTE_SECS` through [`mutes::impose`]
//! (its own case, by `auto`), once per window: a report in the window that already brought the
//! mute holds back another. The mute ends by itself unless a moderator confirms it with a
//! sanction of their own (*Mute* or *Ban tag* on the report, `/mute`, `/ban`).
//!
//! The consumer attaches each report it records; the poster attaches each report again just
//! before posting it (those whose message was logged late, and those the consumer is attaching
//! at that moment, whose mute the poster must show). Both run in the bot, one attachment at a
//! time ([`ONE_AT_A_TIME`]), so one tag is never muted twice by reports handled at once.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::auto;
use crate::BotError;
use crate::bans::Scope;
use crate::entities::{cases, message_log, reports};
use crate::mutes::{self, NewMute};

/// Who the automatic mute is made by, in the case, the audit log and the report.
pub const ACTOR: &str = "auto";

/// Held while a report is attached: the count and the mute are one step.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Keep the reported tag on `report` (from the log row of its message) and apply the automatic
/// first response; the report as it is now and the case of the mute it brought, if any.
pub async fn attach(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    mut report: reports::Model,
    row: &message_log::Model,
    auto_mute: Duration,
) -> Result<(reports::Model, Option<cases::Model>), BotError> {
    if row.staff {
        return Ok((report, None));
    }
    let _one = ONE_AT_A_TIME.lock().await;
    // As it is now: the other caller may have attached it meanwhile.
    if let Some(fresh) = super::get(db, report.id).await? {
        report = fresh;
    }
    let Some(described) = row.ip_tag.as_deref() else { return Ok((report, None)) };
    let tag = super::own_tag(described).to_owned();
    if report.reported_tag.as_deref() != Some(tag.as_str()) {
        super::set_tag(db, report.id, &tag).await?;
        report.reported_tag = Some(tag.clone());
    }
    let now = Utc::now();
    let since = now - chrono::Duration::from_std(auto::WINDOW).unwrap_or_default();
    let reported: Option<IpAddr> = row.ip.parse().ok();
    let counted = super::against(db, &tag, since).await?;
    if !auto::should_mute(&counted, reported, now) {
        return Ok((report, None));
    }
    let already = reports::Entity::find()
        .filter(reports::Column::ReportedTag.eq(tag.as_str()))
        .filter(reports::Column::CreatedAt.gte(since))
        .filter(reports::Column::AutoMuted.eq(true))
        .count(db)
        .await?;
    if already > 0 {
        return Ok((report, None));
    }
    let Some(ip) = reported else {
        // The address was erased: nothing to mute by.
        return Ok((report, None));
    };
    let reason = format!(
        "automatic: reports from {} distinct reporters within {} minutes",
        auto::distinct_reporters(&counted, reported, now),
        auto::WINDOW.as_secs() / 60
    );
    let mute = NewMute {
        networks: vec![Scope::default_for(ip).network(ip)],
        tag: Some(&tag),
        shown: Some(format!("{} (tag {tag})", report.reported_nick)),
        reason: &reason,
        by: ACTOR,
        duration: Some(auto_mute),
        shadow: true,
        devices: row.device_tag.iter().cloned().collect(),
    };
    let imposed = mutes::impose(db, bus, mute).await?;
    reports::Entity::update_many()
        .col_expr(reports::Column::AutoMuted, Expr::value(true))
        .filter(reports::Column::Id.eq(report.id))
        .exec(db)
        .await?;
    report.auto_muted = true;
    tracing::warn!(report = report.id, tag = %tag, case = imposed.case.id, "reports brought an automatic shadow mute");
    Ok((report, Some(imposed.case)))
}
