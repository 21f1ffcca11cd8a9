//! Our PDU constants against the standard's tables in `fixtures/spec/pdu-types.tsv` (a copy
//! of `../shared/spec/`): PDU and item type codes, the A-ASSOCIATE-RJ and A-ABORT code
//! tables, presentation context results, user identity types, the message control header
//! bits and the protocol version. Also checks that our copies of the tables have not
//! drifted from the shared ones.

use std::collections::BTreeSet;
use std::path::Path;

use dicomwire::pdu::{
    Abort, AbortReason, AbortSource, ItemType, MessageControlHeader, PROTOCOL_VERSION, PduType,
    PresentationContextResult, RejectResult, RejectSource, UserIdentity,
};
use dicomwire_tests::capture::fixtures_dir;
use dicomwire_tests::spec::{Row, parse_code, table};

fn rows(category: &str) -> Vec<Row> {
    let rows: Vec<Row> = table("pdu-types.tsv")
        .into_iter()
        .filter(|r| r["category"] == category)
        .collect();
    assert!(!rows.is_empty(), "no `{category}` rows in pdu-types.tsv");
    rows
}

fn code_of(row: &Row) -> u8 {
    parse_code(&row["code"])
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or_else(|| panic!("not a one-byte code: {row:?}"))
}

/// The codes of a row: `4-6` is 4, 5 and 6; `7` is just 7.
fn codes_of(row: &Row) -> Vec<u8> {
    let code = &row["code"];
    match code.split_once('-') {
        Some((low, high)) => {
            let bound = |s: &str| {
                parse_code(s)
                    .and_then(|c| u8::try_from(c).ok())
                    .unwrap_or_else(|| panic!("not a code range: {row:?}"))
            };
            (bound(low)..=bound(high)).collect()
        }
        None => vec![code_of(row)],
    }
}

/// How names are compared. The standard's term is the text before the first ` (`; what
/// follows in parentheses is context one side may add and the other leave out or word
/// differently (the TSV's `DICOM UL service-user (initiated abort)` is our
/// `DICOM UL service-user`). The term itself must match exactly, case included.
fn same_term(ours: &str, theirs: &str) -> bool {
    fn term(name: &str) -> &str {
        name.split(" (").next().unwrap_or(name).trim()
    }
    term(ours) == term(theirs)
}

#[track_caller]
fn assert_same_term(ours: &str, row: &Row) {
    assert!(
        same_term(ours, &row["name"]),
        "ours {ours:?}, the table's {:?} ({} {})",
        row["name"],
        row["category"],
        row["code"]
    );
}

#[test]
fn pdu_types_match_the_table() {
    let mut codes = BTreeSet::new();
    for row in rows("pdu_type") {
        let code = code_of(&row);
        let pdu_type =
            PduType::from_code(code).unwrap_or_else(|| panic!("no PduType for {code:#04x}"));
        assert_eq!(pdu_type.code(), code);
        // The PDU names are exact.
        assert_eq!(pdu_type.name(), row["name"]);
        // The fixed-length PDUs say so in their layout.
        let fixed = row["layout"].contains("(fixed 0x00000004)");
        assert_eq!(pdu_type.fixed_length().is_some(), fixed, "{}", row["name"]);
        codes.insert(code);
    }
    let ours: BTreeSet<u8> = PduType::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(ours, codes);
    assert_eq!(
        PduType::ALL.len(),
        codes.len(),
        "PduType::ALL has duplicates"
    );
    for code in 0..=u8::MAX {
        assert_eq!(PduType::from_code(code).is_some(), codes.contains(&code));
    }
}

#[test]
fn item_types_match_the_table() {
    let mut codes = BTreeSet::new();
    for row in rows("item_type") {
        // The PDV item has no type byte: its code is `(none)`.
        let Some(code) = parse_code(&row["code"]) else {
            assert_eq!(row["code"], "(none)", "{row:?}");
            continue;
        };
        let code = u8::try_from(code).expect("a one-byte item type");
        let item = ItemType::from_code(code)
            .unwrap_or_else(|| panic!("no ItemType for {code:#04x} {}", row["name"]));
        assert_eq!(item.code(), code);
        codes.insert(code);
    }
    assert_eq!(codes.len(), 15);
    let ours: BTreeSet<u8> = ItemType::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(ours, codes);
    assert_eq!(
        ItemType::ALL.len(),
        codes.len(),
        "ItemType::ALL has duplicates"
    );
    for code in 0..=u8::MAX {
        assert_eq!(ItemType::from_code(code).is_some(), codes.contains(&code));
    }
}

