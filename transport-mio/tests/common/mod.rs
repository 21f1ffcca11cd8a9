//! What the mio server tests share: a server on a thread, and worklist records.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dicom_core::{DataElement, PrimitiveValue, VR, value::DataSetSequence};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::session::{ClientError, ClientEvent, ScpConfig};
use dicomwire_mio::{ClientId, EventLoop, MioServer, ShutdownHandle};

/// A server running on a thread of this process; asked to shut down when dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub fn start(config: ScpConfig) -> Self {
        let server = MioServer::bind("127.0.0.1:0", Arc::new(config)).expect("bind");
        let addr = server.local_addr();
        let stop = server.shutdown_handle();
        let thread = Some(thread::spawn(move || server.run()));
        Self { addr, stop, thread }
    }

    /// Shuts down; the loop must end cleanly within a bound.
    pub fn stop(mut self) {
        self.stop.shutdown();
        let thread = self.thread.take().expect("running");
        let started = Instant::now();
        while !thread.is_finished() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server did not stop"
            );
            thread::sleep(Duration::from_millis(10));
        }
        thread.join().expect("server thread").expect("server run");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
    }
}

/// A text element.
pub fn text(tag: dicom_core::Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

/// A worklist record `n`: CT for even n, MR for odd.
pub fn worklist_record(n: usize) -> InMemDicomObject {
    let step = InMemDicomObject::from_element_iter([
        text(tags::MODALITY, VR::CS, if n % 2 == 0 { "CT" } else { "MR" }),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, "STATION1"),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            "20250101",
        ),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_ID,
            VR::SH,
            &format!("SPS{n}"),
        ),
    ]);
    InMemDicomObject::from_element_iter([
        text(tags::ACCESSION_NUMBER, VR::SH, &format!("ACC{n:04}")),
        text(tags::PATIENT_NAME, VR::PN, &format!("DOE^PATIENT{n}")),
        text(tags::PATIENT_ID, VR::LO, &format!("PID{n:04}")),
        DataElement::new(
            tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![step]),
        ),
    ])
}

/// What one client association of an `EventLoop` gave, in order.
#[derive(Debug, Default)]
pub struct Log {
    pub events: Vec<ClientEvent>,
}

impl Log {
    /// How it ended; panics when it has not.
    pub fn closed(&self) -> &Result<(), ClientError> {
        match self.events.last() {
            Some(ClientEvent::Closed(outcome)) => outcome,
            other => panic!("not closed; last event {other:?}"),
        }
    }
}

/// Turns `event_loop` until every client in `clients` has closed, giving each event to
/// `on_event` first (it may call the loop) and then logging it per client. Panics after
/// `limit`.
pub fn drive_until_closed(
    event_loop: &mut EventLoop,
    clients: &[ClientId],
    limit: Duration,
    mut on_event: impl FnMut(&mut EventLoop, ClientId, &ClientEvent),
) -> std::collections::HashMap<ClientId, Log> {
    let deadline = Instant::now() + limit;
    let mut logs: std::collections::HashMap<_, Log> =
        clients.iter().map(|c| (*c, Log::default())).collect();
    let mut open = clients.len();
    while open > 0 {
        assert!(
            Instant::now() < deadline,
            "{open} client associations still open after {limit:?}"
        );
        event_loop
            .turn(Some(Duration::from_millis(100)))
            .expect("turn");
        while let Some((client, event)) = event_loop.poll_event() {
            on_event(event_loop, client, &event);
            if matches!(event, ClientEvent::Closed(_)) {
                open -= 1;
            }
            logs.entry(client).or_default().events.push(event);
        }
    }
    logs
}
