//! `dicomwire`: a worklist and hanging-protocol SCP (`serve`, on the mio, std or tokio
//! transport, plain and over TLS) and the SCU commands `echo`, `find`, `get` and `move`,
//! over the blocking transport (with `--tls`, over TLS); and `replay` of captures.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};
use dicom_object::InMemDicomObject;
use dicomwire::dimse::{Service, Status};
use dicomwire::pdu::{AeTitle, AsyncOperationsWindow, Uid};
use dicomwire::service::scu::{FindProgress, RetrieveProgress, ScuService, association_request};
use dicomwire::service::{
    Destination, Handlers, InMemoryHangingProtocols, InMemoryWorklist, StaticDestinations,
    StoreHandler, StoreRequest, StoreSink, StoreStart, uids,
};
use dicomwire::session::{ClientError, ClientEvent, Operation, OperationResult, ScpConfig};
use dicomwire::ul::{
    AcceptorPolicy, AssociationConfig, AssociationRequest, RolePolicy, SupportedSyntax,
};
use dicomwire_cli::{files, json, keys, progress, sample, store};
use dicomwire_mio::EventLoop;
use dicomwire_std::{Client, Server};
use dicomwire_tls::{ClientAuth, ServerTls, TlsClientConfig, TlsServerConfig};

/// Prints a line to stdout; a closed stdout (`| head`) ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, $($arg)*).and_then(|()| stdout.flush()).is_err() {
            std::process::exit(0);
        }
    }};
}

