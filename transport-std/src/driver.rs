//! One session ([`Session`]: a server's or a client's) and its sockets, driven from one
//! thread: the same loop for both roles.
//!
//! While the session has one link its socket is read on the session's thread, with the
//! session's next deadline as the read timeout. Once it has more (a C-MOVE
//! sub-association), a reader thread per socket turns blocking reads into messages on a
//! bounded channel, so the thread waits on one channel for input from any socket or for
//! the deadline; the bounded channel keeps TCP backpressure.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicomwire::session::{LinkId, Session};
use dicomwire::ul::ReadBuffers;

use crate::wire::{self, MAX_BLOCK, WRITE_BATCH, Wire};

/// Reads a reader thread may queue, each at most 256 KiB: a connection holds at most
/// about 4 MiB of input its session has not taken.
const READS_QUEUED: usize = 16;

/// A reader thread's report: bytes read on a link, or (`None`) its end.
type Input = (LinkId, Option<Bytes>);

/// A session, its sockets, and how its input arrives.
pub(crate) struct Driver<S> {
    pub(crate) session: S,
    sockets: HashMap<LinkId, (Arc<TcpStream>, Wire)>,
    /// The reader threads' channel, once there is more than one link.
    channel: Option<(SyncSender<Input>, Receiver<Input>)>,
    /// For reads on this thread (lent to the session when large).
    buffers: ReadBuffers,
}

impl<S: Session> Driver<S> {
    /// A driver of `session`, whose main link is `stream`.
    pub(crate) fn new(session: S, stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let main = (Arc::new(stream), Wire::default());
        let sockets = HashMap::from([(LinkId::MAIN, main)]);
        Self {
            session,
            sockets,
            channel: None,
            buffers: ReadBuffers::new(1024 * 1024),
        }
    }

    /// Starts a reader thread for `link`'s socket, and one for each socket before it
    /// when this is the first.
    fn start_readers(&mut self, link: LinkId) {
        if self.channel.is_none() {
            self.channel = Some(sync_channel(READS_QUEUED));
            for link in self.sockets.keys().copied().collect::<Vec<_>>() {
                self.start_readers(link);
            }
        }
        let (Some((tx, _)), Some((stream, _))) = (&self.channel, self.sockets.get(&link)) else {
            return;
        };
        // Reads on this thread left a timeout on the socket; a reader blocks for good.
        let _ = stream.set_read_timeout(None);
        let (stream, tx) = (Arc::clone(stream), tx.clone());
        let _ = thread::Builder::new()
            .name(format!("read {link}"))
            .spawn(move || {
                let mut buffers = ReadBuffers::new(256 * 1024);
                loop {
                    let data = wire::read(&stream, &mut buffers).ok().flatten();
                    let end = data.is_none();
                    if tx.send((link, data)).is_err() || end {
                        return;
                    }
                }
            });
    }

    /// Offers what was read on `link` (`Some`: after what the session refused earlier
    /// there; `None`: only that), or the end of its stream.
    fn input(&mut self, link: LinkId, read: Option<Option<Bytes>>) -> bool {
        let (now, session) = (Instant::now(), &mut self.session);
        match (self.sockets.get_mut(&link), read) {
            (Some(_), Some(None)) => {
                session.handle_transport_closed(now, link);
                true
            }
            (Some((_, wire)), read) if read.is_some() || session.wants_read(link) => wire
                .offer(read.flatten(), |b| {
                    session.handle_input(now, link, b).unwrap_or(b.len())
                }),
            _ => false,
        }
    }

