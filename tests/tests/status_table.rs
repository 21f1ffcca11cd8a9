//! `dicomwire::dimse::Status` against `fixtures/spec/statuses.tsv` and the status class
//! rules of PS3.7 Annex C.
//!
//! Our `STATUS_TABLE` must be the TSV row for row. Categories are checked for all 65536
//! codes against the class rules written out below from the standard's text, and every
//! TSV row's category against those rules too, so a wrong row in the TSV shows up here.
//! For each service, the codes it names are exactly those of its rows and of the
//! implementation-specific rows that apply to it.

use dicomwire::dimse::{STATUS_TABLE, Service, Status, StatusCategory, StatusScope};
use dicomwire_tests::spec::{Row, parse_code, table};

fn tsv() -> Vec<Row> {
    table("statuses.tsv")
}

fn code(row: &Row, column: &str) -> u16 {
    let text = &row[column];
    let value = parse_code(text).unwrap_or_else(|| panic!("bad {column} {text:?} in {row:?}"));
    u16::try_from(value).unwrap_or_else(|_| panic!("{column} {text} is not a u16"))
}

fn range(row: &Row) -> (u16, u16) {
    (code(row, "code_min"), code(row, "code_max"))
}

fn category(text: &str) -> StatusCategory {
    match text {
        "Success" => StatusCategory::Success,
        "Pending" => StatusCategory::Pending,
        "Cancel" => StatusCategory::Cancel,
        "Warning" => StatusCategory::Warning,
        "Failure" => StatusCategory::Failure,
        other => panic!("unknown category {other:?}"),
    }
}

/// The status class convention of PS3.7 Annex C, as its table states it; `None` for the
/// codes it does not list.
fn standard_class(code: u16) -> Option<StatusCategory> {
    match code {
        0x0000 => Some(StatusCategory::Success),
        0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => Some(StatusCategory::Warning),
        0x0100..=0x02FF | 0xA000..=0xAFFF | 0xC000..=0xCFFF => Some(StatusCategory::Failure),
        0xFE00 => Some(StatusCategory::Cancel),
        0xFF00 | 0xFF01 => Some(StatusCategory::Pending),
        _ => None,
    }
}

/// Whether the TSV scope `scope` names codes for `service`, decided from the labels alone.
fn tsv_scope_applies(scope: &str, service: Service) -> bool {
    let label = service.label();
    let operation = label.split(':').next().unwrap();
    scope == label
        || scope == "pynetdicom:any"
        || scope.strip_prefix("pynetdicom:") == Some(operation)
}

/// The first, last and a middle code of a range.
fn probes(min: u16, max: u16) -> [u16; 3] {
    [min, min + (max - min) / 2, max]
}

#[test]
fn our_table_is_the_tsv_row_for_row() {
    let rows = tsv();
    assert_eq!(rows.len(), 113, "statuses.tsv changed size");
    for (i, row) in rows.iter().enumerate() {
        let ours = STATUS_TABLE
            .get(i)
            .unwrap_or_else(|| panic!("row {i} {row:?} missing from STATUS_TABLE"));
        let (min, max) = range(row);
        assert_eq!(ours.scope.label(), row["scope"], "scope of row {i}");
        assert_eq!(
            (ours.code_min, ours.code_max),
            (min, max),
            "range of row {i}"
        );
        assert_eq!(
            ours.category,
            category(&row["category"]),
            "category of row {i}"
        );
        assert_eq!(ours.meaning, row["meaning"], "meaning of row {i}");
    }
    assert_eq!(
        STATUS_TABLE.len(),
        rows.len(),
        "STATUS_TABLE has rows the TSV lacks: {:?}",
        &STATUS_TABLE[rows.len().min(STATUS_TABLE.len())..]
    );
}

#[test]
fn every_code_has_the_class_of_ps3_7_annex_c() {
    for code in 0..=u16::MAX {
        let status = Status(code);
        let expected = standard_class(code).unwrap_or(StatusCategory::Failure);
        let got = status.category();
        assert_eq!(got, expected, "{status:?}");
        assert_eq!(
            status.is_success(),
            got == StatusCategory::Success,
            "{status:?}"
        );
        assert_eq!(
            status.is_pending(),
            got == StatusCategory::Pending,
            "{status:?}"
        );
        assert_eq!(
            status.is_cancel(),
            got == StatusCategory::Cancel,
            "{status:?}"
        );
        assert_eq!(
            status.is_warning(),
            got == StatusCategory::Warning,
            "{status:?}"
        );
        assert_eq!(
            status.is_failure(),
            got == StatusCategory::Failure,
            "{status:?}"
        );
        assert_eq!(status.is_final(), !status.is_pending(), "{status:?}");
    }
}

