//! What one long `id:` field costs a client that then receives tiny events as fast as a
//! loopback server sends them: events/s, resident memory, and how long `close()` and
//! dropping the `Client` take. Run in release:
//!
//! ```text
//! cargo run --release --example long_id -- [--id SIZE] [--mode callback|poll-batch|poll-single]
//!     [--window SECS] [--runs N] [--timeout SECS]
//! cargo run --release --example long_id -- --all [--window SECS] [--runs N] [--timeout SECS]
//! ```
//!
//! SIZE is a byte count, or a number with KiB, MiB or MB (0, 1KiB, 1MiB, 16MB). Defaults:
//! 1MiB, callback, a 2 s window, 5 runs, a 60 s timeout per run. `--all` runs the matrix
//! (id 0, 1 KiB, 1 MiB and 16 MB in callback and poll-batch modes, and poll-single for
//! 1 MiB) and prints a Markdown table.
//!
//! Each run is a child process (this program with `--child`): every run starts with a fresh
//! heap and its own peak RSS, and the parent kills a run that outlives the timeout (the
//! "lost runs" column says in which step, and the least that step would have taken). In a
//! run, a server thread answers the client's one request with a 200 event stream, sends
//! `id: <SIZE bytes of 'a'>` and a blank line (which sets the last event ID without
//! dispatching an event), then `data: x` events until the client goes. The host thread
//! waits for the first event, counts the events delivered over the window, reads VmHWM and
//! VmRSS from /proc/self/status, and then either
//! - `close`: times `client.close()`, then times dropping the client (joins the worker); or
//! - `drop`: times dropping the client without a close (while events flow).
//!
//! In poll modes the host drains the queue just before it closes or drops, so the worker is
//! reading the socket then, not waiting for room. Each repetition is one `close` run and
//! one `drop` run; events/s and memory come from both. The figures cover the whole process,
//! server thread included: the id 0 rows are the baseline. Each run's own figures go to
//! stderr as it ends; stdout gets the min / median / max of each figure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sse_client::{BatchMessage, Client, Config, Event, Handler, Message};

// The accept loop, request-head reader and response heads the examples' servers share.
#[allow(dead_code)]
#[path = "common/loopback_server.rs"]
mod loopback_server;
use loopback_server::{read_request_head, Connection, LoopbackServer, Threads, EVENT_STREAM_HEAD};

const USAGE: &str = "usage: long_id [--id SIZE] [--mode callback|poll-batch|poll-single] \
                     [--window SECS] [--runs N] [--timeout SECS] [--all]";

/// The matrix `--all` runs: (id size, mode).
const MATRIX: [(&str, &str); 9] = [
    ("0", "callback"),
    ("0", "poll-batch"),
    ("1KiB", "callback"),
    ("1KiB", "poll-batch"),
    ("1MiB", "callback"),
    ("1MiB", "poll-batch"),
    ("1MiB", "poll-single"),
    ("16MB", "callback"),
    ("16MB", "poll-batch"),
];

