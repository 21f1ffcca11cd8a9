//! Reader for the `dicom-peers-capture/1` JSON-lines format of `fixtures/captures/`
//! (described in `fixtures/captures/README.md`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Direction {
    /// Association requestor to acceptor.
    #[serde(rename = "c2s")]
    ClientToServer,
    /// Acceptor to requestor.
    #[serde(rename = "s2c")]
    ServerToClient,
}

/// One `recv()` worth of bytes, as the capturing proxy saw it.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Connection number within the file.
    pub conn: u32,
    /// Direction.
    pub dir: Direction,
    /// Microseconds since the connection was accepted.
    pub t_us: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A whole capture file.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The label in the file's meta line.
    pub label: String,
    /// The data records, in file order (events are skipped).
    pub chunks: Vec<Chunk>,
}

#[derive(Deserialize)]
struct RawLine {
    meta: Option<Meta>,
    conn: Option<u32>,
    dir: Option<Direction>,
    t_us: Option<u64>,
    hex: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    format: String,
    label: String,
}

/// The fixtures directory of this crate.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every `*.jsonl` capture in `fixtures/captures/`, sorted by name.
pub fn all_captures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join("captures"))
        .expect("fixtures/captures exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    paths
}

impl Capture {
    /// Loads a capture file. Panics with the line number on malformed input: fixtures are
    /// ours, and a broken one should fail the test loudly.
    pub fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut label = None;
        let mut chunks = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let raw: RawLine = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
            if let Some(meta) = raw.meta {
                assert_eq!(meta.format, "dicom-peers-capture/1", "{}", path.display());
                label = Some(meta.label);
            } else if let (Some(conn), Some(dir), Some(t_us), Some(hex)) =
                (raw.conn, raw.dir, raw.t_us, raw.hex)
            {
                chunks.push(Chunk {
                    conn,
                    dir,
                    t_us,
                    bytes: decode_hex(&hex)
                        .unwrap_or_else(|| panic!("{}:{}: bad hex", path.display(), n + 1)),
                });
            }
        }
        Self {
            label: label.unwrap_or_else(|| panic!("{}: no meta line", path.display())),
            chunks,
        }
    }

    /// The concatenated bytes of one direction of one connection.
    pub fn stream(&self, conn: u32, dir: Direction) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|c| c.conn == conn && c.dir == dir)
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }
}

/// Decodes lowercase or uppercase hex; `None` on an odd length or a non-hex digit.
pub fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}
