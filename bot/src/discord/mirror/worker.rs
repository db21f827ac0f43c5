//! One room's worker: gathers the room's work in order, finds where its messages go, posts
//! them batch by batch at the pace Discord allows, and ends the room after what came before.
//! Every job it finishes with, posted or not, is acknowledged through [`Inner::acknowledge`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::post::{self, Failed};
use super::target::Target;
use super::{Inner, Job, Work, lock};

/// How often a staff room's worker looks again for the room's channel while it is being
/// created (the keeper records it right after Discord answers).
const CHANNEL_POLL: Duration = Duration::from_millis(200);

/// Where the next batch goes, once decided.
struct Destination {
    channel: u64,
    label: Option<String>,
    thread: bool,
}

pub(super) async fn run(inner: Arc<Inner>, room: String, mut rx: mpsc::UnboundedReceiver<Work>) {
    let mut incoming: VecDeque<Work> = VecDeque::new();
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut pause_until = tokio::time::Instant::now();
    loop {
        if queue.is_empty() && incoming.is_empty() {
            match rx.recv().await {
                Some(work) => incoming.push_back(work),
                None => return,
            }
        }
        take_posts(&mut incoming, &mut queue);
        if queue.is_empty() {
            // A close waits until the messages before it are out.
            match incoming.pop_front() {
                Some(Work::Close { entry_id }) => {
                    inner.close_room(&room).await;
                    inner.acknowledge([entry_id]).await;
                }
                Some(Work::Change(change)) => {
                    inner.apply_change(&room, &change).await;
                    inner.acknowledge([change.entry_id]).await;
                }
                _ => {}
            }
            if incoming.is_empty() && inner.retire(&room, &mut rx, &mut incoming) {
                return;
            }
            continue;
        }
        // Wait out the bucket first: whatever arrives meanwhile joins the next batch.
        tokio::time::sleep_until(pause_until).await;
        while let Ok(work) = rx.try_recv() {
            incoming.push_back(work);
        }
        take_posts(&mut incoming, &mut queue);
        let Some(to) = destination(&inner, &room, &mut queue).await else { continue };
        if lag(&queue) > inner.config.max_lag {
            let jobs: Vec<Job> = queue.drain(..).collect();
            post::skip_ahead(&inner, to.channel, &room, &jobs).await;
            finish(&inner, jobs).await;
            continue;
        }
        match post::next(&inner, to.channel, to.label.as_deref(), &mut queue).await {
            Ok(sent) => {
                finish(&inner, sent.done).await;
                pause_until = tokio::time::Instant::now() + sent.pause;
            }
            Err(failed) => recover(&inner, &room, &to, failed).await,
        }
    }
}

/// Move the messages up to the first close from `incoming` to the room's queue.
fn take_posts(incoming: &mut VecDeque<Work>, queue: &mut VecDeque<Job>) {
    while let Some(Work::Post(_)) = incoming.front() {
        if let Some(Work::Post(job)) = incoming.pop_front() {
            queue.push_back(*job);
        }
    }
}

/// How long the oldest queued message has waited.
fn lag(queue: &VecDeque<Job>) -> Duration {
    queue
        .front()
        .map_or(Duration::ZERO, |j| Utc::now().signed_duration_since(j.message.message.at).to_std().unwrap_or_default())
}

/// Acknowledge the jobs the worker is done with.
async fn finish(inner: &Inner, jobs: Vec<Job>) {
    inner.acknowledge(jobs.into_iter().map(|j| j.entry_id)).await;
}

/// Where the queue's messages go; `None` when they cannot go anywhere yet (after waiting a
/// little) or never will (given up on and acknowledged).
async fn destination(inner: &Inner, room: &str, queue: &mut VecDeque<Job>) -> Option<Destination> {
    match inner.target_of(room).await {
        Target::Post { channel, label, thread } => {
            lock(&inner.unmapped_warned).remove(room);
            Some(Destination { channel, label, thread })
        }
        Target::Wait(wait) => {
            tokio::time::sleep(wait).await;
            None
        }
        Target::NoChannel if lag(queue) > inner.config.max_lag => {
            tracing::warn!(%room, messages = queue.len(), "the room's Discord channel did not appear in time; its messages are kept in the log only");
            let jobs: Vec<Job> = queue.drain(..).collect();
            post::give_up(inner, &jobs).await;
            finish(inner, jobs).await;
            None
        }
        Target::NoChannel => {
            if lock(&inner.unmapped_warned).insert(room.to_owned()) {
                tracing::info!(%room, "the room's Discord channel is not there yet; its messages wait for it");
            }
            inner.rooms.invalidate(room).await;
            tokio::time::sleep(CHANNEL_POLL).await;
            None
        }
        Target::Nowhere => {
            if lock(&inner.unmapped_warned).insert(room.to_owned()) {
                tracing::info!(%room, "unknown room; its messages are logged but not mirrored");
            }
            let jobs: Vec<Job> = queue.drain(..).collect();
            post::give_up(inner, &jobs).await;
            finish(inner, jobs).await;
            None
        }
    }
}

/// After a failed post (the jobs are still queued): wait, start a new thread, or reopen it.
async fn recover(inner: &Inner, room: &str, to: &Destination, failed: Failed) {
    match failed {
        Failed::Wait(wait) => tokio::time::sleep(wait).await,
        Failed::Gone if to.thread => {
            tracing::warn!(%room, thread = to.channel, "the room's Discord thread is gone; starting a new one");
            inner.forget_thread(room).await;
        }
        Failed::Gone => {
            inner.rooms.invalidate_all();
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Failed::Archived if to.thread => {
            if !inner.reopen(room, to.channel).await {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
        Failed::Archived => tokio::time::sleep(Duration::from_secs(5)).await,
    }
}
