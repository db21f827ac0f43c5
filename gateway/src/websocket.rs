//! The WebSocket protocol itself (RFC 6455), server side: the upgrade handshake, frame decoding
//! and encoding, and [`Socket`], which drives one connection's reads and writes from its own task.
//!
//! Written here rather than taken from tungstenite for memory and fan-out cost:
//! - an idle socket holds no read or write buffer: reads go through one scratch buffer per worker
//!   thread, and only an incomplete frame is ever kept per socket;
//! - a server frame is encoded once, header included ([`text`]), and the same bytes are written to
//!   every recipient, several frames per vectored write when they queue up.
//!
//! Frames to a socket go through its [`Outbox`]: a bounded queue that anyone may push to without
//! awaiting, and where close orders are left.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use salvo::http::headers::{Connection, HeaderMapExt, SecWebsocketAccept, SecWebsocketKey, Upgrade};
use salvo::http::{Method, StatusCode, StatusError};
pub use salvo::hyper::upgrade::OnUpgrade;
use salvo::hyper::upgrade::Upgraded;
use salvo::rt::tokio::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The byte stream of an upgraded connection.
pub type Io = TokioIo<Upgraded>;

/// Every close code the gateway sends (RFC 6455 §7.4.1, and 4003 of DESIGN.md).
pub mod code {
    /// Normal closure (kicked, room closed; the answer to a peer's close without a code).
    pub const NORMAL: u16 = 1000;
    /// Going away (server shutting down, keepalive missed).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the framing rules.
    pub const PROTOCOL: u16 = 1002;
    /// A text message that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// Policy violation (a reader too slow to keep up).
    pub const POLICY: u16 = 1008;
    /// A frame or message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// Banned: do not reconnect (an application code, like HTTP 403).
    pub const BANNED: u16 = 4003;
}

mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// Bytes read from a socket per read call, into the worker thread's scratch buffer.
const SCRATCH: usize = 16 * 1024;
/// Most frames handed to one vectored write.
const MAX_IOVECS: usize = 64;

thread_local! {
    static SCRATCH_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

// ----------------------------------------------------------------------------------------------
// Handshake.

/// Check an upgrade request and answer it with 101; the returned future resolves to the
/// connection once the response is out.
pub fn accept(req: &mut salvo::Request, res: &mut salvo::Response) -> Result<OnUpgrade, StatusError> {
    let refuse = |brief: &str| StatusError::bad_request().brief(brief.to_owned());
    if req.method() != Method::GET {
        return Err(refuse("a WebSocket handshake is a GET request"));
    }
    let headers = req.headers();
    if !headers.typed_get::<Connection>().is_some_and(|c| c.contains("upgrade")) {
        return Err(refuse("missing \"Connection: upgrade\""));
    }
    let upgrade = headers.get("upgrade").and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(refuse("missing \"Upgrade: websocket\""));
    }
    if headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()) != Some("13") {
        return Err(refuse("only WebSocket version 13 is spoken"));
    }
    let Some(key) = headers.typed_get::<SecWebsocketKey>() else {
        return Err(refuse("missing Sec-WebSocket-Key"));
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse("this connection cannot be upgraded"));
    };
    // Quiet stretches are normal on a WebSocket: loosen the server's idle fuse for this one.
    if let Some(ctrl) = req.extensions().get::<salvo::ConnCtrl>() {
        ctrl.relax_timeouts();
    }
    res.status_code(StatusCode::SWITCHING_PROTOCOLS);
    res.headers_mut().typed_insert(Connection::upgrade());
    res.headers_mut().typed_insert(Upgrade::websocket());
    res.headers_mut().typed_insert(SecWebsocketAccept::from(key));
    Ok(on_upgrade)
}

// ----------------------------------------------------------------------------------------------
// Encoding: server frames are final and unmasked, so one encoding serves every recipient.