#[derive(Parser, Debug)]
#[command(
    name = "dicomwire",
    version,
    about = "A Sans-IO DICOM networking stack: worklist and hanging-protocol SCP and SCU"
)]
struct Cli {
    /// Log more: -v shows one line per PDU and DIMSE message, -vv every state transition.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve Modality Worklist and Hanging Protocol Q/R (FIND, GET, MOVE), Verification and Storage.
    Serve(ServeArgs),
    /// Send a C-ECHO.
    Echo(ScuArgs),
    /// Query a worklist or hanging protocols (C-FIND).
    Find {
        /// What to query.
        model: QueryModel,
        #[command(flatten)]
        scu: ScuArgs,
        /// A key: KEYWORD=VALUE, (gggg,eeee)=VALUE, Seq[0].Keyword=VALUE, or just KEYWORD to have it returned.
        #[arg(short = 'k', long = "key")]
        keys: Vec<String>,
        /// Print each match as DICOM JSON (PS3.18 F.2), one object per line.
        #[arg(long)]
        json: bool,
    },
    /// Retrieve hanging protocols to this machine (C-GET).
    Get {
        /// What to retrieve.
        model: RetrieveModel,
        #[command(flatten)]
        scu: ScuArgs,
        /// Keys selecting the instances, e.g. SOPInstanceUID=1.2.3\1.2.4.
        #[arg(short = 'k', long = "key", required = true)]
        keys: Vec<String>,
        /// Where to write the instances (Part 10 files).
        #[arg(long)]
        out: PathBuf,
    },
    /// Have hanging protocols sent to another AE (C-MOVE).
    Move {
        /// What to retrieve.
        model: RetrieveModel,
        #[command(flatten)]
        scu: ScuArgs,
        /// The destination AE title.
        #[arg(long)]
        dest: String,
        /// Keys selecting the instances, e.g. SOPInstanceUID=1.2.3.
        #[arg(short = 'k', long = "key", required = true)]
        keys: Vec<String>,
    },
    /// Send DICOM Part 10 files, and the folders' files recursively, with C-STORE: each in
    /// the transfer syntax it is stored in, streamed from disk. Exit 1 if any failed.
    Store {
        #[command(flatten)]
        scu: ScuArgs,
        /// Files and folders to send.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Associations in parallel.
        #[arg(short = 'j', long = "jobs", default_value_t = 1)]
        jobs: usize,
    },
    /// Decode a capture (JSON lines, pcap, pcapng), or replay it through our core as SCP or
    /// SCU and compare what it sends with the recorded peer. Exit 0 matched, 1 diverged,
    /// 2 unusable input.
    Replay {
        /// The capture file.
        capture: PathBuf,
        /// Replay with our core as the acceptor (scp) or the requestor (scu); without it,
        /// decode and print both sides of every flow.
        #[arg(long = "as", value_enum)]
        role: Option<ReplayAs>,
        /// Only this flow (0-based); without it, every flow that is an association.
        #[arg(long)]
        flow: Option<usize>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReplayAs {
    /// Our core is the acceptor, fed the recorded client.
    Scp,
    /// Our core is the requestor, fed the recorded server.
    Scu,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum QueryModel {
    /// Modality Worklist (1.2.840.10008.5.1.4.31).
    Worklist,
    /// Hanging Protocol (1.2.840.10008.5.1.4.38.2).
    HangingProtocol,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum RetrieveModel {
    /// Hanging Protocol (GET 1.2.840.10008.5.1.4.38.4, MOVE .38.3).
    HangingProtocol,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum TransportKind {
    /// One event loop for every association (handlers run on the loop thread).
    Mio,
    /// One thread per association.
    Std,
    /// One tokio task per association, on a multi-thread runtime (handlers run in
    /// `block_in_place`).
    Tokio,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on for plain DICOM [default: 127.0.0.1:11112, unless --tls-bind
    /// is given alone].
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
    #[command(flatten)]
    tls: ServeTlsArgs,
    /// Our AE title.
    #[arg(long, default_value = "DICOMWIRE")]
    ae_title: String,
    /// Serve the worklist items (DICOM files) in this directory, picking up changes.
    #[arg(long)]
    worklist: Option<PathBuf>,
    /// Serve the hanging protocols (DICOM files) in this directory, picking up changes.
    #[arg(long)]
    hanging_protocols: Option<PathBuf>,
    /// Accept C-STORE of every storage SOP class, in any transfer syntax, and write the
    /// instances here as received: Part 10 files named by SOP Instance UID, written
    /// atomically.
    #[arg(long)]
    store: Option<PathBuf>,
    /// A C-MOVE destination, AE=HOST:PORT, or AE=tls://HOST:PORT for one reached over TLS
    /// (its certificate checked against --tls-ca and HOST; we present --tls-cert when it
    /// asks). Repeatable.
    #[arg(long = "move-destination", value_name = "AE=[tls://]HOST:PORT")]
    move_destinations: Vec<String>,
    /// The transport.
    #[arg(long, value_enum, default_value = "mio")]
    transport: TransportKind,
    /// The most associations at once (on each listener).
    #[arg(long, default_value_t = 64)]
    max_associations: usize,
    /// Reject associations not called by our AE title.
    #[arg(long)]
    require_called_ae: bool,
    /// ARTIM timeout in seconds: the most a new connection may take to send its
    /// A-ASSOCIATE-RQ, TLS handshake included.
    #[arg(long, default_value_t = 30)]
    artim_timeout: u64,
    /// End an association idle this many seconds (nothing outstanding, nothing
    /// received); also the most a PDU may take to arrive once started. 0: never.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// On SIGTERM or SIGINT, how long operations under way may take to finish before
    /// their associations are aborted (a second signal stops at once).
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
    /// The largest P-DATA-TF we accept (announced to peers).
    #[arg(long, default_value_t = dicomwire::pdu::DEFAULT_MAX_PDU_LENGTH)]
    max_pdu: u32,
}

/// `serve`'s TLS flags (DICOM's secure transport, PS3.15 B.12: TLS 1.3 or 1.2).
#[derive(clap::Args, Debug)]
struct ServeTlsArgs {
    /// Address to listen on for DICOM over TLS (conventionally port 2762), beside the
    /// --bind listener or, without --bind, instead of it. Needs --tls-cert, --tls-key and
    /// --tls-ca.
    #[arg(long, value_name = "ADDR", requires_all = ["tls_cert", "tls_key", "tls_ca"])]
    tls_bind: Option<String>,
    /// Our certificate chain (PEM: ours first, then any intermediates), presented to TLS
    /// clients and to tls:// move destinations that ask for one.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM, unencrypted).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA certificate(s) (PEM) we trust: for client certificates on --tls-bind, and
    /// for the certificates of tls:// move destinations.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Whether TLS clients must present a certificate signed by --tls-ca (mutual
    /// authentication, as IHE ATNA requires) [default: required].
    #[arg(long, value_enum, value_name = "WHEN", requires = "tls_bind")]
    tls_client_auth: Option<ClientAuthArg>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuthArg {
    /// Every client must present a certificate signed by --tls-ca.
    Required,
    /// A client may present a certificate (then it is verified) or none.
    Optional,
}

/// The SCU commands' TLS flags.
#[derive(clap::Args, Debug)]
struct ScuTlsArgs {
    /// Connect over TLS (DICOM's secure transport, PS3.15 B.12: TLS 1.3 or 1.2), checking
    /// the server's certificate against --tls-ca and its name.
    #[arg(long, requires = "tls_ca")]
    tls: bool,
    /// The CA certificate(s) (PEM) that the server's certificate must be signed by.
    #[arg(long, value_name = "PEM", requires = "tls")]
    tls_ca: Option<PathBuf>,
    /// Our certificate chain (PEM), presented when the server asks for one (mutual
    /// authentication).
    #[arg(long, value_name = "PEM", requires_all = ["tls", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM, unencrypted).
    #[arg(long, value_name = "PEM", requires_all = ["tls", "tls_cert"])]
    tls_key: Option<PathBuf>,
    /// The name the server's certificate must hold (a DNS name or an IP address)
    /// [default: the host part of HOST:PORT]: for dialling an address while expecting
    /// a name.
    #[arg(long, value_name = "NAME", requires = "tls")]
    tls_server_name: Option<String>,
}

#[derive(clap::Args, Debug)]
struct ScuArgs {
    /// The peer, HOST:PORT.
    peer: String,
    /// Our AE title (calling).
    #[arg(long, default_value = "DICOMWIRE-SCU")]
    aet: String,
    /// The peer's AE title (called).
    #[arg(long, default_value = "ANY-SCP")]
    aec: String,
    /// The largest P-DATA-TF we accept.
    #[arg(long, default_value_t = dicomwire::pdu::DEFAULT_MAX_PDU_LENGTH)]
    max_pdu: u32,
    /// Release the association after this many idle seconds; abort when a response or
    /// a PDU takes longer. 0: never.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    #[command(flatten)]
    tls: ScuTlsArgs,
}

/// `SECS` of a timeout flag, 0 meaning none.
fn optional_seconds(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let clients = matches!(
        cli.command,
        Command::Echo(_) | Command::Find { .. } | Command::Get { .. } | Command::Move { .. }
    );
    init_logging(cli.verbose, clients);
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Echo(scu) => echo(&scu),
        Command::Find {
            model,
            scu,
            keys,
            json,
        } => find(model, &scu, &keys, json),
        Command::Get {
            model: RetrieveModel::HangingProtocol,
            scu,
            keys,
            out,
        } => get(&scu, &keys, &out),
        Command::Move {
            model: RetrieveModel::HangingProtocol,
            scu,
            dest,
            keys,
        } => move_to(&scu, &dest, &keys),
        Command::Store { scu, paths, jobs } => store(&scu, &paths, jobs),
        Command::Replay {
            capture,
            role,
            flow,
        } => {
            let role = role.map(|r| match r {
                ReplayAs::Scp => dicomwire_replay::ReplayRole::Scp,
                ReplayAs::Scu => dicomwire_replay::ReplayRole::Scu,
            });
            let code = dicomwire_cli::replay::run(
                &capture,
                role,
                flow,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            );
            Ok(ExitCode::from(code))
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("dicomwire: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `clients`: an SCU command, whose error line gives the TLS failure (see
/// [`TlsFailureCapture`]), so that at the default level the layer's own warning about it
/// is not printed as well.
fn init_logging(verbose: u8, clients: bool) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{FilterExt as _, Targets, filter_fn};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default = match (verbose, clients) {
        (0, false) => "warn",
        (0, true) => "warn,dicomwire_tls::secured=error",
        (1, _) => "info,dicomwire=debug,dicomwire_std=debug,dicomwire_tls=debug",
        _ => "debug,dicomwire=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DICOMWIRE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
        // The association span at every level, so that a warning names its peer.
        .or(filter_fn(|meta| meta.is_span() && meta.name() == "assoc"));
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(filter);
    let capture = TlsFailureCapture
        .with_filter(Targets::new().with_target("dicomwire_tls::secured", tracing::Level::WARN));
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(capture)
        .try_init();
}

/// The first TLS failure of this process, as the TLS layer logged it.
static TLS_FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps the `failure` of the TLS layer's "TLS failed" warning: the transports report a
/// TLS failure to the SCU only as its connection closing, and the failure says what to
/// fix.
struct TlsFailureCapture;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TlsFailureCapture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Failure(Option<String>);
        impl tracing::field::Visit for Failure {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "failure" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut failure = Failure(None);
        event.record(&mut failure);
        if let (Some(failure), Ok(mut first)) = (failure.0, TLS_FAILURE.lock()) {
            first.get_or_insert(failure);
        }
    }
}

fn ae(title: &str, what: &str) -> Result<AeTitle, String> {
    AeTitle::new(title).map_err(|e| format!("invalid {what} AE title {title:?}: {e}"))
}

/// Today's date, for the sample worklist's schedule.
fn today() -> (i32, u32, u32) {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    civil_from_days(i64::try_from(days).unwrap_or(0))
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap_or(1970),
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

// ---------------------------------------------------------------------------------------
// serve

/// Writes received instances as Part 10 files (serve --store, get --out).
struct DirectoryStore {
    dir: PathBuf,
}

impl StoreHandler for DirectoryStore {
    fn store(&self, request: &StoreRequest<'_>) -> Result<u16, dicomwire::service::HandlerError> {
        let header = files::part10_header(
            request.sop_class_uid,
            request.sop_instance_uid,
            request.transfer_syntax.as_str(),
        );
        let name = files::instance_file_name(request.sop_instance_uid);
        let path = files::write_atomically_parts(&self.dir, &name, &[&header, request.data])?;
        tracing::info!(path = %path.display(), from = %request.calling_ae_title, "instance stored");
        Ok(Status::SUCCESS.0)
    }

    /// Streamed instances go straight to their file, fragment by fragment.
    fn begin(
        &self,
        request: &StoreStart<'_>,
    ) -> Result<Option<Box<dyn StoreSink>>, dicomwire::service::HandlerError> {
        let name = files::instance_file_name(request.sop_instance_uid);
        let mut file = files::AtomicFile::create(&self.dir, &name)?;
        file.write_all(&files::part10_header(
            request.sop_class_uid,
            request.sop_instance_uid,
            request.transfer_syntax.as_str(),
        ))?;
        Ok(Some(Box::new(FileSink { file })))
    }
}

/// A streamed instance on its way to a file, each fragment written as it arrives, on the
/// receiving thread. The transports lend large reads to the core, so a fragment is
/// written from the memory the kernel just received it into, still in this core's cache.
/// (A writer thread per large instance, which overlapped receiving and writing while the
/// fragments were copies, made 20 x 50 MiB C-GETs 10-20% slower once they were not: the
/// writer read every byte back from another core's cache.)
struct FileSink {
    file: files::AtomicFile,
}

impl StoreSink for FileSink {
    fn write(&mut self, fragment: &[u8]) -> Result<(), dicomwire::service::HandlerError> {
        Ok(self.file.write_all(fragment)?)
    }

    fn finish(self: Box<Self>) -> Result<u16, dicomwire::service::HandlerError> {
        let path = self.file.commit()?;
        tracing::info!(path = %path.display(), "instance stored");
        Ok(Status::SUCCESS.0)
    }
}

fn parse_destination(spec: &str) -> Result<(String, Destination), String> {
    let expected =
        || format!("--move-destination {spec:?}: expected AE=HOST:PORT or AE=tls://HOST:PORT");
    let (ae_title, addr) = spec.split_once('=').ok_or_else(expected)?;
    let (tls, addr) = match addr.strip_prefix("tls://") {
        Some(rest) => (true, rest),
        None => (false, addr),
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(expected)?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("--move-destination {spec:?}: {port:?} is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(expected());
    }
    ae(ae_title, "move destination")?;
    let destination = if tls {
        Destination::tls(host, port)
    } else {
        Destination::new(host, port)
    };
    Ok((ae_title.trim().to_owned(), destination))
}

/// The contents of the PEM file given to `flag`.
fn read_pem(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: cannot read it: {e}", path.display()))
}

/// How `serve`'s listeners use TLS: the TLS listener's configuration (with
/// `--tls-bind`), and the one of C-MOVE sub-associations to tls:// destinations.
fn serve_tls(
    args: &ServeTlsArgs,
    tls_destinations: bool,
) -> Result<(ServerTls, ServerTls), String> {
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some((read_pem("--tls-cert", cert)?, read_pem("--tls-key", key)?))
        }
        _ => None,
    };
    let ca = args
        .tls_ca
        .as_deref()
        .map(|ca| read_pem("--tls-ca", ca))
        .transpose()?;
    if ca.is_none() && tls_destinations {
        return Err("a tls:// --move-destination needs --tls-ca (the CA that signs the destination's certificate)".into());
    }
    if args.tls_bind.is_none() && !tls_destinations && (identity.is_some() || ca.is_some()) {
        return Err("--tls-cert, --tls-key and --tls-ca serve --tls-bind or tls:// move destinations; neither was given".into());
    }
    let moves = match (&ca, tls_destinations) {
        (Some(ca), true) => {
            let identity = identity.as_ref().map(|(c, k)| (&c[..], &k[..]));
            Some(Arc::new(
                TlsClientConfig::new(ca, identity).map_err(|e| e.to_string())?,
            ))
        }
        _ => None,
    };
    let accept = match (&args.tls_bind, &identity, &ca) {
        (Some(_), Some((cert, key)), Some(ca)) => {
            let auth = match args.tls_client_auth {
                Some(ClientAuthArg::Optional) => ClientAuth::Optional,
                Some(ClientAuthArg::Required) | None => ClientAuth::Required,
            };
            Some(Arc::new(
                TlsServerConfig::new(cert, key, ca, auth).map_err(|e| e.to_string())?,
            ))
        }
        _ => None,
    };
    let plain = ServerTls {
        accept: None,
        moves: moves.clone(),
    };
    Ok((plain, ServerTls { accept, moves }))
}

fn load_worklist(dir: &Path) -> Vec<InMemDicomObject> {
    let report = files::load_dir(dir);
    for (path, why) in &report.skipped {
        tracing::warn!(path = %path.display(), %why, "not a DICOM file; skipped");
    }
    files::worklist_records(report)
}

fn load_hanging_protocols(dir: &Path) -> Vec<dicomwire::service::StoredInstance> {
    let report = files::load_dir(dir);
    for (path, why) in &report.skipped {
        tracing::warn!(path = %path.display(), %why, "not a DICOM file; skipped");
    }
    files::hanging_protocol_instances(report)
}

/// A [`files::DirWatch`] on a budget: rescanned at most once a second, and for at most a
/// twentieth of the time however many files the directory holds. (Every 200 ms, a scan
/// of 10,000 worklist files kept 8% of a core busy while the server was idle.)
struct PacedWatch {
    watch: files::DirWatch,
    next: Instant,
}

impl PacedWatch {
    fn new(dir: &Path) -> Self {
        Self {
            watch: files::DirWatch::new(dir),
            next: Instant::now() + Duration::from_secs(1),
        }
    }

    /// Whether the directory changed; false until the next scan is due.
    fn changed(&mut self) -> bool {
        let start = Instant::now();
        if start < self.next {
            return false;
        }
        let changed = self.watch.changed();
        self.next = Instant::now() + Duration::from_secs(1).max(start.elapsed() * 20);
        changed
    }
}

/// Raises the soft limit on open files to the hard limit: every association is a socket,
/// and the soft limit (often 1,024) is what a busy server meets first. Returns the limit
/// now in force, if the system says.
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum,
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
    limit.current
}

/// Refuses settings `serve` cannot work with, each with a line that names it.
fn check_serve_args(args: &ServeArgs) -> Result<(), String> {
    if args.artim_timeout == 0 {
        return Err("--artim-timeout 0: ARTIM must be at least 1 s (0 would close every connection at once)".into());
    }
    if args.max_associations == 0 {
        return Err("--max-associations 0: at least one association must be allowed".into());
    }
    if args.max_pdu < dicomwire::pdu::MIN_MAX_PDU_LENGTH {
        return Err(format!(
            "--max-pdu {}: the smallest maximum PDU length is {} bytes",
            args.max_pdu,
            dicomwire::pdu::MIN_MAX_PDU_LENGTH
        ));
    }
    for (flag, dir) in [
        ("--worklist", &args.worklist),
        ("--hanging-protocols", &args.hanging_protocols),
    ] {
        if let Some(dir) = dir {
            std::fs::read_dir(dir)
                .map_err(|e| format!("{flag} {}: cannot read the folder: {e}", dir.display()))?;
        }
    }
    if let Some(dir) = &args.store {
        if dir.exists() && !dir.is_dir() {
            return Err(format!("--store {}: not a folder", dir.display()));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("--store {}: cannot create the folder: {e}", dir.display()))?;
        let probe = dir.join(format!(".dicomwire-write-check-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| format!("--store {}: cannot write there: {e}", dir.display()))?;
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    check_serve_args(&args)?;
    let our_ae = ae(&args.ae_title, "our")?;
    match raise_open_file_limit() {
        Some(files) => tracing::info!(files, "open-file limit"),
        None => tracing::info!("no open-file limit"),
    }
    let worklist = Arc::new(InMemoryWorklist::new(match &args.worklist {
        Some(dir) => load_worklist(dir),
        None => sample::worklist(today()),
    }));
    let hanging = Arc::new(InMemoryHangingProtocols::new(
        match &args.hanging_protocols {
            Some(dir) => load_hanging_protocols(dir),
            None => sample::hanging_protocols(),
        },
    ));
    let mut destinations = StaticDestinations::new();
    let mut tls_destinations = false;
    for spec in &args.move_destinations {
        let (ae_title, dest) = parse_destination(spec)?;
        tls_destinations |= dest.tls;
        destinations.insert(&ae_title, dest);
    }
    let (plain_tls, tls) = serve_tls(&args.tls, tls_destinations)?;
    // Without --tls-bind there is always a plain listener.
    let listeners: Vec<(&str, ServerTls)> = match (&args.bind, &args.tls.tls_bind) {
        (bind, Some(tls_bind)) => bind
            .as_deref()
            .map(|b| (b, plain_tls))
            .into_iter()
            .chain([(tls_bind.as_str(), tls)])
            .collect(),
        (bind, None) => vec![(bind.as_deref().unwrap_or(DEFAULT_BIND), plain_tls)],
    };
    let ts = uids::uncompressed_transfer_syntaxes();
    let mut syntaxes = vec![
        SupportedSyntax::new(uids::VERIFICATION, ts.clone()),
        SupportedSyntax::new(uids::MODALITY_WORKLIST_FIND, ts.clone()),
        SupportedSyntax::new(uids::HANGING_PROTOCOL_FIND, ts.clone()),
        SupportedSyntax::new(uids::HANGING_PROTOCOL_GET, ts.clone()),
        SupportedSyntax::new(uids::HANGING_PROTOCOL_MOVE, ts.clone()),
    ];
    // Hanging Protocol Storage: the requestor may be SCP (it receives our C-GET
    // sub-operations) and, with --store, SCU (it stores to us).
    syntaxes.push(
        SupportedSyntax::new(uids::HANGING_PROTOCOL_STORAGE, ts).with_roles(RolePolicy {
            requestor_may_be_scu: args.store.is_some(),
            requestor_may_be_scp: true,
        }),
    );
    let policy = AcceptorPolicy {
        called_ae_titles: if args.require_called_ae {
            vec![our_ae]
        } else {
            Vec::new()
        },
        abstract_syntaxes: syntaxes,
        // Requests are performed one at a time; our C-GET sub-operations may be several
        // under way when the requestor allows it.
        async_operations_window: Some(AsyncOperationsWindow {
            max_operations_invoked: 1,
            max_operations_performed: dicomwire::service::SUB_OPERATIONS_WINDOW,
        }),
        // With --store, every storage SOP class of the standard, in any transfer syntax
        // it can be written in as received.
        storage: args.store.as_ref().map(|_| RolePolicy::default()),
        ..AcceptorPolicy::default()
    };
    let config = AssociationConfig {
        max_pdu_length: args.max_pdu,
        artim_timeout: Duration::from_secs(args.artim_timeout),
        idle_timeout: optional_seconds(args.idle_timeout),
        ..AssociationConfig::default()
    };
    let handlers = Handlers {
        worklist: Some(Arc::clone(&worklist) as _),
        hanging_protocol_find: Some(Arc::clone(&hanging) as _),
        hanging_protocol_retrieve: Some(Arc::clone(&hanging) as _),
        move_destinations: Some(Arc::new(destinations)),
        store: args
            .store
            .as_ref()
            .map(|dir| Arc::new(DirectoryStore { dir: dir.clone() }) as _),
        sub_association_config: AssociationConfig::default(),
    };
    let scp_config = Arc::new(ScpConfig {
        association: config,
        max_associations: args.max_associations,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..ScpConfig::new(Arc::new(policy), Arc::new(handlers))
    });
    // Every transport serves the same configuration; they differ in how they run.
    let (addrs, stop_server, run) = listen(args.transport, &listeners, &scp_config)?;

    // SIGINT / SIGTERM: stop accepting, finish or abort what is open. A second one exits
    // at once (the conditional handler runs first, and sees the flag the first set).
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    let (worklist_count, hp_count) = (worklist.len(), hanging.len());
    let (worklist_dir, hp_dir) = (args.worklist.clone(), args.hanging_protocols.clone());
    std::thread::spawn(move || {
        let mut worklist_watch = worklist_dir.as_deref().map(PacedWatch::new);
        let mut hp_watch = hp_dir.as_deref().map(PacedWatch::new);
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
            if let (Some(w), Some(dir)) = (worklist_watch.as_mut(), worklist_dir.as_deref()) {
                if w.changed() {
                    let records = load_worklist(dir);
                    tracing::info!(items = records.len(), "worklist reloaded");
                    worklist.replace(records);
                }
            }
            if let (Some(w), Some(dir)) = (hp_watch.as_mut(), hp_dir.as_deref()) {
                if w.changed() {
                    let instances = load_hanging_protocols(dir);
                    tracing::info!(instances = instances.len(), "hanging protocols reloaded");
                    hanging.replace(instances);
                }
            }
        }
        tracing::info!("shutting down");
        stop_server();
    });

    let serving = |dir: &Option<PathBuf>, what: &str| match dir {
        Some(d) => format!("{what} from {}", d.display()),
        None => format!("embedded sample {what}"),
    };
    let on = listeners
        .iter()
        .zip(&addrs)
        .map(|((_, tls), addr)| match &tls.accept {
            None => format!("{addr}"),
            Some(config) => format!(
                "{addr} over TLS (client certificates {})",
                match config.client_auth() {
                    ClientAuth::Optional => "optional",
                    _ => "required",
                }
            ),
        })
        .collect::<Vec<_>>()
        .join(" and on ");
    out!(
        "dicomwire serving on {on} as {}: Verification; Modality Worklist FIND ({} items, {}); Hanging Protocol FIND/GET/MOVE ({} instances, {}){}",
        args.ae_title.trim(),
        worklist_count,
        serving(&args.worklist, "worklist"),
        hp_count,
        serving(&args.hanging_protocols, "hanging protocols"),
        args.store
            .as_ref()
            .map_or(String::new(), |d| format!("; Storage to {}", d.display())),
    );
    let _ = std::io::stdout().flush();
    // The server runs on a thread of its own: with glibc, its allocations then come from
    // a fresh arena rather than the main one, which loading thousands of data sets left
    // fragmented. On the main thread a 10,000-match C-FIND took 40% more CPU (perf:
    // _int_malloc and unlink_chunk), and the mio loop is a single thread.
    std::thread::Builder::new()
        .name("server".into())
        .spawn(run)
        .map_err(|e| format!("cannot start the server thread: {e}"))?
        .join()
        .map_err(|_| "the server panicked".to_owned())?
        .map_err(|e| format!("server: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Where `serve` listens when neither --bind nor --tls-bind is given.
const DEFAULT_BIND: &str = "127.0.0.1:11112";

/// The addresses bound, how to ask the server to stop, and how to run it.
type Bound = (
    Vec<SocketAddr>,
    Box<dyn Fn() + Send>,
    Box<dyn FnOnce() -> std::io::Result<()> + Send>,
);

fn cannot_listen(addr: &str, e: &std::io::Error) -> String {
    format!("cannot listen on {addr}: {e}")
}

/// Binds every listener on `transport`: std and tokio run a server per listener (std
/// each on a thread of its own), mio one event loop with every listener.
fn listen(
    transport: TransportKind,
    listeners: &[(&str, ServerTls)],
    config: &Arc<ScpConfig>,
) -> Result<Bound, String> {
    Ok(match transport {
        TransportKind::Std => {
            let servers = listeners
                .iter()
                .map(|(addr, tls)| {
                    Server::bind(addr, Arc::clone(config))
                        .map(|s| s.with_tls(tls.clone()))
                        .map_err(|e| cannot_listen(addr, &e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let addrs = servers.iter().map(Server::local_addr).collect();
            let handles: Vec<_> = servers.iter().map(Server::shutdown_handle).collect();
            (
                addrs,
                Box::new(move || {
                    handles
                        .iter()
                        .for_each(dicomwire_std::ShutdownHandle::shutdown)
                }),
                Box::new(move || {
                    let threads = servers
                        .into_iter()
                        .map(|server| {
                            std::thread::Builder::new()
                                .name("listener".into())
                                .spawn(move || server.run())
                        })
                        .collect::<std::io::Result<Vec<_>>>()?;
                    threads.into_iter().try_for_each(|t| {
                        t.join()
                            .map_err(|_| std::io::Error::other("a listener panicked"))?
                    })
                }),
            )
        }
        TransportKind::Mio => {
            let mut event_loop =
                EventLoop::new().map_err(|e| format!("cannot start the event loop: {e}"))?;
            let addrs = listeners
                .iter()
                .map(|(addr, tls)| {
                    event_loop
                        .listen_tls(addr, Arc::clone(config), tls.clone())
                        .map_err(|e| cannot_listen(addr, &e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let handle = event_loop.shutdown_handle();
            (
                addrs,
                Box::new(move || handle.shutdown()),
                Box::new(move || event_loop.run(|_, _, _| {})),
            )
        }
        TransportKind::Tokio => {
            let servers = listeners
                .iter()
                .map(|(addr, tls)| {
                    dicomwire_tokio::Server::bind(addr, Arc::clone(config))
                        .map(|s| s.with_tls(tls.clone()))
                        .map_err(|e| cannot_listen(addr, &e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let addrs = servers
                .iter()
                .map(dicomwire_tokio::Server::local_addr)
                .collect();
            let handles: Vec<_> = servers
                .iter()
                .map(dicomwire_tokio::Server::shutdown_handle)
                .collect();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("tokio")
                .build()
                .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
            (
                addrs,
                Box::new(move || {
                    handles
                        .iter()
                        .for_each(dicomwire_tokio::ShutdownHandle::shutdown);
                }),
                Box::new(move || {
                    runtime.block_on(async move {
                        let mut tasks = tokio::task::JoinSet::new();
                        for server in servers {
                            tasks.spawn(server.run());
                        }
                        let mut result = Ok(());
                        while let Some(ended) = tasks.join_next().await {
                            let ended = ended.unwrap_or_else(|e| Err(std::io::Error::other(e)));
                            result = result.and(ended);
                        }
                        result
                    })
                }),
            )
        }
    })
}

// ---------------------------------------------------------------------------------------
// SCU commands

fn connect(scu: &ScuArgs, services: &[ScuService]) -> Result<Client, String> {
    let request = association_request(ae(&scu.aet, "calling")?, ae(&scu.aec, "called")?, services);
    let mut config = AssociationConfig {
        max_pdu_length: scu.max_pdu,
        idle_timeout: optional_seconds(scu.idle_timeout),
        dimse_timeout: optional_seconds(scu.idle_timeout),
        ..AssociationConfig::default()
    };
    // C-GET: instances are written to their files as their fragments arrive, rather than
    // gathered in memory first (for 50 MiB instances, a third of the client's CPU went to
    // growing and faulting in those buffers).
    config.dimse.stream_store_data = services.contains(&ScuService::HangingProtocolGet);
    let connected = match scu_tls(scu)? {
        Some((tls, server_name)) => {
            Client::connect_tls(scu.peer.as_str(), request, config, &tls, &server_name)
        }
        None => Client::connect(scu.peer.as_str(), request, config),
    };
    connected.map_err(|e| describe_error(&e, &scu.peer))
}

/// With `--tls`: the client's TLS configuration and the name the server's certificate
/// must hold.
fn scu_tls(scu: &ScuArgs) -> Result<Option<(TlsClientConfig, String)>, String> {
    let args = &scu.tls;
    let Some(ca) = args.tls_ca.as_deref().filter(|_| args.tls) else {
        return Ok(None);
    };
    let ca = read_pem("--tls-ca", ca)?;
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some((read_pem("--tls-cert", cert)?, read_pem("--tls-key", key)?))
        }
        _ => None,
    };
    let config = TlsClientConfig::new(&ca, identity.as_ref().map(|(c, k)| (&c[..], &k[..])))
        .map_err(|e| e.to_string())?;
    let server_name = args
        .tls_server_name
        .clone()
        .unwrap_or_else(|| host_of(&scu.peer).to_owned());
    // A name that cannot be checked is refused before connecting.
    dicomwire_tls::TlsLayer::client(&config, &server_name).map_err(|e| e.to_string())?;
    Ok(Some((config, server_name)))
}

/// The host part of HOST:PORT (`[::1]:104` gives `::1`).
fn host_of(peer: &str) -> &str {
    match peer.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(host, _)| host),
        None => peer.rsplit_once(':').map_or(peer, |(host, _)| host),
    }
}

fn describe_error(e: &ClientError, peer: &str) -> String {
    let tls_failure = TLS_FAILURE.lock().ok().and_then(|f| f.clone());
    if let Some(failure) = tls_failure {
        return format!("{peer}: TLS: {failure}");
    }
    match e {
        ClientError::Rejected(r) => format!("{peer} rejected the association: {}", r.rj),
        ClientError::Aborted(a) => format!("{peer}: {a}"),
        other => format!("{peer}: {other}"),
    }
}

fn describe_status(status: Status, service: Service) -> String {
    status.describe(service).to_string()
}

fn echo(scu: &ScuArgs) -> Result<ExitCode, String> {
    let mut client = connect(scu, &[ScuService::Verification])?;
    let status = client.echo().map_err(|e| describe_error(&e, &scu.peer))?;
    out!(
        "C-ECHO to {} ({}): {}",
        scu.peer,
        scu.aec,
        describe_status(status, Service::Echo)
    );
    client
        .release()
        .map_err(|e| describe_error(&e, &scu.peer))?;
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn find(
    model: QueryModel,
    scu: &ScuArgs,
    key_args: &[String],
    as_json: bool,
) -> Result<ExitCode, String> {
    let (service, sop_class, mut identifier, status_service) = match model {
        QueryModel::Worklist => (
            ScuService::WorklistFind,
            uids::MODALITY_WORKLIST_FIND,
            keys::default_worklist_query(),
            Service::FindWorklist,
        ),
        QueryModel::HangingProtocol => (
            ScuService::HangingProtocolFind,
            uids::HANGING_PROTOCOL_FIND,
            keys::default_hanging_protocol_query(),
            Service::FindHangingProtocol,
        ),
    };
    keys::apply_keys(&mut identifier, key_args)?;
    if keys::set_character_set(&mut identifier) {
        tracing::debug!("a key is not ASCII: Specific Character Set ISO_IR 192");
    }
    let mut client = connect(scu, &[service])?;
    let mut matches = 0usize;
    let mut final_status = None;
    // One write per line (what `out!` does) cost 10,000 write calls for 10,000 matches;
    // a terminal still sees each match as it comes.
    let mut lines: Box<dyn Write> = if std::io::stdout().is_terminal() {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout().lock(),
        ))
    };
    let find = Operation::Find {
        sop_class,
        identifier,
    };
    client
        .run(find, |event| match event {
            ClientEvent::Find {
                progress: FindProgress::Match { identifier, .. },
                ..
            } => {
                matches += 1;
                if as_json {
                    match_line(&mut lines, &json::to_json(identifier));
                } else {
                    match_line(&mut lines, &summary(model, matches, identifier));
                }
            }
            ClientEvent::Find {
                progress: FindProgress::Undecodable(e),
                ..
            } => eprintln!("a match could not be decoded: {e}"),
            ClientEvent::Find {
                progress: FindProgress::Finished { status, detail },
                ..
            } => {
                final_status = Some(*status);
                if let Some(comment) = &detail.error_comment {
                    eprintln!("error comment: {comment}");
                }
            }
            _ => {}
        })
        .map_err(|e| describe_error(&e, &scu.peer))?;
    if lines.flush().is_err() {
        std::process::exit(0);
    }
    drop(lines);
    let status = final_status.unwrap_or(Status::UNABLE_TO_PROCESS);
    if !as_json {
        out!(
            "{matches} match{}; final status {}",
            if matches == 1 { "" } else { "es" },
            describe_status(status, status_service)
        );
    } else {
        eprintln!(
            "{matches} matches; final status {}",
            describe_status(status, status_service)
        );
    }
    client
        .release()
        .map_err(|e| describe_error(&e, &scu.peer))?;
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes one match line; a closed stdout (`| head`) ends the program quietly.
fn match_line(lines: &mut dyn Write, line: &dyn std::fmt::Display) {
    if writeln!(lines, "{line}").is_err() {
        std::process::exit(0);
    }
}

fn text(obj: &InMemDicomObject, tag: dicom_core::Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.value().to_str().ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// One line per match, in words.
fn summary(model: QueryModel, n: usize, obj: &InMemDicomObject) -> String {
    use dicom_core::Tag;
    match model {
        QueryModel::Worklist => {
            let sps = obj
                .get(Tag(0x0040, 0x0100))
                .and_then(|e| e.items())
                .and_then(|items| items.first());
            let step = |tag| sps.map(|i| text(i, tag)).unwrap_or_default();
            format!(
                "#{n} {} (ID {}) — accession {}, {} on {} at {} {}, {}",
                text(obj, Tag(0x0010, 0x0010)).replace('^', " "),
                text(obj, Tag(0x0010, 0x0020)),
                text(obj, Tag(0x0008, 0x0050)),
                step(Tag(0x0008, 0x0060)),
                step(Tag(0x0040, 0x0001)),
                step(Tag(0x0040, 0x0002)),
                step(Tag(0x0040, 0x0003)),
                text(obj, Tag(0x0032, 0x1060)),
            )
        }
        QueryModel::HangingProtocol => format!(
            "#{n} {} — {} (level {}, by {}), instance {}",
            text(obj, Tag(0x0072, 0x0002)),
            text(obj, Tag(0x0072, 0x0004)),
            text(obj, Tag(0x0072, 0x0006)),
            text(obj, Tag(0x0072, 0x0008)),
            text(obj, Tag(0x0008, 0x0018)),
        ),
    }
}

fn progress_printer() -> impl FnMut(&ClientEvent) {
    let interactive = std::io::stderr().is_terminal();
    move |event| {
        let ClientEvent::Retrieve { progress: p, .. } = event else {
            return;
        };
        let line = match p {
            RetrieveProgress::Stored {
                sop_instance_uid,
                status,
            } => format!("received {sop_instance_uid} (0x{:04X})", status.0),
            RetrieveProgress::Pending(c) => format!(
                "remaining {} completed {} failed {} warning {}",
                c.remaining.unwrap_or(0),
                c.completed.unwrap_or(0),
                c.failed.unwrap_or(0),
                c.warning.unwrap_or(0)
            ),
            _ => return,
        };
        if interactive {
            eprint!("\r\x1b[2K{line}");
        } else {
            tracing::info!("{line}");
        }
    }
}

fn report(outcome: &OperationResult, service: Service, what: &str) -> ExitCode {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let c = outcome.sub_operations;
    out!(
        "{what}: final status {}; completed {}, failed {}, warning {}",
        describe_status(outcome.status, service),
        c.completed.unwrap_or(0),
        c.failed.unwrap_or(0),
        c.warning.unwrap_or(0)
    );
    for uid in &outcome.failed_sop_instance_uids {
        out!("failed: {uid}");
    }
    if let Some(comment) = &outcome.detail.error_comment {
        out!("error comment: {comment}");
    }
    if outcome.status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn retrieve_identifier(key_args: &[String]) -> Result<InMemDicomObject, String> {
    let mut identifier = InMemDicomObject::new_empty();
    keys::apply_keys(&mut identifier, key_args)?;
    Ok(identifier)
}

fn get(scu: &ScuArgs, key_args: &[String], out: &Path) -> Result<ExitCode, String> {
    let identifier = retrieve_identifier(key_args)?;
    std::fs::create_dir_all(out).map_err(|e| format!("--out {}: {e}", out.display()))?;
    let mut client = connect(scu, &[ScuService::HangingProtocolGet])?;
    let store = Arc::new(DirectoryStore {
        dir: out.to_path_buf(),
    });
    let operation = Operation::Get {
        sop_class: uids::HANGING_PROTOCOL_GET,
        identifier,
        store,
    };
    let outcome = client
        .run(operation, progress_printer())
        .map_err(|e| describe_error(&e, &scu.peer))?;
    client
        .release()
        .map_err(|e| describe_error(&e, &scu.peer))?;
    Ok(report(
        &outcome,
        Service::GetHangingProtocol,
        &format!(
            "C-GET: {} instance(s) written to {}",
            outcome.received,
            out.display()
        ),
    ))
}

fn move_to(scu: &ScuArgs, dest: &str, key_args: &[String]) -> Result<ExitCode, String> {
    let identifier = retrieve_identifier(key_args)?;
    let destination = ae(dest, "destination")?;
    let mut client = connect(scu, &[ScuService::HangingProtocolMove])?;
    let operation = Operation::Move {
        sop_class: uids::HANGING_PROTOCOL_MOVE,
        identifier,
        destination,
    };
    let outcome = client
        .run(operation, progress_printer())
        .map_err(|e| describe_error(&e, &scu.peer))?;
    client
        .release()
        .map_err(|e| describe_error(&e, &scu.peer))?;
    Ok(report(
        &outcome,
        Service::MoveHangingProtocol,
        &format!("C-MOVE to {dest}"),
    ))
}

fn store(scu: &ScuArgs, paths: &[PathBuf], jobs: usize) -> Result<ExitCode, String> {
    let scan = store::scan(paths);
    for (path, why) in &scan.skipped {
        tracing::warn!(path = %path.display(), %why, "skipped");
    }
    for (path, why) in &scan.unusable {
        out!("FAILED {}: {why}", path.display());
    }
    if scan.files.is_empty() && scan.unusable.is_empty() {
        return Err("no DICOM Part 10 files found".into());
    }
    let total: u64 = scan.files.iter().map(|f| f.len).sum();
    let progress = progress::Progress::bytes(scan.files.len() as u64, total);
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = std::sync::atomic::AtomicU64::new(0);
    let request = AssociationRequest::new(ae(&scu.aet, "calling")?, ae(&scu.aec, "called")?);
    let config = AssociationConfig {
        max_pdu_length: scu.max_pdu,
        idle_timeout: optional_seconds(scu.idle_timeout),
        dimse_timeout: optional_seconds(scu.idle_timeout),
        ..AssociationConfig::default()
    };
    let tls = scu_tls(scu)?;
    let connect = |request, config| match &tls {
        Some((tls, server_name)) => {
            Client::connect_tls(scu.peer.as_str(), request, config, tls, server_name)
        }
        None => Client::connect(scu.peer.as_str(), request, config),
    };
    let on_result = |file: &store::StoreFile, result: &store::FileResult| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress.set_files(n);
        progress.set_bytes(sent.load(Ordering::Relaxed));
        let line = match result {
            store::FileResult::Stored(status, comment) if status.is_warning() => format!(
                "stored {} ({}, warning 0x{:04X}{})",
                file.path.display(),
                file.sop_instance_uid,
                status.0,
                comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
            store::FileResult::Stored(..) => {
                format!("stored {} ({})", file.path.display(), file.sop_instance_uid)
            }
            store::FileResult::Failed(why) => format!("FAILED {}: {why}", file.path.display()),
        };
        progress.println(&line);
    };
    let options = store::StoreOptions {
        request,
        config,
        jobs: jobs.max(1),
        connect: &connect,
        on_result: &on_result,
        bytes_sent: Arc::clone(&sent),
    };
    let finished = AtomicBool::new(false);
    let summary = std::thread::scope(|scope| {
        if progress.is_drawn() {
            scope.spawn(|| {
                while !finished.load(Ordering::Relaxed) {
                    progress.set_bytes(sent.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let summary = store::run(&scan.files, &options);
        finished.store(true, Ordering::Relaxed);
        summary
    });
    progress.finish();
    let failed = summary.failed + scan.unusable.len();
    let secs = summary.elapsed.as_secs_f64();
    let mib = summary.bytes as f64 / (1024.0 * 1024.0);
    out!(
        "C-STORE to {}: {} stored, {} with warnings, {failed} failed, {} skipped; {mib:.1} MiB in {secs:.2} s ({:.1} MiB/s)",
        scu.peer,
        summary.stored,
        summary.warnings,
        scan.skipped.len(),
        if secs > 0.0 { mib / secs } else { 0.0 }
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[allow(dead_code)]
fn unused(_: &Uid) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_move_destination_is_marked_tls() {
        let (ae_title, dest) = parse_destination("STORESCP=tls://pacs.example:2762").unwrap();
        assert_eq!(ae_title, "STORESCP");
        assert_eq!(dest, Destination::tls("pacs.example", 2762));
        let (_, dest) = parse_destination("STORESCP=[::1]:104").unwrap();
        assert_eq!(dest, Destination::new("::1", 104));
        for bad in [
            "STORESCP=tls://:104",
            "STORESCP=dicom://a:104",
            "STORESCP=tls://a",
        ] {
            assert!(parse_destination(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_tls_server_name_defaults_to_the_host_dialled() {
        assert_eq!(host_of("pacs.example:2762"), "pacs.example");
        assert_eq!(host_of("127.0.0.1:2762"), "127.0.0.1");
        assert_eq!(host_of("[::1]:2762"), "::1");
        assert_eq!(host_of("pacs.example"), "pacs.example");
    }

    #[test]
    fn serve_listens_plain_tls_or_both() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["dicomwire", "serve"], args].concat())?;
            let Command::Serve(args) = cli.command else {
                unreachable!()
            };
            Ok::<_, clap::Error>((args.bind, args.tls.tls_bind))
        };
        let tls = ["--tls-cert", "c", "--tls-key", "k", "--tls-ca", "ca"];
        assert_eq!(parse(&[]).unwrap(), (None, None));
        let only_tls = [&["--tls-bind", ":2762"][..], &tls].concat();
        assert_eq!(parse(&only_tls).unwrap(), (None, Some(":2762".into())));
        // --tls-bind needs the certificate, its key and the CA.
        assert!(parse(&["--tls-bind", ":2762", "--tls-cert", "c", "--tls-key", "k"]).is_err());
        assert!(parse(&["--tls-client-auth", "optional"]).is_err());
    }

    #[test]
    fn scu_tls_flags_need_tls_and_a_ca() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["dicomwire", "echo"], args].concat());
        assert!(parse(&["h:1", "--tls", "--tls-ca", "ca"]).is_ok());
        assert!(parse(&["h:1", "--tls"]).is_err());
        assert!(parse(&["h:1", "--tls-ca", "ca"]).is_err());
        assert!(parse(&["h:1", "--tls", "--tls-ca", "ca", "--tls-cert", "c"]).is_err());
    }
}
