//! Room fan-out and control events over pub/sub: one connection per process, shared by every
//! room feed and the control feed, re-established (and every channel resubscribed) after a loss.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use protocol::{ControlEvent, RoomSlug};
use redis::aio::PubSubSink;
use tokio::sync::broadcast;

use super::{lock, unavailable};
use crate::{BusError, ControlFeed, ControlMessage, FeedSender, ROOM_FEED_DEPTH, RoomFeed};

const CONTROL_DEPTH: usize = 1024;

/// The pub/sub side of one process: which channels its feeds listen to, and the connection.
pub(super) struct Fanout {
    channels: Mutex<HashMap<String, FeedSender>>,
    control: broadcast::Sender<ControlMessage>,
    control_channel: String,
    /// The live connection's command half; `None` while reconnecting. Held across
    /// SUBSCRIBE/UNSUBSCRIBE so they reach Redis in the order the channel map changed.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
}

impl Fanout {
    pub(super) fn new(control_channel: String) -> Self {
        Self {
            channels: Mutex::default(),
            control: broadcast::channel(CONTROL_DEPTH).0,
            control_channel,
            sink: tokio::sync::Mutex::new(None),
        }
    }

    /// Is the pub/sub connection up (false while it reconnects)?
    pub(super) async fn connected(&self) -> bool {
        self.sink.lock().await.is_some()
    }

    /// A feed of `channel` (the pub/sub channel of `room`), subscribing on Redis if this process
    /// did not listen to it yet.
    pub(super) async fn subscribe(&self, room: &RoomSlug, channel: String) -> Result<RoomFeed, BusError> {
        let mut guard = self.sink.lock().await;
        let (feed, fresh) = {
            let mut channels = lock(&self.channels);
            match channels.get_mut(&channel) {
                Some(tx) => (tx.subscribe(), false),
                None => {
                    let mut tx = FeedSender::new(room.clone(), ROOM_FEED_DEPTH);
                    let feed = tx.subscribe();
                    channels.insert(channel.clone(), tx);
                    (feed, true)
                }
            }
        };
        if fresh {
            let result = match guard.as_mut() {
                Some(sink) => sink.subscribe(&channel).await.map_err(unavailable),
                None => Err(BusError::Unavailable("Redis pub/sub is reconnecting".into())),
            };
            if let Err(e) = result {
                lock(&self.channels).remove(&channel);
                return Err(e);
            }
        }
        Ok(feed)
    }

    pub(super) fn subscribe_control(&self) -> ControlFeed {
        ControlFeed::new(self.control.subscribe())
    }
}

/// Keep the pub/sub connection up: connect, subscribe every channel in use, deliver what
/// arrives; after a loss, reconnect with backoff and ask control subscribers to resync (pub/sub
/// drops what was sent while away). `ready` fires once the first connection is subscribed.
pub(super) async fn pubsub_loop(
    client: redis::Client,
    fanout: Arc<Fanout>,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open Redis pub/sub; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        {
            let mut guard = fanout.sink.lock().await;
            let mut channels: Vec<String> = lock(&fanout.channels).keys().cloned().collect();
            channels.push(fanout.control_channel.clone());
            if let Err(e) = sink.subscribe(&channels).await {
                tracing::warn!(error = %e, "cannot subscribe on Redis; reconnecting");
                tokio::time::sleep(backoff).await;
                continue;
            }
            *guard = Some(sink);
        }
        backoff = Duration::from_millis(100);
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        if connected_before {
            tracing::info!("Redis pub/sub is back; asking for a resync");
            let _ = fanout.control.send(ControlMessage::Resync);
        }
        connected_before = true;
        while let Some(message) = stream.next().await {
            let channel = message.get_channel_name();
            if channel == fanout.control_channel {
                match serde_json::from_slice::<ControlEvent>(message.get_payload_bytes()) {
                    Ok(event) => {
                        let _ = fanout.control.send(ControlMessage::Event(event));
                    }
                    Err(e) => tracing::error!(error = %e, "undecodable control event"),
                }
            } else if let Some(tx) = lock(&fanout.channels).get_mut(channel) {
                tx.send(&Bytes::copy_from_slice(message.get_payload_bytes()));
            }
        }
        *fanout.sink.lock().await = None;
        tracing::warn!("lost the Redis pub/sub connection; reconnecting");
    }
}

/// Unsubscribe from rooms nobody on this process listens to any more.
pub(super) async fn unsubscribe_idle(fanout: Arc<Fanout>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut guard = fanout.sink.lock().await;
        let idle: Vec<String> = {
            let mut channels = lock(&fanout.channels);
            let idle: Vec<String> =
                channels.iter().filter(|(_, tx)| tx.receiver_count() == 0).map(|(c, _)| c.clone()).collect();
            for channel in &idle {
                channels.remove(channel);
            }
            idle
        };
        if let (Some(sink), false) = (guard.as_mut(), idle.is_empty())
            && let Err(e) = sink.unsubscribe(&idle).await
        {
            tracing::warn!(error = %e, "cannot unsubscribe idle rooms");
        }
    }
}
