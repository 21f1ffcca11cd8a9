//! `dicomwire-bench`: the in-tree helpers of the side-by-side benchmarks (`bench/run`).
//!
//! - `gen-worklist DIR --count N`: N worklist items as Part 10 `.wl` files, for both
//!   `wlmscpfs` (in `DIR`, which the script makes `<data>/<AE>/`) and `dicomwire serve
//!   --worklist`; each is one of the 36 sample items with its own accession number and
//!   requested procedure id.
//! - `gen-hp DIR --count N --size BYTES`: N Hanging Protocol Storage instances, each a
//!   sample protocol padded with a private OB element to `BYTES` of data set, and their
//!   SOP Instance UIDs (backslash-separated, for `-k SOPInstanceUID=...`) in `DIR.uids`.
//! - `assoc HOST:PORT --count N --parallel P`: N associations, each opened, one C-ECHO,
//!   released, from P threads; one process, so that process start-up is not measured.
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
use dicomwire::pdu::AeTitle;
use dicomwire::service::scu::{ScuService, association_request};
use dicomwire::service::{dataset, uids};
use dicomwire_cli::{files, sample};
use dicomwire_std::{Client, ClientOptions};

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

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::GenWorklist { dir, count } => gen_worklist(&dir, count),
        Command::GenHp { dir, count, size } => gen_hp(&dir, count, size),
        Command::Assoc {
            peer,
            aec,
            count,
            parallel,
        } => assoc(&peer, &aec, count, parallel),
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

// ---------------------------------------------------------------------------------------
// Associations

fn resolve(peer: &str) -> Result<SocketAddr, String> {
    peer.to_socket_addrs()
        .map_err(|e| format!("{peer}: {e}"))?
        .next()
        .ok_or_else(|| format!("{peer}: no address"))
}

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(10),
        dimse_timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    }
}

fn open(addr: SocketAddr, aec: &str) -> Result<Client, String> {
    let request = association_request(
        AeTitle::new("BENCH-SCU").map_err(|e| e.to_string())?,
        AeTitle::new(aec).map_err(|e| format!("{aec}: {e}"))?,
        &[ScuService::Verification],
    );
    Client::connect(addr, request, options()).map_err(|e| format!("associate: {e}"))
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
fn echo_association(addr: SocketAddr, aec: &str) -> Result<Duration, String> {
    let start = Instant::now();
    let mut client = open(addr, aec)?;
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

fn assoc(peer: &str, aec: &str, count: usize, parallel: usize) -> Result<(), String> {
    let addr = resolve(peer)?;
    let parallel = parallel.max(1);
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parallel)
            .map(|t| {
                let n = count / parallel + usize::from(t < count % parallel);
                s.spawn(move || {
                    (0..n)
                        .map(|_| echo_association(addr, aec))
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
    let fresh = echo_association(addr, "ANY-SCP")?;
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
