//! Reader for the standard's tables copied from `../shared/spec/` into `fixtures/spec/`.

use std::collections::HashMap;

use crate::capture::fixtures_dir;

/// One row of a TSV table, keyed by the header's column names.
pub type Row = HashMap<String, String>;

/// Reads `fixtures/spec/NAME` (a TSV file with one header row) into rows.
pub fn table(name: &str) -> Vec<Row> {
    let path = fixtures_dir().join("spec").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            header
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    (
                        (*h).to_owned(),
                        cells.get(i).copied().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

/// Parses `0x1F` or `31` as a number.
pub fn parse_code(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
