//! The cases of the Autobahn WebSocket test suite, sections 1 to 7 (framing, pings and pongs,
//! reserved bits, opcodes, fragmentation, UTF-8, closing), as tests of our own.
//!
//! Each case writes client bytes to a [`Socket`] driven the way the gateway drives it (texts are
//! handed to the application, a peer's close or a breach is answered with a close frame), then
//! reads everything the server wrote until it shut the stream, and checks it the way Autobahn's
//! fuzzing client does: which messages arrived, which pongs came back, and the close code. Where
//! Autobahn accepts two behaviours (answering every ping or only the latest, §5.5.3), the tests
//! accept both.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::testing::{client_frame, close_payload};
use super::{Ending, Event, Outbox, Socket, code};

/// The message limit the gateway uses (the contract's 64 KiB).
const MAX: usize = 64 * 1024;
const WAIT: Duration = Duration::from_secs(10);

/// What the client saw.
#[derive(Debug, Default)]
struct Seen {
    /// Text messages the application received.
    texts: Vec<String>,
    /// Payloads of the pongs the server sent, in order.
    pongs: Vec<Vec<u8>>,
    /// The server's close frame's code (None: the stream ended without one).
    close: Option<u16>,
    /// Frames of any other kind the server sent.
    other: usize,
}

/// The gateway's loop, reduced to the socket: texts are collected, and the socket is closed
/// as the chat session (`session`) closes it.
async fn serve(mut socket: Socket<DuplexStream>) -> Vec<String> {
    let outbox = Outbox::new(64);
    let mut texts = Vec::new();
    let order = loop {
        match socket.next(&outbox).await {
            Event::Text(text) => texts.push(text),
            Event::CloseOrdered(order) => break Some(order),
            Event::Ended(ending) => break ending.answer(),
        }
    };
    match order {
        Some(order) => {
            let _ = socket.close(&outbox, &order).await;
        }
        None => outbox.shut(),
    }
    texts
}

/// Parse the server's unmasked frames.
fn server_frames(mut bytes: &[u8], seen: &mut Seen) {
    while let [b0, b1, rest @ ..] = bytes {
        assert_eq!(b1 & 0x80, 0, "server frames are never masked");
        let (len, rest) = match b1 & 0x7F {
            126 => (usize::from(u16::from_be_bytes([rest[0], rest[1]])), &rest[2..]),
            127 => (usize::try_from(u64::from_be_bytes(rest[..8].try_into().unwrap())).unwrap(), &rest[8..]),
            n => (usize::from(n), rest),
        };
        let payload = &rest[..len];
        match b0 & 0x0F {
            0xA => seen.pongs.push(payload.to_vec()),
            0x8 => {
                assert!(seen.close.is_none(), "one close frame only");
                seen.close = Some(if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 });
            }
            _ => seen.other += 1,
        }
        bytes = &rest[len..];
    }
}

