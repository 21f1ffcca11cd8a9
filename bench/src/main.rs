//! `dicomwire-bench`: the in-tree helpers of the side-by-side benchmarks (`bench/run`).
//!
//! - `gen-worklist DIR --count N`: N worklist items as Part 10 `.wl` files, for both
//!   `wlmscpfs` (in `DIR`, which the script makes `<data>/<AE>/`) and `dicomwire serve
//!   --worklist`; each is one of the 36 sample items with its own accession number and
//!   requested procedure id.
//! - `gen-hp DIR --count N --size BYTES`: N Hanging Protocol Storage instances, each a
//!   sample protocol padded with a private OB element to `BYTES` of data set, and their
//!   SOP Instance UIDs (backslash-separated, for `-k SOPInstanceUID=...`) in `DIR.uids`.
//! - `gen-ct DIR --count N --size BYTES`: N CT Image Storage instances of one patient,
//!   study and series, for `dcmqrscp` (whose database indexes Patient/Study/Series/Image
//!   attributes, and which knows no Hanging Protocol Storage); each data set is exactly as
//!   long as `gen-hp`'s for the same `BYTES`, so that the retrieve rows move the same
//!   bytes. Their SOP Instance UIDs go to `DIR.uids`, the Study Instance UID to
//!   `DIR.study`.
//! - `assoc HOST:PORT --count N --parallel P [--tls-ca PEM [--tls-cert PEM --tls-key
//!   PEM]]`: N associations, each opened, one C-ECHO, released, from P threads; one
//!   process, so that process start-up is not measured. With `--tls-ca`, over TLS, each
//!   with a full handshake (a client configuration of its own, so no session to resume).
//! - `hold HOST:PORT --count N --server-pid PID`: N associations held open at once; the
//!   server's RSS before, while held and after, and the latency of a C-ECHO on held
//!   associations.
//! - `tcp --mib N`: raw loopback TCP throughput, one writer thread and one reader thread.
//!
//! Each measuring subcommand prints one JSON object on stdout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_dictionary_std::uids::CT_IMAGE_STORAGE;
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{ScuService, association_request};
use dicomwire::service::{dataset, uids};
use dicomwire::ul::AssociationConfig;
use dicomwire_cli::{files, sample};
use dicomwire_std::Client;
use dicomwire_tls::TlsClientConfig;

#[derive(Parser, Debug)]
#[command(name = "dicomwire-bench", about = "Helpers for bench/run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write N worklist items as .wl files.
    GenWorklist {
        /// Where to write them.
        dir: PathBuf,
        /// How many.
        #[arg(long)]
        count: usize,
    },
    /// Write N padded Hanging Protocol instances, and their UIDs to DIR.uids.
    GenHp {
        /// Where to write them.
        dir: PathBuf,
        /// How many.
        #[arg(long)]
        count: usize,
        /// The size of each data set, in bytes.
        #[arg(long)]
        size: usize,
    },
    /// Write N CT images of one study, each data set BYTES long, and the study's UID to
    /// DIR.study.
    GenCt {
        /// Where to write them.
        dir: PathBuf,
        /// How many.
        #[arg(long)]
        count: usize,
        /// The size of each data set, in bytes.
        #[arg(long)]
        size: usize,
    },
    /// Open, C-ECHO, release, N times from P threads.
    Assoc {
        /// The SCP, HOST:PORT.
        peer: String,
        /// The SCP's AE title.
        #[arg(long, default_value = "ANY-SCP")]
        aec: String,
        /// Associations in all.
        #[arg(long)]
        count: usize,
        /// Client threads.
        #[arg(long, default_value_t = 1)]
        parallel: usize,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Hold N associations open at once and probe C-ECHO latency while they are held.
    Hold {
        /// The SCP, HOST:PORT.
        peer: String,
        /// Associations held at once.
        #[arg(long)]
        count: usize,
        /// The server's process id, for its RSS.
        #[arg(long)]
        server_pid: u32,
        /// C-ECHOs timed while the associations are held.
        #[arg(long, default_value_t = 200)]
        probes: usize,
        /// Threads opening and releasing the associations.
        #[arg(long, default_value_t = 8)]
        threads: usize,
    },
    /// Raw loopback TCP throughput.
    Tcp {
        /// MiB to send.
        #[arg(long, default_value_t = 4096)]
        mib: usize,
        /// Bytes per write.
        #[arg(long, default_value_t = 1 << 20)]
        chunk: usize,
    },
}

