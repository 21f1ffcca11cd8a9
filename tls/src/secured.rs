//! [`Secured`]: a session ([`dicomwire::session::Session`]) with TLS on its links, itself
//! a session, so that every transport drives it exactly as it drives a plain one.

use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes};
use dicomwire::session::{Connect, LinkId, Session, SessionMisuse};
use dicomwire::ul::SendQueue;

use crate::{TlsClientConfig, TlsError, TlsLayer, TlsServerConfig};

/// The most plaintext a link holds for its session (read and decrypted, not yet taken):
/// the link takes no ciphertext while it waits.
const PLAINTEXT_HELD: usize = 64 * 1024;

/// One link under TLS: its layer, and the plaintext each way that waits.
struct SecureLink {
    tls: TlsLayer,
    /// Decrypted, not yet taken by the session.
    plain_in: Bytes,
    /// Taken from the session, not yet taken by the layer.
    plain_out: SendQueue,
    /// The session asked to close: close_notify goes out, then the close.
    closing: bool,
    /// The layer failed: the session was told the transport closed.
    failed: bool,
}

/// A session whose links run over TLS (PS3.15 B.12): the ciphertext a transport reads
/// goes in, the ciphertext it writes comes out, and the inner session sees plaintext.
/// It is a [`Session`] itself, so a transport drives `Secured<ScpSession>` or
/// `Secured<ScuSession>` as it drives the plain ones; no transport holds TLS logic of
/// its own.
///
/// The main link is under TLS when made with [`server`](Self::server) or
/// [`client`](Self::client), plain with [`plain`](Self::plain). A C-MOVE sub-association
/// to a destination marked TLS ([`Destination::tls`](dicomwire::service::Destination))
/// gets a client layer from the configuration given to
/// [`with_sub_associations`](Self::with_sub_associations), and checks the destination's
/// certificate against its host.
///
/// The handshake needs no timer of its own: the inner session's timers bound it (ARTIM
/// while a server waits for the A-ASSOCIATE-RQ behind it, the A-ASSOCIATE response timer
/// for a client). A TLS failure is logged as one line naming it (see
/// [`TlsFailure`](crate::TlsFailure)) and reaches the inner session as its transport
/// closing; the alert that tells the peer why is sent first.
pub struct Secured<S> {
    inner: S,
    links: HashMap<LinkId, SecureLink>,
    /// For sub-associations to TLS destinations.
    sub_config: Option<Arc<TlsClientConfig>>,
    /// Links whose close_notify went out: closes to give.
    closes: VecDeque<LinkId>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Secured<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secured")
            .field("inner", &self.inner)
            .field("tls_links", &self.links.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<S: Session> Secured<S> {
    /// `inner`, its main link plain (sub-associations may still use TLS).
    pub fn plain(inner: S) -> Self {
        Self {
            inner,
            links: HashMap::new(),
            sub_config: None,
            closes: VecDeque::new(),
        }
    }

    /// `inner`, its main link the server side of TLS (an accepted connection).
    ///
    /// Errors: when rustls refuses the configuration.
    pub fn server(inner: S, config: &TlsServerConfig) -> Result<Self, TlsError> {
        let mut secured = Self::plain(inner);
        secured
            .links
            .insert(LinkId::MAIN, SecureLink::new(TlsLayer::server(config)?));
        Ok(secured)
    }

    /// `inner`, its main link the client side of TLS to a server whose certificate names
    /// `server_name` (see [`TlsLayer::client`]).
    ///
    /// Errors: an invalid `server_name`, or a configuration rustls refuses.
    pub fn client(inner: S, config: &TlsClientConfig, server_name: &str) -> Result<Self, TlsError> {
        let mut secured = Self::plain(inner);
        secured.links.insert(
            LinkId::MAIN,
            SecureLink::new(TlsLayer::client(config, server_name)?),
        );
        Ok(secured)
    }

    /// Sub-associations to TLS destinations authenticate with `config`.
    pub fn with_sub_associations(mut self, config: Arc<TlsClientConfig>) -> Self {
        self.sub_config = Some(config);
        self
    }

    /// The session inside.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The session inside, to call its own verbs (a client's `submit`, say).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// What the TLS session of `link` negotiated, once its handshake is done.
    pub fn summary(&self, link: LinkId) -> Option<crate::TlsSummary> {
        self.links.get(&link)?.tls.summary()
    }

    /// Offers the plaintext `link` holds to the inner session; whether it took any.
    fn deliver(&mut self, now: Instant, link: LinkId) -> bool {
        let Some(l) = self.links.get_mut(&link) else {
            return false;
        };
        let mut moved = false;
        loop {
            if l.plain_in.len() < PLAINTEXT_HELD {
                let mut more = Vec::new();
                if l.tls.poll_plaintext(&mut more) > 0 {
                    l.plain_in = if l.plain_in.is_empty() {
                        Bytes::from(more)
                    } else {
                        Bytes::from([&l.plain_in[..], &more[..]].concat())
                    };
                }
            }
            if l.plain_in.is_empty() || !self.inner.wants_read(link) {
                break;
            }
            let taken = self
                .inner
                .handle_input(now, link, &l.plain_in)
                .unwrap_or(l.plain_in.len());
            l.plain_in.advance(taken);
            moved |= taken > 0;
            if taken == 0 {
                break;
            }
        }
        if l.tls.peer_closed() && l.plain_in.is_empty() && !l.failed {
            // The peer's close_notify: its end of the stream.
            l.failed = true;
            self.inner.handle_transport_closed(now, link);
        }
        moved
    }

    /// The layer of `link` failed: the inner session hears its transport closed.
    fn failed(&mut self, now: Instant, link: LinkId, failure: &crate::TlsFailure) {
        tracing::warn!(%link, %failure, "TLS failed");
        if let Some(l) = self.links.get_mut(&link) {
            if !std::mem::replace(&mut l.failed, true) {
                self.inner.handle_transport_closed(now, link);
            }
        }
    }
}

impl SecureLink {
    fn new(tls: TlsLayer) -> Self {
        Self {
            tls,
            plain_in: Bytes::new(),
            plain_out: SendQueue::new(),
            closing: false,
            failed: false,
        }
    }

    /// Hands the layer as much of the session's output as it takes.
    fn encrypt(&mut self) {
        while !self.plain_out.is_empty() {
            let mut slices = [IoSlice::new(&[]); 16];
            let filled = self.plain_out.io_slices(&mut slices);
            let mut taken = 0;
            for slice in &slices[..filled] {
                match self.tls.write_plaintext(slice) {
                    Ok(n) => {
                        taken += n;
                        if n < slice.len() {
                            break;
                        }
                    }
                    Err(_) => {
                        // Failed or closed: nothing more goes out.
                        self.plain_out.clear();
                        return;
                    }
                }
            }
            self.plain_out.advance(taken);
            if taken == 0 {
                return;
            }
        }
    }
}

impl<S: Session> Session for Secured<S> {
    type Event = S::Event;

    fn handle_input(
        &mut self,
        now: Instant,
        link: LinkId,
        input: &Bytes,
    ) -> Result<usize, SessionMisuse> {
        let Some(l) = self.links.get_mut(&link) else {
            return self.inner.handle_input(now, link, input);
        };
        if l.failed {
            return Ok(input.len());
        }
        let mut taken = 0;
        while taken < input.len() {
            let Some(l) = self.links.get_mut(&link) else {
                break;
            };
            if l.plain_in.len() >= PLAINTEXT_HELD {
                break;
            }
            match l.tls.handle_ciphertext(&input[taken..]) {
                Ok(n) => {
                    taken += n;
                    let delivered = self.deliver(now, link);
                    if n == 0 && !delivered {
                        break;
                    }
                }
                Err(failure) => {
                    self.failed(now, link, &failure);
                    return Ok(input.len());
                }
            }
        }
        Ok(taken)
    }

    fn handle_transport_connected(
        &mut self,
        now: Instant,
        link: LinkId,
    ) -> Result<(), SessionMisuse> {
        self.inner.handle_transport_connected(now, link)
    }

    fn handle_transport_connect_failed(
        &mut self,
        now: Instant,
        link: LinkId,
        error: std::io::Error,
    ) {
        self.links.remove(&link);
        self.inner.handle_transport_connect_failed(now, link, error);
    }

    fn handle_transport_closed(&mut self, now: Instant, link: LinkId) {
        self.links.remove(&link);
        self.inner.handle_transport_closed(now, link);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }

    fn shutdown(&mut self, now: Instant) {
        self.inner.shutdown(now);
    }

    fn poll_transmit(&mut self, now: Instant, link: LinkId, out: &mut SendQueue) -> Option<usize> {
        if !self.links.contains_key(&link) {
            return self.inner.poll_transmit(now, link, out);
        }
        // The inner session's output, as far as the layer takes it.
        loop {
            let l = self.links.get_mut(&link)?;
            l.encrypt();
            if !l.plain_out.is_empty() || l.closing || l.failed {
                break;
            }
            if self
                .inner
                .poll_transmit(now, link, &mut l.plain_out)
                .is_none()
            {
                break;
            }
        }
        // A close the inner session asks for: close_notify, then the close.
        while let Some(closing) = self.inner.poll_close() {
            match self.links.get_mut(&closing) {
                Some(l) => {
                    l.encrypt();
                    l.tls.send_close_notify();
                    l.closing = true;
                }
                None => self.closes.push_back(closing),
            }
        }
        let l = self.links.get_mut(&link)?;
        let mut ciphertext = Vec::new();
        let n = l.tls.poll_ciphertext(&mut ciphertext);
        // A failed link closes once the alert saying why is out (its session already
        // heard the transport close).
        if (l.closing || l.failed) && !l.tls.wants_write() && !self.closes.contains(&link) {
            self.closes.push_back(link);
        }
        if n == 0 {
            return None;
        }
        out.push(Bytes::from(ciphertext));
        // Taking ciphertext may have made room for the inner session's plaintext.
        self.deliver(now, link);
        Some(n)
    }

    fn poll_connect(&mut self) -> Option<Connect> {
        let connect = self.inner.poll_connect()?;
        if connect.destination.tls {
            let layer = self
                .sub_config
                .as_deref()
                .ok_or_else(|| "no TLS configuration for sub-associations".to_owned())
                .and_then(|c| {
                    TlsLayer::client(c, &connect.destination.host).map_err(|e| e.to_string())
                });
            match layer {
                Ok(tls) => {
                    self.links.insert(connect.link, SecureLink::new(tls));
                }
                Err(why) => {
                    tracing::warn!(destination = %connect.destination, %why, "cannot open a TLS sub-association");
                    let error = std::io::Error::other(why);
                    self.inner
                        .handle_transport_connect_failed(Instant::now(), connect.link, error);
                    return self.poll_connect();
                }
            }
        }
        Some(connect)
    }

    fn poll_close(&mut self) -> Option<LinkId> {
        // Plain links the inner session closes (TLS ones went through poll_transmit).
        while let Some(link) = self.inner.poll_close() {
            match self.links.get_mut(&link) {
                Some(l) => {
                    l.tls.send_close_notify();
                    l.closing = true;
                }
                None => self.closes.push_back(link),
            }
        }
        let link = self.closes.pop_front()?;
        self.links.remove(&link);
        Some(link)
    }

    fn poll_event(&mut self) -> Option<S::Event> {
        self.inner.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn wants_read(&self, link: LinkId) -> bool {
        match self.links.get(&link) {
            // The handshake reads before the session wants anything.
            Some(l) => !l.failed && l.plain_in.len() < PLAINTEXT_HELD,
            None => self.inner.wants_read(link),
        }
    }

    /// The inner session's, and the TLS links it is done with that are not closed yet
    /// (a failed one's alert may still be going out).
    fn links(&self) -> Vec<LinkId> {
        let mut links = self.inner.links();
        let mut ours: Vec<LinkId> = self
            .links
            .keys()
            .filter(|l| !links.contains(l))
            .copied()
            .collect();
        ours.sort();
        links.extend(ours);
        links
    }

    fn is_finished(&self) -> bool {
        self.inner.is_finished() && self.closes.is_empty() && self.links.is_empty()
    }
}

/// How a server's connections, and the C-MOVE sub-associations they open, use TLS.
#[derive(Clone, Default)]
pub struct ServerTls {
    /// Accepted connections are the server side of TLS with this configuration; `None`:
    /// plain.
    pub accept: Option<Arc<TlsServerConfig>>,
    /// Sub-associations to destinations marked TLS authenticate with this; `None`: they
    /// fail ("no TLS configuration for sub-associations").
    pub moves: Option<Arc<TlsClientConfig>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("accept", &self.accept.is_some())
            .field("moves", &self.moves.is_some())
            .finish()
    }
}

impl ServerTls {
    /// The session of a connection just accepted, secured as configured.
    ///
    /// Errors: when rustls refuses the configuration (the connection is then closed).
    pub fn secure<S: Session>(&self, session: S) -> Result<Secured<S>, TlsError> {
        let secured = match &self.accept {
            Some(config) => Secured::server(session, config)?,
            None => Secured::plain(session),
        };
        Ok(match &self.moves {
            Some(config) => secured.with_sub_associations(Arc::clone(config)),
            None => secured,
        })
    }
}
