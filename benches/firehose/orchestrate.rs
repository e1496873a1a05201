//! The orchestrator: starts the server process, runs every consumer as its own process,
//! alternating each with a raw reader run, and gathers the records for the report.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::measure::Record;
use crate::payload::Shape;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// About 1/10 of the counts, fewer repetitions.
    pub quick: bool,
    /// The tiny run `cargo test` does (no Qt, no idle/close, a few events).
    pub smoke: bool,
    /// Repetitions of each alternating series (throughput, latency).
    pub reps: usize,
    /// The Qt consumer (cpp-example/bench), when built.
    pub qt: Option<PathBuf>,
    /// Why there is no Qt consumer, for the report.
    pub qt_note: Option<String>,
    /// Run the callgrind profile.
    pub profile: bool,
    /// Sections to run (empty: all): throughput, latency, ttfe, idle, close, profile, parser.
    pub only: Vec<String>,
    /// Where results.md and runs.txt go.
    pub out_dir: PathBuf,
    /// Criterion's output (for the parser summary).
    pub criterion_dir: PathBuf,
}

impl Options {
    pub fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// A consumer program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Consumer {
    Raw,
    Callback,
    Poll,
    Rust,
    Qt,
}

impl Consumer {
    pub fn name(self) -> &'static str {
        match self {
            Consumer::Raw => "raw",
            Consumer::Callback => "callback",
            Consumer::Poll => "poll",
            Consumer::Rust => "rust",
            Consumer::Qt => "qt",
        }
    }

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Consumer::Raw => "raw reader (reference)",
            Consumer::Callback => "C API, callback",
            Consumer::Poll => "C API, poll + wakeup fd",
            Consumer::Rust => "Rust API, Handler",
            Consumer::Qt => "Qt SseEventSource",
        }
    }
}

/// The loopback server process; it exits when its stdin closes (on drop).
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
}

impl Server {
    pub fn start(exe: &Path) -> Server {
        let mut child = Command::new(exe)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("server stdout"))
            .read_line(&mut line)
            .expect("server port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .expect("the server prints PORT <port>");
        Server { child, stdin, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// One consumer run's outcome.
#[derive(Debug, Clone)]
pub struct Run {
    pub record: Record,
    /// Why it failed (non-zero exit, timeout, errors reported, events missing), if it did.
    pub failure: Option<String>,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
    pub fn get(&self, key: &str) -> f64 {
        self.record.get(key).unwrap_or(f64::NAN)
    }
}

/// Runs commands and keeps every RESULT line in runs.txt.
pub struct Runner {
    pub exe: PathBuf,
    pub options: Options,
    pub server: Server,
    log: std::fs::File,
}

/// A series of alternating runs: every consumer run preceded by a raw run.
#[derive(Debug, Default)]
pub struct Series {
    pub raw: Vec<Run>,
    /// consumer -> (the raw run just before, the consumer's run)
    pub pairs: BTreeMap<Consumer, Vec<(Run, Run)>>,
}

impl Runner {
    pub fn new(exe: PathBuf, options: Options) -> Runner {
        std::fs::create_dir_all(&options.out_dir).expect("create the output directory");
        let log = std::fs::File::create(options.out_dir.join("runs.txt")).expect("runs.txt");
        let server = Server::start(&exe);
        Runner {
            exe,
            options,
            server,
            log,
        }
    }

    /// The consumers of the alternating series: the C API both ways, the Rust API for
    /// throughput, Qt when built.
    pub fn consumers(&self, with_rust: bool) -> Vec<Consumer> {
        let mut consumers = vec![Consumer::Callback, Consumer::Poll];
        if with_rust {
            consumers.push(Consumer::Rust);
        }
        if self.options.qt.is_some() {
            consumers.push(Consumer::Qt);
        }
        consumers
    }

    /// A throughput or latency run of `consumer`.
    pub fn consume(&mut self, probe: &Probe<'_>, consumer: Consumer) -> Run {
        let Probe {
            label,
            url,
            events,
            latency,
        } = *probe;
        let timeout = Duration::from_secs(if self.options.smoke { 60 } else { 600 });
        let mut command = match consumer {
            Consumer::Qt => Command::new(self.options.qt.as_ref().expect("Qt consumer")),
            _ => {
                let mut command = Command::new(&self.exe);
                command.args(["--consume", consumer.name()]);
                command
            }
        };
        command.args([
            "--url",
            url,
            "--events",
            &events.to_string(),
            "--timeout",
            &timeout.as_secs().to_string(),
        ]);
        if latency {
            command.arg("--latency");
        }
        let mut run = self.run(
            label,
            consumer.name(),
            command,
            timeout + Duration::from_secs(30),
        );
        if run.ok() {
            let got = run.get("events");
            if got != events as f64 {
                run.failure = Some(format!("{got} of {events} events"));
            } else if run.get("errors") > 0.0 {
                run.failure = Some(format!("{} errors reported", run.get("errors")));
            }
        }
        run
    }

    /// Runs one consumer process and parses its RESULT line.
    pub fn run(&mut self, label: &str, what: &str, mut command: Command, timeout: Duration) -> Run {
        command
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                return Run {
                    record: Record::default(),
                    failure: Some(format!("cannot start {command:?}: {error}")),
                }
            }
        };
        let pid = child.id();
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (status_tx, status_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = status_tx.send(child.wait());
        });
        let status = match status_rx.recv_timeout(timeout) {
            Ok(status) => status.ok(),
            Err(_) => {
                // Our own child, by its id.
                // SAFETY: kill(2) on a pid we spawned and have not reaped yet.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                let _ = status_rx.recv();
                None
            }
        };
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        let record = stdout.lines().find_map(Record::parse);
        let _ = writeln!(
            self.log,
            "{label}\t{what}\t{}",
            record.as_ref().map_or("(no RESULT)".into(), Record::line)
        );
        let failure = match (&status, &record) {
            (None, _) => Some(format!("timed out after {timeout:?}")),
            (Some(status), _) if !status.success() => Some(format!("exited with {status}")),
            (_, None) => Some("printed no RESULT line".to_string()),
            _ => None,
        };
        if failure.is_some() && !stderr.trim().is_empty() {
            eprintln!("  {what} stderr:\n{}", indent(stderr.trim()));
        }
        Run {
            record: record.unwrap_or_default(),
            failure,
        }
    }

