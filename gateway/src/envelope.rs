//! The fan-out sender envelope: what a room frame carries for gateways only.
//!
//! A frame a gateway publishes on a room's channel for a visitor's message starts with a short
//! header before the JSON every client receives: the sender's address tag and device tag, the
//! message's id and nickname (for the delivery record, `hub`'s `deliveries`), and a visibility
//! rule. The receiving gateway's hub reads the header without parsing the JSON, delivers the
//! rest (`Bytes::slice`, no copy) and never lets the header reach a socket. A frame without
//! the header (it starts with `{`) is delivered as it is. The byte layout, also in
//! `docs/architecture.md`:
//!
//! | offset | bytes | what |
//! |---|---|---|
//! | 0 | 1 | `0x00` (never the first byte of JSON) |
//! | 1 | 1 | version, `1` |
//! | 2 | 1 | visibility: `*` everyone, `=` only connections of the sender's address key or device, `#` only connections of the sender's device |
//! | 3 | 24 | sender's address tag (hex) |
//! | 27 | 12 | sender's device tag (hex), or 12 `-` when it has none |
//! | 39 | 26 | message id (ULID), or 26 `-` for a frame that is not a message (typing) |
//! | 65 | 1 | length N of the sender's nickname in bytes |
//! | 66 | N | the nickname (UTF-8) |
//! | 66+N | … | the JSON frame |

use bytes::{BufMut, Bytes, BytesMut};
use ulid::Ulid;

use crate::device::DeviceTag;

const MAGIC: u8 = 0;
const VERSION: u8 = b'1';
const ADDRESS_LEN: usize = 24;
const HEADER: usize = 66;
const NO_DEVICE: [u8; crate::device::TAG_LEN] = [b'-'; crate::device::TAG_LEN];
const NO_ID: [u8; 26] = [b'-'; 26];

/// Who may receive a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every member of the room.
    Everyone,
    /// Only the members connected from the sender's address key (IPv4 address, IPv6 /64) or
    /// with the sender's device tag: what a shadow mute shows.
    Sender,
    /// Only the members with the sender's device tag (its other tabs): a reaction's `mine`.
    Device,
}

/// An address tag (24 hex digits, see `Conn::address_tag`), kept inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressTag([u8; ADDRESS_LEN]);

impl AddressTag {
    /// All zeros: the tag of no address.
    pub fn zero() -> Self {
        Self([b'0'; ADDRESS_LEN])
    }

    pub fn parse(text: &[u8]) -> Option<Self> {
        let tag: [u8; ADDRESS_LEN] = text.try_into().ok()?;
        tag.iter().all(u8::is_ascii_hexdigit).then_some(Self(tag))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for AddressTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AddressTag({})", self.as_str())
    }
}

/// Who a connection is, as the envelope and the hub compare it: address tag and device tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    pub address: AddressTag,
    pub device: Option<DeviceTag>,
}

impl Sender {
    /// Is `other` the same address key or the same device?
    pub fn matches(&self, other: &Sender) -> bool {
        self.address == other.address || (self.device.is_some() && self.device == other.device)
    }

    /// The same device (both have one, and it is the same).
    pub fn same_device(&self, other: &Sender) -> bool {
        self.device.is_some() && self.device == other.device
    }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub visibility: Visibility,
    pub sender: Sender,
    /// The message's id; `None` for a frame that is not a message.
    pub id: Option<Ulid>,
    pub nick: &'a str,
}

/// What a room frame turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened<'a> {
    /// No envelope: deliver the frame as it is.
    Plain,
    /// An envelope, and the frame to deliver (a slice of the same buffer).
    Enveloped(Envelope<'a>, Bytes),
    /// Starts like an envelope but is not one this gateway reads: not delivered.
    Malformed,
}

/// Put `json` (a serialised server frame) in an envelope. Nicknames longer than 255 bytes
/// cannot occur (nicknames are far shorter); such a nickname would be cut at a character.
pub fn wrap(envelope: &Envelope<'_>, json: &[u8]) -> Bytes {
    let mut nick = envelope.nick;
    while nick.len() > usize::from(u8::MAX) {
        let mut end = usize::from(u8::MAX);
        while !nick.is_char_boundary(end) {
            end -= 1;
        }
        nick = &nick[..end];
    }
    let mut out = BytesMut::with_capacity(HEADER + nick.len() + json.len());
    out.put_u8(MAGIC);
    out.put_u8(VERSION);
    out.put_u8(match envelope.visibility {
        Visibility::Everyone => b'*',
        Visibility::Sender => b'=',
        Visibility::Device => b'#',
    });
    out.put_slice(&envelope.sender.address.0);
    out.put_slice(envelope.sender.device.as_ref().map_or(&NO_DEVICE, |d| d.as_bytes()));
    match envelope.id {
        Some(id) => out.put_slice(id.to_string().as_bytes()),
        None => out.put_slice(&NO_ID),
    }
    out.put_u8(u8::try_from(nick.len()).unwrap_or(u8::MAX));
    out.put_slice(nick.as_bytes());
    out.put_slice(json);
    out.freeze()
}