#[test]
fn associate_rj_results_match_the_table() {
    let mut codes = BTreeSet::new();
    for row in rows("assoc_rj_result") {
        let code = code_of(&row);
        let result =
            RejectResult::from_code(code).unwrap_or_else(|| panic!("no RejectResult for {code}"));
        assert_eq!(result.code(), code);
        assert_same_term(result.name(), &row);
        codes.insert(code);
    }
    for code in 0..=u8::MAX {
        assert_eq!(
            RejectResult::from_code(code).is_some(),
            codes.contains(&code)
        );
    }
}

#[test]
fn associate_rj_sources_match_the_table() {
    let mut codes = BTreeSet::new();
    for row in rows("assoc_rj_source") {
        let code = code_of(&row);
        // Reason 1 exists for every source.
        let source = RejectSource::from_codes(code, 1)
            .unwrap_or_else(|| panic!("no RejectSource for {code}"));
        assert_eq!(source.codes(), (code, 1));
        assert_same_term(source.source_name(), &row);
        codes.insert(code);
    }
    for code in 0..=u8::MAX {
        assert_eq!(
            RejectSource::from_codes(code, 1).is_some(),
            codes.contains(&code)
        );
    }
}

#[test]
fn associate_rj_reasons_match_the_table() {
    for source in 1..=3u8 {
        let category = format!("assoc_rj_reason_source{source}");
        let mut listed = BTreeSet::new();
        for row in rows(&category) {
            for code in codes_of(&row) {
                let rj = RejectSource::from_codes(source, code).expect("a defined source");
                // Reserved values are kept as received: the codes come back unchanged.
                assert_eq!(rj.codes(), (source, code), "{category} {code}");
                assert_same_term(rj.reason_name(), &row);
                listed.insert(code);
            }
        }
        // Codes the table does not list at all are reserved too, never a defined reason.
        for code in (0..=u8::MAX).filter(|c| !listed.contains(c)) {
            let rj = RejectSource::from_codes(source, code).expect("a defined source");
            assert_eq!(rj.reason_name(), "reserved", "{category} {code}");
            assert_eq!(rj.codes(), (source, code));
        }
    }
}

#[test]
fn abort_sources_match_the_table() {
    for row in rows("abort_source") {
        let code = code_of(&row);
        let abort = Abort::from_codes(code, 0);
        let expected = match code {
            0 => AbortSource::ServiceUser,
            2 => AbortSource::ServiceProvider(AbortReason::NotSpecified),
            other => AbortSource::Reserved(other),
        };
        assert_eq!(abort.source, expected);
        assert_eq!(abort.codes(), (code, 0));
        // Our names for the sources live in the Display text: "A-ABORT by <source>…".
        let shown = abort.to_string();
        if row["name"] == "reserved" {
            assert!(shown.contains("reserved source"), "{shown}");
        } else {
            let term = row["name"].split(" (").next().unwrap_or_default();
            assert!(
                shown.starts_with(&format!("A-ABORT by {term}")),
                "{shown} for {}",
                row["name"]
            );
        }
    }
    assert_eq!(
        Abort::from_codes(3, 0).source,
        AbortSource::Reserved(3),
        "a source the table does not define"
    );
}

#[test]
fn abort_reasons_match_the_table() {
    let mut codes = BTreeSet::new();
    for row in rows("abort_reason") {
        let code = code_of(&row);
        let reason = AbortReason::from_code(code);
        assert_eq!(reason.code(), code);
        assert_same_term(reason.name(), &row);
        assert_eq!(
            reason == AbortReason::Reserved(code),
            row["name"] == "reserved"
        );
        // The reason counts for a provider abort (source 2)…
        let provider = Abort::from_codes(2, code);
        assert_eq!(provider.source, AbortSource::ServiceProvider(reason));
        assert_eq!(provider.codes(), (2, code));
        // …and is not significant for a user abort (source 0): sent as 0, not tested.
        let user = Abort::from_codes(0, code);
        assert_eq!(user.source, AbortSource::ServiceUser);
        assert_eq!(user.codes(), (0, 0));
        codes.insert(code);
    }
    for code in (0..=u8::MAX).filter(|c| !codes.contains(c)) {
        assert_eq!(AbortReason::from_code(code), AbortReason::Reserved(code));
    }
}