/// Send `chunks` (with `pause` between them) and collect what came back.
async fn run_chunks(chunks: Vec<Vec<u8>>, pause: Option<Duration>) -> Seen {
    let (server, mut client) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(serve(Socket::new(server, MAX)));
    let (mut reader, mut writer) = tokio::io::split(&mut client);
    let write = async {
        for chunk in chunks {
            // The server may already have closed: later writes then fail, as on a real socket.
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    };
    let read = async {
        let mut received = Vec::new();
        reader.read_to_end(&mut received).await.unwrap();
        received
    };
    let ((), received) =
        tokio::time::timeout(WAIT, async { tokio::join!(write, read) }).await.expect("server ends the case");
    let mut seen = Seen { texts: server.await.unwrap(), ..Seen::default() };
    server_frames(&received, &mut seen);
    seen
}

/// Send the frames in one write, then a normal close.
async fn run(frames: &[Vec<u8>]) -> Seen {
    let mut bytes = frames.concat();
    bytes.extend(close_frame(1000, b""));
    run_chunks(vec![bytes], None).await
}

/// Send the frames and nothing else (the server is expected to fail the connection).
async fn run_failing(frames: &[Vec<u8>]) -> Seen {
    run_chunks(vec![frames.concat()], None).await
}

fn text(payload: &[u8]) -> Vec<u8> {
    client_frame(0x81, payload)
}

fn ping(payload: &[u8]) -> Vec<u8> {
    client_frame(0x89, payload)
}

fn close_frame(status: u16, reason: &[u8]) -> Vec<u8> {
    client_frame(0x88, &close_payload(status, reason))
}

fn assert_failed(seen: &Seen, code: u16, case: &str) {
    assert_eq!(seen.close, Some(code), "case {case}: {seen:?}");
}

// ---- 1. Framing ----------------------------------------------------------------------------

#[tokio::test]
async fn case_1_1_text_messages_of_every_length() {
    for len in [0, 125, 126, 127, 128, 65_535, 65_536] {
        let payload = "*".repeat(len);
        let seen = run(&[text(payload.as_bytes())]).await;
        assert_eq!(seen.texts, vec![payload], "length {len}");
        assert_eq!(seen.close, Some(1000), "length {len}");
    }
}

#[tokio::test]
async fn case_1_1_8_a_full_size_message_in_997_byte_chunks() {
    let payload = "*".repeat(65_536);
    let mut bytes = text(payload.as_bytes());
    bytes.extend(close_frame(1000, b""));
    let chunks = bytes.chunks(997).map(<[u8]>::to_vec).collect();
    let seen = run_chunks(chunks, None).await;
    assert_eq!(seen.texts, vec![payload]);
    assert_eq!(seen.close, Some(1000));
}

#[tokio::test]
async fn case_1_2_binary_messages_are_refused_with_1003() {
    for len in [0, 125, 126, 65_535] {
        let seen = run_failing(&[client_frame(0x82, &vec![0xFE; len])]).await;
        assert_failed(&seen, code::UNSUPPORTED, &format!("1.2 length {len}"));
    }
}

#[tokio::test]
async fn a_message_past_the_limit_is_refused_with_1009() {
    let seen = run_failing(&[text(&vec![b'*'; MAX + 1])]).await;
    assert_failed(&seen, code::TOO_BIG, "limit");
}

// ---- 2. Pings and pongs --------------------------------------------------------------------

#[tokio::test]
async fn case_2_1_to_2_4_pings_are_answered_with_their_payload() {
    for payload in [&b""[..], b"Hello, world!", &[0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF], &[0xFE; 125]] {
        let seen = run(&[ping(payload)]).await;
        assert_eq!(seen.pongs, vec![payload.to_vec()]);
        assert_eq!(seen.close, Some(1000));
    }
}

#[tokio::test]
async fn case_2_5_a_ping_over_125_bytes_fails() {
    let seen = run_failing(&[ping(&[0xFE; 126])]).await;
    assert_failed(&seen, code::PROTOCOL, "2.5");
    assert!(seen.pongs.is_empty());
}

#[tokio::test]
async fn case_2_6_a_ping_sent_byte_by_byte() {
    let payload = [0xFE; 125];
    let mut bytes = ping(&payload);
    bytes.extend(close_frame(1000, b""));
    let chunks = bytes.chunks(1).map(<[u8]>::to_vec).collect();
    let seen = run_chunks(chunks, Some(Duration::from_millis(1))).await;
    assert_eq!(seen.pongs, vec![payload.to_vec()]);
}

#[tokio::test]
async fn case_2_7_to_2_9_unsolicited_pongs_are_ignored() {
    let seen = run(&[client_frame(0x8A, b"")]).await;
    assert!(seen.pongs.is_empty() && seen.texts.is_empty());
    let seen = run(&[client_frame(0x8A, b"unsolicited pong payload")]).await;
    assert!(seen.pongs.is_empty());
    let seen = run(&[client_frame(0x8A, b"unsolicited pong payload"), ping(b"ping payload")]).await;
    assert_eq!(seen.pongs, vec![b"ping payload".to_vec()]);
}

#[tokio::test]
async fn case_2_10_and_2_11_ten_pings_get_at_least_the_latest_answer() {
    let pings: Vec<Vec<u8>> = (0..10).map(|i| ping(format!("payload-{i}").as_bytes())).collect();
    // All at once: pongs owed but not yet written are replaced by the latest.
    let seen = run(&pings).await;
    assert!((1..=10).contains(&seen.pongs.len()), "{seen:?}");
    assert_eq!(seen.pongs.last().map(Vec::as_slice), Some(&b"payload-9"[..]));
    // One at a time: each is answered.
    let mut chunks = pings.clone();
    chunks.push(close_frame(1000, b""));
    let seen = run_chunks(chunks, Some(Duration::from_millis(10))).await;
    assert_eq!(seen.pongs.last().map(Vec::as_slice), Some(&b"payload-9"[..]));
}

// ---- 3. Reserved bits ----------------------------------------------------------------------

#[tokio::test]
async fn case_3_reserved_bits_fail_the_connection_and_nothing_after_them_is_read() {
    for (rsv, opcode) in [(0x40, 0x1), (0x20, 0x1), (0x60, 0x1), (0x10, 0x1), (0x50, 0x2), (0x30, 0x9), (0x70, 0x8)] {
        let seen = run_failing(&[text(b"Hello, world!"), client_frame(0x80 | rsv | opcode, b"bad"), ping(b"")]).await;
        assert_eq!(seen.texts, vec!["Hello, world!".to_owned()], "the message before the breach arrives");
        assert_failed(&seen, code::PROTOCOL, &format!("3, rsv {rsv:#x}"));
        assert!(seen.pongs.is_empty(), "the ping after the breach is not answered");
    }
}

// ---- 4. Opcodes ----------------------------------------------------------------------------

#[tokio::test]
async fn case_4_reserved_opcodes_fail_the_connection() {
    for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let seen = run_failing(&[text(b"Hello, world!"), client_frame(0x80 | opcode, b"reserved"), ping(b"")]).await;
        assert_eq!(seen.texts, vec!["Hello, world!".to_owned()]);
        assert_failed(&seen, code::PROTOCOL, &format!("4, opcode {opcode}"));
    }
}

