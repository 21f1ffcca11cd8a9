//! Data sets on disk: loading a directory of worklist items or hanging protocols, noticing
//! that it changed, and writing received instances as Part 10 files.
//!
//! [`load_dir`] reads every regular file under a directory (subdirectories too, as
//! DCMTK's `wlmscpfs` keeps one per AE title; hidden files are skipped) and accepts:
//!
//! - DICOM Part 10 files: 128-byte preamble, `DICM`, file meta information, data set
//!   (DCMTK's `.wl` worklist files are such files);
//! - the same without the preamble, starting at `DICM` or at the meta group itself;
//! - bare data sets without meta information, in Explicit VR Little Endian or else
//!   Implicit VR Little Endian, when the result looks like a data set: at least one
//!   element of the standard dictionary in group 0008, 0010, 0040 or 0072.
//!
//! Anything else (`wlmscpfs`'s `lockfile`, text, empty files) is skipped with the reason.
//! [`worklist_records`] and [`hanging_protocol_instances`] turn a [`LoadReport`] into
//! what the in-memory providers hold; [`DirWatch`] tells the serve loop when to reload.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::{HasLength, Header};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::InMemDicomObject;
use dicomwire::dimse::DataSet;
use dicomwire::pdu::Uid;
use dicomwire::service::{Instance, StoredInstance, dataset, uids};

/// Files larger than this are skipped: worklist items and hanging protocols are small,
/// and a directory of images should not be read into memory by mistake.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// How deep [`load_dir`] and [`DirWatch`] descend into subdirectories.
const MAX_DEPTH: usize = 8;

/// How a loaded file was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileFormat {
    /// Part 10: preamble, `DICM`, meta information, data set.
    Part10,
    /// Part 10 without the 128-byte preamble.
    Part10WithoutPreamble,
    /// A data set alone, its transfer syntax inferred.
    BareDataSet,
}

/// A data set read from a file.
#[derive(Debug, Clone)]
pub struct LoadedObject {
    /// The decoded data set (without the file meta information).
    pub object: InMemDicomObject,
    /// The transfer syntax the data set is stored in.
    pub transfer_syntax: String,
    /// The data set's bytes as stored, when they can be sent as they are (always, for the
    /// formats we read; `None` is for objects built another way).
    pub raw: Option<Bytes>,
    /// The file's layout.
    pub format: FileFormat,
}

/// What [`load_dir`] found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The DICOM files, in path order.
    pub objects: Vec<(PathBuf, LoadedObject)>,
    /// Files that are not, or could not be read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads every regular file under `dir` (see the [module docs](self)). A directory that
/// cannot be read is reported as skipped, not as an error, so that the server keeps
/// serving what it has.
pub fn load_dir(dir: &Path) -> LoadReport {
    let mut report = LoadReport::default();
    let mut files = Vec::new();
    walk(dir, 0, &mut files, &mut report.skipped);
    for (path, len) in files {
        if len == 0 {
            report.skipped.push((path, "empty file".into()));
            continue;
        }
        if len > MAX_FILE_SIZE {
            report.skipped.push((
                path,
                format!("{len} bytes, more than the {MAX_FILE_SIZE} we load"),
            ));
            continue;
        }
        match fs::read(&path) {
            Ok(bytes) => match load_bytes(&bytes) {
                Ok(object) => report.objects.push((path, object)),
                Err(why) => report.skipped.push((path, why)),
            },
            Err(e) => report.skipped.push((path, format!("cannot read: {e}"))),
        }
    }
    report
}

