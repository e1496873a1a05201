//! The firehose benchmark: the whole client (C API in callback and poll mode, the Rust
//! API, and the Qt SseEventSource when built) against a loopback SSE server, every figure
//! as a ratio to a raw socket reader measured alternately in the same run.
//!
//! One binary, three roles:
//! - `firehose --bench [--quick] [--profile] [--qt PATH] [--reps N] [--only a,b]`: the
//!   orchestrator (what `cargo bench --bench firehose` and benches/run.sh run); prints a
//!   Markdown report and writes it to `<target>/bench/results.md`, every raw RESULT line to
//!   `runs.txt`;
//! - `firehose --serve`: the server process (server.rs);
//! - `firehose --consume KIND ...`: one consumer process (consumers.rs).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a smoke run of a few
//! events through every section and fails only if a run fails.
//!
//! Linux only (eventfd, getrusage, clock_gettime, RLIMIT_NOFILE, callgrind); elsewhere the
//! binary only says so, so that `cargo check --all-targets` passes on every platform.

#[cfg(target_os = "linux")]
mod consumers;
// The accept loop and request-head reader of the examples' servers; the server uses part.
#[cfg(target_os = "linux")]
#[allow(dead_code)]
#[path = "../../examples/common/loopback_server.rs"]
mod loopback_server;
#[cfg(target_os = "linux")]
mod measure;
#[cfg(target_os = "linux")]
mod orchestrate;
#[cfg(target_os = "linux")]
#[path = "../shared/payload.rs"]
mod payload;
#[cfg(target_os = "linux")]
mod profile;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod sections;
#[cfg(target_os = "linux")]
mod server;

#[cfg(target_os = "linux")]
use std::path::PathBuf;
#[cfg(target_os = "linux")]
use std::time::Duration;

#[cfg(target_os = "linux")]
use orchestrate::{Options, Runner};
#[cfg(target_os = "linux")]
use report::Check;

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let flag = |name: &str| args.iter().any(|a| a == name);

    if flag("--serve") {
        server::serve();
    }
    if let Some(kind) = value("--consume") {
        consume(&kind, &value, flag("--latency"));
        return;
    }

    let exe = std::env::current_exe().expect("current_exe");
    // <target>/<profile>/deps/firehose-<hash>
    let target_dir = exe
        .ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let smoke = !flag("--bench");
    let quick = flag("--quick");
    let options = Options {
        quick,
        smoke,
        reps: value("--reps")
            .and_then(|r| r.parse().ok())
            .unwrap_or(if smoke {
                1
            } else if quick {
                3
            } else {
                5
            }),
        qt: value("--qt").map(PathBuf::from).filter(|p| p.exists()),
        qt_note: value("--qt-note"),
        profile: flag("--profile"),
        only: value("--only")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        out_dir: value("--out").map_or_else(
            || target_dir.join(if smoke { "bench/smoke" } else { "bench" }),
            PathBuf::from,
        ),
        criterion_dir: value("--criterion-dir")
            .map_or_else(|| target_dir.join("criterion"), PathBuf::from),
    };
    let failed = orchestrate(exe, options);
    if smoke {
        println!(
            "firehose smoke run: {}",
            if failed { "FAILED" } else { "ok" }
        );
    }
    if failed {
        std::process::exit(1);
    }
}

