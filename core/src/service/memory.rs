//! In-memory providers: a worklist, a hanging protocol store and a move destination table.
//!
//! They hold their records behind an `Arc` that can be swapped while serving (a new
//! snapshot is picked up by the next query; a query in progress keeps the snapshot it
//! started with), and they answer lazily, one record at a time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

use super::matching::{MatchOptions, match_identifier};
use super::provider::{
    Destination, FindHandler, FindItem, FindRequest, FindResults, HandlerError, Instance,
    MoveDestinations, RetrieveHandler, RetrieveItem, RetrieveRequest, RetrieveSet,
};

/// A snapshot of records, shared with the queries that use it.
type Snapshot<T> = Arc<Vec<T>>;

fn read<T>(lock: &RwLock<Snapshot<T>>) -> Snapshot<T> {
    match lock.read() {
        Ok(guard) => Arc::clone(&guard),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

fn write<T>(lock: &RwLock<Snapshot<T>>, records: Vec<T>) {
    match lock.write() {
        Ok(mut guard) => *guard = Arc::new(records),
        Err(poisoned) => *poisoned.into_inner() = Arc::new(records),
    }
}

/// Lazily matches `query` against a snapshot.
fn lazy_matches<T: Send + Sync + 'static>(
    records: Snapshot<T>,
    query: InMemDicomObject,
    options: MatchOptions,
    object: fn(&T) -> &InMemDicomObject,
) -> FindResults {
    let mut next = 0;
    Box::new(std::iter::from_fn(move || {
        while next < records.len() {
            let record = &records[next];
            next += 1;
            if let Some(response) = match_identifier(&query, object(record), &options) {
                return Some(FindItem::Match(response));
            }
        }
        None
    }))
}

/// A Modality Worklist held in memory: each record is one scheduled procedure step's
/// worklist item (a data set of the Modality Worklist information model).
#[derive(Debug, Default)]
pub struct InMemoryWorklist {
    records: RwLock<Snapshot<InMemDicomObject>>,
}

impl InMemoryWorklist {
    /// A worklist with `records`.
    pub fn new(records: Vec<InMemDicomObject>) -> Self {
        Self {
            records: RwLock::new(Arc::new(records)),
        }
    }

    /// Replaces every record; queries already running finish on the old snapshot.
    pub fn replace(&self, records: Vec<InMemDicomObject>) {
        write(&self.records, records);
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        read(&self.records).len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FindHandler for InMemoryWorklist {
    fn find(&self, request: &FindRequest<'_>) -> Result<FindResults, HandlerError> {
        Ok(lazy_matches(
            read(&self.records),
            request.identifier.clone(),
            MatchOptions::worklist(),
            |r| r,
        ))
    }
}

/// A Hanging Protocol instance: the object to match queries against, and its encoded
/// form to send.
#[derive(Debug, Clone)]
pub struct StoredInstance {
    /// The decoded data set.
    pub object: InMemDicomObject,
    /// The instance as sent in C-STORE sub-operations.
    pub instance: Instance,
}

/// Hanging Protocol instances held in memory, for C-FIND, C-GET and C-MOVE.
#[derive(Debug, Default)]
pub struct InMemoryHangingProtocols {
    instances: RwLock<Snapshot<StoredInstance>>,
}

impl InMemoryHangingProtocols {
    /// A store with `instances`.
    pub fn new(instances: Vec<StoredInstance>) -> Self {
        Self {
            instances: RwLock::new(Arc::new(instances)),
        }
    }

    /// Replaces every instance.
    pub fn replace(&self, instances: Vec<StoredInstance>) {
        write(&self.instances, instances);
    }

    /// How many instances there are.
    pub fn len(&self) -> usize {
        read(&self.instances).len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FindHandler for InMemoryHangingProtocols {
    fn find(&self, request: &FindRequest<'_>) -> Result<FindResults, HandlerError> {
        Ok(lazy_matches(
            read(&self.instances),
            request.identifier.clone(),
            MatchOptions::hanging_protocol(),
            |s| &s.object,
        ))
    }
}

impl RetrieveHandler for InMemoryHangingProtocols {
    fn retrieve(&self, request: &RetrieveRequest<'_>) -> Result<RetrieveSet, HandlerError> {
        let snapshot = read(&self.instances);
        let by_uid: HashMap<&str, usize> = snapshot
            .iter()
            .enumerate()
            .map(|(i, s)| (s.instance.sop_instance_uid.as_str(), i))
            .collect();
        // One sub-operation per requested UID we hold, in request order, each once.
        let mut chosen = Vec::new();
        for uid in request.sop_instance_uids {
            if let Some(&i) = by_uid.get(uid.as_str()) {
                if !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
        }
        let count = chosen.len();
        let mut order = chosen.into_iter();
        Ok(RetrieveSet {
            count: Some(count),
            items: Box::new(std::iter::from_fn(move || {
                order
                    .next()
                    .map(|i| RetrieveItem::Instance(snapshot[i].instance.clone()))
            })),
        })
    }
}

/// The SOP Instance UID (0008,0018) of an object, if it has one.
pub fn sop_instance_uid(object: &InMemDicomObject) -> Option<String> {
    object
        .get(Tag(0x0008, 0x0018))
        .and_then(|e| e.value().to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
}

/// A move destination table: AE title to host and port.
#[derive(Debug, Default, Clone)]
pub struct StaticDestinations {
    table: HashMap<String, Destination>,
}

impl StaticDestinations {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a destination.
    pub fn insert(&mut self, ae_title: &str, destination: Destination) {
        self.table.insert(ae_title.trim().to_owned(), destination);
    }
}

impl MoveDestinations for StaticDestinations {
    fn resolve(&self, ae_title: &str) -> Option<Destination> {
        self.table.get(ae_title.trim()).cloned()
    }
}