/// Lists the regular files under `dir` with their length, sorted by path; hidden entries
/// and what is not a regular file go to `skipped`.
fn walk(
    dir: &Path,
    depth: usize,
    files: &mut Vec<(PathBuf, u64)>,
    skipped: &mut Vec<(PathBuf, String)>,
) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            skipped.push((dir.to_owned(), format!("cannot read the directory: {e}")));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if is_hidden(&path) {
            skipped.push((path, "hidden file".into()));
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => files.push((path, meta.len())),
            Ok(meta) if meta.is_dir() => {
                if depth < MAX_DEPTH {
                    walk(&path, depth + 1, files, skipped);
                } else {
                    skipped.push((path, format!("more than {MAX_DEPTH} directories deep")));
                }
            }
            Ok(_) => skipped.push((path, "not a regular file".into())),
            Err(e) => skipped.push((path, format!("cannot read: {e}"))),
        }
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Reads one file's bytes as Part 10, Part 10 without preamble, or a bare data set.
/// `Err` says why it is not DICOM.
pub fn load_bytes(bytes: &[u8]) -> Result<LoadedObject, String> {
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        return load_part10(&bytes[132..], FileFormat::Part10);
    }
    if let Some(rest) = bytes.strip_prefix(b"DICM") {
        return load_part10(rest, FileFormat::Part10WithoutPreamble);
    }
    if starts_with_meta_element(bytes) {
        return load_part10(bytes, FileFormat::Part10WithoutPreamble);
    }
    load_bare(bytes)
}

/// Whether `bytes` starts with a (0002,xxxx) element in Explicit VR Little Endian.
fn starts_with_meta_element(bytes: &[u8]) -> bool {
    bytes.len() >= 8
        && bytes[0..2] == [0x02, 0x00]
        && bytes[4].is_ascii_uppercase()
        && bytes[5].is_ascii_uppercase()
}

/// VRs whose explicit-VR header has two reserved bytes and a 32-bit length.
fn has_long_header(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// Checks that `bytes` is a well-formed sequence of data elements in Explicit (or
/// Implicit) VR Little Endian, every length within the buffer, nested sequences and
/// encapsulated fragments included. A cheap guard before the decoder, which would
/// otherwise try to read a gigabyte "value" out of a text file.
fn well_formed(bytes: &[u8], explicit: bool) -> bool {
    let mut walker = Walker {
        bytes,
        at: 0,
        explicit,
    };
    walker.data_set(Some(bytes.len()), 0).is_some()
}

struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
    explicit: bool,
}

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const MAX_NESTING: usize = 32;

impl Walker<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn tag(&mut self) -> Option<(u16, u16)> {
        Some((self.u16()?, self.u16()?))
    }

    fn skip(&mut self, len: u32) -> Option<()> {
        self.take(usize::try_from(len).ok()?).map(|_| ())
    }

    /// Elements up to `end` (a defined length), or up to an item delimitation item.
    fn data_set(&mut self, end: Option<usize>, depth: usize) -> Option<()> {
        loop {
            if end == Some(self.at) {
                return Some(());
            }
            if end.is_some_and(|e| self.at > e) {
                return None;
            }
            let tag = self.tag()?;
            if tag == ITEM_END {
                return (end.is_none() && self.u32()? == 0).then_some(());
            }
            if tag.0 == 0xFFFE {
                return None;
            }
            let (vr, len) = if self.explicit {
                let vr = self.take(2).map(|b| [b[0], b[1]])?;
                if !is_vr(vr) {
                    return None;
                }
                if has_long_header(vr) {
                    self.take(2)?;
                    (Some(vr), self.u32()?)
                } else {
                    (Some(vr), u32::from(self.u16()?))
                }
            } else {
                (None, self.u32()?)
            };
            let is_sequence = match vr {
                Some(vr) => &vr == b"SQ",
                None => StandardDataDictionary
                    .by_tag(Tag(tag.0, tag.1))
                    .is_some_and(|e| e.vr().relaxed() == dicom_core::VR::SQ),
            };
            if is_sequence || (len == UNDEFINED && matches!(vr, None | Some([b'U', b'N']))) {
                if depth >= MAX_NESTING {
                    return None;
                }
                // An undefined-length UN holds a sequence in Implicit VR (PS3.5 6.2.2).
                let explicit = self.explicit && vr != Some(*b"UN");
                let saved = std::mem::replace(&mut self.explicit, explicit);
                let result = self.sequence(len, depth + 1);
                self.explicit = saved;
                result?;
            } else if len == UNDEFINED {
                // Encapsulated pixel data: fragments up to the sequence delimiter.
                if !matches!(vr, Some([b'O', b'B'] | [b'O', b'W'])) {
                    return None;
                }
                loop {
                    let tag = self.tag()?;
                    let len = self.u32()?;
                    match tag {
                        SEQUENCE_END => break,
                        ITEM if len != UNDEFINED => self.skip(len)?,
                        _ => return None,
                    }
                }
            } else {
                self.skip(len)?;
            }
        }
    }

    fn sequence(&mut self, len: u32, depth: usize) -> Option<()> {
        let end = if len == UNDEFINED {
            None
        } else {
            Some(self.at.checked_add(usize::try_from(len).ok()?)?)
        };
        loop {
            if end == Some(self.at) {
                return Some(());
            }
            if end.is_some_and(|e| self.at > e) {
                return None;
            }
            let tag = self.tag()?;
            let item_len = self.u32()?;
            match tag {
                SEQUENCE_END if end.is_none() => return Some(()),
                ITEM if item_len == UNDEFINED => self.data_set(None, depth)?,
                ITEM => {
                    let item_end = self.at.checked_add(usize::try_from(item_len).ok()?)?;
                    if item_end > self.bytes.len() {
                        return None;
                    }
                    self.data_set(Some(item_end), depth)?;
                }
                _ => return None,
            }
        }
    }
}

