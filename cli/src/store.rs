//! `dicomwire store`: Part 10 files, and folders of them (recursively), sent with C-STORE.
//!
//! [`scan`] reads each file's meta information only (its SOP class, instance and
//! transfer syntax, and where its data set starts); [`run`] proposes one presentation
//! context per SOP class and transfer syntax found (at most 128 an association: more
//! are sent over further associations), sends each data set as it is read from disk
//! (never whole in memory: [`DataSetReader`]), over `jobs` associations in parallel, and
//! reports each file and a summary. Nothing is transcoded: an instance goes in the
//! transfer syntax it is stored in, or not at all.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dicomwire::dimse::{DataSetReader, Service, Status};
use dicomwire::pdu::Uid;
use dicomwire::session::{ClientError, Operation};
use dicomwire::ul::{AssociationConfig, AssociationRequest, MAX_PRESENTATION_CONTEXTS};

/// The most folders deep a scan goes.
const MAX_DEPTH: usize = 64;

/// The most bytes of a file read to find its meta information.
const META_LIMIT: usize = 64 * 1024;

/// A Part 10 file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFile {
    /// Where it is.
    pub path: PathBuf,
    /// Media Storage SOP Class UID (0002,0002).
    pub sop_class: Uid,
    /// Media Storage SOP Instance UID (0002,0003).
    pub sop_instance_uid: String,
    /// Transfer Syntax UID (0002,0010): the data set's.
    pub transfer_syntax: Uid,
    /// Where the data set starts (after the meta information).
    pub offset: u64,
    /// The data set's length.
    pub len: u64,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The files to send, in the order found (folders sorted by name).
    pub files: Vec<StoreFile>,
    /// Files named on the command line that cannot be sent, and why: failures.
    pub unusable: Vec<(PathBuf, String)>,
    /// Files found in folders that are not DICOM Part 10 files, and why: skipped.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads the meta information of every file of `paths`, folders recursively (each
/// folder once, whatever links lead back to it; hidden entries skipped).
pub fn scan(paths: &[PathBuf]) -> Scan {
    let mut scan = Scan::default();
    let mut seen = HashSet::new();
    for path in paths {
        if path.is_dir() {
            walk(path, 0, &mut seen, &mut scan);
        } else {
            match read_file(path) {
                Ok(file) => scan.files.push(file),
                Err(why) => scan.unusable.push((path.clone(), why)),
            }
        }
    }
    scan
}

fn walk(dir: &Path, depth: usize, seen: &mut HashSet<PathBuf>, scan: &mut Scan) {
    let Ok(canonical) = dir.canonicalize() else {
        scan.skipped
            .push((dir.to_path_buf(), "cannot resolve the folder".into()));
        return;
    };
    if depth > MAX_DEPTH || !seen.insert(canonical) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            scan.skipped.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, depth + 1, seen, scan);
        } else if path.is_file() {
            match read_file(&path) {
                Ok(file) => scan.files.push(file),
                Err(why) => scan.skipped.push((path, why)),
            }
        }
    }
}

/// The meta information of the Part 10 file at `path`.
///
/// # Errors
///
/// Why it is not a Part 10 file we can send, in words.
pub fn read_file(path: &Path) -> Result<StoreFile, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut head = Vec::new();
    file.by_ref()
        .take(META_LIMIT as u64)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    let meta = parse_meta(&head)?;
    let text = |v: Option<&[u8]>, what: &str| -> Result<String, String> {
        let v = v.ok_or_else(|| format!("no {what} in the file meta information"))?;
        Ok(String::from_utf8_lossy(v)
            .trim_end_matches(['\0', ' '])
            .trim()
            .to_owned())
    };
    let uid = |v: Option<&[u8]>, what: &str| -> Result<Uid, String> {
        let t = text(v, what)?;
        Uid::new(&t).map_err(|e| format!("{what} {t:?}: {e}"))
    };
    Ok(StoreFile {
        path: path.to_path_buf(),
        sop_class: uid(meta.sop_class, "Media Storage SOP Class UID")?,
        sop_instance_uid: text(meta.sop_instance, "Media Storage SOP Instance UID")?,
        transfer_syntax: uid(meta.transfer_syntax, "Transfer Syntax UID")?,
        offset: meta.end as u64,
        len: size.saturating_sub(meta.end as u64),
    })
}