fn frame(opcode: u8, payload: &[u8]) -> Bytes {
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

// ----------------------------------------------------------------------------------------------
// Decoding.

/// What the peer sent, frame by frame (data messages reassembled).
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Text(String),
    /// A binary message; its content is of no use to this protocol and is not kept.
    Binary,
    Ping(Bytes),
    Pong,
    /// The peer's close frame, with its status code if it gave one.
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

/// Turns the bytes a client sends into [`Decoded`] messages.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The start of a frame not yet complete; empty (and unallocated) between frames.
    partial: Vec<u8>,
    /// A fragmented data message being assembled: its opcode and payload so far.
    message: Option<(u8, Vec<u8>)>,
    /// Largest frame and largest message accepted.
    max: usize,
}

impl Decoder {
    pub fn new(max: usize) -> Self {
        Self { partial: Vec::new(), message: None, max }
    }

    /// Decode every complete frame of what was kept plus `data`, which is unmasked in place.
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
}

/// Parse whole frames from the front of `buf`; returns the bytes used.
fn parse(
    buf: &mut [u8],
    message: &mut Option<(u8, Vec<u8>)>,
    max: usize,
    out: &mut VecDeque<Decoded>,
) -> Result<usize, Violation> {
    let mut pos = 0;
    loop {
        let rest = &mut buf[pos..];
        let [b0, b1, ..] = *rest else { break };
        let fin = b0 & 0x80 != 0;
        let op = b0 & 0x0F;
        if b0 & 0x70 != 0 {
            return Err(violation(code::PROTOCOL, "reserved bits set without an extension"));
        }
        if b1 & 0x80 == 0 {
            return Err(violation(code::PROTOCOL, "client frames must be masked"));
        }
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
        if op >= opcode::CLOSE {
            if !fin {
                return Err(violation(code::PROTOCOL, "control frames may not be fragmented"));
            }
            if len > 125 {
                return Err(violation(code::PROTOCOL, "control frames carry at most 125 bytes"));
            }
        }
        let len = match usize::try_from(len) {
            Ok(len) if len <= max => len,
            _ => return Err(violation(code::TOO_BIG, "frame larger than 64 KiB")),
        };
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
            opcode::TEXT | opcode::BINARY => {
                if message.is_some() {
                    return Err(violation(code::PROTOCOL, "a new message began before the last one ended"));
                }
                if fin {
                    out.push_back(data_message(op, payload.to_vec())?);
                } else {
                    *message = Some((op, payload.to_vec()));
                }
            }
            opcode::CONTINUATION => {
                let Some((first, so_far)) = message.as_mut() else {
                    return Err(violation(code::PROTOCOL, "a continuation frame without a message"));
                };
                if so_far.len() + payload.len() > max {
                    return Err(violation(code::TOO_BIG, "message larger than 64 KiB"));
                }
                so_far.extend_from_slice(payload);
                if fin {
                    let first = *first;
                    let whole = message.take().map(|(_, bytes)| bytes).unwrap_or_default();
                    out.push_back(data_message(first, whole)?);
                }
            }
            opcode::CLOSE => match payload {
                [] => out.push_back(Decoded::Close(None)),
                [_] => return Err(violation(code::PROTOCOL, "a close frame's status needs two bytes")),
                [a, b, reason @ ..] => {
                    if std::str::from_utf8(reason).is_err() {
                        return Err(violation(code::INVALID_DATA, "a close reason must be UTF-8"));
                    }
                    out.push_back(Decoded::Close(Some(u16::from_be_bytes([*a, *b]))));
                }
            },
            opcode::PING => out.push_back(Decoded::Ping(Bytes::copy_from_slice(payload))),
            opcode::PONG => out.push_back(Decoded::Pong),
            _ => return Err(violation(code::PROTOCOL, "unknown opcode")),
        }
        pos += total;
    }
    Ok(pos)
}

