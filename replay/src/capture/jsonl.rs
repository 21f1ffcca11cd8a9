//! The `dicom-peers-capture/1` JSON-lines format (see `tests/fixtures/captures/README.md`):
//! a meta line, then one record per line, either one `recv()` worth of bytes in one
//! direction or a connection event (`open`, `eof`, `rst`, `close`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;

use super::{
    Capture, CaptureError, CaptureFormat, CaptureLimits, Direction, Flow, Record, RecordKind,
};

/// The format name the meta line must carry.
pub(crate) const FORMAT: &str = "dicom-peers-capture/1";

#[derive(Deserialize)]
struct Line {
    meta: Option<Meta>,
    conn: Option<u32>,
    dir: Option<Dir>,
    t_us: Option<u64>,
    hex: Option<String>,
    event: Option<String>,
    client: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    format: String,
    #[serde(default)]
    label: String,
    upstream: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
enum Dir {
    #[serde(rename = "c2s")]
    C2s,
    #[serde(rename = "s2c")]
    S2c,
}

impl From<Dir> for Direction {
    fn from(dir: Dir) -> Self {
        match dir {
            Dir::C2s => Self::ClientToServer,
            Dir::S2c => Self::ServerToClient,
        }
    }
}

pub(crate) fn parse(bytes: &[u8], limits: &CaptureLimits) -> Result<Capture, CaptureError> {
    let text = std::str::from_utf8(bytes).map_err(|e| CaptureError {
        at: format!("byte {}", e.valid_up_to()),
        message: "not UTF-8".into(),
    })?;
    let mut label = None;
    let mut server = None;
    // Flows by connection number, plus the order in which connections first appeared.
    let mut flows: BTreeMap<u32, (usize, Flow, [usize; 2])> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("line {}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        let fail = |message: String| CaptureError { at: at(), message };
        let parsed: Line = serde_json::from_str(line).map_err(|e| fail(e.to_string()))?;
        if let Some(meta) = parsed.meta {
            if label.is_some() {
                return Err(fail("a second meta line".into()));
            }
            if meta.format != FORMAT {
                return Err(fail(format!(
                    "format {:?}, expected {FORMAT:?}",
                    meta.format
                )));
            }
            server = meta.upstream.and_then(|s| s.parse::<SocketAddr>().ok());
            label = Some(meta.label);
            continue;
        }
        if label.is_none() {
            return Err(fail("a record before the meta line".into()));
        }
        let conn = parsed.conn.ok_or_else(|| fail("no \"conn\"".into()))?;
        let t_us = parsed.t_us.ok_or_else(|| fail("no \"t_us\"".into()))?;
        let next = flows.len();
        if !flows.contains_key(&conn) && next >= limits.max_flows {
            return Err(fail(format!("more than {} connections", limits.max_flows)));
        }
        let (_, flow, sizes) = flows.entry(conn).or_insert_with(|| {
            (
                next,
                Flow {
                    server,
                    ..Flow::default()
                },
                [0, 0],
            )
        });
        let need_dir = || {
            parsed
                .dir
                .map(Direction::from)
                .ok_or_else(|| fail("no \"dir\"".into()))
        };
        let record = match (parsed.hex.as_deref(), parsed.event.as_deref()) {
            (Some(hex), None) => {
                let dir = need_dir()?;
                let data = decode_hex(hex).ok_or_else(|| fail("\"hex\" is not hex".into()))?;
                let size = &mut sizes[dir as usize];
                *size = size.saturating_add(data.len());
                if *size > limits.max_stream_bytes {
                    return Err(fail(format!(
                        "more than {} bytes {dir} on connection {conn}",
                        limits.max_stream_bytes
                    )));
                }
                Record {
                    t_us,
                    dir,
                    kind: RecordKind::Data(data),
                }
            }
            (None, Some("open")) => {
                flow.client = parsed.client.as_deref().and_then(|c| c.parse().ok());
                continue;
            }
            (None, Some("close")) => continue,
            (None, Some("eof")) => Record {
                t_us,
                dir: need_dir()?,
                kind: RecordKind::Eof,
            },
            (None, Some("rst")) => Record {
                t_us,
                dir: need_dir()?,
                kind: RecordKind::Reset,
            },
            (None, Some(other)) => return Err(fail(format!("unknown event {other:?}"))),
            (Some(_), Some(_)) => return Err(fail("both \"hex\" and \"event\"".into())),
            (None, None) => return Err(fail("neither \"hex\" nor \"event\"".into())),
        };
        if flow
            .records
            .last()
            .is_some_and(|last| last.t_us > record.t_us)
        {
            return Err(fail(format!("time goes backwards on connection {conn}")));
        }
        flow.records.push(record);
    }
    let label = label.ok_or_else(|| CaptureError {
        at: "line 1".into(),
        message: "no meta line".into(),
    })?;
    let mut ordered: Vec<(usize, Flow)> = flows.into_values().map(|(i, f, _)| (i, f)).collect();
    ordered.sort_by_key(|(i, _)| *i);
    Ok(Capture {
        format: CaptureFormat::JsonLines,
        label,
        flows: ordered.into_iter().map(|(_, f)| f).collect(),
    })
}

/// Decodes lowercase or uppercase hex; `None` on an odd length or a non-hex digit.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"meta": {"format": "dicom-peers-capture/1", "label": "x", "upstream": "127.0.0.1:104"}}"#;

