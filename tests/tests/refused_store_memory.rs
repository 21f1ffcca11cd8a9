//! A C-STORE data set the SCP will not keep costs no memory: it is discarded as it
//! arrives, never gathered first. Measured with a counting allocator, so this file is its
//! own test binary and holds one test (other tests' allocations would blur the peak).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use dicomwire::dimse::{CStoreRq, Message, Priority, Status};
use dicomwire::pdu::{AeTitle, PresentationContextId};
use dicomwire::service::{HandlerError, Handlers, Scp, StoreHandler, StoreRequest, uids};
use dicomwire::ul::{
    AcceptorPolicy, Association, AssociationConfig, AssociationRequest, Event, ProposedContext,
    SupportedSyntax,
};

/// The system allocator, counting the bytes live now and the most ever live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on to `System`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Resets the peak to what is live now; returns that.
fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

const MIB: usize = 1024 * 1024;

/// A store handler with no sink: the SCP gathers the data set for `store`.
struct Gathering;

impl StoreHandler for Gathering {
    fn store(&self, _request: &StoreRequest<'_>) -> Result<u16, HandlerError> {
        Ok(Status::SUCCESS.0)
    }
}

/// An SCP (as transports build it, with [`Scp::acceptor`]) and a requestor, joined in
/// memory.
struct Link {
    now: Instant,
    scu: Association,
    scp_assoc: Association,
    scp: Scp,
    /// The C-STORE-RSP statuses the requestor received.
    store_statuses: Vec<Status>,
}

impl Link {
    fn new(handlers: Handlers, config: AssociationConfig, store_class: bool) -> Self {
        let now = Instant::now();
        let ts = uids::uncompressed_transfer_syntaxes();
        let mut request = AssociationRequest::new(
            AeTitle::new("SCU").expect("AE"),
            AeTitle::new("SCP").expect("AE"),
        )
        .with_context(ProposedContext::new(uids::VERIFICATION, ts.clone()));
        let mut syntaxes = vec![SupportedSyntax::new(uids::VERIFICATION, ts.clone())];
        if store_class {
            request = request.with_context(ProposedContext::new(
                uids::HANGING_PROTOCOL_STORAGE,
                ts.clone(),
            ));
            syntaxes.push(SupportedSyntax::new(uids::HANGING_PROTOCOL_STORAGE, ts));
        }
        let mut scu =
            Association::requestor(now, AssociationConfig::default(), request).expect("requestor");
        scu.handle_transport_connected(now).expect("connect");
        let policy = AcceptorPolicy {
            abstract_syntaxes: syntaxes,
            ..AcceptorPolicy::default()
        };
        let scp_assoc = Scp::acceptor(now, config, Arc::new(policy));
        let mut link = Self {
            now,
            scu,
            scp_assoc,
            scp: Scp::new(Arc::new(handlers)),
            store_statuses: Vec::new(),
        };
        link.pump();
        assert!(link.scu.negotiated().is_some(), "established");
        link
    }