    /// Sends, connects, closes and re-offers refused input as the session asks, until
    /// nothing moves or bytes wait that the peer does not take (writes block until the
    /// session's next deadline at most).
    pub(crate) fn drain(&mut self) {
        loop {
            let now = Instant::now();
            // A batch written is progress: the session may have more for the socket (a
            // large data set goes out WRITE_BATCH at a time), so the loop goes round
            // again rather than wait for input the peer will not send until it has all.
            let mut moved = false;
            for link in self.session.links() {
                let Some((stream, wire)) = self.sockets.get_mut(&link) else {
                    continue;
                };
                while wire.out.len() < WRITE_BATCH
                    && self
                        .session
                        .poll_transmit(now, link, &mut wire.out)
                        .is_some()
                {
                    moved = true;
                }
                if wire.write(stream, self.session.poll_timeout()).is_err() {
                    wire.out.clear();
                    self.session.handle_transport_closed(now, link);
                }
            }
            while let Some(connect) = self.session.poll_connect() {
                moved = true;
                let until = self.session.poll_timeout().unwrap_or(now + MAX_BLOCK);
                match wire::connect(connect.destination.address(), until) {
                    Ok(stream) => {
                        self.sockets
                            .insert(connect.link, (Arc::new(stream), Wire::default()));
                        self.start_readers(connect.link);
                        let _ = self
                            .session
                            .handle_transport_connected(Instant::now(), connect.link);
                    }
                    Err(e) => {
                        let now = Instant::now();
                        self.session
                            .handle_transport_connect_failed(now, connect.link, e);
                    }
                }
            }
            while let Some(link) = self.session.poll_close() {
                moved = true;
                if let Some((stream, mut wire)) = self.sockets.remove(&link) {
                    // What the session gave before asking to close (an A-ABORT, say).
                    let _ = wire.write(&stream, Some(now + MAX_BLOCK));
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
            for link in self.sockets.keys().copied().collect::<Vec<_>>() {
                moved |= self.input(link, None);
            }
            if !moved || self.unsent() {
                return;
            }
        }
    }

    fn unsent(&self) -> bool {
        self.sockets.values().any(|(_, w)| !w.out.is_empty())
    }

    /// Waits for input on any socket until the session's next deadline (at most
    /// [`MAX_BLOCK`], and not at all while bytes wait to be sent), offers it, and fires
    /// the timers due.
    pub(crate) fn wait(&mut self) {
        let now = Instant::now();
        let deadline = self.session.poll_timeout();
        let left = deadline.map_or(MAX_BLOCK, |d| {
            d.saturating_duration_since(now).min(MAX_BLOCK)
        });
        if !left.is_zero() && !self.unsent() {
            let input = match &self.channel {
                Some((_, rx)) => match rx.recv_timeout(left) {
                    Ok(input) => Some(input),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some((LinkId::MAIN, None)),
                },
                None => self.read_main(left),
            };
            if let Some((link, data)) = input {
                self.input(link, Some(data));
            }
        }
        let now = Instant::now();
        if self.session.poll_timeout().is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
    }

    /// Reads the main link on this thread, for at most `left`.
    fn read_main(&mut self, left: Duration) -> Option<Input> {
        let (stream, wire) = self.sockets.get(&LinkId::MAIN)?;
        if !wire.pending.is_empty() || !self.session.wants_read(LinkId::MAIN) {
            // Refused input waits; it is offered again by `drain`.
            thread::sleep(left.min(Duration::from_millis(1)));
            return None;
        }
        let _ = stream.set_read_timeout(Some(left));
        match wire::read(stream, &mut self.buffers) {
            Ok(data) => Some((LinkId::MAIN, data)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(_) => Some((LinkId::MAIN, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use dicomwire::session::{Connect, SessionMisuse};
    use dicomwire::ul::SendQueue;

    use super::*;

    /// A session with `left` bytes to send on its main link and nothing else to do.
    struct Talker {
        left: usize,
    }

    impl Session for Talker {
        type Event = ();
        fn handle_input(
            &mut self,
            _: Instant,
            _: LinkId,
            _: &Bytes,
        ) -> Result<usize, SessionMisuse> {
            Ok(0)
        }
        fn handle_transport_connected(
            &mut self,
            _: Instant,
            _: LinkId,
        ) -> Result<(), SessionMisuse> {
            Ok(())
        }
        fn handle_transport_connect_failed(&mut self, _: Instant, _: LinkId, _: std::io::Error) {}
        fn handle_transport_closed(&mut self, _: Instant, _: LinkId) {
            self.left = 0;
        }
        fn handle_timeout(&mut self, _: Instant) {}
        fn shutdown(&mut self, _: Instant) {}
        fn poll_transmit(&mut self, _: Instant, _: LinkId, out: &mut SendQueue) -> Option<usize> {
            let n = self.left.min(64 * 1024);
            self.left -= n;
            (n > 0).then(|| {
                out.push(Bytes::from(vec![0x5A; n]));
                n
            })
        }
        fn poll_connect(&mut self) -> Option<Connect> {
            None
        }
        fn poll_close(&mut self) -> Option<LinkId> {
            None
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn wants_read(&self, _: LinkId) -> bool {
            true
        }
        fn links(&self) -> Vec<LinkId> {
            vec![LinkId::MAIN]
        }
        fn is_finished(&self) -> bool {
            false
        }
    }

    /// Everything the session has goes out in one drain, batch after batch, though the
    /// peer sends nothing back (it waits for the whole message, as a C-STORE SCP waits
    /// for the whole data set before it answers).
    #[test]
    fn one_drain_sends_every_batch_without_waiting_for_input() {
        const TOTAL: usize = 2 * 1024 * 1024;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let peer = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (stream, _) = listener.accept().expect("accept");
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            peer.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut got = 0;
            let mut buf = vec![0; 64 * 1024];
            while got < TOTAL {
                match peer.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            got
        });
        let mut driver = Driver::new(Talker { left: TOTAL }, stream);
        driver.drain();
        assert_eq!(driver.session.left, 0, "the session was drained whole");
        drop(driver);
        assert_eq!(reader.join().expect("reader"), TOTAL);
    }
}