/// The values of the file meta information a store needs, and where it ends.
struct Meta<'a> {
    sop_class: Option<&'a [u8]>,
    sop_instance: Option<&'a [u8]>,
    transfer_syntax: Option<&'a [u8]>,
    end: usize,
}

/// Walks the 128-byte preamble, `DICM` and the file meta group (Explicit VR Little
/// Endian, PS3.10 7.1) at the start of `bytes`.
fn parse_meta(bytes: &[u8]) -> Result<Meta<'_>, String> {
    if bytes.get(128..132) != Some(b"DICM") {
        return Err("not a DICOM Part 10 file (no DICM prefix)".into());
    }
    let mut meta = Meta {
        sop_class: None,
        sop_instance: None,
        transfer_syntax: None,
        end: 132,
    };
    let mut at = 132;
    while bytes.get(at..at + 2) == Some(&[0x02, 0x00]) {
        let Some(header) = bytes.get(at..at + 8) else {
            return Err("the file meta information is truncated".into());
        };
        let element = u16::from_le_bytes([header[2], header[3]]);
        let long = matches!(
            &header[4..6],
            b"OB" | b"OW" | b"OF" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR" | b"OD" | b"OL" | b"OV"
        );
        let (start, len) = if long {
            let Some(l) = bytes.get(at + 8..at + 12) else {
                return Err("the file meta information is truncated".into());
            };
            (
                at + 12,
                u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize,
            )
        } else {
            (
                at + 8,
                usize::from(u16::from_le_bytes([header[6], header[7]])),
            )
        };
        let Some(value) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            return Err(if bytes.len() >= META_LIMIT {
                "the file meta information is over 64 KiB".into()
            } else {
                format!("the file meta element (0002,{element:04X}) is truncated")
            });
        };
        match element {
            0x0002 => meta.sop_class = Some(value),
            0x0003 => meta.sop_instance = Some(value),
            0x0010 => meta.transfer_syntax = Some(value),
            _ => {}
        }
        at = start + len;
    }
    if at == 132 {
        return Err("no file meta information after the DICM prefix".into());
    }
    meta.end = at;
    Ok(meta)
}

/// How a file's C-STORE ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileResult {
    /// Stored: a success or warning status (and its Error Comment).
    Stored(Status, Option<String>),
    /// Not stored: why, in words.
    Failed(String),
}

/// What [`run`] needs besides the files.
pub struct StoreOptions<'a> {
    /// Our calling and the peer's called AE title.
    pub request: AssociationRequest,
    /// The associations' configuration.
    pub config: AssociationConfig,
    /// Associations in parallel.
    pub jobs: usize,
    /// Opens an association for a request (over TCP or TLS).
    pub connect: &'a (
            dyn Fn(
        AssociationRequest,
        AssociationConfig,
    ) -> Result<dicomwire_std::Client, ClientError>
                + Sync
        ),
    /// Called once per file, from the worker that sent it.
    pub on_result: &'a (dyn Fn(&StoreFile, &FileResult) + Sync),
    /// Bytes of data sets read so far, for progress.
    pub bytes_sent: Arc<AtomicU64>,
}

/// What a whole run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Stored with a success status.
    pub stored: usize,
    /// Stored with a warning status.
    pub warnings: usize,
    /// Not stored.
    pub failed: usize,
    /// Bytes of the data sets stored.
    pub bytes: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Sends `files` as [`StoreOptions`] says; every file gets one result.