/// How long a run may wait for its first event before it gives up.
const FIRST_EVENT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Options {
    id: String,
    mode: String,
    window: f64,
    runs: usize,
    timeout: f64,
    all: bool,
    /// Set in a child: `close` or `drop`.
    child: Option<String>,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(ending) = &options.child {
        return match child_run(&options, ending) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                println!("error: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let settings: Vec<(String, String)> = match options.all {
        true => MATRIX
            .iter()
            .map(|(i, m)| (i.to_string(), m.to_string()))
            .collect(),
        false => vec![(options.id.clone(), options.mode.clone())],
    };
    let started = Instant::now();
    let summaries: Vec<Summary> = settings
        .iter()
        .map(|(id, mode)| measure(&options, id, mode))
        .collect();
    if options.all {
        print_table(&summaries);
    } else {
        println!("{}", summaries[0].line());
    }
    eprintln!("took {:.0} s", started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        id: "1MiB".into(),
        mode: "callback".into(),
        window: 2.0,
        runs: 5,
        timeout: 60.0,
        all: false,
        child: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--all" {
            options.all = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: bad number {v}"))
        };
        match flag.as_str() {
            "--id" => options.id = value,
            "--mode" => options.mode = value,
            "--window" => options.window = number(&value)?,
            "--runs" => options.runs = number(&value)? as usize,
            "--timeout" => options.timeout = number(&value)?,
            "--child" => options.child = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    id_bytes(&options.id)?;
    if !["callback", "poll-batch", "poll-single"].contains(&options.mode.as_str()) {
        return Err(format!("unknown mode {}", options.mode));
    }
    Ok(options)
}

/// "16MB" -> 16000000, "1MiB" -> 1048576, "1KiB" -> 1024, "300" -> 300.
fn id_bytes(size: &str) -> Result<usize, String> {
    let units = [
        ("KiB", 1 << 10),
        ("MiB", 1 << 20),
        ("MB", 1_000_000),
        ("", 1),
    ];
    let (digits, unit) = units
        .iter()
        .find_map(|(suffix, unit)| size.strip_suffix(suffix).map(|d| (d, unit)))
        .expect("the empty suffix always matches");
    let n: usize = digits.parse().map_err(|_| format!("bad id size {size}"))?;
    Ok(n * unit)
}

// ---------------------------------------------------------------------------------------
// The parent: runs children, summarises.

/// What one child run printed: `events_per_s`, `hwm_mib`, `rss_mib`, `ending_after_s`
/// (when the close or drop began, since the child started), then `close_ms` and
/// `free_after_close_ms`, or `free_streaming_ms`. A killed run has only the first ones.
type Figures = BTreeMap<String, f64>;

/// The columns of the table: a figure's key and heading.
const COLUMNS: [(&str, &str); 6] = [
    ("events_per_s", "events/s"),
    ("hwm_mib", "VmHWM MiB"),
    ("rss_mib", "VmRSS MiB"),
    ("close_ms", "close() ms"),
    ("free_after_close_ms", "free after close ms"),
    ("free_streaming_ms", "free while streaming ms"),
];

#[derive(Default)]
struct Summary {
    id: String,
    mode: String,
    runs: Vec<Figures>,
    /// Runs killed at the timeout (in which step, and the least it would have taken), or
    /// that failed.
    lost: Vec<String>,
}

fn measure(options: &Options, id: &str, mode: &str) -> Summary {
    let mut summary = Summary {
        id: id.into(),
        mode: mode.into(),
        ..Summary::default()
    };
    for repetition in 1..=options.runs {
        for ending in ["close", "drop"] {
            let (printed, killed) = match run_child(options, id, mode, ending) {
                Ok(outcome) => outcome,
                Err(message) => (format!("error: {message}"), false),
            };
            let killed_note = if killed {
                " (killed at the timeout)"
            } else {
                ""
            };
            eprintln!("id={id} mode={mode} run={repetition} {ending}: {printed}{killed_note}");
            if printed.starts_with("error") || (printed.is_empty() && !killed) {
                summary.lost.push(format!("failed: {printed}"));
                continue;
            }
            let figures = parse_figures(&printed);
            if killed {
                summary
                    .lost
                    .push(killed_in(&figures, ending, options.timeout));
            }
            summary.runs.push(figures);
        }
    }
    summary
}

/// Runs one child and returns what it printed, and whether it was killed at the timeout.
fn run_child(
    options: &Options,
    id: &str,
    mode: &str,
    ending: &str,
) -> Result<(String, bool), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--child", ending, "--id", id, "--mode", mode])
        .args(["--window", &options.window.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs_f64(options.timeout);
    let mut killed = false;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            killed = true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    // One short line: it fits the pipe, so reading after the exit cannot block the child.
    let mut output = String::new();
    let _ = child
        .stdout
        .take()
        .map(|mut o| o.read_to_string(&mut output));
    Ok((output.trim().to_owned(), killed))
}

/// Reads a child's `key=value ...` line back.
fn parse_figures(line: &str) -> Figures {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(key, value)| Some((key.to_owned(), value.parse().ok()?)))
        .collect()
}

/// Where a killed run was stuck, and the least that step would have taken.
fn killed_in(figures: &Figures, ending: &str, timeout: f64) -> String {
    let Some(began) = figures.get("ending_after_s") else {
        return "killed before the window ended".into();
    };
    let step = match (ending, figures.get("close_ms")) {
        ("close", None) => "close()",
        ("close", Some(_)) => "free after close",
        _ => "free while streaming",
    };
    let spent = began + figures.get("close_ms").unwrap_or(&0.0) / 1000.0;
    format!("{step} killed after > {:.0} s", (timeout - spent).floor())
}

impl Summary {
    /// min / median / max of each column's figure.
    fn cells(&self) -> Vec<String> {
        let values = |key: &str| -> Vec<f64> {
            self.runs
                .iter()
                .filter_map(|r| r.get(key).copied())
                .collect()
        };
        let mut cells: Vec<String> = COLUMNS
            .iter()
            .map(|(key, _)| spread(&values(key)))
            .collect();
        cells.push(match self.lost.is_empty() {
            true => "none".into(),
            false => self.lost.join("; "),
        });
        cells
    }

    fn line(&self) -> String {
        let headings = COLUMNS
            .iter()
            .map(|(_, heading)| *heading)
            .chain(["lost runs"]);
        let figures: Vec<String> = headings
            .zip(self.cells())
            .map(|(h, c)| format!("{h} {c}"))
            .collect();
        format!(
            "id {} {}, min / median / max: {}",
            self.id,
            self.mode,
            figures.join("; ")
        )
    }
}

fn print_table(summaries: &[Summary]) {
    let headings: Vec<&str> = COLUMNS.iter().map(|(_, heading)| *heading).collect();
    println!("| id | mode | {} | lost runs |", headings.join(" | "));
    println!("|---|---|{}---|", "---|".repeat(COLUMNS.len()));
    for summary in summaries {
        println!(
            "| {} | {} | {} |",
            summary.id,
            summary.mode,
            summary.cells().join(" | ")
        );
    }
    println!(
        "\nEach cell: min / median / max; events/s and memory over both runs of each repetition."
    );
}

/// "min / median / max", each with about three significant digits.
fn spread(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0;
    let show = |v: f64| match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    };
    format!(
        "{} / {} / {}",
        show(sorted[0]),
        show(median),
        show(sorted[n - 1])
    )
}

// ---------------------------------------------------------------------------------------
// The child: one client against one server, measured.

/// Prints the figures as it goes (flushed), so that a run killed in close() or drop still
/// tells its window figures and when the step began.
fn child_run(options: &Options, ending: &str) -> Result<(), String> {
    let born = Instant::now();
    let id_len = id_bytes(&options.id)?;
    let threads = Threads {
        name: "long_id",
        stack_size: None,
    };
    // Never shut down: the run ends with this process.
    let server = LoopbackServer::bind_loopback(threads, move |connection, _: Connection<'_>| {
        serve(connection, id_len)
    })
    .map_err(|e| e.to_string())?;
    let url = format!("http://{}/", server.addr());
    let config = Config::new(&url).map_err(|e| format!("{e:?}"))?;
    let events = Arc::new(AtomicU64::new(0));
    let polled = options.mode != "callback";
    let client = match polled {
        true => Client::open_polled(&config),
        false => Client::open(&config, Counter(events.clone())),
    }
    .map_err(|e| e.to_string())?;
    // The host's loop: callbacks count on the worker, so the host only watches; poll modes
    // take the events here.
    let host_until = |deadline: Instant, stop_at_first: bool| {
        while Instant::now() < deadline && !(stop_at_first && events.load(Relaxed) > 0) {
            match options.mode.as_str() {
                "poll-batch" => take_batch(&client, &events, Duration::from_millis(10)),
                "poll-single" => take_one(&client, &events, Duration::from_millis(10)),
                _ => thread::sleep(Duration::from_millis(1)),
            }
        }
    };

    host_until(Instant::now() + FIRST_EVENT, true);
    let (start, first) = (Instant::now(), events.load(Relaxed));
    if first == 0 {
        return Err(format!("no event within {FIRST_EVENT:?}"));
    }
    host_until(start + Duration::from_secs_f64(options.window), false);
    let events_per_s = (events.load(Relaxed) - first) as f64 / start.elapsed().as_secs_f64();
    let (hwm_mib, rss_mib) = memory_mib();
    if polled {
        take_batch(&client, &events, Duration::ZERO);
    }
    let began = born.elapsed().as_secs_f64();
    say(format!(
        "events_per_s={events_per_s:.0} hwm_mib={hwm_mib:.1} rss_mib={rss_mib:.1}"
    ));
    say(format!(" ending_after_s={began:.1}"));
    if ending == "close" {
        say(format!(" close_ms={:.3}", timed_ms(|| client.close())));
        say(format!(
            " free_after_close_ms={:.3}\n",
            timed_ms(|| drop(client))
        ));
    } else {
        say(format!(
            " free_streaming_ms={:.3}\n",
            timed_ms(|| drop(client))
        ));
    }
    Ok(())
}

