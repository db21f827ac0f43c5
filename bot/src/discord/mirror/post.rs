//! Posting: plan the next batch from the front of a room's queue (recorded in the log before
//! it is posted), post it, and record what Discord made of it. And the two ways messages leave
//! the queue without being posted: given up on, or skipped ahead of with one notice.
//!
//! A message sent under a shadow mute (reaching nobody but its sender) is posted like any other,
//! its footer's tag marked `shadow-muted` for staff (in the post only; the log keeps the tag).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde_json::json;

use super::{Inner, Job};
use crate::discord::embeds;
use crate::discord::rest::Posted;
use crate::discord::retry::{self, Policy};
use crate::entities::message_log;
use crate::message_log::MessageLog;

/// Why a post did not go through (the jobs stay queued).
#[derive(Debug)]
pub(super) enum Failed {
    /// Try again after this long.
    Wait(Duration),
    /// 404: the channel or thread does not exist (any more).
    Gone,
    /// 400 `50083`: the thread is archived and locked.
    Archived,
}

/// A batch is out of the queue: the jobs done with (to acknowledge) and the pause the rate
/// limit asks for before the next post.
#[derive(Debug, Default)]
pub(super) struct Sent {
    pub done: Vec<Job>,
    pub pause: Duration,
}

fn db_error(e: sea_orm::DbErr) -> Failed {
    tracing::error!(error = %e, "mirror cannot read or write the message log; retrying");
    Failed::Wait(Duration::from_secs(1))
}

/// Post the next batch from the front of `queue` (with `label` as every embed's title, for
/// posts outside the room's own channel or thread), or say why not, with the jobs still queued.
pub(super) async fn next(
    inner: &Inner,
    channel: u64,
    label: Option<&str>,
    queue: &mut VecDeque<Job>,
) -> Result<Sent, Failed> {
    let Some(front) = queue.front() else { return Ok(Sent::default()) };
    let front_id = front.message.message.id.to_string();
    let Some(row) = inner.log.by_id(&front_id).await.map_err(db_error)? else {
        // Logged before it was submitted, so this cannot happen unless the row was purged.
        tracing::warn!(id = %front_id, "message to mirror is not in the log; skipping it");
        return Ok(Sent { done: queue.pop_front().into_iter().collect(), pause: Duration::ZERO });
    };
    if row.discord_message_id.is_some() || row.discord_batch.as_deref() == Some(MessageLog::SKIPPED) {
        // Already in Discord (the acknowledgement was lost in a crash) or given up on.
        return Ok(Sent { done: queue.pop_front().into_iter().collect(), pause: Duration::ZERO });
    }
    let batch = match row.discord_batch {
        // Planned by an earlier attempt: exactly that batch again.
        Some(batch) => {
            let rows = mark_shadowed(inner.log.discord_batch(&batch).await.map_err(db_error)?, queue);
            inner.quote_replies(rows, queue)
        }
        None => plan(inner, &front_id, label, queue).await.map_err(db_error)?,
    };
    if batch.is_empty() {
        return Err(Failed::Wait(Duration::from_secs(1)));
    }
    send(inner, channel, label, &batch, queue).await
}

/// Plan a new batch from the front of the queue, as many messages as one request takes, and
/// record it (named after `front_id`) before anything is posted.
async fn plan(
    inner: &Inner,
    front_id: &str,
    label: Option<&str>,
    queue: &VecDeque<Job>,
) -> Result<Vec<message_log::Model>, sea_orm::DbErr> {
    let ids: Vec<String> = queue.iter().take(500).map(|j| j.message.message.id.to_string()).collect();
    let mut rows = inner.quote_replies(mark_shadowed(inner.log.unplanned(&ids).await?, queue), queue);
    // Keep queue order and stop at the first message that is not plannable.
    let mut planned = Vec::new();
    for id in &ids {
        match rows.iter().position(|r| &r.id == id) {
            Some(pos) => planned.push(rows.remove(pos)),
            None => break,
        }
    }
    planned.truncate(embeds::plan(&planned, label));
    inner.log.plan_discord_batch(front_id, planned.iter().map(|r| r.id.clone()).collect()).await?;
    Ok(planned)
}

/// Mark the rows of messages sent under a shadow mute, as staff see them in Discord.
fn mark_shadowed(mut rows: Vec<message_log::Model>, queue: &VecDeque<Job>) -> Vec<message_log::Model> {
    let shadowed: HashSet<String> =
        queue.iter().filter(|j| j.message.shadow).map(|j| j.message.message.id.to_string()).collect();
    if shadowed.is_empty() {
        return rows;
    }
    for row in rows.iter_mut().filter(|r| shadowed.contains(&r.id)) {
        let tag = row.ip_tag.as_deref().unwrap_or("untagged");
        row.ip_tag = Some(format!("{tag} · shadow-muted"));
    }
    rows
}

