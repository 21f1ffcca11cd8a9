//! The service classes end to end through the service harness (`dicomwire_tests::services`):
//! an SCU driven with `service::scu` against an `Scp` on a pair of IO-free associations,
//! with in-memory hosts for C-MOVE sub-associations.
//!
//! Every status of the `DESIGN.md` table is triggered here, most by a misbehaving handler;
//! each matching type is checked with a positive and a negative query; cancels, the C-GET
//! storage role, C-MOVE destinations, sub-operation accounting, message ID wrap and a
//! 10 000-match worklist streamed with flat memory.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicomwire::dimse::{
    CCancelRq, CEchoRq, CStoreRq, CommandField, IncomingMessage, Message, MessageId, Priority,
    Status, SubOperations,
};
use dicomwire::pdu::{PresentationContextId, Uid};
use dicomwire::service::scu::{FindProgress, FindScu, ScuService};
use dicomwire::service::{
    FindHandler, FindItem, FindRequest, FindResults, HandlerError, Handlers,
    InMemoryHangingProtocols, InMemoryWorklist, OperationOutcome, Reply, RetrieveHandler,
    RetrieveItem, RetrieveRequest, RetrieveSet, SUB_OPERATIONS_IN_FLIGHT, StaticDestinations,
    StoreHandler, StoreRequest, StoreSink, StoreStart, StoredInstance, dataset, uids,
};
use dicomwire::ul::Event;
use dicomwire_tests::services::{
    Delivery, FindOptions, Harness, Host, RecordingStore, RetrieveRun, SCU_AE, Setup, destination,
    first_item, hp_instance, hp_instances, hp_query, hp_uid, retrieve_query, seq, set, text,
    text_of, worklist_query, worklist_query_with, worklist_record,
};

// ------------------------------------------------------------------------------------
// Handlers for the tests

/// A C-FIND handler made of a closure.
struct FindFn<F>(F);

impl<F> FindHandler for FindFn<F>
where
    F: Fn(&FindRequest<'_>) -> Result<FindResults, HandlerError> + Send + Sync,
{
    fn find(&self, request: &FindRequest<'_>) -> Result<FindResults, HandlerError> {
        (self.0)(request)
    }
}

/// A C-GET / C-MOVE handler made of a closure.
struct RetrieveFn<F>(F);

impl<F> RetrieveHandler for RetrieveFn<F>
where
    F: Fn(&RetrieveRequest<'_>) -> Result<RetrieveSet, HandlerError> + Send + Sync,
{
    fn retrieve(&self, request: &RetrieveRequest<'_>) -> Result<RetrieveSet, HandlerError> {
        (self.0)(request)
    }
}

/// A worklist FIND handler giving `items` for every query.
fn worklist_giving(items: Vec<FindItem>) -> Handlers {
    find_handlers(move |_| Ok(Box::new(items.clone().into_iter())))
}

fn find_handlers<F>(f: F) -> Handlers
where
    F: Fn(&FindRequest<'_>) -> Result<FindResults, HandlerError> + Send + Sync + 'static,
{
    Handlers {
        worklist: Some(Arc::new(FindFn(f))),
        ..Handlers::default()
    }
}

fn retrieve_handlers<F>(f: F) -> Handlers
where
    F: Fn(&RetrieveRequest<'_>) -> Result<RetrieveSet, HandlerError> + Send + Sync + 'static,
{
    Handlers {
        hanging_protocol_retrieve: Some(Arc::new(RetrieveFn(f))),
        move_destinations: Some(Arc::new(destinations())),
        ..Handlers::default()
    }
}

/// A retrieve handler announcing `count` and giving `items`.
fn retrieve_giving(count: Option<usize>, items: Vec<RetrieveItem>) -> Handlers {
    retrieve_handlers(move |_| {
        Ok(RetrieveSet {
            count,
            items: Box::new(items.clone().into_iter()),
        })
    })
}

/// The Hanging Protocol store for FIND, GET and MOVE.
fn hp_handlers(instances: Vec<StoredInstance>) -> Handlers {
    let store = Arc::new(InMemoryHangingProtocols::new(instances));
    Handlers {
        hanging_protocol_find: Some(store.clone()),
        hanging_protocol_retrieve: Some(store),
        move_destinations: Some(Arc::new(destinations())),
        ..Handlers::default()
    }
}

/// The move destination table: `STORE1` and `REFUSER` are hosts of the harness, `GHOST`
/// resolves to an address nobody listens on, `BROKEN`, `NOPORT` and `SPACED` to invalid
/// addresses.
fn destinations() -> StaticDestinations {
    let mut table = StaticDestinations::new();
    table.insert("STORE1", destination("store1.test", 104));
    table.insert("REFUSER", destination("refuser.test", 104));
    table.insert("GHOST", destination("ghost.test", 104));
    table.insert("BROKEN", destination("", 0));
    table.insert("NOPORT", destination("store1.test", 0));
    table.insert("SPACED", destination("store 1.test", 104));
    table.insert("PICKY", destination("picky.test", 104));
    table
}

/// A setup with the `STORE1` and `REFUSER` hosts.
fn with_hosts(handlers: Handlers) -> Setup {
    Setup::new(handlers)
        .with_host(destination("store1.test", 104), Host::storage("STORE1"))
        .with_host(destination("refuser.test", 104), Host::refusing("REFUSER"))
}

fn boom() -> HandlerError {
    "the database is on fire".into()
}

fn patient_ids(run: &dicomwire_tests::services::FindRun) -> Vec<String> {
    let mut ids = run.values(tags::PATIENT_ID);
    ids.sort();
    ids
}

fn the_worklist() -> Vec<InMemDicomObject> {
    vec![
        worklist_record("DOE^JOHN", "P001", "CT", "20240101", "0900"),
        worklist_record("Doe^Jane", "P002", "MR", "20240102", "1000"),
        worklist_record("SMITH^ANNA", "P003", "CT", "20240103", "1100"),
        worklist_record("NIGHT^OWL", "P004", "MR", "20240101", "2000"),
        worklist_record("EARLY^BIRD", "P005", "US", "20240102", "0700"),
    ]
}

fn worklist_harness() -> Harness {
    Harness::new(Setup::new(Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(the_worklist()))),
        ..Handlers::default()
    }))
}

fn wl_find(h: &mut Harness, query: &InMemDicomObject) -> dicomwire_tests::services::FindRun {
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, query);
    assert!(run.others.is_empty(), "{:?}", run.others);
    run
}

/// A status data set without (0000,0900), with a comment.
fn status_set_without_status() -> InMemDicomObject {
    set(vec![text(Tag(0x0000, 0x0902), VR::LO, "no status here")])
}

/// An identifier whose Latin-1 character set cannot hold its patient name: the encoder
/// refuses it in every transfer syntax.
fn unencodable_identifier() -> InMemDicomObject {
    set(vec![
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::PATIENT_NAME, VR::PN, "山田^太郎"),
    ])
}

/// The association is still usable after whatever happened, and nothing is left over.
fn assert_usable(h: &mut Harness) {
    assert_eq!(h.echo(), Status::SUCCESS, "the association is still usable");
    assert!(h.scp.is_idle(), "the SCP has no operation left");
    assert_eq!(h.acceptor.operations_in_progress(), 0);
    assert_eq!(h.requestor.outstanding_requests(), 0);
}

fn counts(
    remaining: Option<u16>,
    completed: u16,
    failed: u16,
    warning: u16,
) -> (Option<u16>, Option<u16>, Option<u16>, Option<u16>) {
    (remaining, Some(completed), Some(failed), Some(warning))
}

fn uid_list(n: &[usize]) -> Vec<String> {
    n.iter().map(|&i| hp_uid(i)).collect()
}

// ------------------------------------------------------------------------------------
// Verification

#[test]
fn echo_succeeds_and_release_closes_both_sides() {
    let mut h = Harness::new(Setup::new(Handlers::default()));
    assert_eq!(h.echo(), Status::SUCCESS);
    assert_eq!(h.release(), ["Released", "Closed"]);
    assert!(h.acceptor_log.contains(&"ReleaseRequested".to_owned()));
    assert_eq!(h.acceptor_log.last().map(String::as_str), Some("Closed"));
    assert!(h.scp.is_idle());
}

#[test]
fn echo_on_a_context_that_is_not_verification_is_0122() {
    let mut h = worklist_harness();
    let context = h.context(&uids::MODALITY_WORKLIST_FIND);
    let id = h
        .requestor
        .send_request(
            h.now,
            context,
            Message::CEchoRq(CEchoRq {
                message_id: 0,
                affected_sop_class_uid: uids::VERIFICATION.to_string(),
            }),
            None,
        )
        .unwrap();
    let rsp = h.next_event().unwrap();
    let Event::Message(m) = rsp else {
        panic!("{rsp:?}")
    };
    assert_eq!(m.message.responded_to(), Some(id));
    assert_eq!(m.message.status(), Some(Status::SOP_CLASS_NOT_SUPPORTED));
    assert_usable(&mut h);
}

// ------------------------------------------------------------------------------------
// Worklist matching, end to end (PS3.4 C.2.2.2 through the in-memory worklist)

#[test]
fn universal_worklist_query_returns_every_record_with_the_requested_keys_only() {
    let mut h = worklist_harness();
    let run = wl_find(&mut h, &worklist_query());
    assert_eq!(run.status(), Status::SUCCESS);
    assert_eq!(run.statuses, vec![Status::PENDING; 5]);
    assert_eq!(patient_ids(&run), ["P001", "P002", "P003", "P004", "P005"]);
    let first = &run.matches[0];
    assert_eq!(text_of(first, tags::PATIENT_NAME), "DOE^JOHN");
    assert_eq!(
        text_of(first, tags::STUDY_INSTANCE_UID),
        "1.2.826.0.1.3680043.9.7777.1"
    );
    let step = first_item(first, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).unwrap();
    assert_eq!(text_of(step, tags::MODALITY), "CT");
    assert_eq!(text_of(step, tags::SCHEDULED_PROCEDURE_STEP_ID), "SPS-P001");
    // Not asked for, not returned.
    assert!(first.get(tags::PATIENT_BIRTH_DATE).is_none());
    assert!(first.get(tags::ACCESSION_NUMBER).is_none());
    assert!(
        step.get(tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME)
            .is_none()
    );
}

#[test]
fn wildcard_matching_on_patient_name() {
    let mut h = worklist_harness();
    let q = |v| worklist_query_with(&[(tags::PATIENT_NAME, VR::PN, v)], &[]);
    // `*` and `?`, person names case-insensitive.
    assert_eq!(patient_ids(&wl_find(&mut h, &q("DOE^*"))), ["P001", "P002"]);
    assert_eq!(patient_ids(&wl_find(&mut h, &q("doe^j?ne"))), ["P002"]);
    assert_eq!(patient_ids(&wl_find(&mut h, &q("*OWL"))), ["P004"]);
    // Negative: no record, and still a success.
    let none = wl_find(&mut h, &q("ROE^*"));
    assert!(none.statuses.is_empty());
    assert_eq!(none.status(), Status::SUCCESS);
    assert!(wl_find(&mut h, &q("DOE^J?")).statuses.is_empty());
}

#[test]
fn single_value_matching_on_patient_id() {
    let mut h = worklist_harness();
    let q = |v| worklist_query_with(&[(tags::PATIENT_ID, VR::LO, v)], &[]);
    assert_eq!(patient_ids(&wl_find(&mut h, &q("P003"))), ["P003"]);
    assert!(wl_find(&mut h, &q("P00")).statuses.is_empty());
    assert!(wl_find(&mut h, &q("P999")).statuses.is_empty());
}

