//! The embedded sample data `dicomwire serve` answers with when it is given no data
//! directories, so that the first query a newcomer sends gets real answers.
//!
//! Everything here is **fictitious**: invented patients, physicians, accession numbers and
//! orders of an imaginary radiology department, built in code at start-up. It is
//! deterministic for a given day; only the schedule moves with "today".
//!
//! - [`worklist`]: 36 Modality Worklist items (one Scheduled Procedure Step each) for 34
//!   patients over CT, MR, US, CR, DX, MG, NM, PT and XA, on stations CT01, CT02, MR01,
//!   MR02, US01, US02, CR01, DX01, MG01, NM01, PT01 and XA01, scheduled from three days
//!   before to seven days after today (about a third of them today), 07:30 to 23:00.
//!   Names come from many cultures; items with non-ASCII text (`Müller^Jürgen`,
//!   `Øster^Åse`, `Nakamura^Haruki=中村^春樹=なかむら^はるき`) carry Specific Character Set
//!   `ISO_IR 192`. Procedure and protocol codes use the local coding scheme `99DWSAMPLE`;
//!   UIDs are `2.25` UIDs derived from a hash of a fixed name.
//! - [`hanging_protocols`]: five Hanging Protocol Storage instances: "Chest CT prior",
//!   "Brain MR 4-up", "Mammo screen 4up", "CR chest PA/LAT" and "PET-CT
//!   fusion", encoded in Explicit VR Little Endian.

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicomwire::service::{Instance, StoredInstance, dataset, uids};

/// The local coding scheme of the sample procedure and protocol codes (a private scheme
/// designator starts with "99", PS3.16 8.2).
pub const CODING_SCHEME: &str = "99DWSAMPLE";

/// Who "created" the sample hanging protocols.
pub const CREATOR: &str = "dicomwire sample data";

// ---------------------------------------------------------------------------------------
// Building blocks

fn text(tag: Tag, vr: VR, value: &str) -> InMemElement {
    if value.is_empty() {
        DataElement::new(tag, vr, PrimitiveValue::Empty)
    } else if value.contains('\\') {
        DataElement::new(
            tag,
            vr,
            PrimitiveValue::Strs(value.split('\\').map(str::to_owned).collect()),
        )
    } else {
        DataElement::new(tag, vr, PrimitiveValue::from(value))
    }
}

fn us(tag: Tag, values: &[u16]) -> InMemElement {
    DataElement::new(
        tag,
        VR::US,
        PrimitiveValue::U16(values.iter().copied().collect()),
    )
}

fn ss(tag: Tag, values: &[i16]) -> InMemElement {
    DataElement::new(
        tag,
        VR::SS,
        PrimitiveValue::I16(values.iter().copied().collect()),
    )
}

fn fd(tag: Tag, values: &[f64]) -> InMemElement {
    DataElement::new(
        tag,
        VR::FD,
        PrimitiveValue::F64(values.iter().copied().collect()),
    )
}