/// Post a planned batch and record the outcome in the log.
async fn send(
    inner: &Inner,
    channel: u64,
    label: Option<&str>,
    batch: &[message_log::Model],
    queue: &mut VecDeque<Job>,
) -> Result<Sent, Failed> {
    let batch_id = batch[0].id.as_str();
    let mut body = embeds::payload(batch, &embeds::nonce(batch_id), label);
    if let Some(reference) = inner.reference(batch, label).await {
        body["message_reference"] = reference;
    }
    let members: HashSet<&str> = batch.iter().map(|r| r.id.as_str()).collect();
    let call = retry::Call(inner.rest.create_message(channel, &body).await);
    call.count();
    match call.0 {
        Ok(Posted::Ok { id: message_id, pacing }) => {
            metrics::counter!("chat_mirrored_total").increment(batch.len() as u64);
            let discord_id = i64::try_from(message_id).unwrap_or_default();
            inner.log.discord_posted(batch_id, discord_id).await.map_err(db_error)?;
            Ok(Sent { done: take_jobs(queue, &members), pause: pacing.pause() })
        }
        Ok(Posted::RateLimited { retry_after, global }) => {
            tracing::warn!(channel, ?retry_after, global, "Discord rate limit hit; retrying the same batch");
            Err(Failed::Wait(retry_after))
        }
        Ok(Posted::Refused { status: status @ (401 | 403), body }) => {
            tracing::error!(
                channel,
                status,
                %body,
                "Discord refuses the bot (check DISCORD_TOKEN and the bot's permissions in the channel); retrying in 30 s"
            );
            Err(Failed::Wait(Duration::from_secs(30)))
        }
        Ok(Posted::Refused { status: 404, body }) => {
            tracing::error!(channel, %body, "the room's Discord channel is gone; messages stay in the log only");
            Err(Failed::Gone)
        }
        Ok(Posted::Refused { status: 400, body }) if body.contains("50083") => {
            tracing::warn!(channel, %body, "the room's Discord thread is archived and locked");
            Err(Failed::Archived)
        }
        Ok(Posted::Refused { status, body }) => {
            tracing::error!(channel, status, %body, messages = batch.len(), "Discord refused a batch; it is kept in the log only");
            let ids = members.iter().map(|s| (*s).to_owned()).collect();
            inner.log.discord_skipped(ids).await.map_err(db_error)?;
            Ok(Sent { done: take_jobs(queue, &members), pause: Duration::ZERO })
        }
        Err(e) => {
            tracing::warn!(channel, error = %e, "cannot post to Discord; retrying");
            Err(Failed::Wait(Duration::from_secs(2)))
        }
    }
}

/// Remove the jobs of the given messages from the queue.
fn take_jobs(queue: &mut VecDeque<Job>, ids: &HashSet<&str>) -> Vec<Job> {
    let mut taken = Vec::new();
    queue.retain(|job| {
        if ids.contains(job.message.message.id.to_string().as_str()) {
            taken.push(job.clone());
            false
        } else {
            true
        }
    });
    taken
}

/// Messages that will never be mirrored: marked so in the log, so a restart does not post them
/// after later ones.
pub(super) async fn give_up(inner: &Inner, jobs: &[Job]) {
    metrics::counter!("chat_mirror_skipped_total").increment(jobs.len() as u64);
    let ids = jobs.iter().map(|j| j.message.message.id.to_string()).collect();
    if let Err(e) = inner.log.discord_skipped(ids).await {
        tracing::error!(error = %e, "cannot mark unmirrored messages in the log");
    }
}

/// The room is further behind than `max_lag`: mark what is skipped in the log and post one
/// notice naming it.
pub(super) async fn skip_ahead(inner: &Inner, channel: u64, room: &str, jobs: &[Job]) {
    let (Some(first), Some(last)) = (jobs.first(), jobs.last()) else { return };
    let (first, last) = (&first.message.message, &last.message.message);
    let text = format!(
        "⚠️ #{room} is ahead of Discord: {} messages from {} to {} UTC (ids {} to {}) were not mirrored here. \
         They are kept in the message log.",
        jobs.len(),
        first.at.format("%H:%M:%S"),
        last.at.format("%H:%M:%S"),
        first.id,
        last.id,
    );
    tracing::warn!(%room, skipped = jobs.len(), from = %first.id, to = %last.id, "mirror lag exceeded; skipping ahead");
    give_up(inner, jobs).await;
    let body = json!({
        "content": text,
        "allowed_mentions": {"parse": []},
        "nonce": embeds::nonce(&format!("S{}", first.id)),
        "enforce_nonce": true,
    });
    let notice = || inner.rest.create_message(channel, &body);
    match retry::discord(Policy::DISCORD, "posting the lag notice", notice).await {
        Ok(Posted::Ok { .. }) => {}
        Ok(Posted::Refused { status, body }) => tracing::error!(status, %body, "Discord refused the lag notice"),
        Ok(Posted::RateLimited { .. }) | Err(_) => tracing::error!(%room, "gave up posting the lag notice"),
    }
}
