//! `create`: a visitor opens a room of their own (see [`crate::visitor`] for how such rooms are
//! opened on the bus, announced, and swept once idle).

use protocol::{RoomDef, RoomKind, ServerFrame};
use secrecy::ExposeSecret;

use super::{Conn, admission};

impl Conn {
    /// `create`, admitted: open a visitor room titled `title` (filtered) and hand out its invite.
    pub(super) async fn create(&mut self, title: String, capacity: u32, listed: bool) {
        let Some(slug) = crate::visitor::random_slug("v") else { return };
        let room = RoomDef {
            slug,
            kind: RoomKind::Visitor,
            title,
            topic: String::new(),
            capacity,
            listed,
            locked: false,
            slowmode_secs: 0,
            owner: Some(crate::visitor::owner_key(self.state.config.owner_secret.expose_secret(), self.address.ip)),
            links: protocol::LinksPolicy::default(),
        };
        match crate::visitor::open(&self.state, room).await {
            Ok(def) => self.handle.send_frame(&ServerFrame::Created {
                room: def.slug.to_string(),
                invite: format!("/?room={}", def.slug),
            }),
            Err(crate::visitor::OpenError::TooMany) => self.refuse(admission::too_many_rooms(&self.state.config)),
            Err(crate::visitor::OpenError::Bus(e)) => self.unavailable(e),
        }
    }
}