fn is_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FD"
            | b"FL"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SQ"
            | b"SS"
            | b"ST"
            | b"SV"
            | b"TM"
            | b"UC"
            | b"UI"
            | b"UL"
            | b"UN"
            | b"UR"
            | b"US"
            | b"UT"
            | b"UV"
    )
}

/// Walks the file meta group (always Explicit VR Little Endian) at the start of `bytes`:
/// where it ends, and its Transfer Syntax UID.
fn read_meta(bytes: &[u8]) -> Result<(usize, Option<String>), String> {
    let mut at = 0;
    let mut transfer_syntax = None;
    while bytes.len() >= at + 8 && bytes[at..at + 2] == [0x02, 0x00] {
        let element = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
        let vr = [bytes[at + 4], bytes[at + 5]];
        let (header, len) = if has_long_header(vr) {
            let Some(len) = bytes.get(at + 8..at + 12) else {
                return Err("the file meta information is truncated".into());
            };
            (12, u32::from_le_bytes([len[0], len[1], len[2], len[3]]))
        } else {
            (
                8,
                u32::from(u16::from_le_bytes([bytes[at + 6], bytes[at + 7]])),
            )
        };
        let len = usize::try_from(len).map_err(|_| "a meta element is too long".to_owned())?;
        let end = at
            .checked_add(header)
            .and_then(|v| v.checked_add(len))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| format!("the file meta element (0002,{element:04X}) is truncated"))?;
        if element == 0x0010 {
            let text = String::from_utf8_lossy(&bytes[at + header..end]);
            transfer_syntax = Some(text.trim_end_matches(['\0', ' ']).trim().to_owned());
        }
        at = end;
    }
    if at == 0 {
        return Err("no file meta information after the DICM prefix".into());
    }
    Ok((at, transfer_syntax))
}

fn load_part10(bytes: &[u8], format: FileFormat) -> Result<LoadedObject, String> {
    let (meta_end, transfer_syntax) = read_meta(bytes)?;
    let transfer_syntax = transfer_syntax
        .ok_or_else(|| "the file meta information has no Transfer Syntax UID".to_owned())?;
    let uid = Uid::new(&transfer_syntax)
        .map_err(|e| format!("bad Transfer Syntax UID {transfer_syntax:?}: {e}"))?;
    let raw = Bytes::copy_from_slice(&bytes[meta_end..]);
    if raw.is_empty() {
        return Err("no data set after the file meta information".into());
    }
    let layout = match transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Some(false),
        // Big endian and deflated data sets are left to the decoder.
        "1.2.840.10008.1.2.2" | "1.2.840.10008.1.2.1.99" => None,
        _ => Some(true),
    };
    if layout.is_some_and(|explicit| !well_formed(&raw, explicit)) {
        return Err(format!(
            "Part 10 file in {transfer_syntax}: the data set is malformed (a length runs past the end)"
        ));
    }
    let object = dataset::decode(&DataSet {
        transfer_syntax: uid,
        bytes: raw.clone(),
    })
    .map_err(|e| format!("Part 10 file in {transfer_syntax}: {e}"))?;
    if object.iter().next().is_none() {
        return Err("the data set is empty".into());
    }
    Ok(LoadedObject {
        object,
        transfer_syntax,
        raw: Some(raw),
        format,
    })
}

