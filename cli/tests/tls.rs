//! TLS in the CLI (DICOM's secure transport, PS3.15 B.12) on each transport: `serve
//! --tls-bind` beside or instead of the plain listener, the SCU commands' `--tls`, a
//! C-MOVE to a `tls://` destination, and every failure a person has to act on (unknown
//! CA, expired or not-yet-valid certificate, wrong name, no client certificate, no common
//! protocol version, no TLS at all), each one line naming it: the client's error line,
//! and one line of `serve`'s log naming the peer. A silent TLS peer is closed by ARTIM.
//!
//! The certificates are made at test time (`support/pki.rs`; none is committed). Every
//! process is a child of the test, killed when its guard drops; every wait is bounded.
//! These need no peer but the `dicomwire` binary, and run in plain `cargo test`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use support::pki::{LOOPBACK, Leaf, Pki};
use support::*;

/// The transports `serve` offers; every test runs against each.
const TRANSPORTS: &[&str] = &["mio", "std", "tokio"];

/// `--tls-cert`, `--tls-key` (of `leaf`) and `--tls-ca` (of `pki`).
fn tls_flags(pki: &Pki, leaf: Option<&Leaf>) -> Vec<String> {
    let mut flags = leaf.map(Leaf::flags).unwrap_or_default();
    flags.extend(["--tls-ca".into(), pki.ca_arg()]);
    flags
}

