//! Where a room's messages go: a staff room's channel, a visitor room's or pair's thread
//! (started when its first batch is about to be posted, recorded in `rooms`), or the thread
//! parent with the room's name as a label when Discord refuses threads. And the end of a room:
//! its thread archived and locked.

use std::sync::Arc;
use std::time::Duration;

use protocol::RoomKind;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{Inner, lock};
use crate::discord::rest::Posted;
use crate::discord::retry::{self, Policy};
use crate::discord::threads::{self, Opened};
use crate::entities::rooms;

/// Where a room's next batch goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// Not mirrored (an unknown room).
    Nowhere,
    /// A staff room whose channel is not recorded yet (the channel keeper creates it): its
    /// messages wait for it, in order, rather than being dropped or posted late.
    NoChannel,
    /// The room's channel or thread, or (fallback) the parent with the room's name as `label`.
    Post { channel: u64, label: Option<String>, thread: bool },
    /// Nothing decided yet: ask again after this long.
    Wait(Duration),
}

fn id_of(id: Option<i64>) -> Option<u64> {
    id.and_then(|id| u64::try_from(id).ok())
}

impl Inner {
    /// The room's row, cached for a few seconds (`Ok(None)`: no such room). A failed lookup
    /// is not cached.
    async fn room(&self, room: &str) -> Result<Option<rooms::Model>, Arc<sea_orm::DbErr>> {
        let db = self.db.clone();
        let slug = room.to_owned();
        self.rooms
            .try_get_with(room.to_owned(), async move { rooms::Entity::find_by_id(slug.as_str()).one(&db).await })
            .await
    }

    /// Where the room's messages go, starting its thread when it has none yet.
    pub(super) async fn target_of(&self, room: &str) -> Target {
        let row = match self.room(room).await {
            Ok(Some(row)) => row,
            Ok(None) => return Target::Nowhere,
            Err(e) => {
                tracing::warn!(error = %e, %room, "cannot look up the room's channel; retrying");
                return Target::Wait(Duration::from_secs(1));
            }
        };
        let kind = RoomKind::parse(&row.kind).unwrap_or(RoomKind::Staff);
        if kind == RoomKind::Staff {
            return id_of(row.discord_channel_id).map_or(Target::NoChannel, |channel| Target::Post {
                channel,
                label: None,
                thread: false,
            });
        }
        match self.opened(room, kind, &row).await {
            Opened::Thread(channel) => Target::Post { channel, label: None, thread: true },
            Opened::Fallback(channel) => Target::Post {
                channel,
                label: Some(threads::fallback_label(kind, &row.slug, &row.title)),
                thread: false,
            },
            Opened::Retry(wait) => Target::Wait(wait),
        }
    }

    /// A visitor room's or pair's thread (or fallback): known, recorded, or started now.
    async fn opened(&self, room: &str, kind: RoomKind, row: &rooms::Model) -> Opened {
        if let Some(opened) = lock(&self.opened).get(room).copied() {
            return opened;
        }
        match (id_of(row.discord_thread_id), id_of(row.discord_channel_id)) {
            (Some(thread), _) => Opened::Thread(thread),
            (None, Some(parent)) => Opened::Fallback(parent),
            (None, None) => {
                let opened = self.parents.open(kind, &row.slug, &row.title).await;
                if !matches!(opened, Opened::Retry(_)) {
                    lock(&self.opened).insert(room.to_owned(), opened);
                    self.remember(room, opened).await;
                }
                opened
            }
        }
    }

    /// Record the room's thread (or fallback parent) in `rooms`, so it survives a restart and
    /// staff messages in the thread find their room.
    async fn remember(&self, room: &str, opened: Opened) {
        let (column, value) = match opened {
            Opened::Thread(id) => (rooms::Column::DiscordThreadId, Some(i64::try_from(id).unwrap_or_default())),
            Opened::Fallback(id) => (rooms::Column::DiscordChannelId, Some(i64::try_from(id).unwrap_or_default())),
            Opened::Retry(_) => return,
        };
        self.set_room_column(room, column, value).await;
    }

    async fn set_room_column(&self, room: &str, column: rooms::Column, value: Option<i64>) {
        let write = || {
            rooms::Entity::update_many()
                .col_expr(column, Expr::value(value))
                .filter(rooms::Column::Slug.eq(room))
                .exec(&self.db)
        };
        if let Err(e) = retry::retry(Policy::DATABASE, "recording the room's Discord thread", write).await {
            tracing::error!(error = %e, %room, "cannot record the room's Discord thread");
        }
        self.rooms.invalidate(room).await;
    }

    /// The room's thread was deleted in Discord: the next batch starts a new one.
    pub(super) async fn forget_thread(&self, room: &str) {
        lock(&self.opened).remove(room);
        self.set_room_column(room, rooms::Column::DiscordThreadId, None).await;
    }

    /// The room ended: archive and lock its thread (if it ever got one).
    pub(super) async fn close_room(&self, room: &str) {
        let known = lock(&self.opened).remove(room);
        let thread = match known {
            Some(Opened::Thread(id)) => Some(id),
            Some(_) => None,
            None => match rooms::Entity::find_by_id(room).one(&self.db).await {
                Ok(row) => row.filter(|r| r.kind != RoomKind::Staff.as_str()).and_then(|r| id_of(r.discord_thread_id)),
                Err(e) => {
                    tracing::error!(error = %e, %room, "cannot look up the ended room's thread; leaving it open");
                    None
                }
            },
        };
        lock(&self.unmapped_warned).remove(room);
        self.rooms.invalidate(room).await;
        let Some(thread) = thread else { return };
        let body = json!({"archived": true, "locked": true});
        let archive = || self.rest.modify_channel(thread, &body);
        match retry::discord(Policy::DISCORD, "archiving the ended room's thread", archive).await {
            Ok(Posted::Ok { .. }) => tracing::info!(%room, thread, "the room ended; its thread is archived"),
            Ok(Posted::Refused { status, body }) => {
                tracing::error!(%room, thread, status, %body, "Discord refused to archive the ended room's thread");
            }
            Ok(Posted::RateLimited { .. }) | Err(_) => {
                tracing::error!(%room, thread, "gave up archiving the ended room's thread");
            }
        }
    }

    /// Reopen a thread a moderator archived and locked (the bot manages threads); whether it
    /// worked.
    pub(super) async fn reopen(&self, room: &str, thread: u64) -> bool {
        let reopened = self.rest.modify_channel(thread, &json!({"archived": false})).await;
        let ok = matches!(reopened, Ok(Posted::Ok { .. }));
        tracing::warn!(%room, thread, ok, "reopened the room's archived thread to post in it");
        ok
    }
}