#[test]
fn presentation_context_results_match_the_table() {
    let mut codes = BTreeSet::new();
    for row in rows("pc_result") {
        let code = code_of(&row);
        let result = PresentationContextResult::from_code(code)
            .unwrap_or_else(|| panic!("no PresentationContextResult for {code}"));
        assert_eq!(result.code(), code);
        assert_same_term(result.name(), &row);
        codes.insert(code);
    }
    for code in 0..=u8::MAX {
        assert_eq!(
            PresentationContextResult::from_code(code).is_some(),
            codes.contains(&code)
        );
    }
}

#[test]
fn user_identity_types_match_the_table() {
    // One identity of each kind; `type_code` is what goes on the wire.
    let ours = [
        UserIdentity::Username(b"user".to_vec()),
        UserIdentity::UsernamePasscode {
            username: b"user".to_vec(),
            passcode: b"pass".to_vec(),
        },
        UserIdentity::KerberosServiceTicket(vec![1]),
        UserIdentity::SamlAssertion(b"<saml/>".to_vec()),
        UserIdentity::Jwt(b"a.b.c".to_vec()),
    ];
    let table: Vec<u8> = rows("user_identity_type").iter().map(code_of).collect();
    assert_eq!(table, [1, 2, 3, 4, 5]);
    let codes: Vec<u8> = ours.iter().map(UserIdentity::type_code).collect();
    assert_eq!(codes, table);
    // Only type 2 carries a secondary field (the passcode).
    for identity in &ours {
        assert_eq!(
            identity.secondary_field().is_empty(),
            identity.type_code() != 2
        );
    }
}

#[test]
fn message_control_header_bits_match_the_table() {
    let rows = rows("message_control_header");
    let bit = |name: &str| {
        rows.iter()
            .find(|r| r["code"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    assert!(bit("bit0")["name"].starts_with("1 = fragment is command"));
    assert_eq!(MessageControlHeader::COMMAND.bits(), 1 << 0);
    assert!(bit("bit1")["name"].starts_with("1 = last fragment"));
    assert_eq!(MessageControlHeader::LAST.bits(), 1 << 1);
    // Bits 2–7 are never checked on receipt: they do not survive decoding.
    assert!(bit("bits2-7")["name"].contains("never checked"));
    assert_eq!(
        MessageControlHeader::from_bits_truncate(0b1111_1100),
        MessageControlHeader::empty()
    );
    assert_eq!(MessageControlHeader::all().bits(), 0b11);
}

#[test]
fn protocol_version_matches_the_table() {
    let rows = rows("protocol_version");
    assert_eq!(rows.len(), 1);
    assert_eq!(parse_code(&rows[0]["code"]), Some(1));
    assert_eq!(u32::from(PROTOCOL_VERSION), 1);
}

/// Our copies in `fixtures/spec/` are the shared tables, byte for byte, so they cannot
/// drift apart. Outside the development tree (`../../shared/spec` absent) there is
/// nothing to compare with, and the test passes.
#[test]
fn fixture_tables_are_copies_of_the_shared_ones() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec");
    if !shared.is_dir() {
        println!(
            "note: {} is absent; the fixture tables were not compared",
            shared.display()
        );
        return;
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(fixtures_dir().join("spec")).expect("fixtures/spec exists") {
        let ours = entry.expect("a readable entry").path();
        let theirs = shared.join(ours.file_name().expect("a file name"));
        if !theirs.exists() {
            continue;
        }
        let same =
            std::fs::read(&ours).expect("readable") == std::fs::read(&theirs).expect("readable");
        assert!(same, "{} differs from {}", ours.display(), theirs.display());
        compared += 1;
    }
    assert!(compared > 0, "no fixture table has a shared counterpart");
}