// ---- 5. Fragmentation ----------------------------------------------------------------------

#[tokio::test]
async fn case_5_1_and_5_2_fragmented_control_frames_fail() {
    for first in [0x09, 0x0A] {
        let seen = run_failing(&[client_frame(first, b"fragment1"), client_frame(0x80, b"fragment2")]).await;
        assert_failed(&seen, code::PROTOCOL, "5.1/5.2");
    }
}

#[tokio::test]
async fn case_5_3_to_5_8_fragmented_text_is_reassembled_with_pings_between() {
    let seen = run(&[client_frame(0x01, b"fragment1"), client_frame(0x80, b"fragment2")]).await;
    assert_eq!(seen.texts, vec!["fragment1fragment2".to_owned()]);
    let seen = run(&[
        client_frame(0x01, b"fragment1"),
        ping(b"pongme!"),
        client_frame(0x00, b"fragment2"),
        ping(b"pongme!"),
        client_frame(0x80, b"fragment3"),
    ])
    .await;
    assert_eq!(seen.texts, vec!["fragment1fragment2fragment3".to_owned()]);
    assert!(!seen.pongs.is_empty() && seen.pongs.iter().all(|p| p == b"pongme!"));
    // 5.19/5.20: fragments and pings sent one at a time.
    let frames = vec![
        client_frame(0x01, b"fragment1"),
        client_frame(0x00, b"fragment2"),
        ping(b"pongme 1!"),
        client_frame(0x00, b"fragment3"),
        ping(b"pongme 2!"),
        client_frame(0x80, b"fragment4"),
        close_frame(1000, b""),
    ];
    let seen = run_chunks(frames, Some(Duration::from_millis(5))).await;
    assert_eq!(seen.texts, vec!["fragment1fragment2fragment3fragment4".to_owned()]);
    assert_eq!(seen.pongs, vec![b"pongme 1!".to_vec(), b"pongme 2!".to_vec()]);
}

#[tokio::test]
async fn case_5_9_to_5_18_continuations_without_a_message_or_messages_inside_messages_fail() {
    /// The case, the frames sent, the messages that arrive before the failure.
    type Case = (&'static str, Vec<Vec<u8>>, Vec<&'static str>);
    let cases: Vec<Case> = vec![
        ("5.9", vec![client_frame(0x80, b"non-continuation payload"), text(b"Hello, world!")], vec![]),
        ("5.10", vec![client_frame(0x00, b"non-continuation payload"), text(b"Hello, world!")], vec![]),
        (
            "5.15",
            vec![client_frame(0x01, b"fragment1"), client_frame(0x80, b"fragment2"), client_frame(0x00, b"fragment3")],
            vec!["fragment1fragment2"],
        ),
        ("5.18", vec![client_frame(0x01, b"fragment1"), client_frame(0x81, b"fragment2")], vec![]),
    ];
    for (case, frames, texts) in cases {
        let seen = run_failing(&frames).await;
        assert_eq!(seen.texts, texts, "case {case}");
        assert_failed(&seen, code::PROTOCOL, case);
    }
}

// ---- 6. UTF-8 ------------------------------------------------------------------------------

const VALID: &[&str] = &[
    "",
    "κόσμε",
    "Hello-µ@ßöäüàá-UTF-8!!",
    "\u{80}\u{800}\u{10000}",
    "\u{7F}\u{7FF}\u{FFFF}\u{10FFFF}",
    "\u{D7FF}\u{E000}\u{FFFD}",
];

const INVALID: &[&[u8]] = &[
    b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80\x65\x64\x69\x74\x65\x64", // a surrogate
    b"\xC0\xAF",                                                                         // overlong "/"
    b"\xE0\x80\xAF",
    b"\xF0\x80\x80\xAF",
    b"\xF4\x90\x80\x80", // past U+10FFFF
    b"\xFE",
    b"\xFF",
    b"\x80",
    b"\xCE\xBA\xE1\xBD", // ends inside a character
    b"\xED\xBF\xBF",
];

