//! One session's task, a server's or a client's: its sockets, its connects in progress,
//! and the turn that gives the session what happened and drains it.

use std::io;

use dicomwire::session::{LinkId, Session};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::wire::{Links, Wake, now, sleep, turn};

/// A session and what moves its bytes.
pub(crate) struct Conn<S> {
    pub(crate) session: S,
    pub(crate) links: Links,
    connects: JoinSet<(LinkId, io::Result<TcpStream>)>,
}

impl<S: Session> Conn<S> {
    /// `session`, its main link on `stream` (none: a connect that failed).
    pub(crate) fn new(session: S, stream: Option<TcpStream>) -> Self {
        let mut links = Links::new();
        if let Some(stream) = stream {
            links.add(LinkId::MAIN, stream);
        }
        Self {
            session,
            links,
            connects: JoinSet::new(),
        }
    }

    /// Waits for a socket, a connect, the session's deadline or (once) `stop`.
    pub(crate) async fn wait(&mut self, stop: Option<&mut watch::Receiver<bool>>) -> Wake {
        // Copied out: a session is not `Sync`, and the future must stay `Send`.
        let (deadline, links) = (self.session.poll_timeout(), self.session.links());
        let reading: Vec<LinkId> = links
            .into_iter()
            .filter(|l| self.session.wants_read(*l))
            .collect();
        let connects = &mut self.connects;
        let stopping = async {
            match stop {
                Some(stop) => stop.wait_for(|asked| *asked).await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            wake = self.links.ready(|link| reading.contains(&link)) => wake,
            Some(Ok((link, connected))) = connects.join_next(), if !connects.is_empty() => {
                Wake::Connected(link, connected)
            }
            () = sleep(deadline) => Wake::Timeout,
            Ok(()) = stopping => Wake::Shutdown,
        }
    }

    /// Gives the session what happened (in `block_in_place`: it may call a handler), then
    /// drains it in the contract's order: transmit per link (main first), connect,
    /// close, events (to `on_event`), and offers refused input again, until nothing
    /// moves.
    pub(crate) fn turn(&mut self, wake: Option<Wake>, mut on_event: impl FnMut(S::Event)) {
        turn(|| {
            let now = now();
            let session = &mut self.session;
            match wake {
                Some(Wake::Read(i)) => {
                    let take = |link, b: &_| session.handle_input(now, link, b).unwrap_or(b.len());
                    if let Some(closed) = self.links.read(i, take) {
                        session.handle_transport_closed(now, closed);
                    }
                }
                Some(Wake::Connected(link, Ok(stream))) => {
                    if session.handle_transport_connected(now, link).is_ok() {
                        self.links.add(link, stream);
                    }
                }
                Some(Wake::Connected(link, Err(e))) => {
                    session.handle_transport_connect_failed(now, link, e);
                }
                Some(Wake::Timeout) => session.handle_timeout(now),
                Some(Wake::Shutdown) => session.shutdown(now),
                Some(Wake::Write) | None => {}
            }
            loop {
                let session = &mut self.session;
                let failed = self
                    .links
                    .send(|link, out| session.poll_transmit(now, link, out).is_some());
                let mut moved = !failed.is_empty();
                for link in failed {
                    session.handle_transport_closed(now, link);
                }
                while let Some(connect) = session.poll_connect() {
                    moved = true;
                    // Bounded by the session's connect timer: on expiry it closes the
                    // link, and a connection that opens later is dropped.
                    let (link, addr) = (connect.link, connect.destination.address());
                    self.connects
                        .spawn(async move { (link, TcpStream::connect(addr).await) });
                }
                while let Some(link) = session.poll_close() {
                    moved = true;
                    // What was taken for it went out in `send`, as far as the socket took it.
                    self.links.close(link);
                }
                while let Some(event) = session.poll_event() {
                    moved = true;
                    on_event(event);
                }
                moved |= self.links.reoffer(|link, b| {
                    let wanted = session.wants_read(link);
                    wanted.then(|| session.handle_input(now, link, b).unwrap_or(b.len()))
                });
                if !moved {
                    return;
                }
            }
        });
    }
}