#[test]
fn codes_outside_every_class_are_final_failures() {
    for code in [
        0x0002, 0x00FF, 0x0300, 0x9FFF, 0xD000, 0xFDFF, 0xFE01, 0xFF02, 0xFFFF,
    ] {
        assert_eq!(standard_class(code), None, "{code:#06X} is in a class");
        let status = Status(code);
        assert_eq!(status.category(), StatusCategory::Failure, "{status:?}");
        assert!(status.is_final(), "{status:?}");
        for service in Service::ALL {
            assert!(!status.is_valid_for(service), "{status:?} {service}");
        }
    }
}

#[test]
fn class_rule_overlaps_resolve_to_the_narrowest_row() {
    assert!(Status(0x0107).is_warning());
    assert!(Status(0x0116).is_warning());
    assert!(Status(0x0106).is_failure());
    assert!(Status(0x0108).is_failure());
    assert!(Status(0x0001).is_warning());
    assert!(Status::PENDING_WARNING.is_pending());
}

#[test]
fn every_tsv_row_agrees_with_the_class_rules() {
    let rows = tsv();
    let class_rules: Vec<(u16, u16)> = rows
        .iter()
        .filter(|r| r["scope"] == "*")
        .map(range)
        .collect();
    for row in &rows {
        let (min, max) = range(row);
        let declared = category(&row["category"]);
        for code in min..=max {
            // Class rules overlap: 01xx speaks for 0x0107 only if no narrower rule does.
            let overridden = row["scope"] == "*"
                && class_rules
                    .iter()
                    .any(|&(lo, hi)| hi - lo < max - min && (lo..=hi).contains(&code));
            if overridden {
                continue;
            }
            assert_eq!(
                standard_class(code),
                Some(declared),
                "{code:#06X} in {} {} is {declared:?} in statuses.tsv",
                row["scope"],
                row["code"],
            );
        }
    }
}

