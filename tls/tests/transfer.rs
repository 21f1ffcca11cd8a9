//! Data through an established pair: split invariance, close_notify, and bounded memory
//! under an 8 MiB transfer each way.

mod common;

use common::{Delivery, Identity, Pair, Pki};
use dicomwire_tls::{ClientAuth, TlsLayer, WriteError};

const SERVER: &str = "pacs.example";

fn configs() -> (Pki, Identity, Identity) {
    let pki = Pki::new("Test CA");
    let server = pki.leaf(&[SERVER]);
    let client = pki.leaf(&["modality.example"]);
    (pki, server, client)
}

fn pair(delivery: Delivery) -> Pair {
    let (pki, server, client) = configs();
    Pair::connect(
        &pki.client_config(Some(&client)),
        SERVER,
        &pki.server_config(&server, ClientAuth::Required),
    )
    .with_delivery(delivery)
}

/// Some messages each way, the first written before the handshake; returns what each
/// side received.
fn conversation(delivery: Delivery) -> (Vec<u8>, Vec<u8>) {
    let mut p = pair(delivery);
    p.client
        .write_plaintext(b"A-ASSOCIATE-RQ before the handshake")
        .unwrap();
    p.expect_handshake();
    for i in 0..20u8 {
        let message = vec![i; usize::from(i) * 997];
        assert_eq!(p.server.write_plaintext(&message).unwrap(), message.len());
        assert_eq!(p.client.write_plaintext(&[i, i, i]).unwrap(), 3);
        p.run();
    }
    p.client.send_close_notify();
    p.run();
    assert!(p.server.peer_closed());
    (p.to_server.received, p.to_client.received)
}

#[test]
fn plaintext_is_the_same_however_the_ciphertext_is_split() {
    let whole = conversation(Delivery::Whole);
    assert!(whole.0.starts_with(b"A-ASSOCIATE-RQ before the handshake"));
    assert_eq!(whole.1.len(), (0..20).map(|i| i * 997).sum::<usize>());
    assert_eq!(conversation(Delivery::Bytewise), whole, "byte by byte");
    for seed in [1, 7, 42] {
        let chunks = Delivery::Chunks { seed, max: 300 };
        assert_eq!(conversation(chunks), whole, "{chunks:?}");
    }
}

#[test]
fn close_notify_ends_the_session_cleanly() {
    let mut p = pair(Delivery::Whole);
    p.expect_handshake();
    p.client.write_plaintext(b"A-RELEASE-RQ").unwrap();
    p.client.send_close_notify();
    p.client.send_close_notify(); // a second call sends nothing more
    let mut wire = Vec::new();
    assert!(p.client.poll_ciphertext(&mut wire) > 0);
    assert_eq!(p.client.write_plaintext(b"late"), Err(WriteError::Closed));

    assert!(!p.server.peer_closed());
    let taken = p.server.handle_ciphertext(&wire).unwrap();
    assert_eq!(taken, wire.len());
    let mut plain = Vec::new();
    p.server.poll_plaintext(&mut plain);
    assert_eq!(
        plain, b"A-RELEASE-RQ",
        "data before close_notify is delivered"
    );
    assert!(p.server.peer_closed());
    assert!(!p.server.wants_read());
    // Anything after close_notify is taken and discarded.
    assert_eq!(p.server.handle_ciphertext(&[0x17; 40]).unwrap(), 40);
    assert_eq!(p.server.poll_plaintext(&mut plain), 0);

    // The server answers with its own close_notify.
    p.server.send_close_notify();
    p.step_to_client();
    assert!(p.client.peer_closed());
    assert!(p.to_client.failure.is_none());
}

/// One direction of the large transfer: what is left to send, and what arrived.
struct Flow {
    data: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
}

