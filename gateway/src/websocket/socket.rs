//! [`Socket`]: one connection's reads and writes, driven from its own task.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::codec::{Decoded, Decoder, Violation, close, frame};
use super::outbox::{CloseOrder, FrameQueue, Outbox};
use super::{code, opcode};

/// Bytes read from a socket per read call, into the worker thread's scratch buffer.
const SCRATCH: usize = 16 * 1024;
/// Most frames handed to one vectored write.
const MAX_IOVECS: usize = 64;

thread_local! {
    static SCRATCH_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

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
            Ending::PeerClosed(code) => (code.filter(|c| code::valid_on_wire(*c)).unwrap_or(code::NORMAL), ""),
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
    /// The control frame we owe the peer, written before the outbox: the answer to the latest
    /// ping (an earlier one not yet written is replaced, RFC 6455 §5.5.3), or the close frame.
    owed: Option<Bytes>,
    /// How the socket ends once the messages decoded before it are handed out (a breach found
    /// later in the same read must not lose the messages before it).
    ending: Option<Ending>,
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
            owed: None,
            ending: None,
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
            if let Some(event) = self.take_decoded() {
                return Poll::Ready(event);
            }
            if let Some(ending) = self.ending.take() {
                return Poll::Ready(Event::Ended(ending));
            }
            if write_blocked {
                // The peer does not read what we write: read nothing more from it either, so
                // what it sends meanwhile (pings, above all) waits in its own kernel buffers
                // instead of in our memory. The write or a close order wakes us.
                return Poll::Pending;
            }
            if self.owed.is_some() {
                continue; // a pong to write
            }
            match self.poll_read_in(cx, outbox) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(ending)) => self.ending = Some(ending),
                // Decoded something (or only part of a frame): go round again.
                Poll::Ready(Ok(())) => {}
            }
        }
    }

    /// The next decoded message for the caller; pings are answered (the latest only) and pongs
    /// dropped on the way.
    fn take_decoded(&mut self) -> Option<Event> {
        let mut replaced = 0u64;
        let mut event = None;
        while let Some(decoded) = self.decoded.pop_front() {
            match decoded {
                Decoded::Text(text) => {
                    event = Some(Event::Text(text));
                    break;
                }
                Decoded::Ping(payload) => {
                    replaced += u64::from(self.owed.replace(frame(opcode::PONG, &payload)).is_some());
                }
                Decoded::Pong => {}
                Decoded::Close(code) => {
                    event = Some(Event::Ended(Ending::PeerClosed(code)));
                    break;
                }
            }
        }
        if replaced > 0 {
            metrics::counter!("chat_pings_coalesced_total").increment(replaced);
        }
        // Idle sockets keep no queue allocation.
        if self.decoded.is_empty() && self.decoded.capacity() > 0 {
            self.decoded = VecDeque::new();
        }
        event
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
                if let Some(frame) = self.owed.take() {
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
            // Drop what waits, but finish a frame already begun: a close frame in the middle of
            // another would break the stream.
            let begun = if self.written > 0 { self.writing.pop_front() } else { None };
            self.writing.clear();
            if let Some(frame) = begun {
                self.writing.push_back(frame);
            }
        }
        outbox.shut();
        // The answer to a ping that came just before the close still goes, ahead of the close.
        if let Some(pong) = self.owed.take() {
            self.writing.push_back(pong);
        }
        self.owed = Some(close(order.code, &order.reason));
        poll_fn(|cx| self.poll_write_out(cx, None).map_ok(|_| ())).await?;
        poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::websocket::codec::text;
    use crate::websocket::testing::client_frame;

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

    #[tokio::test]
    async fn a_peer_that_floods_pings_and_never_reads_is_read_no_further_and_owed_one_pong() {
        use tokio::io::AsyncWriteExt;
        // 4 KiB pipes: the server's pongs fill the way back quickly.
        let (server, mut client) = tokio::io::duplex(4096);
        let mut socket = Socket::new(server, 1024);
        let outbox = Outbox::new(16);
        let server = async {
            loop {
                if let Event::Ended(_) = socket.next(&outbox).await {
                    return;
                }
            }
        };
        let ping = client_frame(0x89, &[b'p'; 125]);
        let flood = async {
            let mut sent = 0usize;
            // Until the server stops taking bytes (the write stalls) or 64 MiB went through.
            while sent < 64 << 20 {
                match tokio::time::timeout(std::time::Duration::from_millis(200), client.write_all(&ping)).await {
                    Ok(Ok(())) => sent += ping.len(),
                    _ => break,
                }
            }
            sent
        };
        let sent = tokio::select! {
            sent = flood => sent,
            () = server => panic!("the server ended the socket"),
        };
        // What the server took: the pongs that fit the pipe back, one read's worth, a pipe's.
        assert!(sent < 256 * 1024, "the server kept reading a peer that does not read: {sent} bytes");
        let pongs_held = socket.writing.len() + usize::from(socket.owed.is_some());
        assert!((1..=2).contains(&pongs_held), "one pong being written, at most one owed: {pongs_held}");
        assert!(socket.decoded.len() <= SCRATCH / 6, "at most one read's frames are held");
    }
}