    fn parse_str(text: &str) -> Result<Capture, CaptureError> {
        parse(text.as_bytes(), &CaptureLimits::default())
    }

    #[test]
    fn records_group_into_flows_in_order_of_appearance() {
        let text = format!(
            "{META}\n\
             {{\"conn\": 1, \"event\": \"open\", \"t_us\": 0, \"client\": \"127.0.0.1:5000\"}}\n\
             {{\"conn\": 1, \"dir\": \"c2s\", \"t_us\": 5, \"len\": 2, \"hex\": \"0A0b\"}}\n\
             {{\"conn\": 0, \"dir\": \"s2c\", \"t_us\": 1, \"len\": 1, \"hex\": \"ff\"}}\n\
             {{\"conn\": 1, \"event\": \"eof\", \"dir\": \"c2s\", \"t_us\": 9}}\n\
             {{\"conn\": 1, \"event\": \"rst\", \"dir\": \"s2c\", \"t_us\": 10}}\n"
        );
        let capture = parse_str(&text).unwrap();
        assert_eq!(capture.label, "x");
        assert_eq!(capture.flows.len(), 2);
        let first = &capture.flows[0];
        assert_eq!(first.client, Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(first.server, Some("127.0.0.1:104".parse().unwrap()));
        assert_eq!(first.stream(Direction::ClientToServer), [0x0a, 0x0b]);
        assert_eq!(
            first
                .records
                .iter()
                .map(|r| r.kind.clone())
                .collect::<Vec<_>>(),
            [
                RecordKind::Data(vec![0x0a, 0x0b]),
                RecordKind::Eof,
                RecordKind::Reset
            ]
        );
        assert_eq!(capture.flows[1].stream(Direction::ServerToClient), [0xff]);
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line_number() {
        for (body, message) in [
            (
                r#"{"conn": 0, "dir": "c2s", "t_us": 1, "hex": "abc"}"#,
                "not hex",
            ),
            (
                r#"{"conn": 0, "dir": "c2s", "t_us": 1, "hex": "zz"}"#,
                "not hex",
            ),
            (r#"{"conn": 0, "t_us": 1, "hex": "00"}"#, "no \"dir\""),
            (
                r#"{"conn": 0, "dir": "up", "t_us": 1, "hex": "00"}"#,
                "unknown variant",
            ),
            (r#"{"dir": "c2s", "t_us": 1, "hex": "00"}"#, "no \"conn\""),
            (
                r#"{"conn": 0, "event": "boom", "t_us": 1}"#,
                "unknown event",
            ),
            (r#"{"conn": 0, "t_us": 1}"#, "neither"),
            ("not json", "expected"),
        ] {
            let error = parse_str(&format!("{META}\n{body}\n")).unwrap_err();
            assert_eq!(error.at, "line 2", "{body}");
            assert!(error.message.contains(message), "{body}: {error}");
        }
        assert_eq!(parse_str("").unwrap_err().message, "no meta line");
        let wrong = r#"{"meta": {"format": "other/2", "label": ""}}"#;
        assert!(parse_str(wrong).unwrap_err().message.contains("other/2"));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = CaptureLimits {
            max_flows: 1,
            max_stream_bytes: 2,
            ..CaptureLimits::default()
        };
        let two_flows = format!(
            "{META}\n{{\"conn\": 0, \"event\": \"open\", \"t_us\": 0}}\n{{\"conn\": 1, \"event\": \"open\", \"t_us\": 0}}\n"
        );
        assert!(
            parse(two_flows.as_bytes(), &limits)
                .unwrap_err()
                .message
                .contains("more than 1 connections")
        );
        let big = format!(
            "{META}\n{{\"conn\": 0, \"dir\": \"c2s\", \"t_us\": 0, \"hex\": \"0102\"}}\n{{\"conn\": 0, \"dir\": \"c2s\", \"t_us\": 0, \"hex\": \"03\"}}\n"
        );
        assert!(
            parse(big.as_bytes(), &limits)
                .unwrap_err()
                .message
                .contains("more than 2 bytes")
        );
    }
}