#[test]
fn list_of_uid_matching_on_study_instance_uid() {
    let mut h = worklist_harness();
    let q = |v| worklist_query_with(&[(tags::STUDY_INSTANCE_UID, VR::UI, v)], &[]);
    let both = q("1.2.826.0.1.3680043.9.7777.2\\1.2.826.0.1.3680043.9.7777.5");
    assert_eq!(patient_ids(&wl_find(&mut h, &both)), ["P002", "P005"]);
    assert!(
        wl_find(&mut h, &q("1.2.826.0.1.3680043.9.7777.9\\1.2.3"))
            .statuses
            .is_empty()
    );
}

#[test]
fn sequence_matching_on_modality_in_the_scheduled_step() {
    let mut h = worklist_harness();
    let q = |v| worklist_query_with(&[], &[(tags::MODALITY, VR::CS, v)]);
    let mr = wl_find(&mut h, &q("MR"));
    assert_eq!(patient_ids(&mr), ["P002", "P004"]);
    for m in &mr.matches {
        let step = first_item(m, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).unwrap();
        assert_eq!(text_of(step, tags::MODALITY), "MR");
    }
    assert!(wl_find(&mut h, &q("NM")).statuses.is_empty());
    // Station AE title is matched inside the item too.
    let station = |v| worklist_query_with(&[], &[(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, v)]);
    assert_eq!(wl_find(&mut h, &station("SCANNER1")).statuses.len(), 5);
    assert!(wl_find(&mut h, &station("SCANNER2")).statuses.is_empty());
}

#[test]
fn range_matching_on_scheduled_step_start_date() {
    let mut h = worklist_harness();
    let q = |v| {
        worklist_query_with(
            &[],
            &[(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, v)],
        )
    };
    assert_eq!(
        patient_ids(&wl_find(&mut h, &q("20240102-20240103"))),
        ["P002", "P003", "P005"]
    );
    assert_eq!(
        patient_ids(&wl_find(&mut h, &q("-20240101"))),
        ["P001", "P004"]
    );
    assert_eq!(patient_ids(&wl_find(&mut h, &q("20240103-"))), ["P003"]);
    assert_eq!(
        patient_ids(&wl_find(&mut h, &q("20240102"))),
        ["P002", "P005"]
    );
    assert!(wl_find(&mut h, &q("20250101-")).statuses.is_empty());
    assert!(wl_find(&mut h, &q("20240104-20240101")).statuses.is_empty());
}

#[test]
fn combined_date_time_range_on_the_scheduled_step() {
    let mut h = worklist_harness();
    let q = |date, time| {
        worklist_query_with(
            &[],
            &[
                (tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, date),
                (tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM, time),
            ],
        )
    };
    // From 2024-01-01 18:00 to 2024-01-02 08:00: the night shift, across midnight.
    let night = wl_find(&mut h, &q("20240101-20240102", "1800-0800"));
    assert_eq!(patient_ids(&night), ["P004", "P005"]);
    // From 2024-01-02 12:00 to 2024-01-03 10:30: nothing (each key alone would match
    // P002 and P005 by date, and P003 and P005 by time).
    let later = wl_find(&mut h, &q("20240102-20240103", "1200-1030"));
    assert!(later.statuses.is_empty(), "{:?}", patient_ids(&later));
}

#[test]
fn unsupported_optional_key_gives_ff01_and_is_returned_not_matched() {
    // One record references a document.
    let mut records = the_worklist();
    records[0].put(seq(
        tags::PERTINENT_DOCUMENTS_SEQUENCE,
        vec![set(vec![
            text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                "1.2.840.10008.5.1.4.1.1.104.1",
            ),
            text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
        ])],
    ));
    let mut h = Harness::new(Setup::new(Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(records))),
        ..Handlers::default()
    }));
    let mut query = worklist_query();
    // Pertinent Documents Sequence > Referenced SOP Class UID is never matched (Table K.6-1).
    query.put(seq(
        tags::PERTINENT_DOCUMENTS_SEQUENCE,
        vec![set(vec![text(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            "1.2.3",
        )])],
    ));
    let run = wl_find(&mut h, &query);
    assert_eq!(run.statuses, vec![Status::PENDING_WARNING; 5]);
    assert_eq!(run.status(), Status::SUCCESS);
    // Not a filter: every record came back, the key with the record's value.
    assert_eq!(patient_ids(&run), ["P001", "P002", "P003", "P004", "P005"]);
    let docs = first_item(&run.matches[0], tags::PERTINENT_DOCUMENTS_SEQUENCE).unwrap();
    assert_eq!(
        text_of(docs, tags::REFERENCED_SOP_CLASS_UID),
        "1.2.840.10008.5.1.4.1.1.104.1"
    );
    // Only the key asked for comes back from the item.
    assert!(docs.get(tags::REFERENCED_SOP_INSTANCE_UID).is_none());
    // Supported keys only: plain 0xFF00.
    assert_eq!(
        wl_find(&mut h, &worklist_query()).statuses[0],
        Status::PENDING
    );
}