fn load_bare(bytes: &[u8]) -> Result<LoadedObject, String> {
    let raw = Bytes::copy_from_slice(bytes);
    let mut reasons = Vec::new();
    for (uid, name, explicit) in [
        (
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
            "Explicit VR Little Endian",
            true,
        ),
        (
            uids::IMPLICIT_VR_LITTLE_ENDIAN,
            "Implicit VR Little Endian",
            false,
        ),
    ] {
        if !well_formed(bytes, explicit) {
            reasons.push(format!("{name}: malformed"));
            continue;
        }
        let decoded = dataset::decode(&DataSet {
            transfer_syntax: uid.clone(),
            bytes: raw.clone(),
        });
        match decoded {
            Ok(object) if looks_like_data_set(&object) => {
                return Ok(LoadedObject {
                    object,
                    transfer_syntax: uid.as_str().to_owned(),
                    raw: Some(raw),
                    format: FileFormat::BareDataSet,
                });
            }
            Ok(_) => reasons.push(format!("{name}: no known attribute")),
            Err(e) => reasons.push(format!("{name}: {e}")),
        }
    }
    Err(format!(
        "not DICOM: no DICM prefix, and not a data set ({})",
        reasons.join("; ")
    ))
}

/// At least one element of the standard dictionary in a group worklist items and hanging
/// protocols use (0008, 0010, 0040, 0072): what random bytes decode to does not.
fn looks_like_data_set(object: &InMemDicomObject) -> bool {
    object.iter().any(|e| {
        let tag = e.tag();
        matches!(tag.group(), 0x0008 | 0x0010 | 0x0040 | 0x0072)
            && tag.element() != 0
            && StandardDataDictionary.by_tag(tag).is_some()
    })
}

fn text(object: &InMemDicomObject, tag: Tag) -> Option<String> {
    object
        .get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_owned())
        .filter(|s| !s.is_empty())
}

/// The worklist items of a report: the objects with a Scheduled Procedure Step Sequence
/// (0040,0100). Others are logged and left out.
pub fn worklist_records(report: LoadReport) -> Vec<InMemDicomObject> {
    let mut records = Vec::new();
    for (path, loaded) in report.objects {
        if loaded
            .object
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .is_some()
        {
            records.push(loaded.object);
        } else {
            tracing::warn!(
                path = %path.display(),
                "no Scheduled Procedure Step Sequence (0040,0100): not a worklist item; ignored"
            );
        }
    }
    records
}

/// The hanging protocols of a report: the objects whose SOP Class UID is Hanging Protocol
/// Storage, each with a SOP Instance UID, the first of each UID. Others are logged and
/// left out.
pub fn hanging_protocol_instances(report: LoadReport) -> Vec<StoredInstance> {
    let mut instances: Vec<StoredInstance> = Vec::new();
    for (path, loaded) in report.objects {
        match stored_instance(loaded) {
            Ok(stored) => {
                let uid = &stored.instance.sop_instance_uid;
                if instances
                    .iter()
                    .any(|s| &s.instance.sop_instance_uid == uid)
                {
                    tracing::warn!(path = %path.display(), %uid, "duplicate SOP Instance UID; ignored");
                } else {
                    instances.push(stored);
                }
            }
            Err(why) => {
                tracing::warn!(path = %path.display(), %why, "not a hanging protocol; ignored")
            }
        }
    }
    instances
}

