//! Frames on the wire (RFC 6455 §5): server frames encoded once for every recipient, client
//! frames decoded and unmasked in place, data messages reassembled.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use super::{code, opcode};

pub(super) fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    put_frame(&mut out, opcode, payload);
    out.freeze()
}

fn put_frame(out: &mut BytesMut, opcode: u8, payload: &[u8]) {
    let len = payload.len();
    out.reserve(len + 10);
    out.put_u8(0x80 | opcode);
    if let Ok(short) = u8::try_from(len)
        && short < 126
    {
        out.put_u8(short);
    } else if let Ok(medium) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(medium);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(payload);
}

/// A text frame carrying `payload` (already UTF-8: the caller serialised it).
pub fn text(payload: &[u8]) -> Bytes {
    frame(opcode::TEXT, payload)
}

/// Append a text frame carrying `payload` to `out`: several frames in one buffer go out in one
/// write.
pub fn append_text(out: &mut BytesMut, payload: &[u8]) {
    put_frame(out, opcode::TEXT, payload);
}

/// An empty ping.
pub fn ping() -> Bytes {
    frame(opcode::PING, &[])
}

/// A close frame; the reason is cut to the 123 bytes a control frame leaves for it.
pub fn close(code: u16, reason: &str) -> Bytes {
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = Vec::with_capacity(2 + cut);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    frame(opcode::CLOSE, &payload)
}

/// What the peer sent, frame by frame (data messages reassembled).
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Text(String),
    Ping(Bytes),
    Pong,
    /// The peer's close frame, with its status code if it gave one (always one a peer may send).
    Close(Option<u16>),
}

/// A breach of the framing rules: the connection is closed with `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

const fn violation(code: u16, reason: &'static str) -> Violation {
    Violation { code, reason }
}

/// A fragmented text message being assembled.
#[derive(Debug, Default)]
struct Assembling {
    bytes: Vec<u8>,
    /// How much of `bytes` is known to be valid UTF-8: each fragment is checked once, so a
    /// message of many small fragments costs linear time, and invalid text fails at once.
    checked: usize,
}

/// Turns the bytes a client sends into [`Decoded`] messages. It keeps at most one incomplete
/// frame (`partial`) and one incomplete message (`message`), each within the frame limit.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The start of a frame not yet complete; empty (and unallocated) between frames.
    partial: Vec<u8>,
    /// A fragmented text message being assembled.
    message: Option<Assembling>,
    /// Largest frame and largest message accepted.
    max: usize,
}

/// The longest frame header: 2 bytes, an 8-byte length and the 4-byte mask.
#[cfg(test)]
pub const MAX_HEADER: usize = 14;

impl Decoder {
    pub fn new(max: usize) -> Self {
        Self { partial: Vec::new(), message: None, max }
    }

    /// Decode every complete frame of what was kept plus `data`, which is unmasked in place.
    /// Frames decoded before a breach are in `out` when the breach is returned.
    pub fn feed(&mut self, data: &mut [u8], out: &mut VecDeque<Decoded>) -> Result<(), Violation> {
        if self.partial.is_empty() {
            let used = parse(data, &mut self.message, self.max, out)?;
            self.partial.extend_from_slice(&data[used..]);
        } else {
            let mut buffer = std::mem::take(&mut self.partial);
            buffer.extend_from_slice(data);
            let used = parse(&mut buffer, &mut self.message, self.max, out)?;
            if used < buffer.len() {
                buffer.drain(..used);
                self.partial = buffer;
            }
        }
        Ok(())
    }

    /// Bytes held for frames and messages not yet complete (never more than two frame limits
    /// plus a header).
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.partial.len() + self.message.as_ref().map_or(0, |m| m.bytes.len())
    }
}