#[test]
fn scheduled_step_sequence_with_two_items_is_a900() {
    let mut h = worklist_harness();
    let mut query = worklist_query();
    query.put(seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        vec![
            set(vec![text(tags::MODALITY, VR::CS, "CT")]),
            set(vec![text(tags::MODALITY, VR::CS, "MR")]),
        ],
    ));
    let run = wl_find(&mut h, &query);
    assert!(run.statuses.is_empty());
    assert_eq!(run.status(), Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS);
    assert!(run.comment().contains("2 items"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn hanging_protocol_find_matches_by_name() {
    let mut h = Harness::new(Setup::new(hp_handlers(vec![
        hp_instance("1.2.3.1", "CHEST PA"),
        hp_instance("1.2.3.2", "CHEST LAT"),
        hp_instance("1.2.3.3", "HEAD CT"),
    ])));
    let run = h.find(&uids::HANGING_PROTOCOL_FIND, &hp_query("CHEST*"));
    assert_eq!(run.status(), Status::SUCCESS);
    assert_eq!(run.values(tags::SOP_INSTANCE_UID), ["1.2.3.1", "1.2.3.2"]);
    assert_eq!(
        run.values(tags::HANGING_PROTOCOL_NAME),
        ["CHEST PA", "CHEST LAT"]
    );
    let none = h.find(&uids::HANGING_PROTOCOL_FIND, &hp_query("KNEE*"));
    assert!(none.statuses.is_empty());
    assert_eq!(none.status(), Status::SUCCESS);
}

// ------------------------------------------------------------------------------------
// C-FIND SCP statuses

#[test]
fn find_for_a_model_without_a_handler_is_0122() {
    let mut h = worklist_harness();
    let run = h.find(&uids::HANGING_PROTOCOL_FIND, &hp_query("*"));
    assert_eq!(run.status(), Status::SOP_CLASS_NOT_SUPPORTED);
    assert_usable(&mut h);
}

#[test]
fn find_identifier_that_does_not_decode_is_c310() {
    let mut h = worklist_harness();
    let run = h.find_raw(
        &uids::MODALITY_WORKLIST_FIND,
        Bytes::from_static(b"this is not a data set!!"),
    );
    assert!(run.statuses.is_empty());
    assert_eq!(run.status(), Status::FIND_IDENTIFIER_DECODE_FAILED);
    assert!(run.comment().contains("decode"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn find_identifier_announcing_4_gib_is_c310_at_once() {
    let mut h = worklist_harness();
    // (0010,0010) PN in Explicit VR Little Endian would take a 2-byte length; UN takes 4:
    // ten bytes announce 0xFFFFFFF0 bytes of value.
    assert_eq!(
        h.transfer_syntax(&uids::MODALITY_WORKLIST_FIND),
        uids::EXPLICIT_VR_LITTLE_ENDIAN
    );
    let bytes = [
        0x10, 0x00, 0x10, 0x00, b'U', b'N', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF, b'A', b'B',
    ];
    let started = Instant::now();
    let run = h.find_raw(
        &uids::MODALITY_WORKLIST_FIND,
        Bytes::copy_from_slice(&bytes),
    );
    assert_eq!(run.status(), Status::FIND_IDENTIFIER_DECODE_FAILED);
    assert!(run.comment().contains("announces"), "{}", run.comment());
    // Refused from its header, not after allocating (and zeroing) 4 GiB.
    assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
    assert_usable(&mut h);
}

#[test]
fn find_identifier_nested_too_deeply_is_c310() {
    let mut h = worklist_harness();
    // 10 000 levels of Scheduled Procedure Step Sequence, each an undefined-length item:
    // 200 KB, far below the identifier limit, and enough to overflow the decoder's stack
    // (dicom-object recurses per level) and abort the process without the nesting bound.
    let mut bytes = Vec::new();
    for _ in 0..10_000 {
        bytes.extend_from_slice(&[
            0x40, 0x00, 0x00, 0x01, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    let run = h.find_raw(&uids::MODALITY_WORKLIST_FIND, Bytes::from(bytes));
    assert_eq!(run.status(), Status::FIND_IDENTIFIER_DECODE_FAILED);
    assert!(run.comment().contains("nested"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn empty_identifiers_end_with_a_final_response() {
    let mut h = worklist_harness();
    let run = h.find_raw(&uids::MODALITY_WORKLIST_FIND, Bytes::new());
    // An empty identifier asks for no keys: every record matches with nothing to return.
    // Whatever the pendings, the final response comes and the peer is never left waiting.
    assert_eq!(run.finals.len(), 1, "{:?}", run.finals);
    assert_eq!(run.status(), Status::SUCCESS);
    assert!(run.others.is_empty(), "{:?}", run.others);
    // Each of the five records matched; each pending identifier decodes (holding only
    // the record's Specific Character Set).
    assert_eq!(run.statuses, vec![Status::PENDING; 5]);
    assert!(run.undecodable.is_empty(), "{:?}", run.undecodable);
    assert_usable(&mut h);
    // An empty C-GET or C-MOVE identifier names nothing to retrieve.
    let mut h = get_harness(1, |s| s);
    assert_eq!(
        retrieve_raw(&mut h, true, b""),
        Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
    );
    assert_eq!(
        retrieve_raw(&mut h, false, b""),
        Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
    );
    assert_usable(&mut h);
}

#[test]
fn find_handler_error_is_c311() {
    let mut h = Harness::new(Setup::new(find_handlers(|_| Err(boom()))));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.status(), Status::FIND_HANDLER_FAILED);
    assert_eq!(run.comment(), "the database is on fire");
    assert_usable(&mut h);
}

#[test]
fn find_handler_panic_when_called_is_c311() {
    let mut h = Harness::new(Setup::new(find_handlers(|_| panic!("handler exploded"))));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert!(run.statuses.is_empty());
    assert_eq!(run.status(), Status::FIND_HANDLER_FAILED);
    assert!(
        run.comment().contains("handler exploded"),
        "{}",
        run.comment()
    );
    assert_usable(&mut h);
}

#[test]
fn find_handler_panic_mid_iterator_is_c311_after_the_pendings() {
    let mut h = Harness::new(Setup::new(find_handlers(|_| {
        let good = the_worklist().into_iter().take(2).map(FindItem::Match);
        Ok(Box::new(
            good.chain(std::iter::from_fn(|| panic!("iterator exploded"))),
        ))
    })));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.statuses, [Status::PENDING, Status::PENDING]);
    assert_eq!(run.status(), Status::FIND_HANDLER_FAILED);
    assert!(
        run.comment().contains("iterator exploded"),
        "{}",
        run.comment()
    );
    assert_usable(&mut h);
}

#[test]
fn find_status_data_set_without_status_is_c001() {
    let mut h = Harness::new(Setup::new(worklist_giving(vec![
        FindItem::Match(the_worklist()[0].clone()),
        FindItem::Reply(Reply::DataSet(status_set_without_status())),
    ])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.statuses, [Status::PENDING]);
    assert_eq!(run.status(), Status::HANDLER_STATUS_WITHOUT_STATUS_ELEMENT);
    assert_usable(&mut h);
}

#[test]
fn find_status_data_set_with_status_sends_it_with_its_comment() {
    let reply = set(vec![
        DataElement::new(
            Tag(0x0000, 0x0900),
            VR::US,
            PrimitiveValue::from(0xA700_u16),
        ),
        text(Tag(0x0000, 0x0902), VR::LO, "disk full"),
    ]);
    let mut h = Harness::new(Setup::new(worklist_giving(vec![FindItem::Reply(
        Reply::DataSet(reply),
    )])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.status(), Status::OUT_OF_RESOURCES);
    assert_eq!(run.comment(), "disk full");
}

#[test]
fn find_status_not_valid_for_the_service_is_c002() {
    let mut h = Harness::new(Setup::new(worklist_giving(vec![FindItem::Reply(
        Reply::Status(0x1234),
    )])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.status(), Status::HANDLER_INVALID_STATUS);
    assert!(run.comment().contains("0x1234"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn find_pending_with_a_status_not_valid_for_the_service_is_c002() {
    let mut h = Harness::new(Setup::new(worklist_giving(vec![FindItem::PendingWith(
        0xFF07,
        the_worklist()[0].clone(),
    )])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert!(run.statuses.is_empty());
    assert_eq!(run.status(), Status::HANDLER_INVALID_STATUS);
}

#[test]
fn find_explicit_pending_warning_is_sent_with_its_identifier() {
    let mut h = Harness::new(Setup::new(worklist_giving(vec![FindItem::PendingWith(
        0xFF01,
        the_worklist()[1].clone(),
    )])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.statuses, [Status::PENDING_WARNING]);
    assert_eq!(run.values(tags::PATIENT_ID), ["P002"]);
    assert_eq!(run.status(), Status::SUCCESS);
}

#[test]
fn find_identifier_that_cannot_be_encoded_is_c312() {
    let mut h = Harness::new(Setup::new(worklist_giving(vec![
        FindItem::Match(the_worklist()[0].clone()),
        FindItem::Match(unencodable_identifier()),
        FindItem::Match(the_worklist()[1].clone()),
    ])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.statuses, [Status::PENDING]);
    assert_eq!(run.status(), Status::FIND_IDENTIFIER_ENCODE_FAILED);
    assert!(run.comment().contains("encode"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn find_identifier_the_encoder_panics_on_is_c312() {
    // A sequence under a PN header: dicom-object's writer panics on it.
    let bad = set(vec![DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        DataSetSequence::new(vec![InMemDicomObject::new_empty()], Length::UNDEFINED),
    )]);
    let mut h = Harness::new(Setup::new(worklist_giving(vec![FindItem::Match(bad)])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.status(), Status::FIND_IDENTIFIER_ENCODE_FAILED);
    assert_usable(&mut h);
}

#[test]
fn find_pending_status_without_identifier_is_c312() {
    let mut h = Harness::new(Setup::new(worklist_giving(vec![FindItem::Reply(
        Reply::Status(0xFF00),
    )])));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert!(run.statuses.is_empty());
    assert_eq!(run.status(), Status::FIND_IDENTIFIER_ENCODE_FAILED);
    assert_usable(&mut h);
}

#[test]
fn cancel_mid_find_ends_with_fe00_and_no_pending_after_it() {
    let records: Vec<_> = (0..50)
        .map(|i| {
            worklist_record(
                "MANY^PATIENTS",
                &format!("M{i:03}"),
                "CT",
                "20240101",
                "0800",
            )
        })
        .collect();
    let mut h = Harness::new(Setup::new(Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(records))),
        ..Handlers::default()
    }));
    let run = h.find_with(
        &uids::MODALITY_WORKLIST_FIND,
        &worklist_query(),
        FindOptions {
            cancel_after: Some(1),
            keep_identifiers: true,
        },
    );
    assert_eq!(run.cancelled_after, Some(1));
    // A few pendings were already on their way; far from all 50.
    assert!(run.statuses.len() < 10, "{} pendings", run.statuses.len());
    assert!(run.statuses.iter().all(|s| *s == Status::PENDING));
    assert_eq!(run.status(), Status::CANCEL);
    assert_eq!(run.after_final, 0);
    assert!(run.others.is_empty(), "{:?}", run.others);
    assert!(h.acceptor_received.iter().any(
        |m| matches!(m, Message::CCancelRq(c) if c.message_id_being_responded_to == run.message_id)
    ));
    assert_usable(&mut h);
}

#[test]
fn cancel_for_another_message_id_is_ignored() {
    let mut h = worklist_harness();
    // On the wire: a C-CANCEL for an ID that is not being performed never reaches the SCP.
    let mut scu = FindScu::start(
        &mut h.requestor,
        h.now,
        &uids::MODALITY_WORKLIST_FIND,
        &worklist_query(),
    )
    .unwrap();
    let context = h.context(&uids::MODALITY_WORKLIST_FIND);
    let other = scu.message_id().wrapping_add(100);
    Harness::send_raw(
        &mut h.requestor,
        h.now,
        context,
        &Message::CCancelRq(CCancelRq {
            message_id_being_responded_to: other,
        }),
        None,
    );
    // To the SCP itself: a cancel for the ID the next request will use.
    let next = scu.message_id() + 1;
    let mut matches = 0;
    let mut status = None;
    while let Some(event) = h.next_event() {
        match scu.handle(event) {
            Ok(FindProgress::Match { .. }) => {
                if matches == 0 {
                    let cancel = Event::Message(Box::new(IncomingMessage {
                        context_id: context,
                        message: Message::CCancelRq(CCancelRq {
                            message_id_being_responded_to: next,
                        }),
                        data: None,
                    }));
                    assert!(h.scp.handle_event(&mut h.acceptor, h.now, cancel).is_none());
                }
                matches += 1;
            }
            Ok(FindProgress::Finished { status: s, .. }) => status = Some(s),
            Err(e) => panic!("{}", dicomwire_tests::services::describe(&e)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(matches, 5);
    assert_eq!(status, Some(Status::SUCCESS));
    // The next request, with the ID the stray cancel named, is not cancelled either.
    let run = wl_find(&mut h, &worklist_query());
    assert_eq!(run.message_id, next);
    assert_eq!(run.statuses.len(), 5);
    assert_eq!(run.status(), Status::SUCCESS);
    assert_usable(&mut h);
}

// ------------------------------------------------------------------------------------
// C-GET

fn get_harness(instances: usize, setup: impl FnOnce(Setup) -> Setup) -> Harness {
    Harness::new(setup(Setup::new(hp_handlers(hp_instances(instances)))))
}

#[test]
fn get_with_the_storage_role_stores_every_instance_whole_and_bytewise() {
    for delivery in [Delivery::Whole, Delivery::Bytewise] {
        let mut h = get_harness(3, |s| s.with_delivery(delivery));
        let store = Arc::new(RecordingStore::new());
        let run = h.get(&retrieve_query(&uid_list(&[1, 2, 3])), store.clone());
        assert_eq!(run.status(), Status::SUCCESS, "{delivery:?}");
        assert_eq!(run.counts(), counts(None, 3, 0, 0), "{delivery:?}");
        assert!(run.final_response().failed_sop_instance_uids.is_empty());
        assert!(!run.final_data_set, "no identifier when nothing failed");
        assert_eq!(run.stored_uids(), uid_list(&[1, 2, 3]));
        assert!(run.stores.iter().all(|(s, status)| {
            *status == Status::SUCCESS
                && s.sop_class_uid == uids::HANGING_PROTOCOL_STORAGE.as_str()
                && s.move_originator_ae_title.is_none()
        }));
        // One pending after each sub-operation but the last, Remaining counting down.
        let remaining: Vec<_> = run.pendings.iter().map(|p| p.remaining).collect();
        assert_eq!(remaining, [Some(2), Some(1)]);
        assert_eq!(
            run.pendings[1],
            SubOperations {
                remaining: Some(1),
                completed: Some(2),
                failed: Some(0),
                warning: Some(0)
            }
        );
        // The instances arrived whole.
        let stored = store.stored();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[0].calling_ae_title, "SCP");
        let object = stored[2].object.as_ref().unwrap();
        assert_eq!(text_of(object, tags::HANGING_PROTOCOL_NAME), "PROTOCOL 3");
        assert!(run.others.is_empty(), "{:?}", run.others);
        assert_usable(&mut h);
        assert_eq!(h.release(), ["Released", "Closed"]);
    }
}

/// What the sinks of a [`SinkStore`] finished: UID, data set, number of fragments.
type Gathered = Arc<std::sync::Mutex<Vec<(String, Vec<u8>, usize)>>>;

/// A store handler whose sinks gather each streamed instance's fragments.
#[derive(Default)]
struct SinkStore {
    done: Gathered,
}

struct GatheringSink {
    uid: String,
    data: Vec<u8>,
    fragments: usize,
    done: Gathered,
}

impl StoreHandler for SinkStore {
    fn store(&self, _: &StoreRequest<'_>) -> Result<u16, HandlerError> {
        Err("not streamed".into())
    }

    fn begin(&self, request: &StoreStart<'_>) -> Result<Option<Box<dyn StoreSink>>, HandlerError> {
        Ok(Some(Box::new(GatheringSink {
            uid: request.sop_instance_uid.to_owned(),
            data: Vec::new(),
            fragments: 0,
            done: Arc::clone(&self.done),
        })))
    }
}

impl StoreSink for GatheringSink {
    fn write(&mut self, fragment: &[u8]) -> Result<(), HandlerError> {
        self.data.extend_from_slice(fragment);
        self.fragments += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<u16, HandlerError> {
        let mut done = self.done.lock().unwrap();
        done.push((self.uid, self.data, self.fragments));
        Ok(0x0000)
    }
}

/// [`hp_instances`] with a 5,000-byte private OB element each: ten fragments or more at a
/// 512-byte maximum PDU.
fn large_hp_instances(count: usize) -> Vec<StoredInstance> {
    hp_instances(count)
        .into_iter()
        .map(|mut i| {
            i.object.put(DataElement::new(
                Tag(0x0009, 0x0010),
                VR::LO,
                PrimitiveValue::from("DICOMWIRE TEST"),
            ));
            i.object.put(DataElement::new(
                Tag(0x0009, 0x1001),
                VR::OB,
                PrimitiveValue::U8(vec![0x5A; 5000].into()),
            ));
            i.instance.data =
                dataset::encode(&i.object, i.instance.transfer_syntax.as_str()).expect("encodes");
            i
        })
        .collect()
}

#[test]
fn get_in_streaming_mode_hands_each_instance_to_a_sink_or_whole_to_store() {
    let instances = large_hp_instances(3);
    for delivery in [Delivery::Whole, Delivery::Bytewise] {
        let streaming = |mut s: Setup| {
            s.config.dimse.stream_store_data = true;
            s.config.max_pdu_length = 512;
            s.config.max_send_pdu_length = 512;
            s.with_delivery(delivery)
        };
        // A handler with a sink: the fragments go there, in order.
        let mut h = Harness::new(streaming(Setup::new(hp_handlers(instances.clone()))));
        let store = Arc::new(SinkStore::default());
        let run = h.get(&retrieve_query(&uid_list(&[1, 2, 3])), store.clone());
        assert_eq!(run.status(), Status::SUCCESS, "{delivery:?}");
        assert_eq!(run.counts(), counts(None, 3, 0, 0), "{delivery:?}");
        assert_eq!(run.stored_uids(), uid_list(&[1, 2, 3]));
        assert!(run.others.is_empty(), "{:?}", run.others);
        let done = store.done.lock().unwrap().clone();
        assert_eq!(done.len(), 3);
        for (uid, data, fragments) in &done {
            let held = instances
                .iter()
                .find(|i| &i.instance.sop_instance_uid == uid)
                .expect("a held instance");
            assert_eq!(&data[..], &held.instance.data[..], "{uid} arrived bytewise");
            assert!(
                *fragments >= 10,
                "{uid}: {} bytes in {fragments} fragment(s) at a 512-byte PDU",
                data.len()
            );
        }
        assert_usable(&mut h);
        // A handler without one: the instance is gathered and stored whole.
        let mut h = Harness::new(streaming(Setup::new(hp_handlers(instances.clone()))));
        let store = Arc::new(RecordingStore::new());
        let run = h.get(&retrieve_query(&uid_list(&[1, 2, 3])), store.clone());
        assert_eq!(run.status(), Status::SUCCESS, "{delivery:?}");
        assert_eq!(run.stored_uids(), uid_list(&[1, 2, 3]));
        let stored = store.stored();
        assert_eq!(stored.len(), 3);
        let object = stored[2].object.as_ref().unwrap();
        assert_eq!(text_of(object, tags::HANGING_PROTOCOL_NAME), "PROTOCOL 3");
        assert_usable(&mut h);
    }
}

/// The C-GET SCP keeps as many C-STORE sub-operations under way as the asynchronous
/// operations window lets it invoke (our SCU proposes SUB_OPERATIONS_WINDOW), never more
/// than SUB_OPERATIONS_IN_FLIGHT; without a window, one at a time. Whatever the window, every
/// instance arrives in order and the counts add up.
#[test]
fn get_keeps_as_many_sub_operations_under_way_as_the_window_allows() {
    // The SCP also stops producing while a few messages wait unsent (backpressure), so
    // with a wide window the harness sees between 2 and the cap.
    let windows: [(Option<u16>, std::ops::RangeInclusive<usize>); 5] = [
        (None, 1..=1),
        (Some(1), 1..=1),
        (Some(3), 3..=3),
        (Some(0), 2..=SUB_OPERATIONS_IN_FLIGHT),
        (Some(20), 2..=SUB_OPERATIONS_IN_FLIGHT),
    ];
    for (performed, expected) in windows {
        for delivery in [Delivery::Whole, Delivery::Bytewise] {
            let mut h = get_harness(12, |s| {
                let s = s.with_delivery(delivery);
                match performed {
                    Some(n) => s.with_window(1, n),
                    None => s,
                }
            });
            let at = format!("window {performed:?}, {delivery:?}");
            let store = Arc::new(RecordingStore::new());
            let all: Vec<usize> = (1..=12).collect();
            let run = h.get(&retrieve_query(&uid_list(&all)), store.clone());
            assert_eq!(run.status(), Status::SUCCESS, "{at}");
            assert_eq!(run.counts(), counts(None, 12, 0, 0), "{at}");
            assert_eq!(store.uids(), uid_list(&all), "{at}");
            assert!(
                expected.contains(&h.stats.max_scp_requests_outstanding),
                "{at}: {} C-STOREs under way at once",
                h.stats.max_scp_requests_outstanding
            );
            let remaining: Vec<_> = run.pendings.iter().filter_map(|p| p.remaining).collect();
            assert!(
                remaining.windows(2).all(|w| w[0] > w[1]),
                "{at}: {remaining:?}"
            );
            assert_usable(&mut h);
        }
    }
}

/// Sub-operations under way when a C-GET is cancelled finish (and count); none is
/// started after, and the counts add up to the total.
#[test]
fn cancel_mid_get_with_sub_operations_under_way_lets_them_finish() {
    let mut h = get_harness(10, |s| s.with_window(1, 4));
    let store = Arc::new(RecordingStore::new());
    let all: Vec<usize> = (1..=10).collect();
    let run = h.get_with(&retrieve_query(&uid_list(&all)), store.clone(), Some(2));
    assert!(run.cancelled);
    assert_eq!(run.status(), Status::CANCEL);
    let (remaining, completed, failed, warning) = run.counts();
    let completed = completed.unwrap();
    assert!((2..10).contains(&completed), "{completed}");
    assert_eq!((failed, warning), (Some(0), Some(0)));
    assert_eq!(remaining, Some(10 - completed));
    assert_eq!(
        store.uids(),
        uid_list(&all[..usize::from(completed)]),
        "what was stored is what was counted"
    );
    assert!(h.stats.max_scp_requests_outstanding > 1);
    assert_usable(&mut h);
}

/// Failed, refused and warned sub-operations are counted the same with several under way.
#[test]
fn get_sub_operation_accounting_with_a_window_and_mixed_outcomes() {
    let mut h = get_harness(6, |s| s.with_window(1, 4));
    let store = Arc::new(
        RecordingStore::new()
            .answering(&hp_uid(2), 0xB007)
            .answering(&hp_uid(4), 0xA700),
    );
    let all: Vec<usize> = (1..=6).collect();
    let run = h.get(&retrieve_query(&uid_list(&all)), store);
    assert_eq!(run.status(), Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES);
    assert_eq!(run.counts(), counts(None, 4, 1, 1));
    assert_eq!(run.final_response().failed_sop_instance_uids, [hp_uid(4)]);
    assert!(h.stats.max_scp_requests_outstanding > 1);
    assert_usable(&mut h);
}

#[test]
fn get_without_the_storage_role_fails_every_sub_operation_with_a702() {
    let mut h = get_harness(3, Setup::without_storage_scp_role);
    let store = Arc::new(RecordingStore::new());
    let run = h.get(&retrieve_query(&uid_list(&[1, 2, 3])), store.clone());
    assert!(
        run.stores.is_empty(),
        "nothing may be sent without the role"
    );
    assert_eq!(run.status(), Status::OUT_OF_RESOURCES_SUB_OPERATIONS);
    assert_eq!(run.counts(), counts(None, 0, 3, 0));
    assert_eq!(
        run.final_response().failed_sop_instance_uids,
        uid_list(&[1, 2, 3])
    );
    assert!(store.stored().is_empty());
    assert_usable(&mut h);
}

#[test]
fn get_where_the_scu_refuses_one_store_and_warns_on_another_is_b000() {
    let mut h = get_harness(3, |s| s);
    let store = Arc::new(
        RecordingStore::new()
            .answering(&hp_uid(1), 0xA700)
            .answering(&hp_uid(2), 0xB000),
    );
    let run = h.get(&retrieve_query(&uid_list(&[1, 2, 3])), store);
    let statuses: Vec<_> = run.stores.iter().map(|(_, s)| s.0).collect();
    assert_eq!(statuses, [0xA700, 0xB000, 0x0000]);
    assert_eq!(run.status(), Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES);
    assert_eq!(run.counts(), counts(None, 1, 1, 1));
    assert_eq!(
        run.final_response().failed_sop_instance_uids,
        uid_list(&[1])
    );
    assert!(run.final_data_set);
    assert_usable(&mut h);
}

#[test]
fn get_sub_operation_accounting_with_mixed_outcomes() {
    let instances = hp_instances(3);
    let items = vec![
        RetrieveItem::Instance(instances[0].instance.clone()),
        RetrieveItem::Instance(instances[1].instance.clone()),
        RetrieveItem::Failed(Some("9.9.9.1".into())),
        RetrieveItem::Instance(instances[2].instance.clone()),
        // A pending result without a data set: a failed sub-operation.
        RetrieveItem::Reply(Reply::Status(0xFF00)),
        RetrieveItem::Failed(None),
        // Seven announced, six given: the last one failed too.
    ];
    let mut h = Harness::new(Setup::new(retrieve_giving(Some(7), items)));
    let store = Arc::new(RecordingStore::new().answering(&hp_uid(2), 0xB007));
    let run = h.get(&retrieve_query(&uid_list(&[1])), store);
    assert_eq!(run.stored_uids(), uid_list(&[1, 2, 3]));
    assert_eq!(run.status(), Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES);
    assert_eq!(run.counts(), counts(None, 2, 4, 1));
    assert_eq!(run.final_response().failed_sop_instance_uids, ["9.9.9.1"]);
    // Every pending's counts add up to the announced total.
    for p in &run.pendings {
        let sum = [p.remaining, p.completed, p.failed, p.warning]
            .iter()
            .map(|c| c.unwrap())
            .sum::<u16>();
        assert_eq!(sum, 7, "{p:?}");
    }
    assert_usable(&mut h);
}

#[test]
fn get_where_every_store_is_refused_is_a702_with_every_uid() {
    let mut h = get_harness(2, |s| s);
    let store = Arc::new(
        RecordingStore::new()
            .answering(&hp_uid(1), 0xA700)
            .answering(&hp_uid(2), 0xC000),
    );
    let run = h.get(&retrieve_query(&uid_list(&[1, 2])), store);
    assert_eq!(run.status(), Status::OUT_OF_RESOURCES_SUB_OPERATIONS);
    assert_eq!(run.counts(), counts(None, 0, 2, 0));
    assert_eq!(
        run.final_response().failed_sop_instance_uids,
        uid_list(&[1, 2])
    );
}

#[test]
fn get_of_instances_not_held_is_success_with_zero_counts() {
    let mut h = get_harness(2, |s| s);
    let run = h.get(
        &retrieve_query(&["9.9.9".to_owned()]),
        Arc::new(RecordingStore::new()),
    );
    assert!(run.stores.is_empty() && run.pendings.is_empty());
    assert_eq!(run.status(), Status::SUCCESS);
    assert_eq!(run.counts(), counts(None, 0, 0, 0));
}

#[test]
fn cancel_mid_get_is_fe00_with_counts_and_remaining() {
    let mut h = get_harness(6, |s| s);
    let store = Arc::new(RecordingStore::new());
    let run = h.get_with(
        &retrieve_query(&uid_list(&[1, 2, 3, 4, 5, 6])),
        store.clone(),
        Some(2),
    );
    assert!(run.cancelled);
    assert_eq!(run.status(), Status::CANCEL);
    let (remaining, completed, failed, warning) = run.counts();
    assert_eq!((completed, failed, warning), (Some(2), Some(0), Some(0)));
    assert_eq!(
        remaining,
        Some(4),
        "Remaining is carried in a cancel's final response"
    );
    assert_eq!(store.uids(), uid_list(&[1, 2]));
    assert_usable(&mut h);
}

#[test]
fn get_without_a_retrieve_handler_is_0122() {
    let mut h = worklist_harness();
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::SOP_CLASS_NOT_SUPPORTED);
    assert_usable(&mut h);
}

#[test]
fn get_identifier_without_sop_instance_uid_is_a900() {
    let mut h = get_harness(1, |s| s);
    let query = set(vec![text(tags::PATIENT_ID, VR::LO, "P1")]);
    let run = h.get(&query, Arc::new(RecordingStore::new()));
    assert_eq!(run.status(), Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS);
    let wild = h.get(
        &retrieve_query(&["1.2.*".into()]),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(wild.status(), Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS);
    assert_usable(&mut h);
}

/// Sends a C-GET-RQ or C-MOVE-RQ whose identifier is `identifier` as raw bytes; returns
/// the final response's status.
fn retrieve_raw(h: &mut Harness, get: bool, identifier: &'static [u8]) -> Status {
    let sop = if get {
        uids::HANGING_PROTOCOL_GET
    } else {
        uids::HANGING_PROTOCOL_MOVE
    };
    let context = h.context(&sop);
    let message = if get {
        Message::CGetRq(dicomwire::dimse::CGetRq {
            message_id: 0,
            affected_sop_class_uid: sop.to_string(),
            priority: Priority::Medium,
        })
    } else {
        Message::CMoveRq(dicomwire::dimse::CMoveRq {
            message_id: 0,
            affected_sop_class_uid: sop.to_string(),
            priority: Priority::Medium,
            move_destination: "STORE1".into(),
        })
    };
    let id = h
        .requestor
        .send_request(
            h.now,
            context,
            message,
            Some(Bytes::from_static(identifier)),
        )
        .unwrap();
    let mut finals = Vec::new();
    while let Some(event) = h.next_event() {
        if let Event::Message(m) = event {
            if m.message.responded_to() == Some(id) {
                finals.push(m.message.status().unwrap());
            }
        }
    }
    assert_eq!(finals.len(), 1, "{finals:?}");
    finals[0]
}

#[test]
fn get_identifier_that_does_not_decode_is_c410() {
    let mut h = get_harness(1, |s| s);
    assert_eq!(
        retrieve_raw(&mut h, true, b"garbage garbage garbage!"),
        Status::GET_IDENTIFIER_DECODE_FAILED
    );
    assert_usable(&mut h);
}

#[test]
fn get_handler_error_is_c411() {
    let mut h = Harness::new(Setup::new(retrieve_handlers(|_| Err(boom()))));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::GET_HANDLER_FAILED);
    assert_eq!(run.comment(), "the database is on fire");
    assert_usable(&mut h);
}

#[test]
fn get_handler_panic_when_called_is_c411() {
    let mut h = Harness::new(Setup::new(retrieve_handlers(|_| {
        panic!("retrieve exploded")
    })));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::GET_HANDLER_FAILED);
    assert!(run.comment().contains("retrieve exploded"));
    assert_usable(&mut h);
}

#[test]
fn get_handler_panic_mid_iterator_is_c411_with_the_rest_failed() {
    let instances = hp_instances(1);
    let first = instances[0].instance.clone();
    let mut h = Harness::new(Setup::new(retrieve_handlers(move |_| {
        let first = std::iter::once(RetrieveItem::Instance(first.clone()));
        Ok(RetrieveSet {
            count: Some(3),
            items: Box::new(first.chain(std::iter::from_fn(|| panic!("items exploded")))),
        })
    })));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.stored_uids(), uid_list(&[1]));
    assert_eq!(run.status(), Status::GET_HANDLER_FAILED);
    assert_eq!(run.counts(), counts(None, 1, 2, 0));
    assert_usable(&mut h);
}

#[test]
fn get_without_a_sub_operation_count_is_c413() {
    let mut h = Harness::new(Setup::new(retrieve_giving(None, Vec::new())));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::GET_INVALID_SUB_OPERATION_COUNT);
    assert_usable(&mut h);
}

#[test]
fn get_with_more_than_65535_sub_operations_is_c413() {
    let mut h = Harness::new(Setup::new(retrieve_giving(Some(70_000), Vec::new())));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::GET_INVALID_SUB_OPERATION_COUNT);
    assert!(run.comment().contains("70000"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn get_status_data_set_without_status_is_c001() {
    let mut h = Harness::new(Setup::new(retrieve_giving(
        Some(2),
        vec![RetrieveItem::Reply(Reply::DataSet(
            status_set_without_status(),
        ))],
    )));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::HANDLER_STATUS_WITHOUT_STATUS_ELEMENT);
    assert_eq!(run.counts(), counts(None, 0, 2, 0));
    assert_usable(&mut h);
}

#[test]
fn get_unknown_status_from_the_handler_still_ends_with_a_final_c002() {
    let instances = hp_instances(1);
    let mut h = Harness::new(Setup::new(retrieve_giving(
        Some(3),
        vec![
            RetrieveItem::Instance(instances[0].instance.clone()),
            RetrieveItem::Reply(Reply::Status(0x1234)),
        ],
    )));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::HANDLER_INVALID_STATUS);
    assert_eq!(run.counts(), counts(None, 1, 2, 0));
    assert_usable(&mut h);
}

#[test]
fn scu_answers_0122_to_a_store_on_a_context_without_its_scp_role() {
    // A C-STORE on the GET context, with and without the storage role granted (without
    // it the storage context is not accepted at all).
    for granted in [true, false] {
        let mut h = get_harness(1, |s| {
            if granted {
                s
            } else {
                s.without_storage_scp_role()
            }
        });
        let store = Arc::new(RecordingStore::new());
        let mut scu = dicomwire::service::scu::RetrieveScu::get(
            &mut h.requestor,
            h.now,
            &uids::HANGING_PROTOCOL_GET,
            &retrieve_query(&uid_list(&[1])),
            store.clone(),
        )
        .unwrap();
        let mut run = collect(&mut h, &mut scu);
        let expected = if granted {
            Status::SUCCESS
        } else {
            Status::OUT_OF_RESOURCES_SUB_OPERATIONS
        };
        assert_eq!(run.status(), expected);
        // The peer pushes one more instance on a context where we are not SCP.
        let context = h.accepted_context(&uids::HANGING_PROTOCOL_GET);
        let data = hp_instance("6.6.6", "INTRUDER").instance.data;
        Harness::send_raw(
            &mut h.acceptor,
            h.now,
            context,
            &Message::CStoreRq(CStoreRq {
                message_id: 999,
                affected_sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.to_string(),
                affected_sop_instance_uid: "6.6.6".into(),
                priority: Priority::Medium,
                move_originator_ae_title: None,
                move_originator_message_id: None,
            }),
            Some(&data),
        );
        let more = collect(&mut h, &mut scu);
        run.stores.extend(more.stores);
        let last = run.stores.last().unwrap();
        assert_eq!(last.0.sop_instance_uid, "6.6.6");
        assert_eq!(
            last.1,
            Status::SOP_CLASS_NOT_SUPPORTED,
            "granted: {granted}"
        );
        assert!(
            !store.uids().contains(&"6.6.6".to_owned()),
            "the intruder was not stored"
        );
        assert!(more.others.is_empty(), "{:?}", more.others);
        assert_usable(&mut h);
    }
}

/// Collects what a retrieve started by the test gives, until nothing moves.
fn collect(h: &mut Harness, scu: &mut dicomwire::service::scu::RetrieveScu) -> RetrieveRun {
    use dicomwire::service::scu::RetrieveProgress;
    let mut run = RetrieveRun::default();
    while let Some(event) = h.next_event() {
        let store = match &event {
            Event::Message(m) => dicomwire_tests::services::ReceivedStore::of(&m.message),
            _ => None,
        };
        match scu.handle(&mut h.requestor, h.now, event) {
            Ok(RetrieveProgress::Stored { status, .. }) => {
                run.stores.push((store.unwrap(), status))
            }
            Ok(RetrieveProgress::Pending(c)) => run.pendings.push(c),
            Ok(RetrieveProgress::Finished {
                status,
                sub_operations,
                failed_sop_instance_uids,
                detail,
            }) => run.finals.push(dicomwire_tests::services::RetrieveFinal {
                status,
                sub_operations,
                failed_sop_instance_uids,
                detail,
            }),
            Ok(other) => run.others.push(format!("{other:?}")),
            Err(other) => run.others.push(dicomwire_tests::services::describe(&other)),
        }
    }
    run
}

/// An SCP with `store` as its C-STORE handler, and a requestor proposing Hanging Protocol
/// Storage as SCU.
fn storage_harness(store: Option<Arc<dyn dicomwire::service::StoreHandler>>) -> Harness {
    Harness::new(
        Setup::new(Handlers {
            store,
            ..Handlers::default()
        })
        .with_services(&[ScuService::Verification])
        .with_context(uids::HANGING_PROTOCOL_STORAGE),
    )
}

/// Pushes one Hanging Protocol instance with a C-STORE-RQ; returns the response's status.
fn push(h: &mut Harness, uid: &str) -> Status {
    let context = h.context(&uids::HANGING_PROTOCOL_STORAGE);
    let data = hp_instance(uid, "PUSHED").instance.data;
    let id = h
        .requestor
        .send_request(
            h.now,
            context,
            Message::CStoreRq(CStoreRq {
                message_id: 0,
                affected_sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.to_string(),
                affected_sop_instance_uid: uid.into(),
                priority: Priority::Medium,
                move_originator_ae_title: None,
                move_originator_message_id: None,
            }),
            Some(data),
        )
        .unwrap();
    let Some(Event::Message(m)) = h.next_event() else {
        panic!("no response")
    };
    assert_eq!(m.message.responded_to(), Some(id));
    m.message.status().unwrap()
}

#[test]
fn store_to_an_scp_without_a_store_handler_is_0122() {
    let mut h = storage_harness(None);
    assert_eq!(push(&mut h, "7.7.7"), Status::SOP_CLASS_NOT_SUPPORTED);
    assert_usable(&mut h);
}

#[test]
fn store_to_an_scp_answers_its_handlers_status() {
    let store = Arc::new(RecordingStore::new().answering("7.7.8", 0xB007));
    let mut h = storage_harness(Some(store.clone()));
    assert_eq!(push(&mut h, "7.7.7"), Status::SUCCESS);
    assert_eq!(push(&mut h, "7.7.8"), Status(0xB007));
    let stored = store.stored();
    assert_eq!(store.uids(), ["7.7.7", "7.7.8"]);
    assert_eq!(stored[0].calling_ae_title, SCU_AE);
    assert_eq!(
        text_of(
            stored[0].object.as_ref().unwrap(),
            tags::HANGING_PROTOCOL_NAME
        ),
        "PUSHED"
    );
    assert_usable(&mut h);
}

/// A store handler that fails: with an error, or by panicking.
struct FailingStore {
    panics: bool,
}

impl dicomwire::service::StoreHandler for FailingStore {
    fn store(&self, _: &dicomwire::service::StoreRequest<'_>) -> Result<u16, HandlerError> {
        if self.panics {
            panic!("store exploded");
        }
        Err(boom())
    }
}

#[test]
fn store_handler_error_or_panic_is_c211() {
    for panics in [false, true] {
        let mut h = storage_harness(Some(Arc::new(FailingStore { panics })));
        assert_eq!(push(&mut h, "7.7.7"), Status::STORE_HANDLER_FAILED);
        assert_usable(&mut h);
    }
}

#[test]
fn store_sub_operation_message_ids_wrap_from_65535_to_1() {
    // The acceptor allocates the C-STORE message IDs. A first C-GET of 65533 tiny
    // instances uses 1 … 65533; a second of four then uses 65534, 65535, 1, 2.
    let tiny = hp_instance("1.2.3", "T").instance;
    let mut h = Harness::new(Setup::new(retrieve_handlers(move |request| {
        let count: usize = request.sop_instance_uids[0].parse().unwrap_or(0);
        let tiny = tiny.clone();
        let mut n = 0;
        Ok(RetrieveSet {
            count: Some(count),
            items: Box::new(std::iter::from_fn(move || {
                n += 1;
                let mut instance = tiny.clone();
                instance.sop_instance_uid = format!("1.2.3.{n}");
                Some(RetrieveItem::Instance(instance))
            })),
        })
    })));
    let store = Arc::new(NullStore);
    let first = h.get(&retrieve_query(&["65533".into()]), store.clone());
    assert_eq!(first.status(), Status::SUCCESS);
    assert_eq!(first.counts(), counts(None, 65533, 0, 0));
    assert_eq!(first.stores.last().unwrap().0.message_id, 65533);
    let second = h.get(&retrieve_query(&["4".into()]), store);
    let ids: Vec<_> = second.stores.iter().map(|(s, _)| s.message_id).collect();
    assert_eq!(ids, [65534, 65535, 1, 2]);
    assert_eq!(second.status(), Status::SUCCESS);
    assert_usable(&mut h);
}

/// A store handler that keeps nothing (for the long run).
struct NullStore;

impl dicomwire::service::StoreHandler for NullStore {
    fn store(&self, _: &dicomwire::service::StoreRequest<'_>) -> Result<u16, HandlerError> {
        Ok(0)
    }
}

// ------------------------------------------------------------------------------------
// C-MOVE

fn move_harness(instances: usize) -> Harness {
    Harness::new(with_hosts(hp_handlers(hp_instances(instances))))
}

#[test]
fn move_to_a_known_destination_stores_there_with_the_move_originator() {
    for delivery in [Delivery::Whole, Delivery::Bytewise] {
        let mut h = Harness::new(with_hosts(hp_handlers(hp_instances(3))).with_delivery(delivery));
        let run = h.move_to(&retrieve_query(&uid_list(&[1, 2, 3])), "STORE1");
        assert_eq!(run.status(), Status::SUCCESS, "{}", run.comment());
        assert_eq!(run.counts(), counts(None, 3, 0, 0));
        assert!(run.final_response().failed_sop_instance_uids.is_empty());
        assert!(
            run.stores.is_empty(),
            "nothing arrives on the C-MOVE association"
        );
        let remaining: Vec<_> = run.pendings.iter().map(|p| p.remaining).collect();
        assert_eq!(remaining, [Some(2), Some(1)]);
        assert_eq!(h.connects.len(), 1);
        assert_eq!(h.connects[0].destination, destination("store1.test", 104));
        // Every C-STORE-RQ names the C-MOVE's requestor and message ID.
        let received = h.host_received("STORE1").to_vec();
        let uids: Vec<_> = received
            .iter()
            .map(|s| s.sop_instance_uid.clone())
            .collect();
        assert_eq!(uids, uid_list(&[1, 2, 3]));
        for s in &received {
            assert_eq!(s.move_originator_ae_title.as_deref(), Some(SCU_AE));
            assert_eq!(s.move_originator_message_id, Some(run.message_id));
        }
        let stored = h.host_store("STORE1").stored();
        assert_eq!(stored.len(), 3);
        assert!(stored.iter().all(|r| r.calling_ae_title == "SCP"
            && r.move_originator.as_deref() == Some(SCU_AE)
            && r.object.is_some()));
        // The sub-association called STORE1 from our AE title, and was released after.
        let log = h.host_log("STORE1");
        assert_eq!(log[0], "AssociationRequested(SCP -> STORE1)");
        assert!(log.contains(&"ReleaseRequested".to_owned()), "{log:?}");
        assert_eq!(log.last().map(String::as_str), Some("Closed"), "{log:?}");
        assert_eq!(h.open_sub_links(), 0);
        assert_usable(&mut h);
    }
}

/// C-MOVE sub-operations go several at a time to a destination whose window allows it
/// (our sub-association proposes SUB_OPERATIONS_WINDOW), in order, all counted.
#[test]
fn move_keeps_sub_operations_under_way_as_the_destination_allows() {
    for (invoked, expected) in [(1, 1), (4, 4), (0, SUB_OPERATIONS_IN_FLIGHT)] {
        // (A sub-association's stores are not held back by the main queue's bound.)
        let setup = Setup::new(hp_handlers(hp_instances(12))).with_host(
            destination("store1.test", 104),
            Host::storage("STORE1").with_window(invoked),
        );
        let mut h = Harness::new(setup);
        let all: Vec<usize> = (1..=12).collect();
        let run = h.move_to(&retrieve_query(&uid_list(&all)), "STORE1");
        assert_eq!(run.status(), Status::SUCCESS, "{}", run.comment());
        assert_eq!(run.counts(), counts(None, 12, 0, 0));
        let uids: Vec<_> = h
            .host_received("STORE1")
            .iter()
            .map(|s| s.sop_instance_uid.clone())
            .collect();
        assert_eq!(uids, uid_list(&all));
        assert_eq!(
            h.stats.max_scp_requests_outstanding, expected,
            "destination window {invoked}"
        );
        assert_eq!(h.open_sub_links(), 0);
        assert_usable(&mut h);
    }
}

#[test]
fn move_to_a_destination_in_streaming_mode_stores_every_instance_whole() {
    let instances = large_hp_instances(3);
    for delivery in [Delivery::Whole, Delivery::Bytewise] {
        let mut setup = with_hosts(hp_handlers(instances.clone())).with_delivery(delivery);
        // The destination's SCP gets each C-STORE's data set in fragments.
        setup.config.dimse.stream_store_data = true;
        setup.config.max_pdu_length = 512;
        setup.config.max_send_pdu_length = 512;
        let mut h = Harness::new(setup);
        let run = h.move_to(&retrieve_query(&uid_list(&[1, 2, 3])), "STORE1");
        assert_eq!(run.status(), Status::SUCCESS, "{}", run.comment());
        assert_eq!(run.counts(), counts(None, 3, 0, 0));
        let stored = h.host_store("STORE1").stored();
        assert_eq!(stored.len(), 3, "{delivery:?}");
        for (n, record) in stored.iter().enumerate() {
            let object = record.object.as_ref().expect("decodes");
            assert_eq!(
                text_of(object, tags::HANGING_PROTOCOL_NAME),
                format!("PROTOCOL {}", n + 1)
            );
            assert_eq!(record.move_originator.as_deref(), Some(SCU_AE));
        }
        assert_eq!(h.open_sub_links(), 0);
        assert_usable(&mut h);
    }
}

/// A destination that answers an A-ASSOCIATE-AC with every context rejected: the C-MOVE
/// fails, and its Error Comment says what was refused before which SOP class (64
/// characters: the words are not cut for the UID).
#[test]
fn move_to_a_destination_that_accepts_no_storage_context_says_so_first() {
    let mut picky = Host::storage("PICKY");
    picky.policy.abstract_syntaxes = vec![dicomwire::ul::SupportedSyntax::new(
        uids::VERIFICATION,
        uids::uncompressed_transfer_syntaxes(),
    )];
    picky.policy.accept_with_no_context = true;
    let mut h = Harness::new(
        Setup::new(hp_handlers(hp_instances(1))).with_host(destination("picky.test", 104), picky),
    );
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "PICKY");
    assert!(run.status().is_failure(), "{:?}", run.status());
    let comment = run.comment();
    assert!(comment.len() <= 64, "{comment:?}");
    assert!(
        comment.starts_with("destination refused SOP class 1.2.840.10008.5.1.4.38.1"),
        "{comment:?}"
    );
    assert!(h.host_received("PICKY").is_empty());
    assert_usable(&mut h);
}

#[test]
fn move_where_the_destination_refuses_one_store_is_b000() {
    let store = RecordingStore::new().answering(&hp_uid(2), 0xA700);
    let mut h = Harness::new(Setup::new(hp_handlers(hp_instances(2))).with_host(
        destination("store1.test", 104),
        Host::storage("STORE1").with_store(store),
    ));
    let run = h.move_to(&retrieve_query(&uid_list(&[1, 2])), "STORE1");
    assert_eq!(run.status(), Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES);
    assert_eq!(run.counts(), counts(None, 1, 1, 0));
    assert_eq!(
        run.final_response().failed_sop_instance_uids,
        uid_list(&[2])
    );
    assert_usable(&mut h);
}

#[test]
fn move_transcodes_to_the_transfer_syntax_the_destination_accepts() {
    let mut host = Host::storage("STORE1");
    host.policy.abstract_syntaxes[0].transfer_syntaxes = vec![uids::IMPLICIT_VR_LITTLE_ENDIAN];
    let mut h = Harness::new(
        Setup::new(hp_handlers(hp_instances(2))).with_host(destination("store1.test", 104), host),
    );
    let run = h.move_to(&retrieve_query(&uid_list(&[1, 2])), "STORE1");
    assert_eq!(run.status(), Status::SUCCESS);
    let stored = h.host_store("STORE1").stored();
    let names: Vec<_> = stored
        .iter()
        .map(|r| text_of(r.object.as_ref().unwrap(), tags::HANGING_PROTOCOL_NAME))
        .collect();
    assert_eq!(names, ["PROTOCOL 1", "PROTOCOL 2"]);
}

#[test]
fn abort_mid_move_aborts_the_sub_association() {
    let mut h = move_harness(4);
    let scu = dicomwire::service::scu::RetrieveScu::move_to(
        &mut h.requestor,
        h.now,
        &uids::HANGING_PROTOCOL_MOVE,
        &retrieve_query(&uid_list(&[1, 2, 3, 4])),
        &dicomwire_tests::services::ae("STORE1"),
    )
    .unwrap();
    // Run until the first pending response, then abort.
    loop {
        let event = h.next_event().expect("a pending response");
        if let Event::Message(m) = &event {
            if m.message.responded_to() == Some(scu.message_id()) {
                assert_eq!(m.message.status(), Some(Status::PENDING));
                break;
            }
        }
    }
    h.requestor.abort(h.now).unwrap();
    let events = h.settle();
    assert_eq!(
        events.last().map(String::as_str),
        Some("Closed"),
        "{events:?}"
    );
    assert!(
        h.acceptor_log.iter().any(|e| e.starts_with("Aborted")),
        "{:?}",
        h.acceptor_log
    );
    let log = h.host_log("STORE1");
    assert!(log.iter().any(|e| e.starts_with("Aborted")), "{log:?}");
    assert_eq!(log.last().map(String::as_str), Some("Closed"), "{log:?}");
    assert!(h.host_received("STORE1").len() < 4);
    assert_eq!(h.open_sub_links(), 0);
    assert!(h.scp.is_idle());
}

#[test]
fn move_to_an_unknown_destination_is_a801() {
    let mut h = move_harness(1);
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "NOWHERE");
    assert_eq!(run.status(), Status::MOVE_DESTINATION_UNKNOWN);
    assert!(run.comment().contains("NOWHERE"));
    assert!(h.connects.is_empty());
    assert_usable(&mut h);
}

#[test]
fn move_to_an_invalid_address_is_c515() {
    let mut h = move_harness(1);
    for ae in ["BROKEN", "NOPORT", "SPACED"] {
        let run = h.move_to(&retrieve_query(&uid_list(&[1])), ae);
        assert_eq!(
            run.status(),
            Status::MOVE_INVALID_DESTINATION_ADDRESS,
            "{ae}"
        );
        assert!(
            run.comment().contains("invalid address"),
            "{}",
            run.comment()
        );
    }
    assert!(h.connects.is_empty());
    assert_usable(&mut h);
}

#[test]
fn move_to_a_destination_that_rejects_fails_everything_with_a702() {
    let mut h = move_harness(2);
    let run = h.move_to(&retrieve_query(&uid_list(&[1, 2])), "REFUSER");
    assert_eq!(run.status(), Status::OUT_OF_RESOURCES_SUB_OPERATIONS);
    assert_eq!(run.counts(), counts(None, 0, 2, 0));
    assert_eq!(
        run.final_response().failed_sop_instance_uids,
        uid_list(&[1, 2])
    );
    assert!(run.comment().contains("rejected"), "{}", run.comment());
    assert!(h.host_received("REFUSER").is_empty());
    assert_eq!(h.open_sub_links(), 0);
    assert_usable(&mut h);
}

#[test]
fn move_to_an_unreachable_destination_fails_everything_with_a702() {
    let mut h = move_harness(2);
    let run = h.move_to(&retrieve_query(&uid_list(&[1, 2])), "GHOST");
    assert_eq!(h.connects.len(), 1);
    assert_eq!(run.status(), Status::OUT_OF_RESOURCES_SUB_OPERATIONS);
    assert_eq!(run.counts(), counts(None, 0, 2, 0));
    assert_eq!(
        run.final_response().failed_sop_instance_uids,
        uid_list(&[1, 2])
    );
    assert!(run.comment().contains("unreachable"), "{}", run.comment());
    assert_usable(&mut h);
}

#[test]
fn cancel_mid_move_is_fe00_with_counts_and_remaining() {
    let mut h = move_harness(6);
    let run = h.move_with(
        &retrieve_query(&uid_list(&[1, 2, 3, 4, 5, 6])),
        "STORE1",
        Some(1),
    );
    assert!(run.cancelled);
    assert_eq!(run.status(), Status::CANCEL);
    let (remaining, completed, failed, warning) = run.counts();
    let done = completed.unwrap();
    assert!((1..6).contains(&done), "{done} completed");
    assert_eq!((failed, warning), (Some(0), Some(0)));
    assert_eq!(remaining, Some(6 - done));
    assert_eq!(h.host_received("STORE1").len(), usize::from(done));
    assert_usable(&mut h);
}

#[test]
fn move_identifier_that_does_not_decode_is_c510() {
    let mut h = move_harness(1);
    assert_eq!(
        retrieve_raw(&mut h, false, b"garbage garbage garbage!"),
        Status::MOVE_IDENTIFIER_DECODE_FAILED
    );
    assert_usable(&mut h);
}

#[test]
fn move_handler_error_and_panic_are_c511() {
    let mut h = Harness::new(with_hosts(retrieve_handlers(|_| Err(boom()))));
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "STORE1");
    assert_eq!(run.status(), Status::MOVE_HANDLER_FAILED);
    let mut h = Harness::new(with_hosts(retrieve_handlers(|_| panic!("move exploded"))));
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "STORE1");
    assert_eq!(run.status(), Status::MOVE_HANDLER_FAILED);
    assert_usable(&mut h);
}

#[test]
fn move_without_a_sub_operation_count_is_c514() {
    let mut h = Harness::new(with_hosts(retrieve_giving(None, Vec::new())));
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "STORE1");
    assert_eq!(run.status(), Status::MOVE_NO_DESTINATION_OR_COUNT);
    assert!(h.connects.is_empty());
    assert_usable(&mut h);
}

#[test]
fn move_with_more_than_65535_sub_operations_is_c513() {
    let mut h = Harness::new(with_hosts(retrieve_giving(Some(70_000), Vec::new())));
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "STORE1");
    assert_eq!(run.status(), Status::MOVE_INVALID_SUB_OPERATION_COUNT);
    assert!(h.connects.is_empty());
    assert_usable(&mut h);
}

#[test]
fn move_status_data_set_without_status_is_c001() {
    let mut h = Harness::new(with_hosts(retrieve_giving(
        Some(1),
        vec![RetrieveItem::Reply(Reply::DataSet(
            status_set_without_status(),
        ))],
    )));
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "STORE1");
    assert_eq!(run.status(), Status::HANDLER_STATUS_WITHOUT_STATUS_ELEMENT);
    assert_usable(&mut h);
}

#[test]
fn move_unknown_status_from_the_handler_is_c002() {
    let mut h = Harness::new(with_hosts(retrieve_giving(
        Some(1),
        vec![RetrieveItem::Reply(Reply::Status(0x1234))],
    )));
    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "STORE1");
    assert_eq!(run.status(), Status::HANDLER_INVALID_STATUS);
    assert_eq!(run.counts(), counts(None, 0, 1, 0));
    assert_usable(&mut h);
}

// ------------------------------------------------------------------------------------
// Flat memory

#[test]
fn ten_thousand_worklist_matches_stream_with_flat_memory() {
    let records: Vec<_> = (0..10_000)
        .map(|i| {
            worklist_record(
                "BULK^PATIENT",
                &format!("B{i:05}"),
                "CT",
                "20240101",
                "0800",
            )
        })
        .collect();
    let mut h = Harness::new(Setup::new(Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(records))),
        ..Handlers::default()
    }));
    let run = h.find_with(
        &uids::MODALITY_WORKLIST_FIND,
        &worklist_query(),
        FindOptions {
            cancel_after: None,
            keep_identifiers: false,
        },
    );
    assert_eq!(run.statuses.len(), 10_000);
    assert!(run.statuses.iter().all(|s| *s == Status::PENDING));
    assert!(run.undecodable.is_empty());
    assert_eq!(run.status(), Status::SUCCESS);
    // The SCP produces responses as the transport drains them: a handful wait at once.
    let stats = h.stats;
    // (Measured: 4 messages queued, 4 PDUs and 1200 bytes in the pipe at most, against
    // about 3 MB for the whole answer.)
    assert!(stats.max_acceptor_queued <= 4, "{stats:?}");
    assert!(stats.max_pipe_pdus <= 8, "{stats:?}");
    assert!(stats.max_pipe_bytes < 16 * 1024, "{stats:?}");
    assert!(stats.rounds > 1000, "{stats:?}");
    assert_usable(&mut h);
}

// ------------------------------------------------------------------------------------
// The data set codec at the edges it is used on

#[test]
fn decode_refuses_lengths_beyond_the_bytes_and_keeps_valid_sets() {
    let decode = |ts: &Uid, bytes: &[u8]| {
        dataset::decode(&dicomwire::dimse::DataSet {
            transfer_syntax: ts.clone(),
            bytes: Bytes::copy_from_slice(bytes),
        })
    };
    // Implicit VR: (0010,0010) announcing 2 GiB.
    let huge = [0x10, 0x00, 0x10, 0x00, 0xF0, 0xFF, 0xFF, 0x7F, b'A', b'B'];
    assert!(decode(&uids::IMPLICIT_VR_LITTLE_ENDIAN, &huge).is_err());
    // Every record and instance of these tests round-trips in every transfer syntax.
    for object in the_worklist()
        .into_iter()
        .chain(hp_instances(2).into_iter().map(|s| s.object))
    {
        for ts in uids::uncompressed_transfer_syntaxes() {
            let bytes = dataset::encode(&object, ts.as_str()).unwrap();
            let back = decode(&ts, &bytes).unwrap_or_else(|e| panic!("{ts}: {e}"));
            assert_eq!(dataset::encode(&back, ts.as_str()).unwrap(), bytes, "{ts}");
        }
    }
}

// ------------------------------------------------------------------------------------
// Operation outcomes (`Scp::poll_outcome`): one per request the SCP answers finally

/// An outcome's fields, to compare in one assertion (the type is `non_exhaustive`).
type OutcomeFields<'a> = (
    PresentationContextId,
    MessageId,
    CommandField,
    &'a str,
    Status,
    Option<SubOperations>,
    Option<&'a str>,
);

fn fields(o: &OperationOutcome) -> OutcomeFields<'_> {
    (
        o.context_id,
        o.message_id,
        o.command,
        &o.sop_class_uid,
        o.status,
        o.sub_operations,
        o.error_comment.as_deref(),
    )
}

/// The one outcome the SCP reported since the last look.
fn the_outcome(h: &mut Harness) -> OperationOutcome {
    let mut outcomes = h.outcomes();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    outcomes.remove(0)
}

/// Sends a C-ECHO-RQ on `context`; returns its message ID and the response's status.
fn echo_on(h: &mut Harness, context: PresentationContextId) -> (MessageId, Status) {
    let rq = Message::CEchoRq(CEchoRq {
        message_id: 0,
        affected_sop_class_uid: uids::VERIFICATION.to_string(),
    });
    let id = h.requestor.send_request(h.now, context, rq, None).unwrap();
    while let Some(event) = h.next_event() {
        if let Event::Message(m) = event {
            if m.message.responded_to() == Some(id) {
                return (id, m.message.status().unwrap());
            }
        }
    }
    panic!("no C-ECHO-RSP");
}

/// The C-GET / C-MOVE counts of a final response without Remaining.
fn final_counts(completed: u16, failed: u16, warning: u16) -> Option<SubOperations> {
    Some(SubOperations {
        remaining: None,
        completed: Some(completed),
        failed: Some(failed),
        warning: Some(warning),
    })
}

#[test]
fn echo_outcome_names_the_request_and_its_status() {
    let mut h = worklist_harness();
    assert!(h.outcomes().is_empty(), "nothing answered yet");
    let verification = h.context(&uids::VERIFICATION);
    let (id, status) = echo_on(&mut h, verification);
    assert_eq!(status, Status::SUCCESS);
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            verification,
            id,
            CommandField::CEchoRq,
            uids::VERIFICATION.as_str(),
            Status::SUCCESS,
            None,
            None
        )
    );
    let worklist = h.context(&uids::MODALITY_WORKLIST_FIND);
    let (id, status) = echo_on(&mut h, worklist);
    assert_eq!(status, Status::SOP_CLASS_NOT_SUPPORTED);
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            worklist,
            id,
            CommandField::CEchoRq,
            uids::VERIFICATION.as_str(),
            Status::SOP_CLASS_NOT_SUPPORTED,
            None,
            None
        )
    );
}

#[test]
fn find_outcome_is_one_per_request_however_it_ends() {
    let mut h = worklist_harness();
    let worklist = h.context(&uids::MODALITY_WORKLIST_FIND);
    let mwl = uids::MODALITY_WORKLIST_FIND;
    let run = wl_find(&mut h, &worklist_query());
    assert_eq!(run.statuses.len(), 5);
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            worklist,
            run.message_id,
            CommandField::CFindRq,
            mwl.as_str(),
            Status::SUCCESS,
            None,
            None
        ),
        "one outcome for the final response, none for the five pendings"
    );

    // Refused before any handler is called.
    let hp = h.context(&uids::HANGING_PROTOCOL_FIND);
    let run = h.find(&uids::HANGING_PROTOCOL_FIND, &hp_query("*"));
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            hp,
            run.message_id,
            CommandField::CFindRq,
            uids::HANGING_PROTOCOL_FIND.as_str(),
            Status::SOP_CLASS_NOT_SUPPORTED,
            None,
            None
        )
    );
    let run = h.find_raw(
        &uids::MODALITY_WORKLIST_FIND,
        Bytes::from_static(b"this is not a data set!!"),
    );
    let outcome = the_outcome(&mut h);
    let comment = run.comment();
    assert_eq!(
        fields(&outcome),
        (
            worklist,
            run.message_id,
            CommandField::CFindRq,
            mwl.as_str(),
            Status::FIND_IDENTIFIER_DECODE_FAILED,
            None,
            Some(comment.as_str())
        ),
        "the outcome carries the Error Comment sent"
    );
    let mut query = worklist_query();
    query.put(seq(
        tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
        vec![
            set(vec![text(tags::MODALITY, VR::CS, "CT")]),
            set(vec![text(tags::MODALITY, VR::CS, "MR")]),
        ],
    ));
    let run = wl_find(&mut h, &query);
    let outcome = the_outcome(&mut h);
    assert_eq!(outcome.message_id, run.message_id);
    assert_eq!(outcome.status, Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS);
    assert_eq!(outcome.error_comment, Some(run.comment()));
}

