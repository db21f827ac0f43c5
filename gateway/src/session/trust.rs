//! The trust tier in a session (`crate::trust`): where this connection stands (read from the
//! bus when it enters a room, or at its first message), the checks a new visitor's message
//! passes in admission, and the count after it was sent.

use std::time::Instant;

use protocol::{ErrorCode, LinksPolicy, RoomDef};

use super::Conn;
use super::admission::Refusal;
use crate::trust::{Standing, text};

/// What the tier decided about an admitted message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TrustChecked {
    /// The sender is new: its message burst is half (`limits`).
    pub new: bool,
    /// `Some(false)`: deliver its URLs as plain text (a room whose `links` is `inert`).
    pub links: Option<bool>,
    /// The message's repeat key, remembered and counted once it is sent (new visitors only).
    pub repeat_key: Option<u64>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Conn {
    /// The subjects this connection is tracked by on the bus: its device, and its address
    /// unless that is a shared one (where a device is all that tells people apart).
    fn trust_subjects(&self) -> Vec<String> {
        let mut subjects = Vec::with_capacity(2);
        if let Some(device) = self.device {
            subjects.push(bus::trust::device_subject(device.as_str()));
        }
        let shared = self.state.config.shared_addresses.iter().any(|n| n.contains(&self.address.ip.to_canonical()));
        if self.device.is_none() || !shared {
            subjects.push(bus::trust::address_subject(&self.address_tag()));
        }
        subjects
    }

    /// Note this connection on the bus and learn where it stands, unless known already. Called
    /// when it takes a seat (so a visitor's minutes run from its arrival) and before its first
    /// message; a bus that cannot answer leaves it unknown (treated as new).
    pub(super) async fn trust_arrive(&mut self) {
        if self.trust != Standing::Unknown {
            return;
        }
        let config = self.state.config.trust;
        if !config.enabled() {
            self.trust = Standing::Past;
            return;
        }
        let subjects = self.trust_subjects();
        let now = now_ms();
        match self.state.bus.trust_note(&subjects, 0, now, bus::trust::TRUST_RECORD_TTL).await {
            Ok(records) => self.trust = Standing::of(records, &config, now),
            Err(e) => tracing::warn!(error = %e, "cannot read the trust tier; treating the visitor as new"),
        }
    }

    fn staff_trusted(&self) -> bool {
        self.state.staff_trust.trusts(self.address.ip, self.device.as_ref().map(|d| d.as_str()))
    }

    /// The tier's checks of a message (`text`, filtered) to `room`: what it decided, or the
    /// refusal (`paste_not_yet`, `links_not_yet`, `repeated`).
    pub(super) async fn trust_check(&mut self, room: &RoomDef, text: &str) -> Result<TrustChecked, Refusal> {
        if self.trust == Standing::Past {
            return Ok(TrustChecked::default());
        }
        self.trust_arrive().await;
        let config = self.state.config.trust;
        let new = match &self.trust {
            Standing::Past => false,
            Standing::Unknown => config.enabled(),
            standing => standing.is_new(&config, now_ms()),
        };
        // Aged past the tier since it was read.
        if !new {
            self.trust = Standing::Past;
            return Ok(TrustChecked::default());
        }
        // Trusted by staff: asked at every message, as `/untrust` may follow.
        if self.staff_trusted() {
            return Ok(TrustChecked::default());
        }
        let secs = config.new_visitor_for.as_secs();
        let time = if secs >= 120 { format!("{} minutes", secs / 60) } else { format!("{secs} seconds") };
        let later = format!("for your first {time} or {} messages here", config.new_visitor_messages);
        if text::is_paste(text) {
            let message = format!(
                "long pastes are not allowed from new visitors yet: at most {} characters and {} lines {later}",
                text::PASTE_CHARS,
                text::PASTE_LINES
            );
            return Err(Refusal::new(ErrorCode::PasteNotYet, message));
        }
        let mut links = None;
        let foreign = text::link_hosts(text).iter().any(|host| !self.state.staff_trust.allows_host(host));
        if foreign {
            match room.links {
                LinksPolicy::Refuse => {
                    let message = format!("links are not allowed from new visitors in {} yet ({later})", room.title);
                    return Err(Refusal::new(ErrorCode::LinksNotYet, message));
                }
                LinksPolicy::Inert => links = Some(false),
                LinksPolicy::Allow => {}
            }
        }
        let key = text::repeat_key(text);
        let now = Instant::now();
        if self.trust_subjects().iter().any(|s| self.state.recent.repeats(s, key, now)) {
            let message = "you just sent that message; say something new";
            return Err(Refusal::new(ErrorCode::Repeated, message));
        }
        Ok(TrustChecked { new: true, links, repeat_key: Some(key) })
    }

    /// A new visitor's message was sent: remember it for the repeat check and count it.
    pub(super) async fn trust_sent(&mut self, checked: TrustChecked) {
        let Some(key) = checked.repeat_key else { return };
        let subjects = self.trust_subjects();
        let now = Instant::now();
        for subject in &subjects {
            self.state.recent.remember(subject, key, now);
        }
        let now = now_ms();
        match self.state.bus.trust_note(&subjects, 1, now, bus::trust::TRUST_RECORD_TTL).await {
            Ok(records) => self.trust = Standing::of(records, &self.state.config.trust, now),
            Err(e) => tracing::warn!(error = %e, "cannot count a message for the trust tier"),
        }
    }
}