fn at(tag: Tag, value: Tag) -> InMemElement {
    DataElement::new(tag, VR::AT, PrimitiveValue::from(value))
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> InMemElement {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn item(elements: impl IntoIterator<Item = InMemElement>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

/// A Basic Code Sequence Macro item (PS3.3 Table 8.8-1).
fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    item([
        text(tags::CODE_VALUE, VR::SH, value),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        text(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// A `2.25` UID (PS3.5 B.2) derived from `name`: FNV-1a over a fixed prefix and the name,
/// shaped as an RFC 9562 version 8 UUID, so the same name always gives the same UID.
pub fn uid_for(name: &str) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    let mut hash = OFFSET;
    for byte in b"dicomwire sample data\0".iter().chain(name.as_bytes()) {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash = (hash & !(0xF << 76)) | (0x8 << 76);
    hash = (hash & !(0x3 << 62)) | (0x2 << 62);
    format!("2.25.{hash}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (out-of-range months and days
/// roll over).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let (year, month) = (
        year + (month - 1).div_euclid(12),
        (month - 1).rem_euclid(12) + 1,
    );
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `today` moved by `offset` days, as a DA value.
fn date_after(today: (i32, u32, u32), offset: i64) -> String {
    let days = days_from_civil(i64::from(today.0), i64::from(today.1), i64::from(today.2));
    let (y, m, d) = civil_from_days(days + offset);
    format!("{y:04}{m:02}{d:02}")
}

/// Whether any text value in `object`, nested items included, is not ASCII.
fn has_non_ascii(object: &InMemDicomObject) -> bool {
    object.iter().any(|e| match e.value() {
        Value::Primitive(PrimitiveValue::Str(s)) => !s.is_ascii(),
        Value::Primitive(PrimitiveValue::Strs(list)) => list.iter().any(|s| !s.is_ascii()),
        Value::Sequence(s) => s.items().iter().any(has_non_ascii),
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------
// The worklist

struct Patient {
    name: &'static str,
    birth: &'static str,
    sex: &'static str,
    weight: &'static str,
    alerts: &'static str,
    allergies: &'static str,
    needs: &'static str,
}

const fn patient(
    name: &'static str,
    birth: &'static str,
    sex: &'static str,
    weight: &'static str,
) -> Patient {
    Patient {
        name,
        birth,
        sex,
        weight,
        alerts: "",
        allergies: "",
        needs: "",
    }
}

const PATIENTS: [Patient; 34] = [
    Patient {
        alerts: "Diabetes mellitus type 2 (metformin)",
        ..patient("Müller^Jürgen", "19580412", "M", "88.5")
    },
    patient("Øster^Åse", "19710923", "F", "64"),
    Patient {
        needs: "Interpreter: Japanese",
        ..patient(
            "Nakamura^Haruki=中村^春樹=なかむら^はるき",
            "19830117",
            "M",
            "71",
        )
    },
    patient("Okafor^Chinedu", "19900305", "M", "82"),
    Patient {
        allergies: "Iodinated contrast media (urticaria)",
        ..patient("García Márquez^Lucía", "19650728", "F", "59.5")
    },
    patient("Smith^John^Andrew", "19491102", "M", "77"),
    patient("Kowalski^Tomasz", "19771214", "M", "94"),
    patient("Nguyễn^Thị Lan", "19920630", "F", "58"),
    patient("Patel^Priya", "19880219", "F", "61"),
    patient("Ivanova^Olga^Sergeyevna", "19600808", "F", "70"),
    patient("O'Brien^Siobhan", "19751125", "F", "66"),
    Patient {
        alerts: "Anticoagulated (apixaban)",
        ..patient("Haddad^Omar", "19550401", "M", "85")
    },
    patient("Lindqvist^Erik", "20010916", "M", "79"),
    patient("Dubois^Amélie", "19940503", "F", "55"),
    Patient {
        needs: "Wheelchair; hard of hearing",
        ..patient("Rossi^Giuseppe", "19420727", "M", "68")
    },
    patient("Kim^Min-jun", "19860110", "M", "74"),
    patient("Santos^Ana Beatriz", "19700314", "F", "72"),
    patient("Cohen^Miriam", "19680921", "F", "63"),
    patient("Mensah^Kwame", "19790606", "M", "90"),
    patient("Yılmaz^Ayşe", "19970212", "F", "57"),
    patient("Andersen^Mette", "19630430", "F", "69"),
    patient("Wang^Wei=王^伟", "19740825", "M", "76"),
    Patient {
        needs: "Accompanied by parent",
        ..patient("Fernández^Diego", "20120318", "M", "41")
    },
    patient("Brown^Emily^Rose", "19990101", "F", "62"),
    Patient {
        alerts: "Cardiac pacemaker (MR conditional)",
        ..patient("Papadopoulos^Nikolaos", "19510609", "M", "81")
    },
    patient("Schmidt^Hannah", "19820227", "F", "67"),
    patient("Kuznetsov^Dmitri", "19670715", "M", "97"),
    patient("Mwangi^Grace^Wanjiru", "19850504", "F", "64"),
    Patient {
        allergies: "Gadolinium contrast (nausea)",
        ..patient("Johansson^Lars", "19590122", "M", "86")
    },
    patient("Singh^Harpreet", "19910811", "F", "60"),
    patient("Novák^Petra", "19730329", "F", "65"),
    patient("Al-Farsi^Layla", "19870917", "F", "58"),
    patient("Tanaka^Yuki=田中^由紀=たなか^ゆき", "19930705", "F", "56"),
    patient("Doe^Jane", "19800101", "F", "65"),
];

struct Station {
    ae_title: &'static str,
    name: &'static str,
    location: &'static str,
}

const fn station(ae_title: &'static str, name: &'static str, location: &'static str) -> Station {
    Station {
        ae_title,
        name,
        location,
    }
}

const CT_STATIONS: &[Station] = &[
    station("CT01", "CT-A", "Rad L1 CT 1"),
    station("CT02", "CT-B", "Emergency CT"),
];
const MR_STATIONS: &[Station] = &[
    station("MR01", "MR-1.5T", "Rad L1 MR 1"),
    station("MR02", "MR-3T", "Rad L1 MR 2"),
];
const US_STATIONS: &[Station] = &[
    station("US01", "US-1", "Rad L2 US 1"),
    station("US02", "US-2", "Womens Health US"),
];
const CR_STATIONS: &[Station] = &[station("CR01", "XR-3", "Rad L2 XR 3")];
const DX_STATIONS: &[Station] = &[station("DX01", "DX-4", "Rad L2 XR 4")];
const MG_STATIONS: &[Station] = &[station("MG01", "MAMMO-1", "Breast Centre")];
const NM_STATIONS: &[Station] = &[station("NM01", "GAMMA-1", "Nuclear Medicine")];
const PT_STATIONS: &[Station] = &[station("PT01", "PETCT-1", "Nuclear Medicine")];
const XA_STATIONS: &[Station] = &[station("XA01", "CATH-1", "Cath Lab 1")];

struct Procedure {
    modality: &'static str,
    stations: &'static [Station],
    code: &'static str,
    description: &'static str,
    step: &'static str,
    protocol: (&'static str, &'static str),
    contrast: &'static str,
    performers: &'static [&'static str],
}

const CT_STAFF: &[&str] = &["Schneider^Katrin^^Dr.", "Lee^David^^Dr."];
const MR_STAFF: &[&str] = &["Moreau^Julien^^Dr.", "Björk^Ingrid^^Dr."];
const US_STAFF: &[&str] = &["Adeyemi^Folake^^Dr.", ""];
const XR_STAFF: &[&str] = &["", "Bianchi^Marco^^Dr."];
const MG_STAFF: &[&str] = &["Chen^Li^^Dr."];
const NM_STAFF: &[&str] = &["Novak^Jan^^Dr.", "Hoffmann^Sabine^^Dr."];
const XA_STAFF: &[&str] = &["Rahman^Aisha^^Dr."];

#[rustfmt::skip]
const PROCEDURES: [Procedure; 21] = [
    Procedure { modality: "CT", stations: CT_STATIONS, code: "CTCHESTC", description: "CT Chest with contrast", step: "CT Chest with IV contrast", protocol: ("CTP-CHEST-C", "Chest routine, IV contrast, 1 mm"), contrast: "Iohexol 350 mgI/ml, 80 ml IV", performers: CT_STAFF },
    Procedure { modality: "CT", stations: CT_STATIONS, code: "CTABPELC", description: "CT Abdomen and Pelvis with contrast", step: "CT Abdomen/Pelvis portal venous phase", protocol: ("CTP-ABPEL-PV", "Abdomen/pelvis portal venous"), contrast: "Iohexol 350 mgI/ml, 100 ml IV; oral water 1 l", performers: CT_STAFF },
    Procedure { modality: "CT", stations: CT_STATIONS, code: "CTHEAD", description: "CT Head without contrast", step: "CT Head non-contrast", protocol: ("CTP-HEAD", "Head routine, helical 0.625 mm"), contrast: "", performers: CT_STAFF },
    Procedure { modality: "CT", stations: CT_STATIONS, code: "CTLDCS", description: "CT Chest low-dose lung cancer screening", step: "CT Chest low dose", protocol: ("CTP-CHEST-LD", "Chest low dose, no contrast"), contrast: "", performers: CT_STAFF },
    Procedure { modality: "MR", stations: MR_STATIONS, code: "MRBRAINWWO", description: "MR Brain with and without contrast", step: "MR Brain T1/T2/FLAIR/DWI, post-contrast T1", protocol: ("MRP-BRAIN-C", "Brain routine with gadolinium"), contrast: "Gadobutrol 1.0 mmol/ml, 7.5 ml IV", performers: MR_STAFF },
    Procedure { modality: "MR", stations: MR_STATIONS, code: "MRKNEEL", description: "MR Knee left without contrast", step: "MR Knee left", protocol: ("MRP-KNEE", "Knee routine"), contrast: "", performers: MR_STAFF },
    Procedure { modality: "MR", stations: MR_STATIONS, code: "MRLSPINE", description: "MR Lumbar spine without contrast", step: "MR Lumbar spine", protocol: ("MRP-LSPINE", "Lumbar spine routine"), contrast: "", performers: MR_STAFF },
    Procedure { modality: "US", stations: US_STATIONS, code: "USABDCOMP", description: "US Abdomen complete", step: "US Abdomen complete", protocol: ("USP-ABD", "Abdomen complete"), contrast: "", performers: US_STAFF },
    Procedure { modality: "US", stations: US_STATIONS, code: "USTHYROID", description: "US Thyroid", step: "US Thyroid and neck", protocol: ("USP-THYROID", "Thyroid"), contrast: "", performers: US_STAFF },
    Procedure { modality: "US", stations: US_STATIONS, code: "USOB2T", description: "US Obstetric second trimester", step: "US Obstetric anomaly scan", protocol: ("USP-OB-2T", "Obstetric 18-22 weeks"), contrast: "", performers: US_STAFF },
    Procedure { modality: "CR", stations: CR_STATIONS, code: "XRCHEST2V", description: "XR Chest PA and lateral", step: "XR Chest PA/LAT", protocol: ("XRP-CHEST-2V", "Chest PA and lateral"), contrast: "", performers: XR_STAFF },
    Procedure { modality: "CR", stations: CR_STATIONS, code: "XRHANDL", description: "XR Hand left 3 views", step: "XR Hand left", protocol: ("XRP-HAND-3V", "Hand PA, oblique, lateral"), contrast: "", performers: XR_STAFF },
    Procedure { modality: "DX", stations: DX_STATIONS, code: "XRKNEESWB", description: "XR Knees bilateral weight-bearing", step: "XR Knees standing AP/LAT", protocol: ("XRP-KNEE-WB", "Knees weight-bearing"), contrast: "", performers: XR_STAFF },
    Procedure { modality: "DX", stations: DX_STATIONS, code: "XRPELVIS", description: "XR Pelvis AP", step: "XR Pelvis AP", protocol: ("XRP-PELVIS", "Pelvis AP"), contrast: "", performers: XR_STAFF },
    Procedure { modality: "MG", stations: MG_STATIONS, code: "MGSCRBIL", description: "MG Screening mammography bilateral", step: "MG Screening CC/MLO both sides", protocol: ("MGP-SCREEN", "Screening 4 views"), contrast: "", performers: MG_STAFF },
    Procedure { modality: "MG", stations: MG_STATIONS, code: "MGDIAGL", description: "MG Diagnostic mammography left", step: "MG Diagnostic left with spot compression", protocol: ("MGP-DIAG", "Diagnostic with spot views"), contrast: "", performers: MG_STAFF },
    Procedure { modality: "NM", stations: NM_STATIONS, code: "NMBONEWB", description: "NM Bone scan whole body", step: "NM Whole-body bone scan, 3 h post injection", protocol: ("NMP-BONE", "Tc-99m MDP 740 MBq, whole body"), contrast: "", performers: NM_STAFF },
    Procedure { modality: "NM", stations: NM_STATIONS, code: "NMMPI", description: "NM Myocardial perfusion rest/stress", step: "NM Myocardial perfusion SPECT", protocol: ("NMP-MPI", "Tc-99m sestamibi rest/stress"), contrast: "", performers: NM_STAFF },
    Procedure { modality: "PT", stations: PT_STATIONS, code: "PTCTFDGWB", description: "PET-CT FDG whole body", step: "PET-CT FDG skull base to mid-thigh", protocol: ("PTP-FDG-WB", "FDG 3 MBq/kg, 60 min uptake"), contrast: "", performers: NM_STAFF },
    Procedure { modality: "XA", stations: XA_STATIONS, code: "XACORO", description: "XA Coronary angiography", step: "XA Left heart catheterisation and coronary angiography", protocol: ("XAP-CORO", "Coronary angiography radial access"), contrast: "Iodixanol 320 mgI/ml, up to 150 ml IA", performers: XA_STAFF },
    Procedure { modality: "XA", stations: XA_STATIONS, code: "XACEREB", description: "XA Cerebral angiography", step: "XA Four-vessel cerebral angiography", protocol: ("XAP-CEREB", "Diagnostic cerebral DSA"), contrast: "Iohexol 300 mgI/ml, up to 100 ml IA", performers: XA_STAFF },
];

const REFERRING: [&str; 8] = [
    "Weber^Thomas^^Dr.",
    "Jones^Sarah^^Dr.",
    "Kaur^Simran^^Dr.",
    "Dupont^Pierre^^Dr.",
    "Sato^Kenji^^Dr.",
    "Okonkwo^Ngozi^^Dr.",
    "Larsen^Mikkel^^Dr.",
    "Ferreira^João^^Dr.",
];

/// One scheduled step: patient, procedure, day offset from today, start time (HHMM),
/// priority (PS3.3 C.4.11 Requested Procedure Priority).
#[rustfmt::skip]
const SCHEDULE: [(usize, usize, i64, &str, &str); 36] = [
    (0, 0, 0, "0800", "ROUTINE"), (1, 14, 0, "0815", "ROUTINE"), (2, 4, 0, "0830", "ROUTINE"),
    (3, 10, 0, "0845", "ROUTINE"), (4, 7, 0, "0900", "ROUTINE"), (5, 18, 0, "0930", "ROUTINE"),
    (6, 2, 0, "1000", "STAT"), (7, 9, 0, "1015", "ROUTINE"), (8, 8, 0, "1030", "ROUTINE"),
    (9, 16, 0, "1100", "ROUTINE"), (10, 15, 0, "1130", "HIGH"), (11, 19, 0, "1300", "HIGH"),
    (12, 5, 0, "1400", "ROUTINE"), (13, 11, 0, "1500", "ROUTINE"), (33, 0, 0, "1630", "ROUTINE"),
    (14, 12, 1, "0800", "ROUTINE"), (15, 6, 1, "0900", "ROUTINE"), (16, 1, 1, "1000", "ROUTINE"),
    (17, 17, 1, "1100", "ROUTINE"), (32, 9, 1, "1500", "ROUTINE"), (18, 3, 2, "0830", "ROUTINE"),
    (19, 7, 2, "1000", "ROUTINE"), (0, 4, 2, "1200", "ROUTINE"), (20, 14, 3, "0900", "ROUTINE"),
    (21, 0, 3, "1330", "ROUTINE"), (22, 11, 4, "1000", "ROUTINE"), (23, 5, 5, "1600", "ROUTINE"),
    (24, 20, 5, "0800", "HIGH"), (25, 4, 6, "1130", "ROUTINE"), (26, 18, 7, "0730", "ROUTINE"),
    (27, 9, -1, "1400", "ROUTINE"), (28, 13, -1, "0900", "ROUTINE"), (5, 0, -1, "0930", "ROUTINE"),
    (29, 10, -2, "1600", "ROUTINE"), (31, 2, -2, "2300", "STAT"), (30, 1, -3, "1100", "ROUTINE"),
];

/// The sample Modality Worklist for `today` (year, month, day): see the
/// [module docs](self). Every item has every key of PS3.4 Table K.6-1 with return key type
/// 1 or 2 (type 1 with a value), one Scheduled Procedure Step, and the same content for
/// the same day.
pub fn worklist(today: (i32, u32, u32)) -> Vec<InMemDicomObject> {
    SCHEDULE
        .iter()
        .enumerate()
        .map(|(n, entry)| worklist_item(today, n, *entry))
        .collect()
}

fn worklist_item(
    today: (i32, u32, u32),
    n: usize,
    (patient_number, procedure, offset, time, priority): (usize, usize, i64, &str, &str),
) -> InMemDicomObject {
    let patient = &PATIENTS[patient_number];
    let procedure = &PROCEDURES[procedure];
    let accession = format!("DW{:07}", 2_400_117 + n * 13);
    let requested_procedure_id = format!("RP{:06}", 510_000 + n * 7);
    let step_id = format!("SPS{:06}", 730_000 + n * 11);
    let patient_id = format!("DW-{:06}", 100_231 + patient_number * 97);
    let station = &procedure.stations[(n + n / 3) % procedure.stations.len()];
    let performer = procedure.performers[n % procedure.performers.len()];
    let inpatient = priority != "ROUTINE" || patient_number % 6 == 1;
    let age = i64::from(today.0) - patient.birth[..4].parse::<i64>().unwrap_or(1970);
    let pregnancy: &[u16] = match (patient.sex, procedure.code) {
        ("F", "USOB2T") => &[0x0003],
        ("F", _) if (12..=55).contains(&age) => &[0x0001],
        _ => &[],
    };
    let protocol_code = code(procedure.protocol.0, CODING_SCHEME, procedure.protocol.1);
    let mut step = vec![
        text(tags::MODALITY, VR::CS, procedure.modality),
        text(tags::REQUESTED_CONTRAST_AGENT, VR::LO, procedure.contrast),
        text(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, station.ae_title),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            &date_after(today, offset),
        ),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_START_TIME,
            VR::TM,
            &format!("{time}00"),
        ),
        text(tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME, VR::PN, performer),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
            VR::LO,
            procedure.step,
        ),
        seq(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, vec![protocol_code]),
        text(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, &step_id),
        text(tags::SCHEDULED_STATION_NAME, VR::SH, station.name),
        text(
            tags::SCHEDULED_PROCEDURE_STEP_LOCATION,
            VR::SH,
            station.location,
        ),
        text(tags::SCHEDULED_PROCEDURE_STEP_STATUS, VR::CS, "SCHEDULED"),
    ];
    if procedure.contrast.is_empty() {
        step.retain(|e| e.tag() != tags::REQUESTED_CONTRAST_AGENT);
    }
    let referring = REFERRING[n % REFERRING.len()];
    let mut object = item([
        text(tags::ACCESSION_NUMBER, VR::SH, &accession),
        text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, referring),
        seq(tags::REFERENCED_STUDY_SEQUENCE, Vec::new()),
        seq(tags::REFERENCED_PATIENT_SEQUENCE, Vec::new()),
        text(tags::PATIENT_NAME, VR::PN, patient.name),
        text(tags::PATIENT_ID, VR::LO, &patient_id),
        text(tags::ISSUER_OF_PATIENT_ID, VR::LO, "DICOMWIRE-SAMPLE"),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, patient.birth),
        text(tags::PATIENT_SEX, VR::CS, patient.sex),
        text(tags::PATIENT_WEIGHT, VR::DS, patient.weight),
        text(tags::MEDICAL_ALERTS, VR::LO, patient.alerts),
        text(tags::ALLERGIES, VR::LO, patient.allergies),
        us(tags::PREGNANCY_STATUS, pregnancy),
        text(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &uid_for(&format!("study/{accession}")),
        ),
        text(tags::REQUESTING_PHYSICIAN, VR::PN, referring),
        text(
            tags::REQUESTED_PROCEDURE_DESCRIPTION,
            VR::LO,
            procedure.description,
        ),
        seq(
            tags::REQUESTED_PROCEDURE_CODE_SEQUENCE,
            vec![code(procedure.code, CODING_SCHEME, procedure.description)],
        ),
        text(
            tags::ADMISSION_ID,
            VR::LO,
            &if inpatient {
                format!("ADM{:06}", 880_000 + n * 3)
            } else {
                String::new()
            },
        ),
        text(tags::SPECIAL_NEEDS, VR::LO, patient.needs),
        text(
            tags::CURRENT_PATIENT_LOCATION,
            VR::LO,
            if inpatient {
                ["Ward 4B", "Emergency Dept", "ICU 2", "Ward 7A"][n % 4]
            } else {
                ""
            },
        ),
        text(
            tags::PATIENT_STATE,
            VR::LO,
            if priority == "STAT" { "Acute" } else { "" },
        ),
        seq(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![item(step)]),
        text(
            tags::REQUESTED_PROCEDURE_ID,
            VR::SH,
            &requested_procedure_id,
        ),
        text(tags::REQUESTED_PROCEDURE_PRIORITY, VR::SH, priority),
        text(
            tags::PATIENT_TRANSPORT_ARRANGEMENTS,
            VR::LO,
            if age >= 80 { "Wheelchair" } else { "" },
        ),
        text(
            tags::CONFIDENTIALITY_CONSTRAINT_ON_PATIENT_DATA_DESCRIPTION,
            VR::LO,
            "",
        ),
    ]);
    if has_non_ascii(&object) {
        object.put(text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"));
    }
    object
}

// ---------------------------------------------------------------------------------------
// Hanging protocols

/// The whole screen, or a part, as Display Environment Spatial Position (0072,0108)
/// gives it: top-left x and y, bottom-right x and y, with (0,0) the bottom-left corner of
/// the display environment and (1,1) its top-right corner.
type Area = [f64; 4];

const FULL: Area = [0.0, 1.0, 1.0, 0.0];
const LEFT_HALF: Area = [0.0, 1.0, 0.5, 0.0];
const RIGHT_HALF: Area = [0.5, 1.0, 1.0, 0.0];

fn screen(
    horizontal: u16,
    vertical: u16,
    area: Area,
    grayscale_bits: u16,
    color: bool,
) -> InMemDicomObject {
    let depth = if color {
        tags::SCREEN_MINIMUM_COLOR_BIT_DEPTH
    } else {
        tags::SCREEN_MINIMUM_GRAYSCALE_BIT_DEPTH
    };
    item([
        us(tags::NUMBER_OF_VERTICAL_PIXELS, &[vertical]),
        us(tags::NUMBER_OF_HORIZONTAL_PIXELS, &[horizontal]),
        fd(tags::DISPLAY_ENVIRONMENT_SPATIAL_POSITION, &area),
        us(depth, &[grayscale_bits]),
        us(tags::APPLICATION_MAXIMUM_REPAINT_TIME, &[100]),
    ])
}

/// An image set selector matching a CS attribute's value.
fn select_cs(attribute: Tag, value: &str) -> InMemDicomObject {
    item([
        text(tags::IMAGE_SET_SELECTOR_USAGE_FLAG, VR::CS, "MATCH"),
        at(tags::SELECTOR_ATTRIBUTE, attribute),
        us(tags::SELECTOR_VALUE_NUMBER, &[1]),
        text(tags::SELECTOR_ATTRIBUTE_VR, VR::CS, "CS"),
        text(tags::SELECTOR_CS_VALUE, VR::CS, value),
    ])
}

/// The current study's images: relative time 0 to 0.
fn current(number: u16, label: &str) -> InMemDicomObject {
    item([
        us(tags::IMAGE_SET_NUMBER, &[number]),
        text(tags::IMAGE_SET_SELECTOR_CATEGORY, VR::CS, "RELATIVE_TIME"),
        us(tags::RELATIVE_TIME, &[0, 0]),
        text(tags::RELATIVE_TIME_UNITS, VR::CS, "MINUTES"),
        text(tags::IMAGE_SET_LABEL, VR::LO, label),
    ])
}

/// The `n`th prior study.
fn prior(number: u16, label: &str, n: i16) -> InMemDicomObject {
    item([
        us(tags::IMAGE_SET_NUMBER, &[number]),
        text(tags::IMAGE_SET_SELECTOR_CATEGORY, VR::CS, "ABSTRACT_PRIOR"),
        ss(tags::ABSTRACT_PRIOR_VALUE, &[n, n]),
        text(tags::IMAGE_SET_LABEL, VR::LO, label),
    ])
}

fn image_set(
    selectors: Vec<InMemDicomObject>,
    time_based: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    item([
        seq(tags::IMAGE_SET_SELECTOR_SEQUENCE, selectors),
        seq(tags::TIME_BASED_IMAGE_SETS_SEQUENCE, time_based),
    ])
}

/// A stack image box scrolled one image at a time, a page at a time.
fn stack_box(area: Area) -> InMemDicomObject {
    item([
        us(tags::IMAGE_BOX_NUMBER, &[1]),
        fd(tags::DISPLAY_ENVIRONMENT_SPATIAL_POSITION, &area),
        text(tags::IMAGE_BOX_LAYOUT_TYPE, VR::CS, "STACK"),
        text(tags::IMAGE_BOX_SCROLL_DIRECTION, VR::CS, "VERTICAL"),
        text(tags::IMAGE_BOX_SMALL_SCROLL_TYPE, VR::CS, "IMAGE"),
        us(tags::IMAGE_BOX_SMALL_SCROLL_AMOUNT, &[1]),
        text(tags::IMAGE_BOX_LARGE_SCROLL_TYPE, VR::CS, "PAGE"),
        us(tags::IMAGE_BOX_LARGE_SCROLL_AMOUNT, &[1]),
    ])
}

fn single_box(area: Area) -> InMemDicomObject {
    item([
        us(tags::IMAGE_BOX_NUMBER, &[1]),
        fd(tags::DISPLAY_ENVIRONMENT_SPATIAL_POSITION, &area),
        text(tags::IMAGE_BOX_LAYOUT_TYPE, VR::CS, "SINGLE"),
    ])
}

/// A filter keeping images whose CS attribute (value `value_number`) is one of `values`.
fn filter_cs(attribute: Tag, value_number: u16, values: &str) -> InMemDicomObject {
    item([
        at(tags::SELECTOR_ATTRIBUTE, attribute),
        us(tags::SELECTOR_VALUE_NUMBER, &[value_number]),
        text(tags::SELECTOR_ATTRIBUTE_VR, VR::CS, "CS"),
        text(tags::SELECTOR_CS_VALUE, VR::CS, values),
        text(tags::FILTER_BY_OPERATOR, VR::CS, "MEMBER_OF"),
    ])
}

/// A filter keeping images whose LO attribute is one of `values`.
fn filter_lo(attribute: Tag, values: &str) -> InMemDicomObject {
    item([
        at(tags::SELECTOR_ATTRIBUTE, attribute),
        us(tags::SELECTOR_VALUE_NUMBER, &[1]),
        text(tags::SELECTOR_ATTRIBUTE_VR, VR::CS, "LO"),
        text(tags::SELECTOR_LO_VALUE, VR::LO, values),
        text(tags::FILTER_BY_OPERATOR, VR::CS, "MEMBER_OF"),
    ])
}

fn sort(category: &str) -> InMemDicomObject {
    item([
        text(tags::SORT_BY_CATEGORY, VR::CS, category),
        text(tags::SORTING_DIRECTION, VR::CS, "INCREASING"),
    ])
}

struct DisplaySet {
    number: u16,
    label: &'static str,
    image_set: u16,
    image_box: InMemDicomObject,
    filters: Vec<InMemDicomObject>,
    sorting: Vec<InMemDicomObject>,
    extra: Vec<InMemElement>,
}

fn display_set(set: DisplaySet) -> InMemDicomObject {
    let mut object = item([
        us(tags::DISPLAY_SET_NUMBER, &[set.number]),
        text(tags::DISPLAY_SET_LABEL, VR::LO, set.label),
        us(tags::DISPLAY_SET_PRESENTATION_GROUP, &[1]),
        us(tags::IMAGE_SET_NUMBER, &[set.image_set]),
        seq(tags::IMAGE_BOXES_SEQUENCE, vec![set.image_box]),
        seq(tags::FILTER_OPERATIONS_SEQUENCE, set.filters),
        seq(tags::SORTING_OPERATIONS_SEQUENCE, set.sorting),
        text(tags::SHOW_GRAPHIC_ANNOTATION_FLAG, VR::CS, "Y"),
        text(tags::SHOW_PATIENT_DEMOGRAPHICS_FLAG, VR::CS, "Y"),
    ]);
    for element in set.extra {
        object.put(element);
    }
    object
}

struct Protocol {
    name: &'static str,
    description: &'static str,
    level: &'static str,
    definitions: Vec<InMemDicomObject>,
    priors: u16,
    users: Vec<InMemDicomObject>,
    user_group: &'static str,
    image_sets: Vec<InMemDicomObject>,
    screens: Vec<InMemDicomObject>,
    display_sets: Vec<InMemDicomObject>,
    scrolling_groups: Vec<&'static [u16]>,
}

/// A Hanging Protocol Definition Sequence item: the studies the protocol is for, by
/// modality, anatomic region, laterality and the sample worklist's procedure codes.
/// Laterality and the code sequences are always present (return key type 2), empty when
/// they do not apply.
fn definition(
    modality: &str,
    region: (&str, &str),
    laterality: &str,
    procedures: &[&str],
) -> InMemDicomObject {
    let procedure_codes = procedures
        .iter()
        .map(|c| {
            let meaning = PROCEDURES
                .iter()
                .find(|p| p.code == *c)
                .map_or(*c, |p| p.description);
            code(c, CODING_SCHEME, meaning)
        })
        .collect();
    item([
        text(tags::MODALITY, VR::CS, modality),
        seq(
            tags::ANATOMIC_REGION_SEQUENCE,
            vec![code(region.0, "SCT", region.1)],
        ),
        text(tags::LATERALITY, VR::CS, laterality),
        seq(tags::PROCEDURE_CODE_SEQUENCE, procedure_codes),
        seq(
            tags::REASON_FOR_REQUESTED_PROCEDURE_CODE_SEQUENCE,
            Vec::new(),
        ),
    ])
}

const CHEST: (&str, &str) = ("51185008", "Chest");
const BRAIN: (&str, &str) = ("12738006", "Brain");
const BREAST: (&str, &str) = ("76752008", "Breast");
const WHOLE_BODY: (&str, &str) = ("38266002", "Entire body");

fn protocol_object(protocol: Protocol) -> InMemDicomObject {
    let number_of_screens = u16::try_from(protocol.screens.len()).unwrap_or(u16::MAX);
    let mut object = item([
        text(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::HANGING_PROTOCOL_STORAGE.as_str(),
        ),
        text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &uid_for(&format!("hanging-protocol/{}", protocol.name)),
        ),
        text(tags::HANGING_PROTOCOL_NAME, VR::SH, protocol.name),
        text(
            tags::HANGING_PROTOCOL_DESCRIPTION,
            VR::LO,
            protocol.description,
        ),
        text(tags::HANGING_PROTOCOL_LEVEL, VR::CS, protocol.level),
        text(tags::HANGING_PROTOCOL_CREATOR, VR::LO, CREATOR),
        text(
            tags::HANGING_PROTOCOL_CREATION_DATE_TIME,
            VR::DT,
            "20250301093000",
        ),
        seq(
            tags::HANGING_PROTOCOL_DEFINITION_SEQUENCE,
            protocol.definitions,
        ),
        seq(
            tags::HANGING_PROTOCOL_USER_IDENTIFICATION_CODE_SEQUENCE,
            protocol.users,
        ),
        us(tags::NUMBER_OF_PRIORS_REFERENCED, &[protocol.priors]),
        seq(tags::IMAGE_SETS_SEQUENCE, protocol.image_sets),
        us(tags::NUMBER_OF_SCREENS, &[number_of_screens]),
        seq(tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE, protocol.screens),
        seq(tags::DISPLAY_SETS_SEQUENCE, protocol.display_sets),
        text(
            tags::PARTIAL_DATA_DISPLAY_HANDLING,
            VR::CS,
            "MAINTAIN_LAYOUT",
        ),
    ]);
    if !protocol.user_group.is_empty() {
        object.put(text(
            tags::HANGING_PROTOCOL_USER_GROUP_NAME,
            VR::LO,
            protocol.user_group,
        ));
    }
    if !protocol.scrolling_groups.is_empty() {
        let groups = protocol
            .scrolling_groups
            .iter()
            .map(|g| item([us(tags::DISPLAY_SET_SCROLLING_GROUP, g)]))
            .collect();
        object.put(seq(tags::SYNCHRONIZED_SCROLLING_SEQUENCE, groups));
    }
    object
}

fn chest_ct_with_prior() -> Protocol {
    let axial = || filter_cs(tags::IMAGE_TYPE, 3, "AXIAL");
    let lung = || text(tags::VOI_TYPE, VR::CS, "LUNG");
    Protocol {
        name: "Chest CT prior",
        description: "Chest CT and its latest prior side by side, lung window, linked",
        level: "SITE",
        definitions: vec![definition("CT", CHEST, "", &["CTCHESTC", "CTLDCS"])],
        priors: 1,
        users: Vec::new(),
        user_group: "",
        image_sets: vec![image_set(
            vec![select_cs(tags::MODALITY, "CT")],
            vec![current(1, "Current CT"), prior(2, "Prior CT", 1)],
        )],
        screens: vec![screen(2560, 1440, FULL, 8, false)],
        display_sets: vec![
            display_set(DisplaySet {
                number: 1,
                label: "Current axial",
                image_set: 1,
                image_box: stack_box(LEFT_HALF),
                filters: vec![axial()],
                sorting: vec![sort("ALONG_AXIS")],
                extra: vec![lung()],
            }),
            display_set(DisplaySet {
                number: 2,
                label: "Prior axial",
                image_set: 2,
                image_box: stack_box(RIGHT_HALF),
                filters: vec![axial()],
                sorting: vec![sort("ALONG_AXIS")],
                extra: vec![lung()],
            }),
        ],
        scrolling_groups: vec![&[1, 2]],
    }
}

fn brain_mr_4_up() -> Protocol {
    let quadrant = |number: u16, label: &'static str, area: Area, series: &str| {
        display_set(DisplaySet {
            number,
            label,
            image_set: 1,
            image_box: stack_box(area),
            filters: vec![filter_lo(tags::SERIES_DESCRIPTION, series)],
            sorting: vec![sort("ALONG_AXIS")],
            extra: Vec::new(),
        })
    };
    Protocol {
        name: "Brain MR 4-up",
        description: "Brain MR 2x2: axial T1, T2, FLAIR and DWI, linked scrolling",
        level: "USER_GROUP",
        definitions: vec![definition("MR", BRAIN, "", &["MRBRAINWWO"])],
        priors: 0,
        users: Vec::new(),
        user_group: "Neuroradiology",
        image_sets: vec![image_set(
            vec![select_cs(tags::MODALITY, "MR")],
            vec![current(1, "Current MR")],
        )],
        screens: vec![screen(2560, 1600, FULL, 10, false)],
        display_sets: vec![
            quadrant(
                1,
                "AX T1",
                [0.0, 1.0, 0.5, 0.5],
                "AX T1\\AX T1 SE\\AX T1 MPRAGE",
            ),
            quadrant(2, "AX T2", [0.5, 1.0, 1.0, 0.5], "AX T2\\AX T2 TSE"),
            quadrant(3, "AX FLAIR", [0.0, 0.5, 0.5, 0.0], "AX FLAIR\\AX T2 FLAIR"),
            quadrant(4, "AX DWI", [0.5, 0.5, 1.0, 0.0], "AX DWI\\AX DWI B1000"),
        ],
        scrolling_groups: vec![&[1, 2, 3, 4]],
    }
}

fn mammo_screening_4_up() -> Protocol {
    let view = |number: u16,
                label: &'static str,
                left: f64,
                laterality: &str,
                position: &str,
                justify: &str| {
        display_set(DisplaySet {
            number,
            label,
            image_set: 1,
            image_box: single_box([left, 1.0, left + 0.25, 0.0]),
            filters: vec![
                filter_cs(tags::IMAGE_LATERALITY, 1, laterality),
                filter_cs(tags::VIEW_POSITION, 1, position),
            ],
            sorting: Vec::new(),
            extra: vec![
                text(tags::DISPLAY_SET_HORIZONTAL_JUSTIFICATION, VR::CS, justify),
                text(tags::SHOW_IMAGE_TRUE_SIZE_FLAG, VR::CS, "N"),
            ],
        })
    };
    Protocol {
        name: "Mammo screen 4up",
        description: "Screening mammo on two 5 MP screens: RCC LCC | RMLO LMLO",
        level: "SITE",
        definitions: vec![
            definition("MG", BREAST, "R", &["MGSCRBIL"]),
            definition("MG", BREAST, "L", &["MGSCRBIL"]),
        ],
        priors: 0,
        users: Vec::new(),
        user_group: "",
        image_sets: vec![image_set(
            vec![select_cs(tags::MODALITY, "MG")],
            vec![current(1, "Current screening")],
        )],
        screens: vec![
            screen(2048, 2560, LEFT_HALF, 10, false),
            screen(2048, 2560, RIGHT_HALF, 10, false),
        ],
        display_sets: vec![
            view(1, "RCC", 0.0, "R", "CC", "RIGHT"),
            view(2, "LCC", 0.25, "L", "CC", "LEFT"),
            view(3, "RMLO", 0.5, "R", "MLO", "RIGHT"),
            view(4, "LMLO", 0.75, "L", "MLO", "LEFT"),
        ],
        scrolling_groups: Vec::new(),
    }
}

fn cr_chest_pa_lat() -> Protocol {
    let view = |number: u16, label: &'static str, area: Area, positions: &str| {
        display_set(DisplaySet {
            number,
            label,
            image_set: 1,
            image_box: single_box(area),
            filters: vec![filter_cs(tags::VIEW_POSITION, 1, positions)],
            sorting: vec![sort("BY_ACQ_TIME")],
            extra: Vec::new(),
        })
    };
    Protocol {
        name: "CR chest PA/LAT",
        description: "Chest radiograph: frontal view left, lateral view right",
        level: "MANUFACTURER",
        definitions: vec![definition("CR", CHEST, "", &["XRCHEST2V"])],
        priors: 0,
        users: Vec::new(),
        user_group: "",
        image_sets: vec![image_set(
            vec![select_cs(tags::MODALITY, "CR")],
            vec![current(1, "Current chest radiograph")],
        )],
        screens: vec![screen(2048, 1536, FULL, 10, false)],
        display_sets: vec![
            view(1, "PA", LEFT_HALF, "PA\\AP"),
            view(2, "LAT", RIGHT_HALF, "LL\\RL"),
        ],
        scrolling_groups: Vec::new(),
    }
}

fn pet_ct_fusion() -> Protocol {
    let top = |left: f64, right: f64| [left, 1.0, right, 0.5];
    let pet_inverted = || text(tags::SHOW_GRAYSCALE_INVERTED, VR::CS, "Y");
    Protocol {
        name: "PET-CT fusion",
        description: "PET-CT: axial CT, PET and fusion on top, coronal PET MIP below",
        level: "SINGLE_USER",
        definitions: vec![
            definition("PT", WHOLE_BODY, "", &["PTCTFDGWB"]),
            definition("CT", WHOLE_BODY, "", &["PTCTFDGWB"]),
        ],
        priors: 0,
        users: vec![code("rkhan", "99DWSAMPLE", "Khan^Rahim^^Dr.")],
        user_group: "",
        image_sets: vec![
            image_set(
                vec![select_cs(tags::MODALITY, "CT")],
                vec![current(1, "CT")],
            ),
            image_set(
                vec![select_cs(tags::MODALITY, "PT")],
                vec![current(2, "PET")],
            ),
        ],
        screens: vec![screen(3840, 2160, FULL, 8, true)],
        display_sets: vec![
            display_set(DisplaySet {
                number: 1,
                label: "CT axial",
                image_set: 1,
                image_box: stack_box(top(0.0, 1.0 / 3.0)),
                filters: vec![filter_cs(tags::IMAGE_TYPE, 3, "AXIAL")],
                sorting: vec![sort("ALONG_AXIS")],
                extra: Vec::new(),
            }),
            display_set(DisplaySet {
                number: 2,
                label: "PET axial",
                image_set: 2,
                image_box: stack_box(top(1.0 / 3.0, 2.0 / 3.0)),
                filters: Vec::new(),
                sorting: vec![sort("ALONG_AXIS")],
                extra: vec![pet_inverted()],
            }),
            display_set(DisplaySet {
                number: 3,
                label: "Fused PET/CT",
                image_set: 1,
                image_box: stack_box(top(2.0 / 3.0, 1.0)),
                filters: Vec::new(),
                sorting: vec![sort("ALONG_AXIS")],
                extra: vec![
                    text(tags::BLENDING_OPERATION_TYPE, VR::CS, "COLOR"),
                    text(tags::PSEUDO_COLOR_TYPE, VR::CS, "HOT_IRON"),
                ],
            }),
            display_set(DisplaySet {
                number: 4,
                label: "PET MIP",
                image_set: 2,
                image_box: single_box([0.0, 0.5, 1.0, 0.0]),
                filters: Vec::new(),
                sorting: Vec::new(),
                extra: vec![
                    text(tags::REFORMATTING_OPERATION_TYPE, VR::CS, "3D_RENDERING"),
                    text(tags::THREE_D_RENDERING_TYPE, VR::CS, "MIP"),
                    text(
                        tags::REFORMATTING_OPERATION_INITIAL_VIEW_DIRECTION,
                        VR::CS,
                        "CORONAL",
                    ),
                    pet_inverted(),
                ],
            }),
        ],
        scrolling_groups: vec![&[1, 2, 3]],
    }
}

/// The sample hanging protocols as the in-memory provider holds them: the object, and its
/// Explicit VR Little Endian encoding to send in C-STORE sub-operations. See the
/// [module docs](self).
pub fn hanging_protocols() -> Vec<StoredInstance> {
    [
        chest_ct_with_prior(),
        brain_mr_4_up(),
        mammo_screening_4_up(),
        cr_chest_pa_lat(),
        pet_ct_fusion(),
    ]
    .into_iter()
    .filter_map(|protocol| {
        let name = protocol.name;
        let object = protocol_object(protocol);
        let transfer_syntax = uids::EXPLICIT_VR_LITTLE_ENDIAN;
        match dataset::encode(&object, transfer_syntax.as_str()) {
            Ok(data) => Some(StoredInstance {
                instance: Instance {
                    sop_class_uid: uids::HANGING_PROTOCOL_STORAGE.as_str().to_owned(),
                    sop_instance_uid: uid_for(&format!("hanging-protocol/{name}")),
                    transfer_syntax,
                    data,
                },
                object,
            }),
            Err(e) => {
                tracing::error!(%name, error = %e, "cannot encode a sample hanging protocol");
                None
            }
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(object: &InMemDicomObject, tag: Tag) -> String {
        object
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.into_owned())
            .unwrap_or_default()
    }

    fn step(object: &InMemDicomObject) -> &InMemDicomObject {
        &object
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .and_then(|e| e.items())
            .expect("an SPS sequence")[0]
    }

    #[test]
    fn dates_roll_over_months_and_years() {
        assert_eq!(date_after((2024, 12, 30), 3), "20250102");
        assert_eq!(date_after((2024, 3, 1), -1), "20240229");
        assert_eq!(date_after((2023, 3, 1), -1), "20230228");
        assert_eq!(date_after((2000, 1, 1), 0), "20000101");
        for days in [-800_000, -1, 0, 1, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn uids_are_stable_valid_and_distinct() {
        let a = uid_for("study/1");
        assert_eq!(a, uid_for("study/1"));
        assert_ne!(a, uid_for("study/2"));
        assert!(a.starts_with("2.25."));
        assert!(a.len() <= 64);
        assert!(dicomwire::pdu::Uid::new(&a).is_ok());
        assert!(!a["2.25.".len()..].starts_with('0'));
    }

    #[test]
    fn the_schedule_spreads_over_modalities_stations_and_days() {
        let items = worklist((2025, 6, 15));
        assert!(items.len() >= 30);
        let mut modalities: Vec<String> = items
            .iter()
            .map(|i| string(step(i), tags::MODALITY))
            .collect();
        modalities.sort();
        modalities.dedup();
        assert_eq!(
            modalities,
            ["CR", "CT", "DX", "MG", "MR", "NM", "PT", "US", "XA"]
        );
        let mut stations: Vec<String> = items
            .iter()
            .map(|i| string(step(i), tags::SCHEDULED_STATION_AE_TITLE))
            .collect();
        stations.sort();
        stations.dedup();
        assert!(stations.len() >= 12, "{stations:?}");
        let dates: Vec<String> = items
            .iter()
            .map(|i| string(step(i), tags::SCHEDULED_PROCEDURE_STEP_START_DATE))
            .collect();
        assert!(
            dates
                .iter()
                .all(|d| ("20250612".."20250623").contains(&d.as_str()))
        );
        assert!(dates.iter().filter(|d| *d == "20250615").count() >= 10);
        assert!(dates.contains(&"20250612".to_owned()) && dates.contains(&"20250622".to_owned()));
    }

    #[test]
    fn non_ascii_items_declare_utf8() {
        for item in worklist((2025, 6, 15)) {
            let name = string(&item, tags::PATIENT_NAME);
            let charset = string(&item, tags::SPECIFIC_CHARACTER_SET);
            if !name.is_ascii() {
                assert_eq!(charset, "ISO_IR 192", "{name}");
            }
            if !has_non_ascii(&item) {
                assert!(item.get(tags::SPECIFIC_CHARACTER_SET).is_none(), "{name}");
            }
        }
    }

    #[test]
    fn unique_identifiers() {
        let items = worklist((2025, 6, 15));
        for tag in [
            tags::ACCESSION_NUMBER,
            tags::STUDY_INSTANCE_UID,
            tags::REQUESTED_PROCEDURE_ID,
        ] {
            let mut values: Vec<String> = items.iter().map(|i| string(i, tag)).collect();
            values.sort();
            values.dedup();
            assert_eq!(values.len(), items.len(), "{tag}");
        }
    }

    #[test]
    fn mammography_and_obstetrics_are_for_women() {
        for item in worklist((2025, 6, 15)) {
            let description = string(&item, tags::REQUESTED_PROCEDURE_DESCRIPTION);
            if description.starts_with("MG") || description.contains("Obstetric") {
                assert_eq!(string(&item, tags::PATIENT_SEX), "F", "{description}");
            }
        }
    }

    #[test]
    fn five_hanging_protocols() {
        let protocols = hanging_protocols();
        let names: Vec<String> = protocols
            .iter()
            .map(|p| string(&p.object, tags::HANGING_PROTOCOL_NAME))
            .collect();
        assert_eq!(
            names,
            [
                "Chest CT prior",
                "Brain MR 4-up",
                "Mammo screen 4up",
                "CR chest PA/LAT",
                "PET-CT fusion"
            ]
        );
        for p in &protocols {
            assert_eq!(
                p.instance.sop_class_uid,
                uids::HANGING_PROTOCOL_STORAGE.as_str()
            );
            assert_eq!(
                string(&p.object, tags::SOP_INSTANCE_UID),
                p.instance.sop_instance_uid
            );
            let screens = p
                .object
                .get(tags::NOMINAL_SCREEN_DEFINITION_SEQUENCE)
                .and_then(|e| e.items())
                .unwrap();
            let count = p
                .object
                .get(tags::NUMBER_OF_SCREENS)
                .and_then(|e| e.to_int::<usize>().ok());
            assert_eq!(count, Some(screens.len()));
        }
    }
}
