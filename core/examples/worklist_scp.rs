//! A Modality Worklist SCP over `std::net::TcpListener`, driving the core's sessions
//! directly: one thread per connection, no C-MOVE (so one link per session).
//!
//! `cargo run -p dicomwire --example worklist_scp -- 127.0.0.1:11112`, then, say,
//! `findscu -W -k PatientName 127.0.0.1 11112`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::service::{Handlers, InMemoryWorklist, uids};
use dicomwire::session::{LinkId, ScpConfig, ScpServer, ScpSession};
use dicomwire::ul::{AcceptorPolicy, SendQueue, SupportedSyntax};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:11112".into());
    let mut item = InMemDicomObject::new_empty();
    item.put(DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        PrimitiveValue::from("DOE^JANE"),
    ));
    item.put(DataElement::new(
        tags::PATIENT_ID,
        VR::LO,
        PrimitiveValue::from("P1"),
    ));
    let ts = uids::uncompressed_transfer_syntaxes();
    let policy = AcceptorPolicy {
        abstract_syntaxes: vec![
            SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
            SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts),
        ],
        ..AcceptorPolicy::default()
    };
    let handlers = Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(vec![item]))),
        ..Handlers::default()
    };
    let mut server = ScpServer::new(Arc::new(ScpConfig::new(
        Arc::new(policy),
        Arc::new(handlers),
    )))?;
    let listener = TcpListener::bind(&addr)?;
    println!("worklist SCP on {addr}");
    for stream in listener.incoming() {
        let now = Instant::now();
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                std::thread::sleep(server.accept_failed(now, &e) - now);
                continue;
            }
        };
        if let Some(session) = server.accept(now) {
            std::thread::spawn(move || serve(stream, session));
        }
    }
    Ok(())
}

/// One connection: read until the session's deadline, hand over what came, drain.
fn serve(mut stream: TcpStream, mut session: ScpSession) {
    let (mut queue, mut buf, mut pending) = (SendQueue::new(), vec![0; 64 * 1024], Bytes::new());
    while !session.is_finished() {
        let mut out = Vec::new();
        while session
            .poll_transmit(Instant::now(), LinkId::MAIN, &mut queue)
            .is_some()
        {}
        queue.drain_into(&mut out);
        if stream.write_all(&out).is_err() {
            session.handle_transport_closed(Instant::now(), LinkId::MAIN);
        }
        if session.poll_close().is_some() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        while let Some(event) = session.poll_event() {
            println!("{event:?}");
        }
        let now = Instant::now();
        if !pending.is_empty() {
            let taken = session
                .handle_input(now, LinkId::MAIN, &pending)
                .unwrap_or(pending.len());
            pending = pending.slice(taken..);
            continue;
        }
        let wait = session
            .poll_timeout()
            .map(|d| d.saturating_duration_since(now));
        let _ = stream.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))));
        match stream.read(&mut buf) {
            Ok(0) => session.handle_transport_closed(Instant::now(), LinkId::MAIN),
            Ok(n) => {
                let input = Bytes::copy_from_slice(&buf[..n]);
                let taken = session
                    .handle_input(Instant::now(), LinkId::MAIN, &input)
                    .unwrap_or(n);
                pending = input.slice(taken..);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                session.handle_timeout(Instant::now());
            }
            Err(_) => session.handle_transport_closed(Instant::now(), LinkId::MAIN),
        }
    }
}