fn data_message(op: u8, payload: Vec<u8>) -> Result<Decoded, Violation> {
    if op == opcode::BINARY {
        return Ok(Decoded::Binary);
    }
    String::from_utf8(payload)
        .map(Decoded::Text)
        .map_err(|_| violation(code::INVALID_DATA, "text frames must be UTF-8"))
}

// ----------------------------------------------------------------------------------------------
// The outbox.

/// An order to close a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrder {
    pub code: u16,
    pub reason: String,
    /// Send what was queued before the order first (a `kicked` frame, say); false for slow readers.
    pub drain: bool,
}

/// What became of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue was full: the reader is too slow.
    Full,
    /// The socket is closing or gone; the frame was dropped.
    Closed,
}

/// A FIFO of frame buffers that keeps its first one inline. A socket is nearly always handed one
/// buffer at a time, and a queue that allocated for it cost a `malloc` and a `free` for every
/// delivery; an idle socket still holds no allocation.
#[derive(Debug, Default)]
struct FrameQueue {
    /// The front buffer; `None` only when `rest` is empty too.
    first: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl FrameQueue {
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn push_back(&mut self, bytes: Bytes) {
        if self.first.is_none() {
            self.first = Some(bytes);
        } else {
            self.rest.push_back(bytes);
        }
    }

    fn front(&self) -> Option<&Bytes> {
        self.first.as_ref()
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        let front = self.first.take();
        self.first = self.rest.pop_front();
        front
    }

    fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.first.iter().chain(&self.rest)
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// A socket's queue of encoded frames waiting to be written, and when its peer last spoke.
#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<OutboxInner>,
    limit: usize,
    /// When the peer last sent anything (a pong counts), in milliseconds since [`EPOCH`]; read
    /// by the keepalive task.
    last_read: AtomicU64,
}

/// The start of the gateway's millisecond clock for [`Outbox::silent_for`].
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn millis_since_epoch() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct OutboxInner {
    /// Buffers of one or more encoded frames.
    queue: FrameQueue,
    /// How many frames `queue` holds.
    frames: usize,
    close: Option<CloseOrder>,
    /// Set once a close was ordered or the socket ended: nothing more is queued.
    shut: bool,
    waker: Option<Waker>,
}

impl OutboxInner {
    /// Have the socket's task woken by the next push or close order.
    fn wake_me(&mut self, cx: &Context<'_>) {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
    }
}

impl Outbox {
    /// A queue that holds at most `limit` frames not yet handed to the socket.
    pub fn new(limit: usize) -> Self {
        Self { inner: Mutex::default(), limit: limit.max(1), last_read: AtomicU64::new(millis_since_epoch()) }
    }

    /// The peer sent something just now.
    fn touch(&self) {
        self.last_read.store(millis_since_epoch(), Ordering::Relaxed);
    }

    /// How long since the peer last sent anything.
    pub fn silent_for(&self) -> std::time::Duration {
        std::time::Duration::from_millis(millis_since_epoch().saturating_sub(self.last_read.load(Ordering::Relaxed)))
    }

    fn lock(&self) -> MutexGuard<'_, OutboxInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue one encoded frame (never waits).
    #[cfg(test)]
    pub fn push(&self, frame: Bytes) -> Pushed {
        self.push_frames(frame, 1)
    }

    /// Queue a buffer of `frames` encoded frames, written together (never waits). The limit
    /// counts frames, so a reader that lags is dropped after as many messages however they
    /// were grouped; a buffer larger than the limit is still taken when nothing is queued.
    pub fn push_frames(&self, bytes: Bytes, frames: usize) -> Pushed {
        let mut inner = self.lock();
        if inner.shut {
            return Pushed::Closed;
        }
        if !inner.queue.is_empty() && inner.frames + frames > self.limit {
            return Pushed::Full;
        }
        inner.queue.push_back(bytes);
        inner.frames += frames;
        if let Some(waker) = inner.waker.take() {
            drop(inner);
            waker.wake();
        }
        Pushed::Queued
    }