/// A loaded Hanging Protocol Storage object as the in-memory provider holds it: its bytes
/// as stored when they are in Explicit or Implicit VR Little Endian, else re-encoded in
/// Explicit VR Little Endian.
pub fn stored_instance(loaded: LoadedObject) -> Result<StoredInstance, String> {
    let sop_class_uid = text(&loaded.object, tags::SOP_CLASS_UID)
        .ok_or_else(|| "no SOP Class UID (0008,0016)".to_owned())?;
    if sop_class_uid != uids::HANGING_PROTOCOL_STORAGE.as_str() {
        return Err(format!(
            "SOP Class UID {sop_class_uid} is not Hanging Protocol Storage"
        ));
    }
    let sop_instance_uid = text(&loaded.object, tags::SOP_INSTANCE_UID)
        .ok_or_else(|| "no SOP Instance UID (0008,0018)".to_owned())?;
    let keep = [
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
        uids::IMPLICIT_VR_LITTLE_ENDIAN,
    ]
    .into_iter()
    .find(|ts| ts.as_str() == loaded.transfer_syntax);
    let (transfer_syntax, data) = match (keep, loaded.raw) {
        (Some(ts), Some(raw)) => (ts, raw),
        _ => {
            let ts = uids::EXPLICIT_VR_LITTLE_ENDIAN;
            let data = dataset::encode(&loaded.object, ts.as_str()).map_err(|e| e.to_string())?;
            (ts, data)
        }
    };
    let mut object = loaded.object;
    drop_bulk_values(&mut object);
    Ok(StoredInstance {
        object,
        instance: Instance {
            sop_class_uid,
            sop_instance_uid,
            transfer_syntax,
            data,
        },
    })
}

/// Binary values longer than this are dropped from the object kept for matching.
const BULK_VALUE: u32 = 4096;

/// Drops the long binary values (OB, OW, OF, OD, OL, OV, UN: pixel data, padding, private
/// blobs) from the top level of an object kept only to match queries against: no Hanging
/// Protocol key is binary, and the instance's encoded bytes, which C-GET and C-MOVE send,
/// hold them anyway. Without this a served collection took twice its size in memory.
fn drop_bulk_values(object: &mut InMemDicomObject) {
    let bulky: Vec<Tag> = object
        .iter()
        .filter(|e| {
            matches!(
                e.vr(),
                VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN
            ) && e.length().get().is_some_and(|len| len > BULK_VALUE)
        })
        .map(|e| e.tag())
        .collect();
    for tag in bulky {
        object.remove_element(tag);
    }
}

/// Notices changes to the files under a directory without a restart: it remembers each
/// file's length and modification time, and [`changed`](Self::changed) rescans.
///
/// A rewrite that keeps both the length and the modification time (within the file
/// system's timestamp resolution) goes unnoticed; [`write_atomically`] and editors that
/// replace files always change the time.
#[derive(Debug)]
pub struct DirWatch {
    dir: PathBuf,
    seen: BTreeMap<PathBuf, (u64, Option<SystemTime>)>,
}

impl DirWatch {
    /// Starts watching `dir`, taking its current state as the reference: create the watch
    /// before loading, so that a change in between is not missed.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            seen: scan(dir),
        }
    }

    /// Whether a file was added, removed or modified since the last call (or since
    /// [`new`](Self::new)). A cheap scan of metadata only; call it at most about once a
    /// second.
    pub fn changed(&mut self) -> bool {
        let now = scan(&self.dir);
        if now == self.seen {
            false
        } else {
            self.seen = now;
            true
        }
    }

    /// The directory watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn scan(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    walk(dir, 0, &mut files, &mut Vec::new());
    files
        .into_iter()
        .map(|(path, len)| {
            let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
            (path, (len, modified))
        })
        .collect()
}

/// Writes `bytes` to `dir/file_name` so that readers see the old file or the whole new
/// one, never a part: a hidden temporary file in the same directory, flushed to disk,
/// then renamed over the target. `file_name` must be a plain name, not a path.
pub fn write_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    write_atomically_parts(dir, file_name, &[bytes])
}

/// [`write_atomically`] of the concatenation of `parts`, without concatenating them in
/// memory first.
pub fn write_atomically_parts(dir: &Path, file_name: &str, parts: &[&[u8]]) -> io::Result<PathBuf> {
    let mut file = AtomicFile::create(dir, file_name)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.commit()
}

/// A file written as [`write_atomically`] does, piece by piece: a hidden temporary file
/// in the target's directory until [`commit`](Self::commit) flushes it to disk and renames
/// it over the target; dropped uncommitted, it is removed.
#[derive(Debug)]
pub struct AtomicFile {
    dir: PathBuf,
    target: PathBuf,
    temp: PathBuf,
    file: Option<fs::File>,
}