#[test]
fn find_handler_failures_give_one_outcome_with_the_comment_sent() {
    let mut h = Harness::new(Setup::new(find_handlers(|_| Err(boom()))));
    let context = h.context(&uids::MODALITY_WORKLIST_FIND);
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            context,
            run.message_id,
            CommandField::CFindRq,
            uids::MODALITY_WORKLIST_FIND.as_str(),
            Status::FIND_HANDLER_FAILED,
            None,
            Some("the database is on fire")
        )
    );

    let mut h = Harness::new(Setup::new(find_handlers(|_| {
        let good = the_worklist().into_iter().take(2).map(FindItem::Match);
        Ok(Box::new(
            good.chain(std::iter::from_fn(|| panic!("iterator exploded"))),
        ))
    })));
    let run = h.find(&uids::MODALITY_WORKLIST_FIND, &worklist_query());
    assert_eq!(run.statuses.len(), 2);
    let outcome = the_outcome(&mut h);
    assert_eq!(outcome.message_id, run.message_id);
    assert_eq!(outcome.status, Status::FIND_HANDLER_FAILED);
    assert_eq!(
        outcome.error_comment.as_deref(),
        Some("handler panicked: iterator exploded")
    );
}

#[test]
fn cancelled_find_outcome_is_fe00() {
    let records: Vec<_> = (0..50)
        .map(|i| {
            worklist_record(
                "MANY^PATIENTS",
                &format!("M{i:03}"),
                "CT",
                "20240101",
                "0800",
            )
        })
        .collect();
    let mut h = Harness::new(Setup::new(Handlers {
        worklist: Some(Arc::new(InMemoryWorklist::new(records))),
        ..Handlers::default()
    }));
    let run = h.find_with(
        &uids::MODALITY_WORKLIST_FIND,
        &worklist_query(),
        FindOptions {
            cancel_after: Some(1),
            keep_identifiers: false,
        },
    );
    assert_eq!(run.status(), Status::CANCEL);
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            h.context(&uids::MODALITY_WORKLIST_FIND),
            run.message_id,
            CommandField::CFindRq,
            uids::MODALITY_WORKLIST_FIND.as_str(),
            Status::CANCEL,
            None,
            None
        )
    );
}