pub fn run(files: &[StoreFile], options: &StoreOptions<'_>) -> Summary {
    let started = Instant::now();
    let summary = Mutex::new(Summary::default());
    let record = |file: &StoreFile, result: FileResult| {
        (options.on_result)(file, &result);
        let mut s = summary.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            FileResult::Stored(status, _) if status.is_warning() => {
                s.warnings += 1;
                s.bytes += file.len;
            }
            FileResult::Stored(..) => {
                s.stored += 1;
                s.bytes += file.len;
            }
            FileResult::Failed(_) => s.failed += 1,
        }
    };
    // One group of files per 128 kinds of (SOP class, transfer syntax).
    let kinds: Vec<(Uid, Uid)> = files
        .iter()
        .map(|f| (f.sop_class.clone(), f.transfer_syntax.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for group in kinds.chunks(MAX_PRESENTATION_CONTEXTS) {
        let mut request = options.request.clone();
        request.contexts.clear();
        for (class, ts) in group {
            request = request.with_context(dicomwire::ul::ProposedContext::new(
                class.clone(),
                vec![ts.clone()],
            ));
        }
        let queue: VecDeque<&StoreFile> = files
            .iter()
            .filter(|f| {
                group
                    .iter()
                    .any(|(c, t)| *c == f.sop_class && *t == f.transfer_syntax)
            })
            .collect();
        let queue = Mutex::new(queue);
        let alive = AtomicUsize::new(options.jobs.max(1));
        std::thread::scope(|scope| {
            for _ in 0..options.jobs.max(1) {
                scope.spawn(|| worker(&queue, &alive, &request, options, &record));
            }
        });
    }
    let mut summary = summary.into_inner().unwrap_or_else(PoisonError::into_inner);
    summary.elapsed = started.elapsed();
    summary
}

/// One association's worth of work: files from `queue` until it is empty. A file whose
/// association ends under it fails, and the next file opens a new one; a worker that
/// cannot associate gives its file back and stops, unless it is the last, which fails
/// what is left with why.
fn worker(
    queue: &Mutex<VecDeque<&StoreFile>>,
    alive: &AtomicUsize,
    request: &AssociationRequest,
    options: &StoreOptions<'_>,
    record: &(dyn Fn(&StoreFile, FileResult) + Sync),
) {
    let next = || {
        queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    };
    let mut client: Option<dicomwire_std::Client> = None;
    while let Some(file) = next() {
        if client.is_none() {
            match (options.connect)(request.clone(), options.config.clone()) {
                Ok(c) => client = Some(c),
                Err(e) => {
                    let why = e.to_string();
                    if alive.fetch_sub(1, Ordering::SeqCst) > 1 {
                        tracing::warn!(error = %why, "cannot associate; leaving the files to the other associations");
                        queue
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push_front(file);
                        return;
                    }
                    record(file, FileResult::Failed(format!("cannot associate: {why}")));
                    while let Some(file) = next() {
                        record(file, FileResult::Failed(format!("cannot associate: {why}")));
                    }
                    return;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let source = match open(file, &options.bytes_sent) {
            Ok(source) => source,
            Err(e) => {
                record(file, FileResult::Failed(format!("cannot read: {e}")));
                continue;
            }
        };
        let operation = Operation::Store {
            sop_class: file.sop_class.clone(),
            sop_instance_uid: file.sop_instance_uid.clone(),
            transfer_syntax: file.transfer_syntax.clone(),
            data: source,
        };
        match c.run(operation, |_| {}) {
            Ok(outcome) if outcome.status.is_success() || outcome.status.is_warning() => {
                record(
                    file,
                    FileResult::Stored(outcome.status, outcome.detail.error_comment),
                );
            }
            Ok(outcome) => {
                let mut why = outcome.status.describe(Service::Store).to_string();
                if let Some(comment) = outcome.detail.error_comment {
                    why = format!("{why}: {comment}");
                }
                record(file, FileResult::Failed(why));
            }
            // The operation could not start; the association goes on.
            Err(ClientError::Scu(e)) => {
                record(file, FileResult::Failed(format!("not sent: {e}")));
            }
            Err(e) => {
                record(file, FileResult::Failed(e.to_string()));
                client = None;
            }
        }
    }
    if let Some(c) = client {
        if let Err(e) = c.release() {
            tracing::warn!(error = %e, "release failed");
        }
    }
}

/// The data set of `file`, read as it is sent, counted into `sent`.
fn open(file: &StoreFile, sent: &Arc<AtomicU64>) -> io::Result<DataSetReader> {
    let mut f = File::open(&file.path)?;
    let size = f.metadata()?.len();
    if size != file.offset + file.len {
        return Err(io::Error::other("the file changed since it was scanned"));
    }
    f.seek(SeekFrom::Start(file.offset))?;
    let counted = Counted {
        inner: f,
        sent: Arc::clone(sent),
    };
    Ok(DataSetReader::new(counted, file.len))
}

/// A reader that adds what it reads to a counter.
struct Counted {
    inner: File,
    sent: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