/// Check what the first two bytes of a frame decide, before its length or payload is read.
fn check_header(b0: u8, b1: u8, assembling: bool) -> Result<(), Violation> {
    let fin = b0 & 0x80 != 0;
    let op = b0 & 0x0F;
    if b0 & 0x70 != 0 {
        return Err(violation(code::PROTOCOL, "reserved bits set without an extension"));
    }
    if b1 & 0x80 == 0 {
        return Err(violation(code::PROTOCOL, "client frames must be masked"));
    }
    match op {
        opcode::TEXT if assembling => Err(violation(code::PROTOCOL, "a new message began before the last one ended")),
        opcode::CONTINUATION if !assembling => Err(violation(code::PROTOCOL, "a continuation frame without a message")),
        opcode::BINARY => Err(violation(code::UNSUPPORTED, "binary messages are not accepted; send JSON text")),
        opcode::TEXT | opcode::CONTINUATION => Ok(()),
        opcode::CLOSE | opcode::PING | opcode::PONG if !fin => {
            Err(violation(code::PROTOCOL, "control frames may not be fragmented"))
        }
        opcode::CLOSE | opcode::PING | opcode::PONG if b1 & 0x7F > 125 => {
            Err(violation(code::PROTOCOL, "control frames carry at most 125 bytes"))
        }
        opcode::CLOSE | opcode::PING | opcode::PONG => Ok(()),
        _ => Err(violation(code::PROTOCOL, "unknown opcode")),
    }
}

/// Parse whole frames from the front of `buf`; returns the bytes used.
fn parse(
    buf: &mut [u8],
    message: &mut Option<Assembling>,
    max: usize,
    out: &mut VecDeque<Decoded>,
) -> Result<usize, Violation> {
    let mut pos = 0;
    loop {
        let rest = &mut buf[pos..];
        let [b0, b1, ..] = *rest else { break };
        check_header(b0, b1, message.is_some())?;
        let fin = b0 & 0x80 != 0;
        let op = b0 & 0x0F;
        let (len, header) = match b1 & 0x7F {
            126 => match rest.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
                _ => break,
            },
            127 => match rest.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                Some(bytes) => (u64::from_be_bytes(bytes), 10),
                None => break,
            },
            short => (u64::from(short), 2),
        };
        let len = match usize::try_from(len) {
            Ok(len) if len <= max => len,
            _ => return Err(violation(code::TOO_BIG, "frame larger than 64 KiB")),
        };
        if op == opcode::CONTINUATION && message.as_ref().is_some_and(|m| m.bytes.len() + len > max) {
            return Err(violation(code::TOO_BIG, "message larger than 64 KiB"));
        }
        let total = header + 4 + len;
        if rest.len() < total {
            break;
        }
        let (head, payload) = rest[..total].split_at_mut(header + 4);
        let mask = [head[header], head[header + 1], head[header + 2], head[header + 3]];
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i & 3];
        }
        let payload: &[u8] = payload;
        match op {
            opcode::TEXT if fin => out.push_back(text_message(payload.to_vec())?),
            opcode::TEXT | opcode::CONTINUATION => {
                let assembling = message.get_or_insert_with(Assembling::default);
                assembling.bytes.extend_from_slice(payload);
                check_utf8_so_far(assembling, fin)?;
                if fin {
                    let whole = message.take().map(|m| m.bytes).unwrap_or_default();
                    out.push_back(text_message(whole)?);
                }
            }
            opcode::CLOSE => match payload {
                [] => out.push_back(Decoded::Close(None)),
                [_] => return Err(violation(code::PROTOCOL, "a close frame's status needs two bytes")),
                [a, b, reason @ ..] => {
                    let status = u16::from_be_bytes([*a, *b]);
                    if !code::valid_on_wire(status) {
                        return Err(violation(code::PROTOCOL, "a close code that may not be sent"));
                    }
                    if std::str::from_utf8(reason).is_err() {
                        return Err(violation(code::INVALID_DATA, "a close reason must be UTF-8"));
                    }
                    out.push_back(Decoded::Close(Some(status)));
                }
            },
            opcode::PING => out.push_back(Decoded::Ping(Bytes::copy_from_slice(payload))),
            _ => out.push_back(Decoded::Pong),
        }
        pos += total;
    }
    Ok(pos)
}