#[test]
fn get_outcome_carries_the_final_counts() {
    let mut h = get_harness(6, |s| s);
    let context = h.context(&uids::HANGING_PROTOCOL_GET);
    let get = uids::HANGING_PROTOCOL_GET;
    let run = h.get(
        &retrieve_query(&uid_list(&[1, 2, 3])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(run.status(), Status::SUCCESS);
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            context,
            run.message_id,
            CommandField::CGetRq,
            get.as_str(),
            Status::SUCCESS,
            final_counts(3, 0, 0),
            None
        ),
        "one outcome, none for the pendings or the C-STORE sub-operations"
    );

    // Refused before the handler: no counts were sent, and the outcome says so.
    let run = h.get(
        &set(vec![text(tags::PATIENT_ID, VR::LO, "P1")]),
        Arc::new(RecordingStore::new()),
    );
    let outcome = the_outcome(&mut h);
    assert_eq!(
        fields(&outcome),
        (
            context,
            run.message_id,
            CommandField::CGetRq,
            get.as_str(),
            Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
            Some(SubOperations::default()),
            Some(run.comment().as_str())
        )
    );

    let run = h.get_with(
        &retrieve_query(&uid_list(&[1, 2, 3, 4, 5, 6])),
        Arc::new(RecordingStore::new()),
        Some(2),
    );
    assert_eq!(run.status(), Status::CANCEL);
    let outcome = the_outcome(&mut h);
    assert_eq!(outcome.status, Status::CANCEL);
    assert_eq!(
        outcome.sub_operations,
        Some(run.final_response().sub_operations)
    );
    assert_eq!(
        outcome.sub_operations.and_then(|c| c.remaining),
        Some(4),
        "a cancel's Remaining"
    );
}