impl AtomicFile {
    /// Creates the temporary file for `dir/file_name`; `file_name` must be a plain name.
    pub fn create(dir: &Path, file_name: &str) -> io::Result<Self> {
        if file_name.is_empty()
            || file_name == "."
            || file_name == ".."
            || file_name.contains(['/', '\\', '\0'])
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{file_name:?} is not a plain file name"),
            ));
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let temp = dir.join(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
            {
                Ok(file) => {
                    return Ok(Self {
                        dir: dir.to_owned(),
                        target: dir.join(file_name),
                        temp,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Appends `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(bytes),
            None => Err(io::Error::other("the file was committed")),
        }
    }

    /// Flushes the file to disk and renames it over the target; returns the target.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let Some(file) = self.file.take() else {
            return Err(io::Error::other("the file was committed"));
        };
        let synced = file.sync_all();
        drop(file);
        if let Err(e) = synced.and_then(|()| fs::rename(&self.temp, &self.target)) {
            let _ = fs::remove_file(&self.temp);
            return Err(e);
        }
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(self.target.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// A file name for an instance: its SOP Instance UID with `.dcm`, anything but digits,
/// letters and periods replaced, so that a hostile UID cannot name a path.
pub fn instance_file_name(sop_instance_uid: &str) -> String {
    let stem: String = sop_instance_uid
        .trim_matches(['\0', ' '])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "instance.dcm".into()
    } else {
        format!("{stem}.dcm")
    }
}

/// Appends an Explicit VR Little Endian element with a short (16-bit) length, padding the
/// value to even length with `pad`.
fn push_short(out: &mut Vec<u8>, element: u16, vr: &[u8; 2], value: &[u8], pad: u8) {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(pad);
    }
    value.truncate(0xFFFE);
    let len = u16::try_from(value.len()).unwrap_or(0xFFFE);
    out.extend_from_slice(&0x0002_u16.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&value);
}

/// A Part 10 file: preamble, `DICM`, file meta information (group length, version, media
/// storage SOP class and instance, transfer syntax, dicomwire's implementation class UID
/// and version name), then `data`, the data set as received in `transfer_syntax`.
pub fn part10(sop_class: &str, sop_instance: &str, transfer_syntax: &str, data: &[u8]) -> Vec<u8> {
    let mut file = part10_header(sop_class, sop_instance, transfer_syntax);
    file.reserve_exact(data.len());
    file.extend_from_slice(data);
    file
}

/// What [`part10`] puts before the data set: preamble, `DICM` and the file meta
/// information. Written before a received data set with [`write_atomically_parts`], it
/// spares a copy of the data set.
pub fn part10_header(sop_class: &str, sop_instance: &str, transfer_syntax: &str) -> Vec<u8> {
    let mut meta = Vec::new();
    // File Meta Information Version (0002,0001) OB 00\01: long header.
    meta.extend_from_slice(&[
        0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0, 2, 0, 0, 0, 0x00, 0x01,
    ]);
    let uid = |s: &str| s.trim_matches(['\0', ' ']).as_bytes().to_vec();
    push_short(&mut meta, 0x0002, b"UI", &uid(sop_class), 0);
    push_short(&mut meta, 0x0003, b"UI", &uid(sop_instance), 0);
    push_short(&mut meta, 0x0010, b"UI", &uid(transfer_syntax), 0);
    push_short(
        &mut meta,
        0x0012,
        b"UI",
        dicomwire::ul::IMPLEMENTATION_CLASS_UID.as_str().as_bytes(),
        0,
    );
    push_short(
        &mut meta,
        0x0013,
        b"SH",
        dicomwire::ul::IMPLEMENTATION_VERSION_NAME.as_bytes(),
        b' ',
    );
    let group_length = u32::try_from(meta.len()).unwrap_or(u32::MAX);
    let mut file = Vec::with_capacity(132 + 12 + meta.len());
    file.resize(128, 0);
    file.extend_from_slice(b"DICM");
    file.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    file.extend_from_slice(&group_length.to_le_bytes());
    file.extend_from_slice(&meta);
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    fn patient() -> InMemDicomObject {
        InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from("Doe^Jane")),
            DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::from("P-1")),
        ])
    }

    fn encoded(object: &InMemDicomObject, ts: &Uid) -> Bytes {
        dataset::encode(object, ts.as_str()).unwrap()
    }

    fn patient_id(loaded: &LoadedObject) -> String {
        loaded
            .object
            .get(tags::PATIENT_ID)
            .unwrap()
            .to_str()
            .unwrap()
            .into_owned()
    }

    #[test]
    fn part10_round_trips_through_the_loader() {
        let data = encoded(&patient(), &uids::EXPLICIT_VR_LITTLE_ENDIAN);
        let file = part10(
            "1.2.840.10008.5.1.4.38.1",
            "1.2.3.4",
            "1.2.840.10008.1.2.1",
            &data,
        );
        assert_eq!(&file[128..132], b"DICM");
        let loaded = load_bytes(&file).unwrap();
        assert_eq!(loaded.format, FileFormat::Part10);
        assert_eq!(loaded.transfer_syntax, "1.2.840.10008.1.2.1");
        assert_eq!(loaded.raw.as_deref(), Some(&data[..]));
        assert_eq!(patient_id(&loaded), "P-1");
        // The group length covers the rest of the meta group exactly.
        let group_length = u32::from_le_bytes([file[140], file[141], file[142], file[143]]);
        let (meta_end, _) = read_meta(&file[132..]).unwrap();
        assert_eq!(usize::try_from(group_length).unwrap() + 12, meta_end);
        // Without the preamble, from DICM or from the meta group.
        let loaded = load_bytes(&file[128..]).unwrap();
        assert_eq!(loaded.format, FileFormat::Part10WithoutPreamble);
        let loaded = load_bytes(&file[132..]).unwrap();
        assert_eq!(loaded.format, FileFormat::Part10WithoutPreamble);
        assert_eq!(patient_id(&loaded), "P-1");
    }

    #[test]
    fn dicom_object_reads_our_part10_files() {
        let data = encoded(&patient(), &uids::IMPLICIT_VR_LITTLE_ENDIAN);
        let file = part10("1.2.3", "1.2.3.4.5", "1.2.840.10008.1.2", &data);
        let object = dicom_object::OpenFileOptions::new()
            .read_preamble(dicom_object::file::ReadPreamble::Never)
            .from_reader(&file[128..])
            .unwrap();
        assert_eq!(object.meta().transfer_syntax(), "1.2.840.10008.1.2");
        assert_eq!(object.meta().media_storage_sop_instance_uid(), "1.2.3.4.5");
        assert_eq!(
            object.meta().implementation_class_uid(),
            dicomwire::ul::IMPLEMENTATION_CLASS_UID.as_str()
        );
        assert_eq!(
            object.meta().implementation_version_name(),
            Some(dicomwire::ul::IMPLEMENTATION_VERSION_NAME)
        );
        assert_eq!(
            object.element(tags::PATIENT_ID).unwrap().to_str().unwrap(),
            "P-1"
        );
    }

    #[test]
    fn bare_data_sets_in_either_little_endian() {
        for ts in [
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
            uids::IMPLICIT_VR_LITTLE_ENDIAN,
        ] {
            let loaded = load_bytes(&encoded(&patient(), &ts)).unwrap();
            assert_eq!(loaded.format, FileFormat::BareDataSet);
            assert_eq!(loaded.transfer_syntax, ts.as_str(), "{ts:?}");
            assert_eq!(patient_id(&loaded), "P-1");
        }
    }

    #[test]
    fn not_dicom_is_refused_with_a_reason() {
        for bytes in [
            &b""[..],
            b"12345\n",
            b"# worklist notes\nnothing to see here\n",
            &[0u8; 200][..],
            b"DICM",
        ] {
            let why = load_bytes(bytes).unwrap_err();
            assert!(!why.is_empty());
        }
        // A data set with only groups a worklist never uses is not accepted as bare data.
        let other = InMemDicomObject::from_element_iter([DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(2_u16),
        )]);
        assert!(load_bytes(&encoded(&other, &uids::EXPLICIT_VR_LITTLE_ENDIAN)).is_err());
    }

    #[test]
    fn the_structure_check_follows_sequences_and_lengths() {
        for p in crate::sample::hanging_protocols() {
            for (ts, explicit) in [
                (uids::EXPLICIT_VR_LITTLE_ENDIAN, true),
                (uids::IMPLICIT_VR_LITTLE_ENDIAN, false),
            ] {
                let bytes = encoded(&p.object, &ts);
                assert!(well_formed(&bytes, explicit), "{ts:?}");
                assert!(!well_formed(&bytes[..bytes.len() - 1], explicit), "{ts:?}");
                let mut longer = bytes.to_vec();
                longer.push(0);
                assert!(!well_formed(&longer, explicit), "{ts:?}");
            }
        }
        // Undefined-length UN holds implicit VR items; encapsulated fragments end with
        // a sequence delimiter.
        let mut un = vec![
            0x09, 0x00, 0x10, 0x10, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        un.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        un.extend_from_slice(&[0x10, 0x00, 0x20, 0x00, 2, 0, 0, 0, b'P', b'1']);
        un.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        un.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert!(well_formed(&un, true));
        let mut pixels = vec![
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        pixels.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        pixels.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 2, 0, 0, 0, 0xAB, 0xCD]);
        pixels.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert!(well_formed(&pixels, true));
        // A text file read as implicit VR claims a value of about 1.9 GB.
        assert!(!well_formed(
            b"# worklist notes\nnothing to see here\n",
            false
        ));
    }

    #[test]
    fn truncated_meta_is_refused() {
        let data = encoded(&patient(), &uids::EXPLICIT_VR_LITTLE_ENDIAN);
        let file = part10("1.2.3", "1.2.3.4", "1.2.840.10008.1.2.1", &data);
        assert!(load_bytes(&file[..150]).is_err());
    }

    #[test]
    fn instance_file_names_are_plain() {
        assert_eq!(instance_file_name("1.2.3"), "1.2.3.dcm");
        assert_eq!(instance_file_name("../../etc/passwd"), "_.._etc_passwd.dcm");
        assert_eq!(instance_file_name(""), "instance.dcm");
    }

    #[test]
    fn write_atomically_refuses_paths() {
        let dir = std::env::temp_dir();
        for name in ["", "..", "a/b", "a\\b"] {
            assert!(write_atomically(&dir, name, b"x").is_err(), "{name:?}");
        }
    }

    #[test]
    fn hanging_protocols_are_kept_as_stored_or_reencoded_without_bulk_copies() {
        let mut object = patient();
        object.put(DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(uids::HANGING_PROTOCOL_STORAGE.as_str()),
        ));
        object.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4"),
        ));
        // A private blob past BULK_VALUE and a short binary value.
        object.put(DataElement::new(
            Tag(0x0009, 0x1010),
            VR::OB,
            PrimitiveValue::from(vec![0x5a_u8; 10_000]),
        ));
        object.put(DataElement::new(
            Tag(0x0009, 0x1011),
            VR::OB,
            PrimitiveValue::from(vec![1_u8, 2]),
        ));
        let raw = encoded(&object, &uids::IMPLICIT_VR_LITTLE_ENDIAN);
        let loaded = load_bytes(&raw).unwrap();
        let stored = stored_instance(loaded.clone()).unwrap();
        // Matching keeps no copy of the blob; the instance sent still has it.
        assert!(stored.object.element(Tag(0x0009, 0x1010)).is_err());
        assert!(stored.object.element(Tag(0x0009, 0x1011)).is_ok());
        assert!(stored.object.element(tags::SOP_INSTANCE_UID).is_ok());
        assert_eq!(
            stored.instance.transfer_syntax,
            uids::IMPLICIT_VR_LITTLE_ENDIAN
        );
        assert_eq!(stored.instance.data, raw);
        assert_eq!(stored.instance.sop_instance_uid, "1.2.3.4");
        let unknown = LoadedObject {
            raw: None,
            ..loaded
        };
        let stored = stored_instance(unknown).unwrap();
        assert_eq!(
            stored.instance.transfer_syntax,
            uids::EXPLICIT_VR_LITTLE_ENDIAN
        );
        assert!(
            stored_instance(
                load_bytes(&encoded(&patient(), &uids::EXPLICIT_VR_LITTLE_ENDIAN)).unwrap()
            )
            .is_err()
        );
    }
}
