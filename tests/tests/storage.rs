//! The Storage SCP (PS3.4 Annex B) for every storage SOP class: which contexts an
//! acceptor with [`AcceptorPolicy::storage`] accepts, and the C-STORE-RSP for each way a
//! C-STORE can go wrong (its request, its data set, its handler, a full disk), whole and
//! streamed, every Error Comment within 64 characters.
//!
//! [`AcceptorPolicy::storage`]: dicomwire::ul::AcceptorPolicy::storage

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicomwire::dimse::{CStoreRq, Message, Priority, Status, StatusDetail};
use dicomwire::pdu::{PresentationContextResult, Uid};
use dicomwire::registry::{is_storable_transfer_syntax, is_storage_sop_class};
use dicomwire::service::{
    HandlerError, Handlers, StoreHandler, StoreRequest, StoreSink, StoreStart, dataset, uids,
};
use dicomwire::ul::ProposedContext;
use dicomwire_tests::services::{Harness, Setup, set, text};

const CT: Uid = Uid::from_static("1.2.840.10008.5.1.4.1.1.2");
const MR: Uid = Uid::from_static("1.2.840.10008.5.1.4.1.1.4");
const SECONDARY_CAPTURE: Uid = Uid::from_static("1.2.840.10008.5.1.4.1.1.7");
const STORAGE_COMMITMENT: Uid = Uid::from_static("1.2.840.10008.1.20.1");
const JPEG_BASELINE: Uid = Uid::from_static("1.2.840.10008.1.2.4.50");
const JPEG_2000: Uid = Uid::from_static("1.2.840.10008.1.2.4.90");

/// What a [`Recorder`] was given: SOP Instance UID, transfer syntax, data set.
type Stored = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A store handler that records what it stores; with `sinks`, streamed instances go to
/// sinks (which record on finish); `fail` makes both fail with that error.
#[derive(Clone, Default)]
struct Recorder {
    stored: Stored,
    sinks: bool,
    fail: Option<fn() -> HandlerError>,
}

struct RecordingSink {
    uid: String,
    ts: String,
    data: Vec<u8>,
    recorder: Recorder,
}

impl StoreHandler for Recorder {
    fn store(&self, request: &StoreRequest<'_>) -> Result<u16, HandlerError> {
        if let Some(fail) = self.fail {
            return Err(fail());
        }
        self.stored.lock().unwrap().push((
            request.sop_instance_uid.to_owned(),
            request.transfer_syntax.to_string(),
            request.data.to_vec(),
        ));
        Ok(0)
    }

    fn begin(&self, request: &StoreStart<'_>) -> Result<Option<Box<dyn StoreSink>>, HandlerError> {
        Ok(self.sinks.then(|| {
            Box::new(RecordingSink {
                uid: request.sop_instance_uid.to_owned(),
                ts: request.transfer_syntax.to_string(),
                data: Vec::new(),
                recorder: self.clone(),
            }) as Box<dyn StoreSink>
        }))
    }
}

impl StoreSink for RecordingSink {
    fn write(&mut self, fragment: &[u8]) -> Result<(), HandlerError> {
        if let Some(fail) = self.recorder.fail {
            return Err(fail());
        }
        self.data.extend_from_slice(fragment);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<u16, HandlerError> {
        let mut stored = self.recorder.stored.lock().unwrap();
        stored.push((self.uid, self.ts, self.data));
        Ok(0)
    }
}

/// The ways a data set reaches the SCP: whole with its request, streamed to a handler
/// without a sink (gathered), streamed to a sink.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Whole,
    Gathered,
    Sink,
}

const MODES: [Mode; 3] = [Mode::Whole, Mode::Gathered, Mode::Sink];

/// An SCP accepting every storage SOP class, storing with `recorder` in `mode`; the
/// requestor proposes CT (JPEG Baseline, then Explicit VR Little Endian) and MR
/// (uncompressed).
fn harness(mode: Mode, mut recorder: Recorder) -> (Harness, Recorder) {
    recorder.sinks = matches!(mode, Mode::Sink);
    let mut setup = Setup::new(Handlers {
        store: Some(Arc::new(recorder.clone())),
        ..Handlers::default()
    })
    .with_services(&[])
    .with_any_storage()
    .with_proposed(ProposedContext::new(
        CT,
        vec![JPEG_BASELINE, uids::EXPLICIT_VR_LITTLE_ENDIAN],
    ))
    .with_proposed(ProposedContext::new(
        MR,
        uids::uncompressed_transfer_syntaxes(),
    ));
    if !matches!(mode, Mode::Whole) {
        setup.config.dimse.stream_store_data = true;
        // Small PDUs: the data set arrives in several fragments.
        setup.config.max_pdu_length = 4096;
        setup.config.max_send_pdu_length = 4096;
    }
    (Harness::new(setup), recorder)
}

