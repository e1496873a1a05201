//! The soak run of `sse_client`: many events, many reconnects and many clients against an
//! in-process loopback server, with resident memory, file descriptors and threads sampled.
//! Not part of CI (it takes about a minute); run it in release:
//!
//! ```text
//! cargo run --release --example soak -- [single|many|all] [--events N] [--reconnects N]
//!     [--clients N] [--seconds N] [--rate N] [--delivery callback|poll|mixed]
//!     [--sample-ms N] [--print-ms N] [--repeat N]
//! ```
//!
//! - `single` (about 30 s): one client receives at least `--events` events (default
//!   1000000) over at least `--reconnects` reconnects (default 2000): the server drops the
//!   connection every `events / (reconnects + 1)` events. `--seconds S` spreads the events
//!   over about S seconds (default 0: as fast as the client takes them; the run time is
//!   then mostly the 10-15 ms waits before the reconnects).
//! - `many` (30 s): `--clients` clients (default 200) open at once and each receives a
//!   stream of `--rate` events per second (default 50) for `--seconds` seconds (default
//!   30), with about `--reconnects` reconnects each (default 10), all at the same moments
//!   (a herd); then all are closed at once.
//! - `all` (the default): `single`, then `many`. `--repeat N` runs them N times in the
//!   same process (memory after a close should not creep from one round to the next).
//!
//! `--delivery`: how events reach the host, through callbacks on the worker thread, from
//! the poll queue (one thread drains every polled client), or half and half (`mixed`).
//! Defaults: `single` callback, `many` mixed. Every client uses a 10 ms initial and 100 ms
//! maximum reconnect delay.
//!
//! The server (std `TcpListener`, a thread per connection) streams numbered events of a few
//! shapes (named and unnamed, one or two data lines, LF or CRLF line ends, a payload of 0
//! to 96 bytes, or 8 KiB for ids 3, 103, 203 ...; a comment every 50 events) and resumes
//! after the request's `Last-Event-ID`. Every other drop cuts an event in half (its `id:`
//! line already sent), which the client must discard and then ask for again. The client
//! checks that every event arrives exactly once, in order, with the type and data that
//! belong to its id.
//!
//! A sampler thread reads VmRSS and VmHWM from /proc/self/status and counts /proc/self/fd and
//! /proc/self/task every `--sample-ms` (250) and prints a row every `--print-ms` (1000).
//! The clients and the server share this process: the figures include the server (a
//! thread and a socket per connection) and this harness.
//!
//! The exit status is non-zero when an event is lost, duplicated, out of order or corrupt, a
//! client reports an unexpected error or gives up, the run stalls or falls short of its
//! counts, a `many` client never reconnects, file descriptors or threads are not back to
//! their starting counts once everything is closed (or exceed a per-client bound during the
//! run), or resident memory does not plateau: from the 25% mark of the run to its end it may
//! grow by at most 2 MiB or 5%, whichever is larger.
//!
//! Where things are: `options.rs` (the command line), `plan.rs` (what a mode means in
//! numbers), `numbered_events.rs` (the stream both ends agree on), `server.rs` (the soak
//! server and its fault schedule), `fleet.rs` (the clients, in callback and poll mode),
//! `oracle.rs` (the per-client checks and counts), `sampler.rs` (/proc/self), `run.rs` (one
//! mode, start to end), `report.rs` (the verdict and the summary).

// The accept loop and request-head reader the examples' servers share; soak uses part of it.
#[allow(dead_code)]
#[path = "../common/loopback_server.rs"]
mod loopback_server;

mod fleet;
mod numbered_events;
mod options;
mod oracle;
mod plan;
mod report;
mod run;
mod sampler;
mod server;

use std::env;
use std::fs;
use std::process::ExitCode;
use std::thread;

use options::{parse_args, Mode, USAGE};
use plan::{many_plan, single_plan};

/// The soft limit on open files, from /proc/self/limits ("unlimited" or a number).
fn fd_limit() -> String {
    fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .unwrap_or_else(|| "?".to_string())
}

fn main() -> ExitCode {
    let options = match parse_args(env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("soak: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if message.is_empty() { 0 } else { 2 });
        }
    };
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "sse_client {} soak: {} CPUs, {:.1} GiB memory, fd limit {}",
        sse_client::VERSION,
        thread::available_parallelism().map_or(0, |n| n.get()),
        memory as f64 / (1024.0 * 1024.0),
        fd_limit()
    );
    let mut ok = true;
    for round in 1..=options.repeat {
        if options.repeat > 1 {
            println!();
            println!("#### round {round} of {}", options.repeat);
        }
        if matches!(options.mode, Mode::Single | Mode::All) {
            ok &= run::run(&single_plan(&options), &options);
        }
        if matches!(options.mode, Mode::Many | Mode::All) {
            ok &= run::run(&many_plan(&options), &options);
        }
    }
    println!();
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    match ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}