    /// Order the socket closed; the first order wins.
    pub fn close(&self, order: CloseOrder) {
        let mut inner = self.lock();
        if inner.shut {
            return;
        }
        inner.shut = true;
        if !order.drain {
            inner.queue = FrameQueue::default();
            inner.frames = 0;
        }
        inner.close = Some(order);
        if let Some(waker) = inner.waker.take() {
            drop(inner);
            waker.wake();
        }
    }

    /// What is queued, oldest first.
    #[cfg(test)]
    pub fn queued(&self) -> Vec<Bytes> {
        self.lock().queue.iter().cloned().collect()
    }

    /// The socket is finished: drop what is queued and refuse more.
    pub fn shut(&self) {
        let mut inner = self.lock();
        inner.shut = true;
        inner.queue = FrameQueue::default();
        inner.frames = 0;
    }
}

// ----------------------------------------------------------------------------------------------
// The socket.

/// Why a socket stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The peer sent a close frame (with this code, if any).
    PeerClosed(Option<u16>),
    /// The connection ended without a close frame.
    PeerGone,
    /// The peer broke the protocol.
    Violation(Violation),
    /// Reading or writing failed.
    Failed(String),
}

impl Ending {
    /// The close frame to answer with, if the socket can still carry one: the peer's own code
    /// for its close (RFC 6455 §5.5.1; codes that may not be sent become 1000), the breach's code
    /// for a violation.
    pub fn answer(&self) -> Option<CloseOrder> {
        let (code, reason) = match self {
            Ending::PeerClosed(code) => {
                let sendable = code.filter(|c| (1000..5000).contains(c) && ![1004, 1005, 1006, 1015].contains(c));
                (sendable.unwrap_or(code::NORMAL), "")
            }
            Ending::Violation(violation) => (violation.code, violation.reason),
            Ending::PeerGone | Ending::Failed(_) => return None,
        };
        Some(CloseOrder { code, reason: reason.to_owned(), drain: false })
    }
}

/// What [`Socket::next`] brings.
#[derive(Debug)]
pub enum Event {
    Text(String),
    Binary,
    /// Someone ordered the socket closed.
    CloseOrdered(CloseOrder),
    Ended(Ending),
}

/// One WebSocket connection: reads and decodes client frames, and writes its outbox meanwhile.
pub struct Socket<T> {
    io: T,
    decoder: Decoder,
    /// Decoded messages not yet handed out.
    decoded: VecDeque<Decoded>,
    /// Frames taken from the outbox and being written; the front one `written` bytes in.
    writing: FrameQueue,
    written: usize,
    /// Bytes were written since the last flush.
    unflushed: bool,
    /// Control frames we owe the peer (pongs), written before the outbox.
    owed: VecDeque<Bytes>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Socket<T> {
    pub fn new(io: T, max_frame: usize) -> Self {
        Self {
            io,
            decoder: Decoder::new(max_frame),
            decoded: VecDeque::new(),
            writing: FrameQueue::default(),
            written: 0,
            unflushed: false,
            owed: VecDeque::new(),
        }
    }

    /// The next message from the peer; the outbox is written while waiting.
    pub async fn next(&mut self, outbox: &Outbox) -> Event {
        poll_fn(|cx| self.poll_next(cx, outbox)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>, outbox: &Outbox) -> Poll<Event> {
        loop {
            // Write first, so answers keep flowing while a client sends a burst of frames.
            let write_blocked = match self.poll_write_out(cx, Some(outbox)) {
                Poll::Ready(Err(error)) => return Poll::Ready(Event::Ended(Ending::Failed(error.to_string()))),
                Poll::Ready(Ok(Some(order))) => return Poll::Ready(Event::CloseOrdered(order)),
                Poll::Ready(Ok(None)) => false,
                Poll::Pending => true,
            };
            while let Some(decoded) = self.decoded.pop_front() {
                match decoded {
                    Decoded::Text(text) => return Poll::Ready(Event::Text(text)),
                    Decoded::Binary => return Poll::Ready(Event::Binary),
                    Decoded::Ping(payload) => self.owed.push_back(frame(opcode::PONG, &payload)),
                    Decoded::Pong => {}
                    Decoded::Close(code) => return Poll::Ready(Event::Ended(Ending::PeerClosed(code))),
                }
            }
            // Idle sockets keep no queue allocation.
            if self.decoded.capacity() > 0 {
                self.decoded = VecDeque::new();
            }
            if !self.owed.is_empty() && !write_blocked {
                continue; // pongs to write
            }
            match self.poll_read_in(cx, outbox) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(ending)) => return Poll::Ready(Event::Ended(ending)),
                // Decoded something (or only part of a frame): go round again.
                Poll::Ready(Ok(())) => {}
            }
        }
    }