#[test]
fn get_handler_panic_mid_iterator_outcome_is_c411_with_the_counts() {
    let first = hp_instances(1)[0].instance.clone();
    let mut h = Harness::new(Setup::new(retrieve_handlers(move |_| {
        let first = std::iter::once(RetrieveItem::Instance(first.clone()));
        Ok(RetrieveSet {
            count: Some(3),
            items: Box::new(first.chain(std::iter::from_fn(|| panic!("items exploded")))),
        })
    })));
    let run = h.get(
        &retrieve_query(&uid_list(&[1])),
        Arc::new(RecordingStore::new()),
    );
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            h.context(&uids::HANGING_PROTOCOL_GET),
            run.message_id,
            CommandField::CGetRq,
            uids::HANGING_PROTOCOL_GET.as_str(),
            Status::GET_HANDLER_FAILED,
            final_counts(1, 2, 0),
            Some("handler panicked: items exploded")
        )
    );
}

#[test]
fn move_outcome_carries_the_final_counts() {
    let mut h = move_harness(2);
    let context = h.context(&uids::HANGING_PROTOCOL_MOVE);
    let mv = uids::HANGING_PROTOCOL_MOVE;
    let run = h.move_to(&retrieve_query(&uid_list(&[1, 2])), "STORE1");
    assert_eq!(run.status(), Status::SUCCESS, "{}", run.comment());
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            context,
            run.message_id,
            CommandField::CMoveRq,
            mv.as_str(),
            Status::SUCCESS,
            final_counts(2, 0, 0),
            None
        ),
        "the destination's C-STOREs are not the main SCP's operations"
    );

    let run = h.move_to(&retrieve_query(&uid_list(&[1])), "NOWHERE");
    assert_eq!(
        fields(&the_outcome(&mut h)),
        (
            context,
            run.message_id,
            CommandField::CMoveRq,
            mv.as_str(),
            Status::MOVE_DESTINATION_UNKNOWN,
            Some(SubOperations::default()),
            Some("unknown destination NOWHERE")
        )
    );

    let run = h.move_to(&retrieve_query(&uid_list(&[1, 2])), "GHOST");
    assert_eq!(run.status(), Status::OUT_OF_RESOURCES_SUB_OPERATIONS);
    let outcome = the_outcome(&mut h);
    assert_eq!(
        fields(&outcome),
        (
            context,
            run.message_id,
            CommandField::CMoveRq,
            mv.as_str(),
            Status::OUT_OF_RESOURCES_SUB_OPERATIONS,
            final_counts(0, 2, 0),
            Some(run.comment().as_str())
        )
    );
    assert!(run.comment().contains("unreachable"), "{}", run.comment());
}