#[test]
fn every_code_a_service_lists_is_valid_and_named_for_it() {
    let rows = tsv();
    for service in Service::ALL {
        let mut checked = 0;
        for row in rows
            .iter()
            .filter(|r| tsv_scope_applies(&r["scope"], service))
        {
            let (min, max) = range(row);
            for code in probes(min, max) {
                let status = Status(code);
                assert!(status.is_valid_for(service), "{status:?} for {service}");
                assert_eq!(
                    status.name(service),
                    Some(row["meaning"].as_str()),
                    "{status:?} for {service} ({} row {})",
                    row["scope"],
                    row["code"],
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "no rows for {service}");
    }
}

#[test]
fn a_service_names_exactly_the_codes_of_its_rows() {
    let rows = tsv();
    for service in Service::ALL {
        let ranges: Vec<(u16, u16)> = rows
            .iter()
            .filter(|r| tsv_scope_applies(&r["scope"], service))
            .map(range)
            .collect();
        for code in 0..=u16::MAX {
            let listed = ranges.iter().any(|&(min, max)| (min..=max).contains(&code));
            let status = Status(code);
            assert_eq!(status.is_valid_for(service), listed, "{status:?} {service}");
            assert_eq!(
                status.name(service).is_some(),
                listed,
                "{status:?} {service}"
            );
        }
    }
}

#[test]
fn codes_a_service_does_not_list_are_not_valid_for_it() {
    for (status, service) in [
        (Status(0x0001), Service::Echo),
        (Status(0x0119), Service::Echo),
        (Status(0xA801), Service::FindWorklist),
        (Status(0xA801), Service::GetHangingProtocol),
        (Status(0xFF00), Service::Store),
        (Status(0xFE00), Service::Store),
        (Status(0xFF01), Service::MoveHangingProtocol),
        (Status(0xC000), Service::Echo),
        (Status(0xC311), Service::Echo),
        (Status(0xA700), Service::MoveHangingProtocol),
    ] {
        assert!(!status.is_valid_for(service), "{status:?} {service}");
        assert_eq!(status.name(service), None, "{status:?} {service}");
    }
    assert_eq!(
        Status(0x0119).general_name(),
        Some("Class-instance conflict")
    );
}

#[test]
fn implementation_codes_win_over_the_cxxx_range_for_their_service() {
    let impl_rows: Vec<Row> = tsv()
        .into_iter()
        .filter(|r| r["scope"].starts_with("pynetdicom:"))
        .collect();
    assert_eq!(impl_rows.len(), 17);
    for row in &impl_rows {
        let status = Status(code(row, "code"));
        for service in Service::ALL {
            let name = status.name(service);
            if tsv_scope_applies(&row["scope"], service) {
                assert_eq!(name, Some(row["meaning"].as_str()), "{status:?} {service}");
            } else {
                // Another service's implementation code is just part of its Cxxx range.
                let range_row = STATUS_TABLE
                    .iter()
                    .find(|r| r.scope == StatusScope::Service(service) && r.code_min == 0xC000);
                assert_eq!(name, range_row.map(|r| r.meaning), "{status:?} {service}");
            }
        }
    }
    assert_eq!(
        Status::FIND_HANDLER_FAILED.name(Service::FindHangingProtocol),
        Some("Unhandled exception raised by the C-FIND handler")
    );
    assert_eq!(
        Status::FIND_HANDLER_FAILED.name(Service::Store),
        Some("Error: cannot understand")
    );
    assert_eq!(
        Status(0xC312).name(Service::MoveHangingProtocol),
        Some("Failed: unable to process")
    );
    assert_eq!(
        Status::HANDLER_INVALID_STATUS.name(Service::Echo),
        STATUS_TABLE
            .iter()
            .find(|r| r.scope == StatusScope::ImplementationAny && r.code_min == 0xC002)
            .map(|r| r.meaning)
    );
}

#[test]
fn every_constant_is_the_code_its_name_says() {
    let constants = [
        (Status::SUCCESS, 0x0000),
        (Status::PENDING, 0xFF00),
        (Status::PENDING_WARNING, 0xFF01),
        (Status::CANCEL, 0xFE00),
        (Status::INVALID_SOP_INSTANCE, 0x0117),
        (Status::SOP_CLASS_NOT_SUPPORTED, 0x0122),
        (Status::NOT_AUTHORIZED, 0x0124),
        (Status::DUPLICATE_INVOCATION, 0x0210),
        (Status::UNRECOGNIZED_OPERATION, 0x0211),
        (Status::MISTYPED_ARGUMENT, 0x0212),
        (Status::OUT_OF_RESOURCES, 0xA700),
        (Status::OUT_OF_RESOURCES_MATCHES, 0xA701),
        (Status::OUT_OF_RESOURCES_SUB_OPERATIONS, 0xA702),
        (Status::MOVE_DESTINATION_UNKNOWN, 0xA801),
        (Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, 0xA900),
        (Status::UNABLE_TO_PROCESS, 0xC000),
        (Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES, 0xB000),
        (Status::STORE_COERCION_OF_DATA_ELEMENTS, 0xB000),
        (Status::STORE_ELEMENTS_DISCARDED, 0xB006),
        (
            Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING,
            0xB007,
        ),
        (Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS, 0xA900),
        (Status::STORE_CANNOT_UNDERSTAND, 0xC000),
        (Status::HANDLER_STATUS_WITHOUT_STATUS_ELEMENT, 0xC001),
        (Status::HANDLER_INVALID_STATUS, 0xC002),
        (Status::STORE_DATA_SET_DECODE_FAILED, 0xC210),
        (Status::STORE_HANDLER_FAILED, 0xC211),
        (Status::FIND_IDENTIFIER_DECODE_FAILED, 0xC310),
        (Status::FIND_HANDLER_FAILED, 0xC311),
        (Status::FIND_IDENTIFIER_ENCODE_FAILED, 0xC312),
        (Status::GET_IDENTIFIER_DECODE_FAILED, 0xC410),
        (Status::GET_HANDLER_FAILED, 0xC411),
        (Status::GET_INVALID_SUB_OPERATION_COUNT, 0xC413),
        (Status::GET_TOO_MANY_MATCHES, 0xC416),
        (Status::MOVE_IDENTIFIER_DECODE_FAILED, 0xC510),
        (Status::MOVE_HANDLER_FAILED, 0xC511),
        (Status::MOVE_INVALID_SUB_OPERATION_COUNT, 0xC513),
        (Status::MOVE_NO_DESTINATION_OR_COUNT, 0xC514),
        (Status::MOVE_INVALID_DESTINATION_ADDRESS, 0xC515),
        (Status::MOVE_TOO_MANY_MATCHES, 0xC516),
    ];
    for (constant, expected) in constants {
        assert_eq!(constant.code(), expected, "{constant:?}");
        assert_eq!(u16::from(constant), expected);
        assert_eq!(Status::from(expected), constant);
    }
}

#[test]
fn constants_mean_what_their_names_say_for_their_service() {
    use Service::*;
    let checks = [
        (Status::SUCCESS, Echo, "Success"),
        (
            Status::PENDING,
            FindWorklist,
            "Matches continuing; current match supplied; optional keys supported like required keys",
        ),
        (
            Status::PENDING,
            GetHangingProtocol,
            "Sub-operations are continuing",
        ),
        (
            Status::PENDING_WARNING,
            FindHangingProtocol,
            "Matches continuing; warning: one or more optional keys not supported for existence for this identifier",
        ),
        (
            Status::CANCEL,
            FindWorklist,
            "Matching terminated due to cancel request",
        ),
        (
            Status::CANCEL,
            MoveHangingProtocol,
            "Sub-operations terminated due to cancel indication",
        ),
        (Status::INVALID_SOP_INSTANCE, Store, "Invalid SOP Instance"),
        (
            Status::SOP_CLASS_NOT_SUPPORTED,
            Echo,
            "Refused: SOP Class not supported",
        ),
        (Status::NOT_AUTHORIZED, Store, "Refused: not authorized"),
        (Status::DUPLICATE_INVOCATION, Echo, "Duplicate invocation"),
        (
            Status::UNRECOGNIZED_OPERATION,
            GetHangingProtocol,
            "Unrecognized operation",
        ),
        (
            Status::MISTYPED_ARGUMENT,
            MoveHangingProtocol,
            "Mistyped argument",
        ),
        (
            Status::OUT_OF_RESOURCES,
            FindWorklist,
            "Refused: out of resources",
        ),
        (Status::OUT_OF_RESOURCES, Store, "Refused: out of resources"),
        (
            Status::OUT_OF_RESOURCES_MATCHES,
            MoveHangingProtocol,
            "Refused: out of resources - unable to calculate number of matches",
        ),
        (
            Status::OUT_OF_RESOURCES_SUB_OPERATIONS,
            GetHangingProtocol,
            "Refused: out of resources - unable to perform sub-operations",
        ),
        (
            Status::MOVE_DESTINATION_UNKNOWN,
            MoveHangingProtocol,
            "Refused: move destination unknown",
        ),
        (
            Status::IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
            FindHangingProtocol,
            "Error: identifier does not match SOP Class",
        ),
        (
            Status::UNABLE_TO_PROCESS,
            FindWorklist,
            "Failed: unable to process",
        ),
        (
            Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES,
            MoveHangingProtocol,
            "Sub-operations complete - one or more failures",
        ),
        (
            Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES,
            GetHangingProtocol,
            "Sub-operations complete - one or more failures or warnings",
        ),
        (
            Status::STORE_COERCION_OF_DATA_ELEMENTS,
            Store,
            "Coercion of data elements",
        ),
        (
            Status::STORE_ELEMENTS_DISCARDED,
            Store,
            "Elements discarded",
        ),
        (
            Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING,
            Store,
            "Data set does not match SOP Class",
        ),
        (
            Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
            Store,
            "Error: data set does not match SOP Class",
        ),
        (
            Status::STORE_CANNOT_UNDERSTAND,
            Store,
            "Error: cannot understand",
        ),
        (
            Status::MOVE_INVALID_DESTINATION_ADDRESS,
            MoveHangingProtocol,
            "C-MOVE handler yielded an invalid (address, port) destination",
        ),
        (
            Status::GET_INVALID_SUB_OPERATION_COUNT,
            GetHangingProtocol,
            "C-GET handler yielded an invalid number of sub-operations",
        ),
    ];
    for (status, service, meaning) in checks {
        assert_eq!(status.name(service), Some(meaning), "{status:?} {service}");
    }
    assert!(Status::SUB_OPERATIONS_COMPLETE_WITH_FAILURES.is_warning());
    assert!(Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING.is_warning());
    assert!(Status::STORE_DATA_SET_DOES_NOT_MATCH_SOP_CLASS.is_failure());
}

#[test]
fn debug_display_and_describe() {
    assert_eq!(format!("{:?}", Status::PENDING), "Status(0xFF00)");
    assert_eq!(format!("{:?}", Status(0x0001)), "Status(0x0001)");
    assert_eq!(Status::PENDING.to_string(), "0xFF00");
    assert_eq!(Status(0xA7F3).to_string(), "0xA7F3");
    assert_eq!(
        Status::MOVE_DESTINATION_UNKNOWN
            .describe(Service::MoveHangingProtocol)
            .to_string(),
        "0xA801 (Failure) Refused: move destination unknown"
    );
    assert_eq!(
        Status(0xA7F3).describe(Service::Store).to_string(),
        "0xA7F3 (Failure) Refused: out of resources"
    );
    assert_eq!(
        Status(0xD000)
            .describe(Service::MoveHangingProtocol)
            .to_string(),
        "0xD000 (Failure, not a C-MOVE:HP status)"
    );
    assert_eq!(
        Status::PENDING.describe(Service::Store).to_string(),
        "0xFF00 (Pending, not a C-STORE status)"
    );
}