/// One consumer process: runs, prints its RESULT line.
#[cfg(target_os = "linux")]
fn consume(kind: &str, value: &dyn Fn(&str) -> Option<String>, latency: bool) {
    let url = value("--url").expect("--url");
    let timeout = Duration::from_secs(
        value("--timeout")
            .and_then(|t| t.parse().ok())
            .unwrap_or(600),
    );
    let number = |name: &str, default: u64| -> u64 {
        value(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let record = match kind {
        "idle" => consumers::idle(
            &value("--mode").expect("--mode"),
            &url,
            number("--streams", 1000) as usize,
            timeout,
        ),
        "hops" => consumers::hops(
            number("--events", 1000),
            Duration::from_micros(number("--interval-us", 1000)),
            value("--yield").is_some(),
        ),
        "close" => consumers::close_latency(
            &value("--state").expect("--state"),
            &url,
            number("--reps", 20) as usize,
        ),
        _ => {
            let job = consumers::Job {
                url,
                events: number("--events", 1),
                latency,
                timeout,
            };
            match kind {
                "raw" => consumers::raw(&job),
                "callback" => consumers::callback(&job),
                "poll" => consumers::poll(&job),
                "rust" => consumers::rust(&job),
                other => panic!("unknown consumer {other}"),
            }
        }
    };
    println!("{}", record.line());
}

/// Runs the sections asked for; returns true if a run failed.
#[cfg(target_os = "linux")]
fn orchestrate(exe: PathBuf, options: Options) -> bool {
    let mut runner = Runner::new(exe, options.clone());
    let mode = if options.smoke {
        "smoke run (cargo test): counts far too small to mean anything"
    } else if options.quick {
        "--quick: about 1/10 of the counts"
    } else {
        "full"
    };
    let mut markdown = format!(
        "## Benchmarks\n\nMeasured {}.\nMode: {mode}; {} alternating repetitions per \
         throughput workload. Every consumer and the server run as separate processes; the \
         raw reader (std TcpStream, 64 KiB reads, memchr for \"\\n\\n\", no parsing) runs \
         just before each consumer run.\n",
        report::machine(),
        options.reps
    );
    if options.qt.is_none() {
        markdown.push_str(&format!(
            "\nNo Qt rows: {}.\n",
            options
                .qt_note
                .as_deref()
                .unwrap_or("the Qt consumer was not given (--qt PATH)")
        ));
    }
    let mut checks: Vec<Check> = Vec::new();
    let mut failed = false;
    type SectionFn = fn(&mut Runner) -> sections::Section;
    let plan: [(&str, &str, SectionFn); 6] = [
        ("throughput", "Throughput", sections::throughput),
        ("latency", "Latency", sections::latency),
        ("ttfe", "Time to first event", sections::first_event),
        ("idle", "Idle streams", sections::idle),
        ("close", "close() latency", sections::close),
        ("profile", "Profile (callgrind)", profile::profile),
    ];
    for (key, title, section) in plan {
        if !options.wants(key) || (key == "profile" && !options.profile) {
            continue;
        }
        eprintln!("== {title}");
        let result = section(&mut runner);
        failed |= result.markdown.contains("FAILED");
        markdown.push_str(&format!("\n### {title}\n\n{}", result.markdown));
        checks.extend(result.checks);
    }
    if options.wants("parser") && !options.smoke {
        let result = sections::parser(&runner);
        markdown.push_str(&format!(
            "\n### Parser alone (criterion)\n\n{}",
            result.markdown
        ));
    }
    if !checks.is_empty() {
        let met = checks.iter().filter(|c| c.met).count();
        markdown.push_str(&format!(
            "\n### Targets\n\n{met} of {} met.\n\n",
            checks.len()
        ));
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                vec![
                    c.what.clone(),
                    c.target.clone(),
                    c.value.clone(),
                    if c.met { "met" } else { "**missed**" }.into(),
                ]
            })
            .collect();
        markdown.push_str(&report::table(
            &["figure", "target", "measured", "met?"],
            &rows,
        ));
    }
    // The smoke run's figures mean nothing: only say where they are.
    if !options.smoke {
        println!("{markdown}");
    }
    let path = options.out_dir.join("results.md");
    if let Err(error) = std::fs::write(&path, &markdown) {
        eprintln!("cannot write {}: {error}", path.display());
    } else {
        eprintln!("written to {}", path.display());
    }
    failed
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the firehose benchmark runs on Linux only");
}