/// Read a room frame's envelope, if it has one (cheap for plain frames: one byte is looked at).
pub fn open(frame: &Bytes) -> Opened<'_> {
    if frame.first() != Some(&MAGIC) {
        return Opened::Plain;
    }
    parse(frame).unwrap_or(Opened::Malformed)
}

fn parse(frame: &Bytes) -> Option<Opened<'_>> {
    let header = frame.get(..HEADER)?;
    if header[1] != VERSION {
        return None;
    }
    let visibility = match header[2] {
        b'*' => Visibility::Everyone,
        b'=' => Visibility::Sender,
        b'#' => Visibility::Device,
        _ => return None,
    };
    let address = AddressTag::parse(&header[3..27])?;
    let device = match &header[27..39] {
        d if d == NO_DEVICE => None,
        d => Some(DeviceTag::parse(d)?),
    };
    let id = match &header[39..65] {
        i if i == NO_ID => None,
        i => Some(Ulid::from_string(std::str::from_utf8(i).ok()?).ok()?),
    };
    let end = HEADER + usize::from(header[65]);
    let nick = std::str::from_utf8(frame.get(HEADER..end)?).ok()?;
    let envelope = Envelope { visibility, sender: Sender { address, device }, id, nick };
    Some(Opened::Enveloped(envelope, frame.slice(end..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(device: bool) -> Sender {
        Sender {
            address: AddressTag::parse(b"0123456789abcdef01234567").unwrap(),
            device: device.then(|| DeviceTag::parse(b"a1b2c3d4e5f6").unwrap()),
        }
    }

    #[test]
    fn an_envelope_round_trips_and_the_frame_is_a_slice() {
        for (visibility, device, id) in [
            (Visibility::Everyone, true, Some(Ulid::new())),
            (Visibility::Sender, false, Some(Ulid::new())),
            (Visibility::Sender, true, None),
            (Visibility::Device, true, None),
        ] {
            let envelope = Envelope { visibility, sender: sender(device), id, nick: "Zoë" };
            let wrapped = wrap(&envelope, br#"{"type":"message"}"#);
            let Opened::Enveloped(opened, body) = open(&wrapped) else { panic!("not opened") };
            assert_eq!(opened, envelope);
            assert_eq!(body.as_ref(), br#"{"type":"message"}"#);
            assert_eq!(body.as_ptr(), wrapped[wrapped.len() - body.len()..].as_ptr(), "no copy");
        }
    }

    #[test]
    fn plain_and_malformed_frames() {
        assert_eq!(open(&Bytes::from_static(br#"{"type":"typing"}"#)), Opened::Plain);
        assert_eq!(open(&Bytes::new()), Opened::Plain);
        assert_eq!(open(&Bytes::from_static(b"\0")), Opened::Malformed);
        let good =
            wrap(&Envelope { visibility: Visibility::Everyone, sender: sender(true), id: None, nick: "a" }, b"{}");
        for (at, byte) in [(1, b'2'), (2, b'?'), (3, b'z'), (30, b'g'), (45, b'!'), (65, 200)] {
            let mut bad = good.to_vec();
            bad[at] = byte;
            assert_eq!(open(&Bytes::from(bad)), Opened::Malformed, "byte {at}");
        }
    }

    #[test]
    fn visibility_matches_address_or_device() {
        let me = sender(true);
        let same_address = Sender { device: None, ..me };
        let same_device = Sender { address: AddressTag::parse(b"ffffffffffffffffffffffff").unwrap(), ..me };
        let stranger = Sender { address: same_device.address, device: None };
        assert!(me.matches(&same_address) && me.matches(&same_device));
        assert!(!me.matches(&stranger));
        assert!(!stranger.matches(&Sender { device: None, ..same_address }));
        assert!(me.same_device(&same_device) && !me.same_device(&same_address));
    }
}