    /// `reps` rounds of: raw, consumer 1, raw, consumer 2, ... (a warm-up raw run first
    /// when `warm_up`, which also makes the server generate and cache the stream).
    pub fn alternate(
        &mut self,
        probe: &Probe<'_>,
        consumers: &[Consumer],
        reps: usize,
        warm_up: bool,
    ) -> Series {
        let label = probe.label;
        let mut series = Series::default();
        if warm_up {
            let run = self.consume(probe, Consumer::Raw);
            if let Some(failure) = &run.failure {
                eprintln!("[{label}] warm-up raw run failed: {failure}");
            }
        }
        for rep in 1..=reps {
            for &consumer in consumers {
                let raw = self.consume(probe, Consumer::Raw);
                let run = self.consume(probe, consumer);
                eprintln!(
                    "[{label}] {rep}/{reps} {:<8} {}   raw {}",
                    consumer.name(),
                    summary(&run, probe.latency),
                    summary(&raw, probe.latency)
                );
                series.raw.push(raw.clone());
                series.pairs.entry(consumer).or_default().push((raw, run));
            }
        }
        series
    }
}

/// What a series measures: `events` events from `url` (latency events when `latency`).
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// For progress lines and runs.txt.
    pub label: &'a str,
    pub url: &'a str,
    pub events: u64,
    pub latency: bool,
}

fn summary(run: &Run, latency: bool) -> String {
    if let Some(failure) = &run.failure {
        return format!("FAILED ({failure})");
    }
    if latency {
        format!(
            "p50 {:.0} us p99 {:.0} us",
            run.get("p50_us"),
            run.get("p99_us")
        )
    } else {
        format!(
            "span {:.4} s first {:.2} ms cpu {:.3} s hwm {:.1} MiB",
            run.get("span_s"),
            run.get("first_s") * 1e3,
            run.get("cpu_s"),
            run.get("hwm_kib") / 1024.0
        )
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A throughput workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub key: &'static str,
    pub name: String,
    pub shape: Shape,
    /// Server write size; 0 = as fast as possible (one big write).
    pub chunk: usize,
}

impl Workload {
    pub fn path(&self) -> String {
        format!("/stream?{}&chunk={}", self.shape.query(), self.chunk)
    }
}

/// Bytes per tiny server write: odd, so "\n\n" pairs and lines straddle reads.
pub const TINY_CHUNK: usize = 13;

pub fn workloads(options: &Options) -> Vec<Workload> {
    let scale = |n: u64| {
        if options.smoke {
            (n / 500).max(2)
        } else if options.quick {
            n / 10
        } else {
            n
        }
    };
    let small = scale(1_000_000);
    let tiny = scale(200_000);
    let mut all = vec![
        Workload {
            key: "small",
            name: format!("small: {} × 32 B + id", thousands(small)),
            shape: Shape::small(small),
            chunk: 0,
        },
        Workload {
            key: "kib",
            name: format!("{} × 1 KiB", thousands(scale(100_000))),
            shape: Shape::kib(scale(100_000)),
            chunk: 0,
        },
        Workload {
            key: "mib",
            name: format!("{} × 1 MiB", thousands(scale(200))),
            shape: Shape::mib(scale(200)),
            chunk: 0,
        },
        Workload {
            key: "multi",
            name: format!(
                "multi-line: {} × 8 lines of 32 B",
                thousands(scale(200_000))
            ),
            shape: Shape::multi_line(scale(200_000)),
            chunk: 0,
        },
        Workload {
            key: "tiny",
            name: format!(
                "tiny chunks: {} × 32 B + id, {TINY_CHUNK}-byte writes",
                thousands(tiny)
            ),
            shape: Shape::small(tiny),
            chunk: TINY_CHUNK,
        },
    ];
    if options.smoke {
        all.retain(|w| w.key == "small" || w.key == "tiny");
    }
    all
}

/// 1000000 -> "1,000,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