    /// Moves bytes both ways, one PDU at a time from the requestor, and serves events
    /// until nothing moves.
    fn pump(&mut self) {
        let mut wire = Vec::new();
        loop {
            wire.clear();
            let mut moved = self.scu.poll_transmit(self.now, &mut wire).is_some();
            let taken = self.scp_assoc.handle_input(self.now, &wire).expect("input");
            assert_eq!(taken, wire.len());
            while let Some(event) = self.scp_assoc.poll_event() {
                moved = true;
                self.scp.serve_event(
                    &mut self.scp_assoc,
                    self.now,
                    event,
                    dicomwire::service::Admission::Open,
                );
            }
            self.scp.poll(&mut self.scp_assoc, self.now);
            let mut back = Vec::new();
            while self.scp_assoc.poll_transmit(self.now, &mut back).is_some() {}
            moved |= !back.is_empty();
            self.scu.handle_input(self.now, &back).expect("input");
            while let Some(event) = self.scu.poll_event() {
                moved = true;
                if let Event::Message(m) = event {
                    if let Message::CStoreRsp(rsp) = m.message {
                        self.store_statuses.push(rsp.status);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Sends a C-STORE-RQ on `context` (whatever its abstract syntax) with a data set of
    /// `len` bytes, moved one P-DATA-TF at a time. Returns the most memory live at once
    /// while it went, over what was live before (the data set itself, allocated before,
    /// is shared with the requestor, not copied).
    fn store(&mut self, context: PresentationContextId, sop_class: &str, len: usize) -> usize {
        let data = data_set(sop_class, "1.2.3.4", len);
        let before = reset_peak();
        let message = Message::CStoreRq(CStoreRq {
            message_id: 7,
            affected_sop_class_uid: sop_class.to_owned(),
            affected_sop_instance_uid: "1.2.3.4".to_owned(),
            priority: Priority::Medium,
            move_originator_ae_title: None,
            move_originator_message_id: None,
        });
        self.scu
            .send_request(self.now, context, message, Some(data))
            .expect("C-STORE-RQ");
        self.pump();
        PEAK.load(Ordering::Relaxed).saturating_sub(before)
    }

    fn context_of(&self, sop_class: &dicomwire::pdu::Uid) -> PresentationContextId {
        let n = self.scu.negotiated().expect("established");
        n.accepted()
            .find(|c| &c.abstract_syntax == sop_class)
            .map(|c| c.id)
            .expect("accepted context")
    }
}

/// A data set of `len` bytes in Explicit VR Little Endian: SOP Class and Instance UIDs,
/// then pixel data.
fn data_set(sop_class: &str, sop_instance: &str, len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    for (element, uid) in [(0x0016_u16, sop_class), (0x0018, sop_instance)] {
        let mut value = uid.as_bytes().to_vec();
        if value.len() % 2 == 1 {
            value.push(0);
        }
        out.extend_from_slice(&0x0008_u16.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(b"UI");
        out.extend_from_slice(&u16::try_from(value.len()).expect("short").to_le_bytes());
        out.extend_from_slice(&value);
    }
    let pixels = len - out.len() - 12;
    out.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00]);
    out.extend_from_slice(b"OB\0\0");
    out.extend_from_slice(&u32::try_from(pixels).expect("fits").to_le_bytes());
    out.resize(len, 0x5A);
    Bytes::from(out)
}

#[test]
fn refused_and_oversized_store_data_sets_are_discarded_as_they_arrive() {
    // No store handler (serve without --store), a C-STORE on the Verification context:
    // 64 MiB go by and are answered 0x0122 with a few hundred KiB ever live.
    let mut link = Link::new(Handlers::default(), AssociationConfig::default(), false);
    let verification = link.context_of(&uids::VERIFICATION);
    let peak = link.store(verification, uids::VERIFICATION.as_str(), 64 * MIB);
    assert_eq!(link.store_statuses, vec![Status::SOP_CLASS_NOT_SUPPORTED]);
    assert!(
        peak < 4 * MIB,
        "{peak} bytes live at once for a refused data set"
    );

    // A store handler that takes whole data sets, and a 1 MiB store limit: 32 MiB are
    // refused with 0xA700 once the limit is passed, the rest discarded as it arrives.
    // What is live at most is the gathered megabyte (and its growth), not the 32.
    let mut config = AssociationConfig::default();
    config.dimse.max_store_length = MIB;
    let handlers = Handlers {
        store: Some(Arc::new(Gathering)),
        ..Handlers::default()
    };
    let mut link = Link::new(handlers, config, true);
    let storage = link.context_of(&uids::HANGING_PROTOCOL_STORAGE);
    let peak = link.store(storage, uids::HANGING_PROTOCOL_STORAGE.as_str(), 32 * MIB);
    assert_eq!(link.store_statuses, vec![Status::OUT_OF_RESOURCES]);
    assert!(
        peak < 8 * MIB,
        "{peak} bytes live at once past the store limit"
    );
    // Within the limit the same handler stores it; the association still works.
    let peak = link.store(storage, uids::HANGING_PROTOCOL_STORAGE.as_str(), MIB / 2);
    assert_eq!(
        link.store_statuses,
        vec![Status::OUT_OF_RESOURCES, Status::SUCCESS]
    );
    assert!(
        peak >= MIB / 2,
        "the kept data set was gathered ({peak} bytes)"
    );
}