/// `assoc` over TLS.
#[derive(clap::Args, Debug)]
struct TlsArgs {
    /// Connect over TLS, trusting the CA certificate(s) in this PEM file.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Our certificate (PEM), for servers that require one.
    #[arg(long, value_name = "PEM", requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The name the server's certificate must hold [default: the host of HOST:PORT].
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    tls_server_name: Option<String>,
}

/// What `assoc` needs to open TLS associations: the PEM bytes (each association builds
/// its own configuration from them, so that none resumes another's session) and the name
/// to expect.
struct Tls {
    ca: Vec<u8>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    server_name: String,
}

impl Tls {
    fn from_args(args: &TlsArgs, peer: &str) -> Result<Option<Self>, String> {
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let Some(ca) = &args.tls_ca else {
            return Ok(None);
        };
        let identity = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        let host = peer.rsplit_once(':').map_or(peer, |(host, _)| host);
        Ok(Some(Self {
            ca: read(ca)?,
            identity,
            server_name: args
                .tls_server_name
                .clone()
                .unwrap_or_else(|| host.to_owned()),
        }))
    }

    /// A fresh client configuration: an empty session cache, so a full handshake.
    fn config(&self) -> Result<TlsClientConfig, String> {
        let identity = self.identity.as_ref().map(|(c, k)| (&c[..], &k[..]));
        TlsClientConfig::new(&self.ca, identity).map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::GenWorklist { dir, count } => gen_worklist(&dir, count),
        Command::GenHp { dir, count, size } => gen_hp(&dir, count, size),
        Command::GenCt { dir, count, size } => gen_ct(&dir, count, size),
        Command::Assoc {
            peer,
            aec,
            count,
            parallel,
            tls,
        } => Tls::from_args(&tls, &peer)
            .and_then(|tls| assoc(&peer, &aec, count, parallel, tls.as_ref())),
        Command::Hold {
            peer,
            count,
            server_pid,
            probes,
            threads,
        } => hold(&peer, count, server_pid, probes, threads),
        Command::Tcp { mib, chunk } => tcp(mib, chunk),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dicomwire-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// Data

/// A fixed day, so that the data sets are the same from run to run.
const DAY: (i32, u32, u32) = (2026, 1, 5);

fn text(tag: Tag, vr: VR, value: &str) -> dicom_object::mem::InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn gen_worklist(dir: &Path, count: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let samples = sample::worklist(DAY);
    for n in 0..count {
        let mut item = samples[n % samples.len()].clone();
        item.put(text(tags::ACCESSION_NUMBER, VR::SH, &format!("BN{n:08}")));
        item.put(text(
            tags::REQUESTED_PROCEDURE_ID,
            VR::SH,
            &format!("BRP{n:07}"),
        ));
        let data = dataset::encode(&item, uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str())
            .map_err(|e| format!("encode worklist item {n}: {e}"))?;
        let file = files::part10(
            uids::MODALITY_WORKLIST_FIND.as_str(),
            &sample::uid_for(&format!("bench/worklist/{n}")),
            uids::EXPLICIT_VR_LITTLE_ENDIAN.as_str(),
            &data,
        );
        std::fs::write(dir.join(format!("item{n:05}.wl")), file)
            .map_err(|e| format!("write item {n}: {e}"))?;
    }
    Ok(())
}

fn gen_hp(dir: &Path, count: usize, size: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let samples = sample::hanging_protocols();
    let explicit = uids::EXPLICIT_VR_LITTLE_ENDIAN;
    let ts = explicit.as_str();
    let mut all_uids = Vec::with_capacity(count);
    for n in 0..count {
        let mut object = samples[n % samples.len()].object.clone();
        let uid = sample::uid_for(&format!("bench/hp/{size}/{n}"));
        object.put(text(tags::SOP_INSTANCE_UID, VR::UI, &uid));
        object.put(text(Tag(0x0009, 0x0010), VR::LO, "DICOMWIRE BENCH"));
        let base = dataset::encode(&object, ts)
            .map_err(|e| format!("encode protocol {n}: {e}"))?
            .len();
        // Explicit VR OB: tag, VR, two reserved bytes and a 4-byte length.
        let padding = size.saturating_sub(base + 12) & !1;
        object.put(DataElement::new(
            Tag(0x0009, 0x1001),
            VR::OB,
            PrimitiveValue::U8(vec![0x5A; padding].into()),
        ));
        let data = dataset::encode(&object, ts).map_err(|e| format!("encode protocol {n}: {e}"))?;
        let file = files::part10(uids::HANGING_PROTOCOL_STORAGE.as_str(), &uid, ts, &data);
        std::fs::write(dir.join(files::instance_file_name(&uid)), file)
            .map_err(|e| format!("write protocol {n}: {e}"))?;
        all_uids.push(uid);
    }
    let list = dir.with_extension("uids");
    std::fs::write(&list, all_uids.join("\\")).map_err(|e| format!("{}: {e}", list.display()))
}

/// Columns of the generated CT images; the rows are as many as the size allows.
const CT_COLUMNS: u16 = 512;

/// The patient, study, series and image attributes that `dcmqridx` indexes, and the
/// image pixel module of a 12-bit CT slice without its pixel data.
fn ct_header(n: usize, study: &str, series: &str, uid: &str) -> dicom_object::InMemDicomObject {
    let date = format!("{:04}{:02}{:02}", DAY.0, DAY.1, DAY.2);
    let us = |tag, value: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(value));
    let slice = format!("-{}.{:02}", n * 125 / 100, n * 125 % 100);
    dicom_object::InMemDicomObject::from_element_iter([
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
        text(tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, uid),
        text(tags::STUDY_DATE, VR::DA, &date),
        text(tags::SERIES_DATE, VR::DA, &date),
        text(tags::STUDY_TIME, VR::TM, "081500"),
        text(tags::ACCESSION_NUMBER, VR::SH, "BCT00000001"),
        text(tags::MODALITY, VR::CS, "CT"),
        text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Bench^Referrer"),
        text(tags::STUDY_DESCRIPTION, VR::LO, "CT chest (benchmark)"),
        text(tags::PATIENT_NAME, VR::PN, "Bench^Patient"),
        text(tags::PATIENT_ID, VR::LO, "BENCH-CT-1"),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101"),
        text(tags::PATIENT_SEX, VR::CS, "O"),
        text(tags::SLICE_THICKNESS, VR::DS, "1.25"),
        text(tags::KVP, VR::DS, "120"),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study),
        text(tags::SERIES_INSTANCE_UID, VR::UI, series),
        text(tags::STUDY_ID, VR::SH, "1"),
        text(tags::SERIES_NUMBER, VR::IS, "1"),
        text(tags::INSTANCE_NUMBER, VR::IS, &(n + 1).to_string()),
        text(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            &format!("-250.0\\-250.0\\{slice}"),
        ),
        text(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0"),
        text(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &sample::uid_for("bench/ct/frame"),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, 0),
        us(tags::COLUMNS, CT_COLUMNS),
        text(tags::PIXEL_SPACING, VR::DS, "0.9765625\\0.9765625"),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 12),
        us(tags::HIGH_BIT, 11),
        us(tags::PIXEL_REPRESENTATION, 0),
        text(tags::WINDOW_CENTER, VR::DS, "40"),
        text(tags::WINDOW_WIDTH, VR::DS, "400"),
        text(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
        text(tags::RESCALE_SLOPE, VR::DS, "1"),
        text(Tag(0x0009, 0x0010), VR::LO, "DICOMWIRE BENCH"),
    ])
}

fn gen_ct(dir: &Path, count: usize, size: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let explicit = uids::EXPLICIT_VR_LITTLE_ENDIAN;
    let ts = explicit.as_str();
    let study = sample::uid_for(&format!("bench/ct/{size}/study"));
    let series = sample::uid_for(&format!("bench/ct/{size}/series"));
    let mut all_uids = Vec::with_capacity(count);
    for n in 0..count {
        let uid = sample::uid_for(&format!("bench/ct/{size}/{n}"));
        let mut object = ct_header(n, &study, &series, &uid);
        let base = dataset::encode(&object, ts)
            .map_err(|e| format!("encode CT image {n}: {e}"))?
            .len();
        // Pixel Data (OW) and the private OB padding each take a 12-byte header; as many
        // whole rows as fit, the rest (even, at least 12 bytes or none) as padding, so
        // that the data set is `size` bytes, as gen-hp's are.
        let columns = usize::from(CT_COLUMNS);
        let room = size.saturating_sub(base + 12) & !1;
        let mut rows = room / (2 * columns);
        if room % (2 * columns) != 0 && room % (2 * columns) < 12 {
            rows = rows.saturating_sub(1);
        }
        let rows = u16::try_from(rows).unwrap_or(u16::MAX);
        let rest = room - usize::from(rows) * 2 * columns;
        // A gradient in 12 bits, shifted by one for each slice.
        let pixels: Vec<u16> = (0..rows)
            .flat_map(|r| (0..CT_COLUMNS).map(move |c| r.wrapping_add(c)))
            .map(|v| v.wrapping_add(u16::try_from(n % 4096).unwrap_or(0)) & 0x0FFF)
            .collect();
        object.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(rows),
        ));
        object.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(pixels.into()),
        ));
        if rest > 0 {
            object.put(DataElement::new(
                Tag(0x0009, 0x1001),
                VR::OB,
                PrimitiveValue::U8(vec![0x5A; rest - 12].into()),
            ));
        }
        let data = dataset::encode(&object, ts).map_err(|e| format!("encode CT image {n}: {e}"))?;
        if data.len() != size {
            return Err(format!(
                "CT image {n}: a data set of {} bytes, not {size} (an even size of at least {} \
                 bytes is needed)",
                data.len(),
                base + 24
            ));
        }
        let file = files::part10(CT_IMAGE_STORAGE, &uid, ts, &data);
        std::fs::write(dir.join(files::instance_file_name(&uid)), file)
            .map_err(|e| format!("write CT image {n}: {e}"))?;
        all_uids.push(uid);
    }
    let list = dir.with_extension("uids");
    std::fs::write(&list, all_uids.join("\\")).map_err(|e| format!("{}: {e}", list.display()))?;
    let study_file = dir.with_extension("study");
    std::fs::write(&study_file, &study).map_err(|e| format!("{}: {e}", study_file.display()))
}