/// Fail a fragmented text message as soon as what arrived cannot be the start of UTF-8 text.
fn check_utf8_so_far(message: &mut Assembling, fin: bool) -> Result<(), Violation> {
    let fresh = &message.bytes[message.checked..];
    match std::str::from_utf8(fresh) {
        Ok(_) => message.checked = message.bytes.len(),
        // Cut inside a character: fine unless the message ends here.
        Err(e) if e.error_len().is_none() && !fin => message.checked += e.valid_up_to(),
        Err(_) => return Err(violation(code::INVALID_DATA, "text frames must be UTF-8")),
    }
    Ok(())
}

fn text_message(payload: Vec<u8>) -> Result<Decoded, Violation> {
    String::from_utf8(payload)
        .map(Decoded::Text)
        .map_err(|_| violation(code::INVALID_DATA, "text frames must be UTF-8"))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::websocket::testing::{client_frame, client_frame_masked, close_payload};

    fn decode_all(chunks: &[&[u8]]) -> Result<Vec<Decoded>, Violation> {
        let mut decoder = Decoder::new(64 * 1024);
        let mut out = VecDeque::new();
        for chunk in chunks {
            decoder.feed(&mut chunk.to_vec(), &mut out)?;
        }
        Ok(out.into_iter().collect())
    }

    #[test]
    fn decodes_masked_text_of_every_length_form() {
        for len in [0, 1, 125, 126, 65_535, 65_536] {
            let text = "x".repeat(len);
            let mut bytes = client_frame(0x81, text.as_bytes());
            let mut decoder = Decoder::new(65_536);
            let mut out = VecDeque::new();
            decoder.feed(&mut bytes, &mut out).unwrap();
            assert_eq!(out.pop_front(), Some(Decoded::Text(text)), "length {len}");
        }
    }

    #[test]
    fn a_frame_split_anywhere_is_reassembled_and_nothing_is_kept_after() {
        let bytes = client_frame(0x81, "{\"type\":\"ping\"}".as_bytes());
        for cut in 0..bytes.len() {
            let mut decoder = Decoder::new(1024);
            let mut out = VecDeque::new();
            decoder.feed(&mut bytes[..cut].to_vec(), &mut out).unwrap();
            assert!(out.is_empty(), "cut at {cut}");
            decoder.feed(&mut bytes[cut..].to_vec(), &mut out).unwrap();
            assert_eq!(out.pop_front(), Some(Decoded::Text("{\"type\":\"ping\"}".into())), "cut at {cut}");
            assert_eq!(decoder.partial.capacity(), 0, "cut at {cut}");
        }
    }

    #[test]
    fn several_frames_in_one_read_and_fragments_with_control_frames_between() {
        let mut bytes = client_frame(0x01, b"hel");
        bytes.extend(client_frame(0x89, b"p"));
        bytes.extend(client_frame(0x80, b"lo"));
        bytes.extend(client_frame(0x8A, b""));
        bytes.extend(client_frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
        let decoded = decode_all(&[&bytes]).unwrap();
        assert_eq!(
            decoded,
            vec![
                Decoded::Ping(Bytes::from_static(b"p")),
                Decoded::Text("hello".into()),
                Decoded::Pong,
                Decoded::Close(Some(1000)),
            ]
        );
    }

    #[test]
    fn framing_breaches_name_their_close_code() {
        let unmasked = [0x81, 0x01, b'a'];
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (unmasked.to_vec(), code::PROTOCOL),
            (client_frame(0xC1, b"a"), code::PROTOCOL), // RSV1
            (client_frame(0x83, b"a"), code::PROTOCOL), // reserved opcode
            (client_frame(0x80, b"a"), code::PROTOCOL), // continuation of nothing
            (client_frame(0x09, b"a"), code::PROTOCOL), // fragmented ping
            (client_frame(0x89, &[0; 126]), code::PROTOCOL),
            (client_frame(0x88, &[3]), code::PROTOCOL), // one-byte close status
            (client_frame(0x82, b"\x00\x01"), code::UNSUPPORTED), // binary
            (client_frame(0x02, b"\x00"), code::UNSUPPORTED), // fragmented binary
            (client_frame(0x81, &[0xFF, 0xFE]), code::INVALID_DATA),
            (client_frame(0x81, &vec![b'a'; 64 * 1024 + 1]), code::TOO_BIG),
        ];
        for (bytes, expected) in cases {
            let got = decode_all(&[&bytes]).unwrap_err();
            assert_eq!(got.code, expected, "{:02x?}: {}", &bytes[..2], got.reason);
        }
        let mut two_messages = client_frame(0x01, b"a");
        two_messages.extend(client_frame(0x81, b"b"));
        assert_eq!(decode_all(&[&two_messages]).unwrap_err().code, code::PROTOCOL);
    }

    #[test]
    fn an_oversized_header_is_refused_before_its_payload_arrives() {
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(decode_all(&[&header]).unwrap_err().code, code::TOO_BIG);
    }

    #[test]
    fn fragments_may_not_add_up_past_the_limit() {
        let mut decoder = Decoder::new(10);
        let mut out = VecDeque::new();
        decoder.feed(&mut client_frame(0x01, b"123456"), &mut out).unwrap();
        let error = decoder.feed(&mut client_frame(0x80, b"7890a"), &mut out).unwrap_err();
        assert_eq!(error.code, code::TOO_BIG);
    }

    #[test]
    fn server_frames_use_the_shortest_length_form() {
        assert_eq!(&text(b"hi")[..], &[0x81, 2, b'h', b'i']);
        let medium = text(&[b'a'; 300]);
        assert_eq!(&medium[..4], &[0x81, 126, 0x01, 0x2C]);
        let long = text(&vec![b'a'; 70_000]);
        assert_eq!(&long[..10], &[0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]);
        assert_eq!(&ping()[..], &[0x89, 0]);
        let mut several = BytesMut::new();
        append_text(&mut several, b"hi");
        append_text(&mut several, &[b'a'; 300]);
        assert_eq!(several.freeze(), [text(b"hi"), medium].concat());
        let closing = close(1008, &"é".repeat(100));
        assert_eq!(closing[1] as usize, closing.len() - 2);
        assert!(closing.len() - 2 <= 125);
        assert!(std::str::from_utf8(&closing[4..]).is_ok());
    }

    #[test]
    fn close_codes_a_peer_may_not_send_are_protocol_errors() {
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535] {
            let frame = client_frame(0x88, &close_payload(bad, b""));
            assert_eq!(decode_all(&[&frame]).unwrap_err().code, code::PROTOCOL, "close code {bad}");
        }
        for good in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            let frame = client_frame(0x88, &close_payload(good, b"ok"));
            assert_eq!(decode_all(&[&frame]).unwrap(), vec![Decoded::Close(Some(good))], "close code {good}");
        }
    }

    #[test]
    fn a_header_that_breaks_the_rules_fails_before_its_payload_arrives() {
        // Only two bytes of frames that announce 64 KiB payloads.
        for first in [0x82, 0x83, 0x8B, 0xC1, 0x80] {
            let header = client_frame(first, &[b'a'; 60_000]);
            let got = decode_all(&[&header[..2]]).unwrap_err();
            assert!([code::PROTOCOL, code::UNSUPPORTED].contains(&got.code), "{first:#x}: {got:?}");
        }
    }

    #[test]
    fn fragmented_text_fails_at_the_first_fragment_that_cannot_be_utf8() {
        let mut decoder = Decoder::new(1024);
        let mut out = VecDeque::new();
        // "κ" is CE BA: a fragment may end inside it.
        decoder.feed(&mut client_frame(0x01, &[b'a', 0xCE]), &mut out).unwrap();
        decoder.feed(&mut client_frame(0x80, &[0xBA]), &mut out).unwrap();
        assert_eq!(out.pop_front(), Some(Decoded::Text("aκ".into())));
        decoder.feed(&mut client_frame(0x01, b"ok"), &mut out).unwrap();
        let error = decoder.feed(&mut client_frame(0x00, &[0xFF]), &mut out).unwrap_err();
        assert_eq!(error.code, code::INVALID_DATA, "fails before the message ends");
        let mut decoder = Decoder::new(1024);
        decoder.feed(&mut client_frame(0x01, &[0xCE]), &mut out).unwrap();
        let error = decoder.feed(&mut client_frame(0x80, b""), &mut out).unwrap_err();
        assert_eq!(error.code, code::INVALID_DATA, "a message may not end inside a character");
    }

    /// A stream of valid client frames (texts whole and fragmented, pings, pongs) and what it
    /// decodes to.
    fn random_stream(rng: &mut StdRng) -> (Vec<u8>, Vec<Decoded>) {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..rng.random_range(1..20) {
            let mask: [u8; 4] = rng.random();
            let len = if rng.random_bool(0.1) { rng.random_range(126..3000) } else { rng.random_range(0..126) };
            let text: String =
                (0..len).map(|i| if i % 7 == 3 { 'é' } else { char::from(b'a' + (i % 26) as u8) }).collect();
            match rng.random_range(0..4) {
                0 => {
                    bytes.extend(client_frame_masked(0x81, text.as_bytes(), mask));
                    expected.push(Decoded::Text(text));
                }
                1 => {
                    // Cut anywhere, even inside a character; a ping between the fragments.
                    let raw = text.as_bytes();
                    let cut = rng.random_range(0..=raw.len());
                    bytes.extend(client_frame_masked(0x01, &raw[..cut], mask));
                    bytes.extend(client_frame_masked(0x89, b"between", mask));
                    bytes.extend(client_frame_masked(0x80, &raw[cut..], mask));
                    expected.push(Decoded::Ping(Bytes::from_static(b"between")));
                    expected.push(Decoded::Text(text));
                }
                2 => {
                    let payload = &text.as_bytes()[..text.len().min(125)];
                    bytes.extend(client_frame_masked(0x89, payload, mask));
                    expected.push(Decoded::Ping(Bytes::copy_from_slice(payload)));
                }
                _ => {
                    bytes.extend(client_frame_masked(0x8A, b"", mask));
                    expected.push(Decoded::Pong);
                }
            }
        }
        (bytes, expected)
    }

    #[test]
    fn property_random_splits_of_valid_streams_decode_the_same() {
        let mut rng = StdRng::seed_from_u64(0x5EED);
        for case in 0..500 {
            let (bytes, expected) = random_stream(&mut rng);
            let mut decoder = Decoder::new(64 * 1024);
            let mut out = VecDeque::new();
            let mut at = 0;
            while at < bytes.len() {
                let most = if rng.random_bool(0.5) { 7 } else { 4096 };
                let step = rng.random_range(1..=(bytes.len() - at).min(most));
                decoder.feed(&mut bytes[at..at + step].to_vec(), &mut out).unwrap();
                at += step;
            }
            assert_eq!(out.into_iter().collect::<Vec<_>>(), expected, "case {case}");
            assert_eq!(decoder.buffered(), 0, "case {case}: nothing kept after whole frames");
        }
    }

    #[test]
    fn property_random_bytes_never_panic_nor_buffer_past_the_limit() {
        let max = 1024;
        let mut rng = StdRng::seed_from_u64(0xBAD_B17E5);
        for _ in 0..2000 {
            let mut decoder = Decoder::new(max);
            let mut out = VecDeque::new();
            for _ in 0..rng.random_range(1..40) {
                let len = rng.random_range(0..600);
                // Mostly plausible headers (masked, small lengths), so parsing goes deep.
                let mut chunk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                if let [b0, b1, ..] = chunk.as_mut_slice()
                    && rng.random_bool(0.7)
                {
                    *b0 &= 0x8F;
                    *b1 |= 0x80;
                }
                let result = decoder.feed(&mut chunk, &mut out);
                assert!(decoder.buffered() <= 2 * max + MAX_HEADER, "buffered {}", decoder.buffered());
                if result.is_err() {
                    break;
                }
                out.clear();
            }
        }
    }
}