/// Prints to stdout at once, for the parent to read even if this process is killed next.
fn say(text: String) {
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Callback mode's handler: counts events on the worker thread.
struct Counter(Arc<AtomicU64>);

impl Handler for Counter {
    fn on_event(&mut self, _event: &Event<'_>) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// Poll mode, batches: takes everything queued (waiting up to `timeout` for something).
fn take_batch(client: &Client, events: &AtomicU64, timeout: Duration) {
    if let Ok(taken) = client.poll_all(Some(timeout)) {
        let n = taken
            .iter()
            .filter(|m| matches!(m, BatchMessage::Event { .. }))
            .count();
        events.fetch_add(n as u64, Relaxed);
    }
}

/// Poll mode, one message at a time (each an owned copy).
fn take_one(client: &Client, events: &AtomicU64, timeout: Duration) {
    if let Ok(Message::Event(_)) = client.poll(Some(timeout)) {
        events.fetch_add(1, Relaxed);
    }
}

fn timed_ms(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1000.0
}

/// (VmHWM, VmRSS) of this process in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or("");
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        kib / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Answers one request: the event-stream head, the long id (from a small buffer, so the
/// server adds little to the RSS), then `data: x` events until the client goes.
fn serve(mut connection: TcpStream, id_len: usize) {
    if !matches!(read_request_head(&mut connection), Ok(Some(_))) {
        return;
    }
    let letters = [b'a'; 64 * 1024];
    let events = b"data: x\n\n".repeat(64 * 1024 / 9);
    let _ = (|| -> std::io::Result<()> {
        connection.write_all(EVENT_STREAM_HEAD)?;
        connection.write_all(b"id: ")?;
        for start in (0..id_len).step_by(letters.len()) {
            connection.write_all(&letters[..letters.len().min(id_len - start)])?;
        }
        connection.write_all(b"\n\n")?;
        loop {
            connection.write_all(&events)?;
        }
    })();
}