// ---------------------------------------------------------------------------------------
// Associations

fn resolve(peer: &str) -> Result<SocketAddr, String> {
    peer.to_socket_addrs()
        .map_err(|e| format!("{peer}: {e}"))?
        .next()
        .ok_or_else(|| format!("{peer}: no address"))
}

fn options() -> AssociationConfig {
    AssociationConfig {
        connect_timeout: Duration::from_secs(10),
        dimse_timeout: Some(Duration::from_secs(30)),
        ..AssociationConfig::default()
    }
}

fn open(addr: SocketAddr, aec: &str) -> Result<Client, String> {
    open_with(addr, aec, None)
}

fn open_with(addr: SocketAddr, aec: &str, tls: Option<&Tls>) -> Result<Client, String> {
    let request = association_request(
        AeTitle::new("BENCH-SCU").map_err(|e| e.to_string())?,
        AeTitle::new(aec).map_err(|e| format!("{aec}: {e}"))?,
        &[ScuService::Verification],
    );
    match tls {
        Some(tls) => {
            Client::connect_tls(addr, request, options(), &tls.config()?, &tls.server_name)
        }
        None => Client::connect(addr, request, options()),
    }
    .map_err(|e| format!("associate: {e}"))
}

fn echo(client: &mut Client) -> Result<(), String> {
    let status = client.echo().map_err(|e| format!("echo: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("echo status 0x{:04X}", status.0))
    }
}

/// One association: open, C-ECHO, release.
fn echo_association(addr: SocketAddr, aec: &str, tls: Option<&Tls>) -> Result<Duration, String> {
    let start = Instant::now();
    let mut client = open_with(addr, aec, tls)?;
    echo(&mut client)?;
    client.release().map_err(|e| format!("release: {e}"))?;
    Ok(start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let last = sorted.len() - 1;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let at = ((last as f64) * p).round() as usize;
    sorted[at.min(last)].as_secs_f64() * 1e3
}

fn assoc(
    peer: &str,
    aec: &str,
    count: usize,
    parallel: usize,
    tls: Option<&Tls>,
) -> Result<(), String> {
    let addr = resolve(peer)?;
    let parallel = parallel.max(1);
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parallel)
            .map(|t| {
                let n = count / parallel + usize::from(t < count % parallel);
                s.spawn(move || {
                    (0..n)
                        .map(|_| echo_association(addr, aec, tls))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(count);
    for r in results {
        latencies.extend(r?);
    }
    latencies.sort();
    #[allow(clippy::cast_precision_loss)]
    let per_second = latencies.len() as f64 / wall;
    println!(
        "{{\"count\":{},\"wall_s\":{wall:.6},\"per_s\":{per_second:.1},\"median_ms\":{:.4},\"p99_ms\":{:.4}}}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    );
    Ok(())
}

/// Resident set size of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn hold(
    peer: &str,
    count: usize,
    server_pid: u32,
    probes: usize,
    threads: usize,
) -> Result<(), String> {
    let addr = resolve(peer)?;
    let threads = threads.max(1);
    let rss_before = rss_kib(server_pid)?;
    let start = Instant::now();
    let opened: Vec<Result<Vec<Client>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let n = count / threads + usize::from(t < count % threads);
                s.spawn(move || (0..n).map(|_| open(addr, "ANY-SCP")).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    let open_s = start.elapsed().as_secs_f64();
    let mut clients = Vec::with_capacity(count);
    for r in opened {
        clients.extend(r?);
    }
    // Let the server settle before reading its RSS.
    std::thread::sleep(Duration::from_millis(200));
    let rss_held = rss_kib(server_pid)?;
    let mut latencies = Vec::with_capacity(probes);
    let step = (clients.len() / probes.max(1)).max(1);
    for client in clients.iter_mut().step_by(step).take(probes) {
        let t = Instant::now();
        echo(client)?;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    // A new association while the others are held.
    let fresh = echo_association(addr, "ANY-SCP", None)?;
    let start = Instant::now();
    let mut chunks: Vec<Vec<Client>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, c) in clients.into_iter().enumerate() {
        chunks[i % threads].push(c);
    }
    let released: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .try_for_each(|c| c.release().map_err(|e| format!("release: {e}")))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    let release_s = start.elapsed().as_secs_f64();
    released.into_iter().collect::<Result<Vec<()>, String>>()?;
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = rss_kib(server_pid)?;
    println!(
        "{{\"count\":{count},\"open_s\":{open_s:.4},\"release_s\":{release_s:.4},\"rss_before_kib\":{rss_before},\"rss_held_kib\":{rss_held},\"rss_after_kib\":{rss_after},\"echo_median_ms\":{:.4},\"echo_p99_ms\":{:.4},\"fresh_assoc_ms\":{:.4}}}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        fresh.as_secs_f64() * 1e3,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Raw TCP

fn tcp(mib: usize, chunk: usize) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let total = mib << 20;
    let reader = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut stream, _) = listener.accept()?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut got = 0;
        loop {
            match stream.read(&mut buffer)? {
                0 => return Ok(got),
                n => got += n,
            }
        }
    });
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let buffer = vec![0x5Au8; chunk];
    let start = Instant::now();
    let mut sent = 0;
    while sent < total {
        let n = chunk.min(total - sent);
        stream.write_all(&buffer[..n]).map_err(|e| e.to_string())?;
        sent += n;
    }
    drop(stream);
    let got = reader
        .join()
        .map_err(|_| "reader panicked".to_owned())?
        .map_err(|e| e.to_string())?;
    let wall = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let mb_s = got as f64 / wall / 1e6;
    println!("{{\"bytes\":{got},\"wall_s\":{wall:.6},\"mb_s\":{mb_s:.1}}}");
    Ok(())
}