/// A data set naming `class` and `instance`, with `padding` bytes of pixel data.
fn data_set(class: &str, instance: &str, padding: usize) -> Bytes {
    let object = set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::SOP_CLASS_UID, VR::UI, class),
        text(tags::SOP_INSTANCE_UID, VR::UI, instance),
        text(tags::PATIENT_NAME, VR::PN, "DOE^JANE"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(vec![0x42; padding].into()),
        ),
    ]);
    dataset::encode(&object, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str()).expect("encodes")
}

/// Sends a C-STORE-RQ for `class`/`instance` on the context for `context_class` with
/// `data`; the response's status and detail.
fn push(
    h: &mut Harness,
    context_class: &Uid,
    class: &str,
    instance: &str,
    data: Bytes,
) -> (Status, StatusDetail) {
    let context = h.context(context_class);
    let rq = Message::CStoreRq(CStoreRq {
        message_id: 0,
        affected_sop_class_uid: class.to_owned(),
        affected_sop_instance_uid: instance.to_owned(),
        priority: Priority::Medium,
        move_originator_ae_title: None,
        move_originator_message_id: None,
    });
    let id = h
        .requestor
        .send_request(h.now, context, rq, Some(data))
        .expect("the request is sent");
    loop {
        match h.next_event() {
            Some(dicomwire::ul::Event::Message(m)) if m.message.responded_to() == Some(id) => {
                let Message::CStoreRsp(rsp) = m.message else {
                    panic!("not a C-STORE-RSP: {}", m.message)
                };
                let comment = rsp.detail.error_comment.as_deref().unwrap_or_default();
                assert!(
                    comment.len() <= 64,
                    "an Error Comment is an LO: {comment:?}"
                );
                return (rsp.status, rsp.detail);
            }
            Some(_) => {}
            None => panic!("no C-STORE-RSP"),
        }
    }
}

fn comment(d: &StatusDetail) -> &str {
    d.error_comment.as_deref().unwrap_or_default()
}

#[test]
fn the_registry_names_the_storage_sop_classes_and_storable_transfer_syntaxes() {
    // Every image storage class DCMTK's storescp knows by default is among them, retired
    // ones too; what stores nothing over C-STORE is not.
    for uid in [
        "1.2.840.10008.5.1.4.1.1.1",     // CR
        "1.2.840.10008.5.1.4.1.1.2",     // CT
        "1.2.840.10008.5.1.4.1.1.2.1",   // Enhanced CT
        "1.2.840.10008.5.1.4.1.1.4",     // MR
        "1.2.840.10008.5.1.4.1.1.7",     // Secondary Capture
        "1.2.840.10008.5.1.4.1.1.88.11", // Basic Text SR
        "1.2.840.10008.5.1.4.1.1.104.1", // Encapsulated PDF
        "1.2.840.10008.5.1.4.1.1.5",     // NM (retired)
        "1.2.840.10008.5.1.4.38.1",      // Hanging Protocol
        "1.2.840.10008.5.1.4.1.1.481.5", // RT Plan
    ] {
        assert!(is_storage_sop_class(uid), "{uid} is a storage SOP class");
    }
    for uid in [
        "1.2.840.10008.1.1",        // Verification
        "1.2.840.10008.1.20.1",     // Storage Commitment Push Model
        "1.2.840.10008.1.3.10",     // Media Storage Directory
        "1.2.840.10008.5.1.4.31",   // Modality Worklist FIND
        "1.2.840.10008.5.1.4.38.2", // Hanging Protocol FIND
        "1.2.3.4",
    ] {
        assert!(!is_storage_sop_class(uid), "{uid} is no storage SOP class");
    }
    for ts in [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.1.99",
    ] {
        assert!(is_storable_transfer_syntax(ts), "{ts}");
    }
    assert!(!is_storable_transfer_syntax("1.2.3.4"));
}