    /// Read once into the thread's scratch buffer and decode.
    fn poll_read_in(&mut self, cx: &mut Context<'_>, outbox: &Outbox) -> Poll<Result<(), Ending>> {
        SCRATCH_BUFFER.with_borrow_mut(|scratch| {
            let mut buf = ReadBuf::new(scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(error)) => Poll::Ready(Err(Ending::Failed(error.to_string()))),
                Poll::Ready(Ok(())) if buf.filled().is_empty() => Poll::Ready(Err(Ending::PeerGone)),
                Poll::Ready(Ok(())) => {
                    outbox.touch();
                    let result = self.decoder.feed(buf.filled_mut(), &mut self.decoded);
                    Poll::Ready(result.map_err(Ending::Violation))
                }
            }
        })
    }

    /// Write owed control frames, then the outbox, until done or the socket is full. `Ok(Some)`
    /// is a close order found in the outbox (what was queued before it is written first when it
    /// says drain); `Ok(None)` means all is written and flushed.
    fn poll_write_out(
        &mut self,
        cx: &mut Context<'_>,
        outbox: Option<&Outbox>,
    ) -> Poll<std::io::Result<Option<CloseOrder>>> {
        loop {
            if self.writing.is_empty() {
                if let Some(frame) = self.owed.pop_front() {
                    self.writing.push_back(frame);
                } else if let Some(outbox) = outbox {
                    let mut inner = outbox.lock();
                    if !inner.queue.is_empty() {
                        std::mem::swap(&mut inner.queue, &mut self.writing);
                        inner.frames = 0;
                    } else if let Some(order) = inner.close.take() {
                        return Poll::Ready(Ok(Some(order)));
                    } else {
                        inner.wake_me(cx);
                    }
                }
            }
            if self.writing.is_empty() {
                // Idle sockets keep no queue allocation.
                self.writing = FrameQueue::default();
                if self.unflushed {
                    std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    self.unflushed = false;
                }
                return Poll::Ready(Ok(None));
            }
            // One frame (the usual case: a socket gets one message at a time unless it lags)
            // goes out with a plain write, which the kernel handles with less work than a
            // one-element writev.
            let write = if self.writing.len() > 1 && self.io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut count = 0;
                for (i, frame) in self.writing.iter().take(MAX_IOVECS).enumerate() {
                    let bytes = if i == 0 { &frame[self.written..] } else { &frame[..] };
                    slices[i] = IoSlice::new(bytes);
                    count += 1;
                }
                Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count])
            } else {
                let front = self.writing.front().map(|f| &f[self.written..]).unwrap_or_default();
                Pin::new(&mut self.io).poll_write(cx, front)
            };
            let written = match write {
                Poll::Ready(result) => result?,
                Poll::Pending => return Self::blocked(cx, outbox),
            };
            if written == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            self.advance(written);
        }
    }

    /// The peer is not reading: a close order must not wait for it (a dead peer, or one that
    /// holds its window shut, would keep its socket, seat and task until the kernel gives up),
    /// so one already given is taken now, and a later one wakes the socket.
    fn blocked(cx: &mut Context<'_>, outbox: Option<&Outbox>) -> Poll<std::io::Result<Option<CloseOrder>>> {
        if let Some(outbox) = outbox {
            let mut inner = outbox.lock();
            if let Some(order) = inner.close.take() {
                return Poll::Ready(Ok(Some(order)));
            }
            inner.wake_me(cx);
        }
        Poll::Pending
    }

    fn advance(&mut self, mut written: usize) {
        while let Some(front) = self.writing.front() {
            let left = front.len() - self.written;
            if written < left {
                self.written += written;
                return;
            }
            written -= left;
            self.written = 0;
            self.writing.pop_front();
        }
    }

    /// Finish the connection: write what the order says is still due, then the close frame, then
    /// shut the stream. The caller bounds this with a timeout.
    pub async fn close(&mut self, outbox: &Outbox, order: &CloseOrder) -> std::io::Result<()> {
        if order.drain {
            // What was queued before the order (the order itself was already taken).
            poll_fn(|cx| self.poll_write_out(cx, Some(outbox)).map_ok(|_| ())).await?;
        } else {
            self.writing.clear();
            self.written = 0;
        }
        outbox.shut();
        self.owed.clear();
        self.owed.push_back(close(order.code, &order.reason));
        poll_fn(|cx| self.poll_write_out(cx, None).map_ok(|_| ())).await?;
        poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A client frame as a browser sends it: masked.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = vec![first];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xFFFF {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

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
        bytes.extend(client_frame(0x82, b"\x00\x01"));
        bytes.extend(client_frame(0x8A, b""));
        bytes.extend(client_frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
        let decoded = decode_all(&[&bytes]).unwrap();
        assert_eq!(
            decoded,
            vec![
                Decoded::Ping(Bytes::from_static(b"p")),
                Decoded::Text("hello".into()),
                Decoded::Binary,
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
    fn the_outbox_is_bounded_and_a_close_order_stops_it() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.push(text(b"1")), Pushed::Queued);
        assert_eq!(outbox.push(text(b"2")), Pushed::Queued);
        assert_eq!(outbox.push(text(b"3")), Pushed::Full);
        let kick = CloseOrder { code: 1000, reason: "bye".into(), drain: true };
        outbox.close(kick.clone());
        outbox.close(CloseOrder { code: 1008, reason: String::new(), drain: false });
        assert_eq!(outbox.push(text(b"4")), Pushed::Closed);
        let inner = outbox.lock();
        assert_eq!(inner.queue.len(), 2, "a draining order keeps what was queued before it");
        assert_eq!(inner.close, Some(kick), "the first order wins");
    }

    #[test]
    fn a_frame_queue_keeps_its_order_with_the_first_buffer_inline() {
        let mut queue = FrameQueue::default();
        assert!(queue.is_empty() && queue.front().is_none());
        for b in [b"a", b"b", b"c"] {
            queue.push_back(Bytes::from_static(b));
        }
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.iter().map(|b| b[0]).collect::<Vec<_>>(), b"abc");
        assert_eq!(queue.pop_front().as_deref(), Some(&b"a"[..]));
        queue.push_back(Bytes::from_static(b"d"));
        assert_eq!(queue.front().map(|b| b[0]), Some(b'b'));
        let drained: Vec<u8> = std::iter::from_fn(|| queue.pop_front()).map(|b| b[0]).collect();
        assert_eq!(drained, b"bcd");
        assert_eq!((queue.is_empty(), queue.len()), (true, 0));
        queue.push_back(Bytes::from_static(b"e"));
        queue.clear();
        assert!(queue.is_empty() && queue.pop_front().is_none());
    }

    #[test]
    fn the_outbox_limit_counts_frames_not_buffers() {
        let outbox = Outbox::new(4);
        assert_eq!(outbox.push_frames(text(b"1"), 3), Pushed::Queued);
        assert_eq!(outbox.push_frames(text(b"2"), 2), Pushed::Full, "five frames are past four");
        assert_eq!(outbox.push(text(b"3")), Pushed::Queued);
        assert_eq!(outbox.push(text(b"4")), Pushed::Full);
        let empty = Outbox::new(2);
        assert_eq!(empty.push_frames(text(b"big"), 5), Pushed::Queued, "one buffer past the limit still goes");
        assert_eq!(empty.push(text(b"5")), Pushed::Full);
    }

    #[tokio::test]
    async fn a_socket_answers_pings_writes_its_outbox_and_closes_cleanly() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server, mut client) = tokio::io::duplex(64 * 1024);
        let mut socket = Socket::new(server, 1024);
        let outbox = Outbox::new(16);
        outbox.push(text(b"one"));
        outbox.push(text(b"two"));
        client.write_all(&client_frame(0x89, b"hi")).await.unwrap();
        client.write_all(&client_frame(0x81, b"hello")).await.unwrap();
        match socket.next(&outbox).await {
            Event::Text(text) => assert_eq!(text, "hello"),
            other => panic!("expected text, got {other:?}"),
        }
        let order = CloseOrder { code: 4003, reason: "banned".into(), drain: true };
        outbox.push(text(b"three"));
        outbox.close(order.clone());
        match socket.next(&outbox).await {
            Event::CloseOrdered(got) => assert_eq!(got, order),
            other => panic!("expected the close order, got {other:?}"),
        }
        socket.close(&outbox, &order).await.unwrap();
        drop(socket);
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&text(b"one"));
        expected.extend_from_slice(&text(b"two"));
        expected.extend_from_slice(&frame(opcode::PONG, b"hi"));
        expected.extend_from_slice(&text(b"three"));
        expected.extend_from_slice(&close(4003, "banned"));
        // The pong may go out before or after the first frames; everything else is in order.
        let pong = frame(opcode::PONG, b"hi");
        let without_pong = |bytes: &[u8]| {
            let at = bytes.windows(pong.len()).position(|w| w == &pong[..]).unwrap();
            [&bytes[..at], &bytes[at + pong.len()..]].concat()
        };
        assert_eq!(without_pong(&received), without_pong(&expected));
    }

    #[tokio::test]
    async fn a_close_order_reaches_a_socket_whose_peer_stopped_reading() {
        // A 64-byte pipe the peer never reads: the socket's write blocks on its first frame.
        let (server, _client) = tokio::io::duplex(64);
        let mut socket = Socket::new(server, 1024);
        let outbox = Arc::new(Outbox::new(16));
        outbox.push(text(&[b'x'; 1000]));
        let order = CloseOrder { code: code::GOING_AWAY, reason: "missed two pings".into(), drain: false };
        let closer = {
            let outbox = outbox.clone();
            let order = order.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                outbox.close(order);
            })
        };
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next(&outbox)).await;
        match event.expect("the order is seen although the write is stuck") {
            Event::CloseOrdered(got) => assert_eq!(got, order),
            other => panic!("expected the close order, got {other:?}"),
        }
        closer.await.unwrap();
    }

    #[tokio::test]
    async fn a_peer_that_vanishes_or_breaks_the_rules_ends_the_socket() {
        use tokio::io::AsyncWriteExt;
        let (server, client) = tokio::io::duplex(1024);
        let mut socket = Socket::new(server, 1024);
        let outbox = Outbox::new(4);
        drop(client);
        assert!(matches!(socket.next(&outbox).await, Event::Ended(Ending::PeerGone)));

        let (server, mut client) = tokio::io::duplex(1024);
        let mut socket = Socket::new(server, 1024);
        client.write_all(&[0x81, 0x01, b'a']).await.unwrap();
        match socket.next(&outbox).await {
            Event::Ended(Ending::Violation(v)) => assert_eq!(v.code, code::PROTOCOL),
            other => panic!("expected a violation, got {other:?}"),
        }
    }
}
