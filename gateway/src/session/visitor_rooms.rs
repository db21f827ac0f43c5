//! `create`: a visitor opens a room of their own (see [`crate::visitor`] for how such rooms are
//! opened on the bus, announced, and swept once idle).

use protocol::{ErrorCode, RoomDef, RoomKind, RoomTitle, ServerFrame};

use super::Conn;

impl Conn {
    pub(super) async fn create(&mut self, title: &str, capacity: u32, listed: bool) {
        if self.refuse_banned() {
            return;
        }
        let title = match RoomTitle::parse(title) {
            Ok(title) => title,
            Err(e) => return self.error(ErrorCode::BadFrame, e.to_string(), None, None),
        };
        // Titles go through the filters as messages do: shown in room lists and in Discord.
        let title = match self.state.filters.apply(title.as_str().to_owned()) {
            crate::filters::Verdict::Pass(title) => title,
            crate::filters::Verdict::Blocked => {
                let message = "the room title contains something this chat does not allow";
                return self.error(ErrorCode::Filtered, message, None, None);
            }
        };
        let max = self.state.config.visitor_room_max_capacity;
        if !(2..=max).contains(&capacity) {
            return self.error(ErrorCode::BadFrame, format!("capacity must be between 2 and {max}"), None, None);
        }
        if !self.joins_allowed() {
            return;
        }
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
            owner: Some(crate::visitor::owner_key(&self.state.config.owner_secret.0, self.address.ip)),
        };
        match crate::visitor::open(&self.state, room).await {
            Ok(def) => self.handle.send_frame(&ServerFrame::Created {
                room: def.slug.to_string(),
                invite: format!("/?room={}", def.slug),
            }),
            Err(crate::visitor::OpenError::TooMany) => {
                let per_ip = self.state.config.visitor_rooms_per_ip;
                let idle = self.state.config.visitor_room_idle.as_secs();
                self.error(
                    ErrorCode::TooManyRooms,
                    format!(
                        "your address already has {per_ip} open rooms; a room closes {idle} s after its last member leaves"
                    ),
                    None,
                    None,
                );
            }
            Err(crate::visitor::OpenError::Bus(e)) => self.unavailable(e),
        }
    }
}