#[test]
fn every_storage_sop_class_is_accepted_in_the_first_storable_syntax_proposed() {
    let setup = Setup::new(Handlers::default())
        .with_services(&[])
        .with_any_storage()
        .with_proposed(ProposedContext::new(
            CT,
            vec![JPEG_BASELINE, uids::EXPLICIT_VR_LITTLE_ENDIAN],
        ))
        .with_proposed(ProposedContext::new(MR, vec![JPEG_2000]))
        .with_proposed(ProposedContext::new(
            SECONDARY_CAPTURE,
            vec![Uid::from_static("1.2.3.4.5")],
        ))
        .with_proposed(ProposedContext::new(
            STORAGE_COMMITMENT,
            uids::uncompressed_transfer_syntaxes(),
        ));
    let h = Harness::new(setup);
    let n = h.requestor.negotiated().expect("established");
    let result = |uid: &Uid| {
        let c = n
            .contexts
            .iter()
            .find(|c| &c.abstract_syntax == uid)
            .expect("proposed");
        (c.result, c.transfer_syntax.clone())
    };
    assert_eq!(
        result(&CT),
        (PresentationContextResult::Acceptance, Some(JPEG_BASELINE))
    );
    assert_eq!(
        result(&MR),
        (PresentationContextResult::Acceptance, Some(JPEG_2000))
    );
    assert_eq!(
        result(&SECONDARY_CAPTURE).0,
        PresentationContextResult::TransferSyntaxesNotSupported
    );
    assert_eq!(
        result(&STORAGE_COMMITMENT).0,
        PresentationContextResult::AbstractSyntaxNotSupported
    );
}

#[test]
fn an_instance_is_stored_bit_for_bit_in_the_transfer_syntax_it_came_in() {
    for mode in MODES {
        let (mut h, recorder) = harness(mode, Recorder::default());
        let ct = data_set(CT.as_str(), "1.2.3.1", 20_000);
        let mr = data_set(MR.as_str(), "1.2.3.2", 100);
        assert_eq!(
            push(&mut h, &CT, CT.as_str(), "1.2.3.1", ct.clone()).0,
            Status::SUCCESS,
            "{mode:?}"
        );
        assert_eq!(
            push(&mut h, &MR, MR.as_str(), "1.2.3.2", mr.clone()).0,
            Status::SUCCESS,
            "{mode:?}"
        );
        let stored = recorder.stored.lock().unwrap().clone();
        assert_eq!(
            stored,
            [
                ("1.2.3.1".into(), JPEG_BASELINE.to_string(), ct.to_vec()),
                (
                    "1.2.3.2".into(),
                    uids::EXPLICIT_VR_LITTLE_ENDIAN.to_string(),
                    mr.to_vec()
                ),
            ],
            "{mode:?}"
        );
    }
}

#[test]
fn a_data_set_of_another_sop_class_or_instance_is_a900_and_never_stored() {
    for mode in MODES {
        let (mut h, recorder) = harness(mode, Recorder::default());
        // The request says CT, the data set says MR.
        let (status, d) = push(
            &mut h,
            &CT,
            CT.as_str(),
            "1.2.3.1",
            data_set(MR.as_str(), "1.2.3.1", 20_000),
        );
        assert_eq!(
            status,
            Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
            "{mode:?}"
        );
        assert!(
            comment(&d).starts_with("data set SOP Class UID 1.2.840.10008.5.1.4.1.1.4 is not"),
            "{mode:?}: {d:?}"
        );
        // The request's instance is not the data set's.
        let (status, d) = push(
            &mut h,
            &CT,
            CT.as_str(),
            "1.2.3.1",
            data_set(CT.as_str(), "1.2.3.9", 100),
        );
        assert_eq!(
            status,
            Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
            "{mode:?}"
        );
        assert!(
            comment(&d).starts_with("data set SOP Instance UID 1.2.3.9"),
            "{mode:?}: {d:?}"
        );
        assert!(recorder.stored.lock().unwrap().is_empty(), "{mode:?}");
        // The association goes on: a matching one is stored.
        let ok = data_set(CT.as_str(), "1.2.3.1", 100);
        assert_eq!(
            push(&mut h, &CT, CT.as_str(), "1.2.3.1", ok).0,
            Status::SUCCESS
        );
        assert_eq!(recorder.stored.lock().unwrap().len(), 1);
    }
}