#[tokio::test]
async fn case_6_valid_utf8_arrives_whole_and_split_at_every_byte() {
    for valid in VALID {
        let seen = run(&[text(valid.as_bytes())]).await;
        assert_eq!(seen.texts, vec![(*valid).to_owned()]);
        let bytes = valid.as_bytes();
        for cut in 0..=bytes.len() {
            let seen = run(&[client_frame(0x01, &bytes[..cut]), client_frame(0x80, &bytes[cut..])]).await;
            assert_eq!(seen.texts, vec![(*valid).to_owned()], "{valid:?} cut at {cut}");
        }
    }
}

#[tokio::test]
async fn case_6_invalid_utf8_fails_with_1007_whole_fragmented_or_in_a_close_reason() {
    for invalid in INVALID {
        let seen = run_failing(&[text(invalid)]).await;
        assert_failed(&seen, code::INVALID_DATA, &format!("{invalid:02x?}"));
        // Split into one-byte fragments: fails at the latest when the message ends.
        let mut frames: Vec<Vec<u8>> = invalid.iter().map(|b| client_frame(0x00, &[*b])).collect();
        frames[0][0] = 0x01;
        frames.push(client_frame(0x80, b""));
        let seen = run_failing(&frames).await;
        assert_failed(&seen, code::INVALID_DATA, &format!("fragmented {invalid:02x?}"));
        let seen = run_failing(&[close_frame(1000, invalid)]).await;
        assert_failed(&seen, code::INVALID_DATA, &format!("close reason {invalid:02x?}"));
    }
}

#[tokio::test]
async fn case_6_4_invalid_text_fails_fast_before_the_message_ends() {
    // A valid first fragment, then one that can never be UTF-8; the message is never finished.
    let seen = run_failing(&[client_frame(0x01, "κόσμε".as_bytes()), client_frame(0x00, b"\xF4\x90\x80\x80")]).await;
    assert_failed(&seen, code::INVALID_DATA, "6.4");
}

// ---- 7. Closing ----------------------------------------------------------------------------

#[tokio::test]
async fn case_7_1_nothing_after_a_close_is_read() {
    let seen = run_failing(&[
        text(b"Hello World!"),
        close_frame(1000, b""),
        close_frame(1000, b""),
        ping(b""),
        text(b"after"),
    ])
    .await;
    assert_eq!(seen.texts, vec!["Hello World!".to_owned()]);
    assert_eq!(seen.close, Some(1000));
    assert!(seen.pongs.is_empty(), "a ping after the close is not answered");
    let seen =
        run_failing(&[client_frame(0x01, b"fragment1"), close_frame(1000, b""), client_frame(0x80, b"fragment2")])
            .await;
    assert!(seen.texts.is_empty());
    assert_eq!(seen.close, Some(1000));
}

#[tokio::test]
async fn case_7_3_close_frame_payloads() {
    let empty = run_failing(&[client_frame(0x88, b"")]).await;
    assert_eq!(empty.close, Some(1000), "7.3.1: an empty close is answered with 1000");
    let one_byte = run_failing(&[client_frame(0x88, b"a")]).await;
    assert_failed(&one_byte, code::PROTOCOL, "7.3.2");
    for reason in [&b""[..], b"Hello World!", &[b'*'; 123]] {
        let seen = run_failing(&[close_frame(1000, reason)]).await;
        assert_eq!(seen.close, Some(1000), "7.3.3-7.3.5");
    }
    let too_long = run_failing(&[close_frame(1000, &[b'*'; 124])]).await;
    assert_failed(&too_long, code::PROTOCOL, "7.3.6");
}

#[tokio::test]
async fn case_7_7_valid_close_codes_are_echoed() {
    for status in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
        let seen = run_failing(&[close_frame(status, b"")]).await;
        assert_eq!(seen.close, Some(status), "7.7 code {status}");
    }
}

#[tokio::test]
async fn case_7_9_and_7_13_invalid_close_codes_fail_with_1002() {
    for status in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535] {
        let seen = run_failing(&[close_frame(status, b"")]).await;
        assert_failed(&seen, code::PROTOCOL, &format!("7.9 code {status}"));
    }
}

#[test]
fn answers_to_endings() {
    let answer = |e: Ending| e.answer().map(|o| o.code);
    assert_eq!(answer(Ending::PeerClosed(None)), Some(1000));
    assert_eq!(answer(Ending::PeerClosed(Some(4001))), Some(4001));
    assert_eq!(answer(Ending::PeerGone), None);
}