#[test]
fn eight_mib_each_way_through_small_buffers_stays_bounded() {
    const TOTAL: usize = 8 * 1024 * 1024;
    const LIMIT: usize = 16 * 1024;
    const SOCKET: usize = 4096; // what one socket read or write moves
    const SESSION_READ: usize = 3000; // what the session takes per round: slower than the socket

    let mut p = pair(Delivery::Whole);
    p.expect_handshake();
    p.client.set_buffer_limit(LIMIT);
    p.server.set_buffer_limit(LIMIT);
    let pattern = |seed: u8| -> Vec<u8> {
        (0..TOTAL)
            .map(|i| u8::try_from((i * 31 + usize::from(seed)) % 251).unwrap())
            .collect()
    };
    let mut flows = [
        Flow {
            data: pattern(1),
            sent: 0,
            received: Vec::new(),
        },
        Flow {
            data: pattern(2),
            sent: 0,
            received: Vec::new(),
        },
    ];
    // Ciphertext in flight, and plaintext the receiving session has not taken yet.
    let mut sockets = [Vec::new(), Vec::new()];
    let mut session_inputs = [Vec::new(), Vec::new()];
    let mut most_ciphertext_polled = 0;
    let mut most_plaintext_polled = 0;
    let mut write_refused = false;
    let mut read_refused = false;
    let mut rounds = 0;

    while flows.iter().any(|f| f.received.len() < TOTAL) {
        rounds += 1;
        assert!(rounds < 100_000, "no progress");
        for (from, to) in [(0, 1), (1, 0)] {
            let (sender, receiver) = if from == 0 {
                (&mut p.client, &mut p.server)
            } else {
                (&mut p.server, &mut p.client)
            };
            // The session hands over what it has; the layer takes what fits.
            let flow = &mut flows[from];
            let offered = &flow.data[flow.sent..];
            let taken = sender.write_plaintext(offered).unwrap();
            write_refused |= taken < offered.len();
            flow.sent += taken;
            // The socket accepts what it has room for.
            if sockets[from].len() < SOCKET {
                let polled = sender.poll_ciphertext(&mut sockets[from]);
                most_ciphertext_polled = most_ciphertext_polled.max(polled);
            }
            // The peer reads one socket buffer's worth and feeds it.
            let n = sockets[from].len().min(SOCKET);
            let taken = receiver.handle_ciphertext(&sockets[from][..n]).unwrap();
            read_refused |= taken < n;
            sockets[from].drain(..taken);
            // Its transport drains plaintext only while the session's input has room.
            if session_inputs[to].len() < SESSION_READ {
                let polled = receiver.poll_plaintext(&mut session_inputs[to]);
                most_plaintext_polled = most_plaintext_polled.max(polled);
            }
            let take = session_inputs[to].len().min(SESSION_READ);
            flows[from]
                .received
                .extend(session_inputs[to].drain(..take));
        }
    }
    for flow in &flows {
        assert!(
            flow.received == flow.data,
            "the bytes arrive intact and in order"
        );
    }
    assert!(write_refused, "write_plaintext pushed back");
    assert!(
        read_refused,
        "handle_ciphertext pushed back while plaintext waited"
    );
    // rustls applies the limit to plaintext, before record framing (22 bytes a record).
    assert!(
        most_ciphertext_polled <= LIMIT + 512,
        "{most_ciphertext_polled}"
    );
    // Received plaintext stops growing past 16 KiB; one more record (at most 16 KiB) may
    // complete after the check.
    assert!(
        most_plaintext_polled <= 32 * 1024,
        "{most_plaintext_polled}"
    );
}

#[test]
fn an_empty_input_changes_nothing() {
    let mut p = pair(Delivery::Whole);
    assert_eq!(p.server.handle_ciphertext(&[]), Ok(0));
    assert!(p.server.is_handshaking());
    p.expect_handshake();
    let mut out = Vec::new();
    assert_eq!(p.client.poll_plaintext(&mut out), 0);
    assert_eq!(p.client.write_plaintext(&[]), Ok(0));
}

#[test]
fn a_layer_is_debug_without_secrets() {
    let (pki, server, _) = configs();
    let layer = TlsLayer::server(&pki.server_config(&server, ClientAuth::Required)).unwrap();
    let text = format!("{layer:?}");
    assert!(
        text.starts_with("TlsLayer { server: true, handshaking: true"),
        "{text}"
    );
}