#[test]
fn a_request_for_another_sop_class_than_its_context_is_0122() {
    for mode in MODES {
        let (mut h, recorder) = harness(mode, Recorder::default());
        let (status, d) = push(
            &mut h,
            &CT,
            MR.as_str(),
            "1.2.3.1",
            data_set(MR.as_str(), "1.2.3.1", 100),
        );
        assert_eq!(status, Status::SOP_CLASS_NOT_SUPPORTED, "{mode:?}");
        assert!(
            comment(&d).starts_with("SOP class 1.2.840.10008.5.1.4.1.1.4 is not"),
            "{d:?}"
        );
        assert!(recorder.stored.lock().unwrap().is_empty());
    }
}

#[test]
fn a_sop_instance_uid_that_is_no_uid_is_0117_and_names_no_file() {
    for mode in MODES {
        let (mut h, recorder) = harness(mode, Recorder::default());
        for uid in [
            "../../etc/passwd",
            "1.2.03",
            "1..2",
            ".1.2",
            "1.2.",
            "1.2.3a",
        ] {
            let (status, d) = push(
                &mut h,
                &CT,
                CT.as_str(),
                uid,
                data_set(CT.as_str(), uid, 10),
            );
            assert_eq!(status, Status::INVALID_SOP_INSTANCE, "{mode:?} {uid:?}");
            assert!(comment(&d).starts_with("SOP Instance UID"), "{d:?}");
        }
        let long = format!("1.{}", "2".repeat(64));
        let (status, _) = push(
            &mut h,
            &CT,
            CT.as_str(),
            &long,
            data_set(CT.as_str(), &long, 10),
        );
        assert_eq!(
            status,
            Status::INVALID_SOP_INSTANCE,
            "{mode:?}: 66 characters"
        );
        assert!(recorder.stored.lock().unwrap().is_empty());
    }
}

#[test]
fn bytes_that_are_no_data_set_are_c000() {
    for mode in MODES {
        let (mut h, recorder) = harness(mode, Recorder::default());
        // No value representation where Explicit VR needs one.
        let (status, d) = push(
            &mut h,
            &CT,
            CT.as_str(),
            "1.2.3.1",
            Bytes::from(vec![0xFF; 300]),
        );
        assert_eq!(status, Status::STORE_CANNOT_UNDERSTAND, "{mode:?}");
        assert!(comment(&d).contains("value representation"), "{d:?}");
        // A data set cut inside its SOP Instance UID.
        let whole = data_set(CT.as_str(), "1.2.3.1", 0);
        let cut = whole.slice(..60.min(whole.len() - 1));
        let (status, d) = push(&mut h, &CT, CT.as_str(), "1.2.3.1", cut);
        assert!(
            status == Status::STORE_CANNOT_UNDERSTAND
                || status == Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
            "{mode:?}: {status:?} {d:?}"
        );
        assert!(recorder.stored.lock().unwrap().is_empty());
    }
}

fn disk_full() -> HandlerError {
    Box::new(io::Error::from_raw_os_error(28)) // ENOSPC
}

fn quota() -> HandlerError {
    Box::new(io::Error::from(io::ErrorKind::QuotaExceeded))
}

fn broken() -> HandlerError {
    "the archive is read-only today".into()
}

#[test]
fn a_full_disk_is_a700_with_a_comment_that_says_so() {
    for mode in MODES {
        for fail in [disk_full as fn() -> HandlerError, quota] {
            let (mut h, _) = harness(
                mode,
                Recorder {
                    fail: Some(fail),
                    ..Recorder::default()
                },
            );
            let (status, d) = push(
                &mut h,
                &CT,
                CT.as_str(),
                "1.2.3.1",
                data_set(CT.as_str(), "1.2.3.1", 20_000),
            );
            assert_eq!(status, Status::OUT_OF_RESOURCES, "{mode:?}");
            assert!(
                comment(&d).starts_with("out of disk space: "),
                "{mode:?}: {d:?}"
            );
        }
    }
}

#[test]
fn any_other_handler_failure_is_c211_with_its_words() {
    for mode in MODES {
        let (mut h, _) = harness(
            mode,
            Recorder {
                fail: Some(broken),
                ..Recorder::default()
            },
        );
        let (status, d) = push(
            &mut h,
            &CT,
            CT.as_str(),
            "1.2.3.1",
            data_set(CT.as_str(), "1.2.3.1", 100),
        );
        assert_eq!(status, Status::STORE_HANDLER_FAILED, "{mode:?}");
        assert_eq!(comment(&d), "the archive is read-only today", "{mode:?}");
    }
}