/// Pushes one Hanging Protocol instance with a C-STORE-RQ; returns its message ID and the
/// response's status.
fn push_id(h: &mut Harness, uid: &str) -> (MessageId, Status) {
    let context = h.context(&uids::HANGING_PROTOCOL_STORAGE);
    let rq = Message::CStoreRq(CStoreRq {
        message_id: 0,
        affected_sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.to_string(),
        affected_sop_instance_uid: uid.into(),
        priority: Priority::Medium,
        move_originator_ae_title: None,
        move_originator_message_id: None,
    });
    let data = hp_instance(uid, "PUSHED").instance.data;
    let id = h
        .requestor
        .send_request(h.now, context, rq, Some(data))
        .unwrap();
    let Some(Event::Message(m)) = h.next_event() else {
        panic!("no response")
    };
    assert_eq!(m.message.responded_to(), Some(id));
    (id, m.message.status().unwrap())
}

#[test]
fn store_outcome_whole_and_streamed() {
    let storage = uids::HANGING_PROTOCOL_STORAGE;
    for streamed in [false, true] {
        let harness = |store: Option<Arc<dyn StoreHandler>>| {
            let mut setup = Setup::new(Handlers {
                store,
                ..Handlers::default()
            })
            .with_services(&[ScuService::Verification])
            .with_context(uids::HANGING_PROTOCOL_STORAGE);
            setup.config.dimse.stream_store_data = streamed;
            Harness::new(setup)
        };
        let mut h = harness(Some(Arc::new(
            RecordingStore::new().answering("7.7.8", 0xB007),
        )));
        let context = h.context(&uids::HANGING_PROTOCOL_STORAGE);
        for (uid, status) in [("7.7.7", Status::SUCCESS), ("7.7.8", Status(0xB007))] {
            let (id, sent) = push_id(&mut h, uid);
            assert_eq!(sent, status, "streamed: {streamed}");
            assert_eq!(
                fields(&the_outcome(&mut h)),
                (
                    context,
                    id,
                    CommandField::CStoreRq,
                    storage.as_str(),
                    status,
                    None,
                    None
                ),
                "streamed: {streamed}"
            );
        }
        let mut h = harness(Some(Arc::new(FailingStore { panics: true })));
        let (id, sent) = push_id(&mut h, "7.7.7");
        assert_eq!(sent, Status::STORE_HANDLER_FAILED, "streamed: {streamed}");
        let outcome = the_outcome(&mut h);
        assert_eq!(
            (outcome.message_id, outcome.status),
            (id, Status::STORE_HANDLER_FAILED)
        );
        let mut h = harness(None);
        let (id, _) = push_id(&mut h, "7.7.7");
        let outcome = the_outcome(&mut h);
        assert_eq!(
            (outcome.message_id, outcome.status),
            (id, Status::SOP_CLASS_NOT_SUPPORTED)
        );
    }
}

