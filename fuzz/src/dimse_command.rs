//! The `dimse_command` target: arbitrary bytes as a DIMSE command set.

use dicomwire::dimse::{CommandSet, Message};

/// Arbitrary bytes as a command set: decoding never panics, and what decodes re-encodes
/// to a command set that decodes to the same value (and, as a message, the same message).
pub fn dimse_command(data: &[u8]) {
    let Ok(set) = CommandSet::decode(data) else {
        return;
    };
    let mut again = Vec::new();
    if set.encode(&mut again).is_err() {
        return;
    }
    let back = CommandSet::decode(&again).expect("our encoding decodes");
    assert_eq!(back, normalised(&set));
    if let Ok(message) = Message::from_command(&set) {
        let mut encoded = Vec::new();
        message
            .to_command(set.has_data_set())
            .encode(&mut encoded)
            .expect("a message encodes");
        let decoded = CommandSet::decode(&encoded).expect("decodes");
        assert_eq!(
            Message::from_command(&decoded).as_ref(),
            Ok(&message)
        );
    }
}

/// What a decoded command set becomes after one encode: text trimmed as decoding trims.
fn normalised(set: &CommandSet) -> CommandSet {
    let mut set = set.clone();
    set.other.sort_by_key(|(t, _)| *t);
    set
}