/// `extra`, then `--tls-cert`, `--tls-key` (of `leaf`) and `--tls-ca` (of `pki`).
fn args_with_tls(extra: &[&str], pki: &Pki, leaf: &Leaf) -> Vec<String> {
    let mut args: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
    args.extend(tls_flags(pki, Some(leaf)));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `dicomwire COMMAND 127.0.0.1:PORT --tls` trusting `pki`'s CA, presenting `leaf`, with
/// `extra` arguments.
fn tls_client(
    command: &[&str],
    port: u16,
    pki: &Pki,
    leaf: Option<&Leaf>,
    extra: &[&str],
) -> Command {
    let mut client = dicomwire(command);
    client
        .arg(format!("127.0.0.1:{port}"))
        .arg("--tls")
        .args(tls_flags(pki, leaf))
        .args(extra);
    client
}

/// The lines of `text` after its first `from` bytes.
fn lines_after(text: &str, from: usize) -> Vec<String> {
    text.get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a client command got over TLS, and the server logged, for one failure.
struct Failure {
    what: &'static str,
    /// The client's only line on stderr contains this.
    client: &'static str,
    /// The one line the server logs for it contains this.
    server: &'static str,
}

/// Runs `client` (which must fail) against `serve`, and checks that the client printed
/// exactly one line, its error, naming the failure, and that `serve` logged exactly one
/// line naming it and the peer.
fn assert_fails(serve: &mut Peer, client: &mut Command, expected: &Failure, transport: &str) {
    let case = format!("{} ({transport})", expected.what);
    let logged_before = lossy(&serve.stderr).len();
    let outcome = run(&case, client);
    assert!(
        !outcome.status.success(),
        "{case}: the client succeeded\n{}",
        outcome.stdout
    );
    let client_lines = lines_after(&outcome.stderr, 0);
    assert!(
        matches!(&client_lines[..], [line] if line.starts_with("dicomwire: 127.0.0.1:")
            && line.contains(expected.client)),
        "{case}: the client's error should be one line containing {:?}, got:\n{}",
        expected.client,
        outcome.stderr
    );
    serve.wait_for_log(expected.server);
    // Anything else it would log about this connection comes with the failure.
    std::thread::sleep(Duration::from_millis(100));
    let server_lines = lines_after(&lossy(&serve.stderr), logged_before);
    assert!(
        matches!(&server_lines[..], [line] if line.contains("WARN")
            && line.contains("assoc{peer=127.0.0.1:")
            && line.contains(expected.server)),
        "{case}: serve should log one line naming the peer and containing {:?}, got:\n{}",
        expected.server,
        server_lines.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Working

/// On each transport, `serve` with a plain and a TLS listener says so on its startup
/// line; echo, find and get work with `--tls` (and plainly on the plain port), with
/// `--tls-server-name` naming a name of the certificate while dialling the address; a
/// C-MOVE asked over TLS goes to a `tls://` destination (another `serve`, TLS only, with
/// mutual authentication), which stores the instance.
#[test]
fn every_scu_command_works_over_tls_on_each_transport() {
    start_budget(TEST_BUDGET * 2);
    let pki = Pki::new("Test CA");
    let server = pki.leaf("server", LOOPBACK);
    let client = pki.leaf("client", &["modality.example"]);
    let protocol = &dicomwire_cli::sample::hanging_protocols()[0];
    let uid_key = format!("SOPInstanceUID={}", protocol.instance.sop_instance_uid);
    for transport in TRANSPORTS {
        let stored = temp_dir();
        let dest_args_owned = args_with_tls(
            &[
                "--tls-bind",
                "127.0.0.1:0",
                "--ae-title",
                "DEST",
                "--store",
                stored.path().to_str().unwrap(),
            ],
            &pki,
            &server,
        );
        let dest_args = strs(&dest_args_owned);
        let (mut dest, listeners) = serve_listeners(transport, &dest_args);
        let [(dest_port, true)] = listeners[..] else {
            panic!(
                "expected one TLS listener, got {listeners:?}\n{}",
                dest.logs()
            );
        };
        let destination = format!("DEST=tls://127.0.0.1:{dest_port}");
        let serve_args_owned = args_with_tls(&["--move-destination", &destination], &pki, &server);
        let serve_args = strs(&serve_args_owned);
        let (mut serve, plain_port, tls_port) = serve_plain_and_tls(transport, &serve_args);
        let line = serve.wait_for_line("dicomwire serving on ");
        assert!(
            line.contains(&format!(
                "on 127.0.0.1:{plain_port} and on 127.0.0.1:{tls_port} over TLS (client certificates required) as "
            )),
            "{transport}: {line}"
        );

        let outcome = run(
            "echo --tls",
            &mut tls_client(&["echo"], tls_port, &pki, Some(&client), &[]),
        );
        outcome.assert_success(&format!("echo --tls ({transport})"));
        assert!(outcome.stdout.contains("Success"), "{}", outcome.stdout);
        let outcome = run(
            "echo --tls --tls-server-name localhost",
            &mut tls_client(
                &["echo"],
                tls_port,
                &pki,
                Some(&client),
                &["--tls-server-name", "localhost"],
            ),
        );
        outcome.assert_success(&format!("echo --tls-server-name ({transport})"));
        let outcome = run(
            "echo (plain)",
            &mut dicomwire(&["echo", &format!("127.0.0.1:{plain_port}")]),
        );
        outcome.assert_success(&format!("echo on the plain listener ({transport})"));

        let outcome = run(
            "find --tls",
            &mut tls_client(
                &["find", "hanging-protocol"],
                tls_port,
                &pki,
                Some(&client),
                &[],
            ),
        );
        outcome.assert_success(&format!("find --tls ({transport})"));
        assert!(
            outcome.stdout.contains("5 matches; final status 0x0000"),
            "{}",
            outcome.stdout
        );

        let got = temp_dir();
        let outcome = run(
            "get --tls",
            &mut tls_client(
                &["get", "hanging-protocol"],
                tls_port,
                &pki,
                Some(&client),
                &["-k", &uid_key, "--out", got.path().to_str().unwrap()],
            ),
        );
        outcome.assert_success(&format!("get --tls ({transport})"));
        assert!(
            outcome.stdout.contains("C-GET: 1 instance(s)"),
            "{}",
            outcome.stdout
        );
        assert_eq!(std::fs::read_dir(got.path()).unwrap().count(), 1);

        let outcome = run(
            "move --tls",
            &mut tls_client(
                &["move", "hanging-protocol"],
                tls_port,
                &pki,
                Some(&client),
                &["--dest", "DEST", "-k", &uid_key],
            ),
        );
        outcome.assert_success(&format!("move --tls ({transport})"));
        assert!(
            outcome.stdout.contains("completed 1, failed 0, warning 0"),
            "{transport}: {}\n{}\n{}",
            outcome.stdout,
            serve.logs(),
            dest.logs()
        );
        let files = files_in(stored.path());
        assert_eq!(
            files.len(),
            1,
            "{transport}: the destination stored {files:?}"
        );
        serve.assert_running();
        dest.assert_running();
    }
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// `--tls-bind` alone is the only listener, and with `--tls-client-auth optional` a client
/// without a certificate is served; the startup line says client certificates are
/// optional.
#[test]
fn tls_alone_with_optional_client_auth() {
    start_budget(TEST_BUDGET);
    let pki = Pki::new("Test CA");
    let server = pki.leaf("server", LOOPBACK);
    for transport in TRANSPORTS {
        let args_owned = args_with_tls(
            &["--tls-bind", "127.0.0.1:0", "--tls-client-auth", "optional"],
            &pki,
            &server,
        );
        let args = strs(&args_owned);
        let (mut serve, listeners) = serve_listeners(transport, &args);
        let [(port, true)] = listeners[..] else {
            panic!(
                "expected one TLS listener, got {listeners:?}\n{}",
                serve.logs()
            );
        };
        let line = serve.wait_for_line("dicomwire serving on ");
        assert!(
            line.contains(&format!(
                "on 127.0.0.1:{port} over TLS (client certificates optional) as "
            )),
            "{transport}: {line}"
        );
        let outcome = run(
            "echo --tls",
            &mut tls_client(&["echo"], port, &pki, None, &[]),
        );
        outcome.assert_success(&format!("echo --tls without a certificate ({transport})"));
    }
}

// ---------------------------------------------------------------------------------------
// Failures

/// Unknown CA (either end's), expired and not-yet-valid certificates (either end's),
/// the wrong name, no client certificate, and TLS on one end only: on each transport,
/// the client's error is one line naming the failure, and `serve` logs one line naming
/// it and the peer.
#[test]
fn each_tls_failure_is_one_line_naming_it_on_each_transport() {
    start_budget(TEST_BUDGET * 2);
    let pki = Pki::new("Test CA");
    let stranger = Pki::new("Other CA");
    let server = pki.leaf("server", LOOPBACK);
    let client = pki.leaf("client", &["modality.example"]);
    let strange_client = stranger.leaf("stranger", &["modality.example"]);
    let expired_client = pki.expired("expired-client", &["modality.example"]);
    let future_client = pki.not_yet_valid("future-client", &["modality.example"]);
    let expired_server = pki.expired("expired-server", LOOPBACK);
    let future_server = pki.not_yet_valid("future-server", LOOPBACK);
    for transport in TRANSPORTS {
        let (mut serve, plain_port, port) =
            serve_plain_and_tls(transport, &strs(&tls_flags(&pki, Some(&server))));
        let echo = |trust: &Pki, leaf: Option<&Leaf>, extra: &[&str]| {
            tls_client(&["echo"], port, trust, leaf, extra)
        };
        let cases = [
            (
                echo(&stranger, Some(&client), &[]),
                Failure {
                    what: "the server's certificate is from an unknown CA",
                    client: "TLS: the peer's certificate is not signed by a trusted CA (check --tls-ca)",
                    server: "the peer does not trust the CA that signed our certificate",
                },
            ),
            (
                echo(&pki, Some(&strange_client), &[]),
                Failure {
                    what: "the client's certificate is from an unknown CA",
                    client: "TLS: the peer does not trust the CA that signed our certificate",
                    server: "the peer's certificate is not signed by a trusted CA",
                },
            ),
            (
                echo(&pki, Some(&expired_client), &[]),
                Failure {
                    what: "the client's certificate has expired",
                    client: "TLS: the peer says our certificate has expired",
                    server: "the peer's certificate has expired",
                },
            ),
            (
                echo(&pki, Some(&future_client), &[]),
                Failure {
                    what: "the client's certificate is not valid yet",
                    client: "TLS: the peer says our certificate has expired or is not valid yet",
                    server: "the peer's certificate is not valid yet",
                },
            ),
            (
                echo(&pki, Some(&client), &["--tls-server-name", "pacs.example"]),
                Failure {
                    what: "the server's certificate has another name",
                    client: "TLS: the server's certificate is not valid for \"pacs.example\" (it names DNS:localhost, IP:127.0.0.1)",
                    server: "the peer refused our certificate",
                },
            ),
            (
                echo(&pki, None, &[]),
                Failure {
                    what: "no client certificate",
                    client: "TLS: no client certificate was presented, but the server requires one",
                    server: "no client certificate was presented, but the server requires one",
                },
            ),
        ];
        for (mut command, expected) in cases {
            assert_fails(&mut serve, &mut command, &expected, transport);
        }
        // A plain client on the TLS port: serve says so in one line (the client sees an
        // unrecognized PDU, the alert).
        let logged_before = lossy(&serve.stderr).len();
        let outcome = run(
            "echo on the TLS port",
            &mut dicomwire(&["echo", &format!("127.0.0.1:{port}")]),
        );
        assert!(!outcome.status.success());
        assert!(
            outcome.stderr.contains("unrecognized PDU type 0x15"),
            "{}",
            outcome.stderr
        );
        serve.wait_for_log("the peer does not speak TLS on this connection");
        std::thread::sleep(Duration::from_millis(100));
        let logged = lines_after(&lossy(&serve.stderr), logged_before);
        assert_eq!(logged.len(), 1, "{transport}: {logged:?}");
        // A TLS client on the plain port: the client says so; serve sees a bad PDU.
        let outcome = run(
            "echo --tls on the plain port",
            &mut tls_client(&["echo"], plain_port, &pki, Some(&client), &[]),
        );
        assert!(!outcome.status.success());
        assert_eq!(
            outcome.stderr.trim(),
            format!(
                "dicomwire: 127.0.0.1:{plain_port}: TLS: the peer does not speak TLS on this connection (is TLS enabled on the peer, and is this its TLS port?)"
            ),
            "{transport}"
        );
        serve.assert_running();
        drop(serve);

        // The server's own certificate out of its dates: the client refuses it.
        for (leaf, what, says) in [
            (
                &expired_server,
                "the server's certificate has expired",
                "TLS: the peer's certificate has expired (renew it, or check this machine's clock)",
            ),
            (
                &future_server,
                "the server's certificate is not valid yet",
                "TLS: the peer's certificate is not valid yet",
            ),
        ] {
            let (mut serve, _, port) =
                serve_plain_and_tls(transport, &strs(&tls_flags(&pki, Some(leaf))));
            let mut command = tls_client(&["echo"], port, &pki, Some(&client), &[]);
            let expected = Failure {
                what,
                client: says,
                server: "the peer says our certificate has expired or is not valid yet",
            };
            assert_fails(&mut serve, &mut command, &expected, transport);
        }
    }
}

/// A TLS 1.1 ClientHello as TLS 1.0 and 1.1 clients send it: client_version 3.2, no
/// extensions (so no supported_versions and no signature_algorithms).
const TLS11_CLIENT_HELLO: &str = concat!(
    "160301002f",   // a handshake record, TLS 1.0, 47 bytes
    "0100002b0302", // ClientHello, 43 bytes, client_version TLS 1.1
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", // random
    "00",           // no session id
    "0004c013002f", // ECDHE-RSA-AES128-SHA, AES128-SHA
    "0100",         // null compression; no extensions
);

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// What the server sends back until it closes (at most 5 s).
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

/// A TLS 1.1 client is refused with a fatal alert, and `serve` logs one line saying
/// there is no protocol version in common, on each transport.
#[test]
fn a_tls11_client_is_told_no_common_protocol_version() {
    start_budget(TEST_BUDGET);
    let pki = Pki::new("Test CA");
    let server = pki.leaf("server", LOOPBACK);
    for transport in TRANSPORTS {
        let (mut serve, _, port) =
            serve_plain_and_tls(transport, &strs(&tls_flags(&pki, Some(&server))));
        let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        stream.write_all(&unhex(TLS11_CLIENT_HELLO)).unwrap();
        let answer = read_to_close(&mut stream);
        assert_eq!(
            answer.first(),
            Some(&0x15),
            "{transport}: not an alert: {answer:02x?}"
        );
        let line = serve.wait_for_log("TLS failed");
        assert!(
            line.contains("no TLS protocol version in common") && line.contains("assoc{peer="),
            "{transport}: {line}"
        );
    }
}

/// A peer that connects to the TLS listener and sends nothing, or the first bytes of a
/// record and then nothing, is closed once ARTIM (1 s here) expires, on each transport:
/// the handshake holds the connection no longer than an A-ASSOCIATE-RQ would.
#[test]
fn a_silent_tls_peer_is_closed_after_artim() {
    start_budget(TEST_BUDGET);
    let pki = Pki::new("Test CA");
    let server = pki.leaf("server", LOOPBACK);
    for transport in TRANSPORTS {
        let args_owned = args_with_tls(&["--artim-timeout", "1"], &pki, &server);
        let args = strs(&args_owned);
        let (mut serve, _, port) = serve_plain_and_tls(transport, &args);
        for (what, sent) in [
            ("nothing", &[][..]),
            ("half a record header", &[0x16, 0x03][..]),
        ] {
            let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
            let start = Instant::now();
            stream.write_all(sent).unwrap();
            read_to_close(&mut stream);
            let held = start.elapsed();
            assert!(
                held >= Duration::from_millis(900) && held < Duration::from_secs(3),
                "{transport}, a peer sending {what}: closed after {held:?}, ARTIM is 1 s"
            );
        }
        serve.assert_running();
        // Still serving.
        let client = pki.leaf("client", &["modality.example"]);
        run(
            "echo --tls",
            &mut tls_client(&["echo"], port, &pki, Some(&client), &[]),
        )
        .assert_success(&format!("echo --tls after the silent peers ({transport})"));
    }
}

// ---------------------------------------------------------------------------------------
// Settings that cannot work

/// `serve` and the clients refuse TLS settings they cannot use, each with one line naming
/// the flag: a tls:// destination without --tls-ca, certificate flags with nothing to
/// serve, a key that is not the certificate's, a file that is not there.
#[test]
fn unusable_tls_settings_are_refused_naming_the_flag() {
    start_budget(TEST_BUDGET);
    let pki = Pki::new("Test CA");
    let server = pki.leaf("server", LOOPBACK);
    let other = pki.leaf("other", LOOPBACK);
    let cert = server.cert.to_str().unwrap();
    let ca = pki.ca_arg();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["serve", "--move-destination", "DEST=tls://127.0.0.1:2762"],
            "a tls:// --move-destination needs --tls-ca",
        ),
        (
            vec!["serve", "--tls-ca", &ca],
            "--tls-cert, --tls-key and --tls-ca serve --tls-bind or tls:// move destinations",
        ),
        (
            vec![
                "serve",
                "--tls-bind",
                "127.0.0.1:0",
                "--tls-cert",
                cert,
                "--tls-key",
                other.key.to_str().unwrap(),
                "--tls-ca",
                &ca,
            ],
            "the private key (--tls-key) does not belong to the certificate (--tls-cert)",
        ),
        (
            vec![
                "echo",
                "127.0.0.1:1",
                "--tls",
                "--tls-ca",
                "/nonexistent/ca.pem",
            ],
            "--tls-ca /nonexistent/ca.pem: cannot read it",
        ),
        (
            vec![
                "echo",
                "127.0.0.1:1",
                "--tls",
                "--tls-ca",
                cert,
                "--tls-server-name",
                "not a name",
            ],
            "\"not a name\" is not a DNS name or an IP address",
        ),
    ];
    for (args, says) in cases {
        let outcome = run("dicomwire", &mut dicomwire(&args));
        assert!(!outcome.status.success(), "{args:?} succeeded");
        assert!(
            outcome.stderr.trim().starts_with("dicomwire: ") && outcome.stderr.contains(says),
            "{args:?}: expected {says:?}, got:\n{}",
            outcome.stderr
        );
    }
}