#[test]
fn duplicate_invocation_gives_no_outcome() {
    // The association answers a request that reuses a message ID under way (0x0210); the
    // SCP never sees it, and reports only the request it answered itself.
    let mut h = Harness::new(
        Setup::new(Handlers::default())
            .with_requestor_window(2, 1)
            .with_window(2, 1),
    );
    let context = h.context(&uids::VERIFICATION);
    let rq = Message::CEchoRq(CEchoRq {
        message_id: 0,
        affected_sop_class_uid: uids::VERIFICATION.to_string(),
    });
    let id = h
        .requestor
        .send_request(h.now, context, rq.clone(), None)
        .unwrap();
    let mut again = rq;
    if let Message::CEchoRq(r) = &mut again {
        r.message_id = id;
    }
    Harness::send_raw(&mut h.requestor, h.now, context, &again, None);
    let mut statuses = Vec::new();
    while let Some(event) = h.next_event() {
        if let Event::Message(m) = event {
            statuses.extend(m.message.status());
        }
    }
    // The association's answer goes out first and completes the request on our side;
    // the SCP's 0x0000 then responds to nothing outstanding and is dropped.
    assert_eq!(statuses, [Status::DUPLICATE_INVOCATION]);
    assert_eq!(h.acceptor_received.len(), 1, "{:?}", h.acceptor_received);
    let outcome = the_outcome(&mut h);
    assert_eq!((outcome.message_id, outcome.status), (id, Status::SUCCESS));
}

#[test]
fn outcomes_nobody_takes_keep_the_newest_64() {
    let mut h = Harness::new(Setup::new(Handlers::default()));
    let context = h.context(&uids::VERIFICATION);
    let ids: Vec<MessageId> = (0..70).map(|_| echo_on(&mut h, context).0).collect();
    let kept: Vec<MessageId> = h.outcomes().iter().map(|o| o.message_id).collect();
    assert_eq!(kept, ids[6..]);
}
