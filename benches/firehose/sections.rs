//! The report's sections: each runs its measurements through the [`Runner`] and returns
//! its Markdown and the targets it checked.

use std::process::Command;
use std::time::Duration;

use crate::measure::median;
use crate::orchestrate::{thousands, workloads, Consumer, Probe, Run, Runner, Series, Workload};
use crate::payload::Shape;
use crate::report::{count, num, ratio, table, target_cells, Check};

pub struct Section {
    pub markdown: String,
    pub checks: Vec<Check>,
}

/// Peak RSS allowed with 1 MiB events: 3 × the event size + 8 MB.
const MIB_EVENT_RSS_LIMIT: f64 = 3.0 * 1048576.0 + 8e6;
/// 1,000 idle streams: less than 100 MB in all.
const IDLE_RSS_LIMIT: f64 = 100e6;
const MIB: f64 = 1048576.0;

/// The time-ratio target of a consumer on a throughput workload, from the issue.
fn time_ratio_target(workload: &str, consumer: Consumer) -> Option<f64> {
    match (consumer, workload) {
        (Consumer::Callback, "small" | "tiny" | "multi") => Some(2.5),
        (Consumer::Callback, "kib" | "mib") => Some(2.0),
        (Consumer::Poll, "small" | "tiny") => Some(4.0),
        (Consumer::Poll, "kib" | "mib" | "multi") => Some(2.5),
        (Consumer::Qt, "small" | "tiny") => Some(5.0),
        _ => None,
    }
}

fn ok_values(runs: &[Run], f: impl Fn(&Run) -> f64) -> Vec<f64> {
    runs.iter().filter(|r| r.ok()).map(f).collect()
}

fn failures(runs: &[&Run]) -> usize {
    runs.iter().filter(|r| !r.ok()).count()
}

fn max(values: &[f64]) -> f64 {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NAN, f64::max)
}

// --- Throughput ----------------------------------------------------------------------------

pub fn throughput(runner: &mut Runner) -> Section {
    let reps = runner.options.reps;
    let consumers = runner.consumers(true);
    let mut rows = Vec::new();
    let mut checks = Vec::new();
    let mut notes = Vec::new();
    for workload in workloads(&runner.options) {
        let url = runner.server.url(&workload.path());
        let events = workload.shape.events;
        let probe = Probe {
            label: workload.key,
            url: &url,
            events,
            latency: false,
        };
        let series = runner.alternate(&probe, &consumers, reps, true);
        throughput_rows(&workload, &series, &mut rows, &mut checks, &mut notes);
    }
    let mut markdown = String::from(
        "Events/s and MB/s are medians over the repetitions, from the first event to the \
         last ((N − 1) / span; connection setup is in the time-to-first-event table). \
         \"ratio to raw\" is the median of (consumer's span / span of the raw reader run \
         just before it): the time the consumer takes, in raw-reader times. CPU s: the \
         consumer process (every thread), from just before open to the last event. Peak \
         RSS: VmHWM of the consumer process (the largest over the repetitions).\n\n",
    );
    markdown.push_str(&table(
        &[
            "workload",
            "consumer",
            "events/s",
            "MB/s",
            "ratio to raw",
            "CPU s",
            "peak RSS MiB",
            "target",
            "met?",
        ],
        &rows,
    ));
    for note in notes {
        markdown.push_str(&format!("\n{note}\n"));
    }
    Section { markdown, checks }
}

fn throughput_rows(
    workload: &Workload,
    series: &Series,
    rows: &mut Vec<Vec<String>>,
    checks: &mut Vec<Check>,
    notes: &mut Vec<String>,
) {
    let n = workload.shape.events as f64;
    let bytes = workload.shape.stream_len() as f64 * (n - 1.0) / n;
    let rate = |r: &Run| (n - 1.0) / r.get("span_s");
    let mbps = |r: &Run| bytes / r.get("span_s") / 1e6;
    let row = |label: &str, runs: &[Run], ratio_cell: String, checks: &[Check]| {
        let (target, met) = target_cells(checks);
        vec![
            workload.name.clone(),
            label.to_string(),
            count(median(&ok_values(runs, rate))),
            num(median(&ok_values(runs, mbps)), 1),
            ratio_cell,
            num(median(&ok_values(runs, |r| r.get("cpu_s"))), 3),
            num(max(&ok_values(runs, |r| r.get("hwm_kib"))) / 1024.0, 1),
            target,
            met,
        ]
    };
    rows.push(row(Consumer::Raw.label(), &series.raw, "1.00x".into(), &[]));
    let raw_failed = failures(&series.raw.iter().collect::<Vec<_>>());
    if raw_failed > 0 {
        notes.push(format!(
            "{}: {raw_failed} raw reader runs failed (see runs.txt).",
            workload.name
        ));
    }
    for (&consumer, pairs) in &series.pairs {
        let runs: Vec<Run> = pairs.iter().map(|(_, c)| c.clone()).collect();
        let ratios: Vec<f64> = pairs
            .iter()
            .filter(|(raw, c)| raw.ok() && c.ok())
            .map(|(raw, c)| c.get("span_s") / raw.get("span_s"))
            .collect();
        let time_ratio = median(&ratios);
        let mut row_checks = Vec::new();
        let what = |figure: &str| format!("{} / {}: {figure}", workload.key, consumer.label());
        if let Some(limit) = time_ratio_target(workload.key, consumer) {
            row_checks.push(Check::at_most(what("time"), time_ratio, limit, "x", 2));
        }
        if workload.key == "mib" && matches!(consumer, Consumer::Callback | Consumer::Poll) {
            let peak = max(&ok_values(&runs, |r| r.get("hwm_kib"))) * 1024.0;
            row_checks.push(Check::at_most(
                what("RSS MiB"),
                peak / MIB,
                (MIB_EVENT_RSS_LIMIT / MIB * 100.0).round() / 100.0,
                "",
                1,
            ));
        }
        rows.push(row(consumer.label(), &runs, ratio(time_ratio), &row_checks));
        let failed = failures(&runs.iter().collect::<Vec<_>>());
        if failed > 0 {
            let reasons: Vec<String> = runs.iter().filter_map(|r| r.failure.clone()).collect();
            notes.push(format!(
                "{} / {}: {failed} of {} runs failed: {}",
                workload.name,
                consumer.label(),
                runs.len(),
                reasons.join("; ")
            ));
        }
        checks.extend(row_checks);
    }
}

// --- Latency -------------------------------------------------------------------------------

pub fn latency(runner: &mut Runner) -> Section {
    let events = if runner.options.smoke {
        20
    } else if runner.options.quick {
        500
    } else {
        5000
    };
    let interval_us = 1000;
    let reps = if runner.options.smoke { 1 } else { 3 };
    let url = runner
        .server
        .url(&format!("/latency?n={events}&interval_us={interval_us}"));
    let consumers = runner.consumers(false);
    let probe = Probe {
        label: "latency",
        url: &url,
        events,
        latency: true,
    };
    let series = runner.alternate(&probe, &consumers, reps, false);

    let mut rows = Vec::new();
    let mut checks = Vec::new();
    let cells = |runs: &[Run]| {
        [
            num(median(&ok_values(runs, |r| r.get("p50_us"))), 0),
            num(median(&ok_values(runs, |r| r.get("p99_us"))), 0),
            num(max(&ok_values(runs, |r| r.get("max_us"))), 0),
        ]
    };
    let [p50, p99, worst] = cells(&series.raw);
    rows.push(vec![
        Consumer::Raw.label().into(),
        p50,
        p99,
        worst,
        "1.00x".into(),
        "1.00x".into(),
        num(median(&ok_values(&series.raw, |r| r.get("cpu_s"))), 3),
        "—".into(),
        "—".into(),
    ]);
    for (&consumer, pairs) in &series.pairs {
        let runs: Vec<Run> = pairs.iter().map(|(_, c)| c.clone()).collect();
        let pair_ratio = |key: &str| {
            median(
                &pairs
                    .iter()
                    .filter(|(raw, c)| raw.ok() && c.ok())
                    .map(|(raw, c)| c.get(key) / raw.get(key))
                    .collect::<Vec<_>>(),
            )
        };
        let (r50, r99) = (pair_ratio("p50_us"), pair_ratio("p99_us"));
        let what = |figure: &str| format!("latency / {}: {figure}", consumer.label());
        let mut row_checks = Vec::new();
        match consumer {
            Consumer::Callback | Consumer::Poll => {
                row_checks.push(Check::at_most(what("p50"), r50, 1.5, "x", 2));
                row_checks.push(Check::at_most(what("p99"), r99, 2.0, "x", 2));
            }
            Consumer::Qt => row_checks.push(Check::at_most(what("p99"), r99, 4.0, "x", 2)),
            _ => {}
        }
        let (target, met) = target_cells(&row_checks);
        let [p50, p99, worst] = cells(&runs);
        rows.push(vec![
            consumer.label().into(),
            p50,
            p99,
            worst,
            ratio(r50),
            ratio(r99),
            num(median(&ok_values(&runs, |r| r.get("cpu_s"))), 3),
            target,
            met,
        ]);
        checks.extend(row_checks);
    }
    let mut markdown = format!(
        "{} events, one every {interval_us} µs, each carrying its send time \
         (CLOCK_MONOTONIC, taken just before the write); latency = receive time in the \
         consumer's event handler − send time. Medians over {reps} alternating repetitions; \
         ratios are medians of (consumer / the raw run just before it).\n\n",
        thousands(events)
    );
    markdown.push_str(&table(
        &[
            "consumer",
            "p50 µs",
            "p99 µs",
            "max µs",
            "p50 ratio",
            "p99 ratio",
            "CPU s",
            "target",
            "met?",
        ],
        &rows,
    ));
    markdown.push_str(&handoff_floor(runner, events, interval_us, reps));
    Section { markdown, checks }
}

/// The cost of one more thread handoff on this machine, without any client: poll mode
/// hands each event from the socket to the worker and then to the host, one hop more than
/// the raw reader or callback mode.
fn handoff_floor(runner: &mut Runner, events: u64, interval_us: u64, reps: usize) -> String {
    let mut rows = Vec::new();
    for (yield_after, chain) in [
        (false, "the relay blocks again right after signalling"),
        (
            true,
            "the relay yields after signalling (as the worker does)",
        ),
    ] {
        let mut runs = Vec::new();
        for _ in 0..reps {
            let mut command = Command::new(&runner.exe);
            command.args(["--consume", "hops", "--url", "-"]).args([
                "--events",
                &events.to_string(),
                "--interval-us",
                &interval_us.to_string(),
            ]);
            if yield_after {
                command.args(["--yield", "1"]);
            }
            let run = runner.run("latency", "hops", command, Duration::from_secs(600));
            if run.ok() {
                runs.push(run);
            }
        }
        if runs.is_empty() {
            continue;
        }
        rows.push(vec![
            chain.to_string(),
            num(median(&ok_values(&runs, |r| r.get("hop1_p50_us"))), 1),
            num(median(&ok_values(&runs, |r| r.get("p50_us"))), 1),
            num(median(&ok_values(&runs, |r| r.get("p99_us"))), 1),
        ]);
    }
    if rows.is_empty() {
        return "\nThe thread-handoff floor could not be measured (see runs.txt).\n".into();
    }
    format!(
        "\nThe floor under poll mode: poll mode hands each event on twice (socket → worker \
         thread → host thread), the raw reader and callback mode once. The same two handoffs \
         in a plain program (a timer thread signals a relay thread through an eventfd, the \
         relay signals this thread through another; no network, no SSE), {} times every \
         {interval_us} µs, medians of {reps} runs:\n\n{}",
        thousands(events),
        table(
            &[
                "chain",
                "first hop p50 µs",
                "both hops p50 µs",
                "both hops p99 µs"
            ],
            &rows,
        )
    )
}

// --- Time to first event -------------------------------------------------------------------

pub fn first_event(runner: &mut Runner) -> Section {
    let reps = if runner.options.smoke {
        1
    } else if runner.options.quick {
        5
    } else {
        20
    };
    let shape = Shape::small(1);
    let url = runner
        .server
        .url(&format!("/stream?{}&chunk=0", shape.query()));
    let consumers = runner.consumers(false);
    let probe = Probe {
        label: "first event",
        url: &url,
        events: 1,
        latency: false,
    };
    let series = runner.alternate(&probe, &consumers, reps, false);
    let ms = |r: &Run| r.get("first_s") * 1e3;
    let mut rows = vec![vec![
        Consumer::Raw.label().into(),
        num(median(&ok_values(&series.raw, ms)), 2),
        num(max(&ok_values(&series.raw, ms)), 2),
        "1.00x".into(),
    ]];
    for (&consumer, pairs) in &series.pairs {
        let runs: Vec<Run> = pairs.iter().map(|(_, c)| c.clone()).collect();
        let ratios: Vec<f64> = pairs
            .iter()
            .filter(|(raw, c)| raw.ok() && c.ok())
            .map(|(raw, c)| ms(c) / ms(raw))
            .collect();
        rows.push(vec![
            consumer.label().into(),
            num(median(&ok_values(&runs, ms)), 2),
            num(max(&ok_values(&runs, ms)), 2),
            ratio(median(&ratios)),
        ]);
    }
    let mut markdown = format!(
        "From just before connecting (raw) or opening the client (sse_client_open, \
         SseEventSource::open) to the first event, in a fresh process each time (so the \
         first connection's one-time setup is included); {reps} alternating repetitions. \
         No target in the issue.\n\n"
    );
    markdown.push_str(&table(
        &["consumer", "median ms", "max ms", "ratio to raw"],
        &rows,
    ));
    Section {
        markdown,
        checks: Vec::new(),
    }
}

// --- Idle streams --------------------------------------------------------------------------

pub fn idle(runner: &mut Runner) -> Section {
    let streams = if runner.options.smoke { 20 } else { 1000 };
    let url = runner.server.url("/idle");
    let mut rows = Vec::new();
    let mut checks = Vec::new();
    for consumer in [Consumer::Raw, Consumer::Callback, Consumer::Poll] {
        let mut command = Command::new(&runner.exe);
        command.args([
            "--consume",
            "idle",
            "--mode",
            consumer.name(),
            "--url",
            &url,
            "--streams",
            &streams.to_string(),
            "--timeout",
            "120",
        ]);
        let run = runner.run("idle", consumer.name(), command, Duration::from_secs(300));
        let mut row_checks = Vec::new();
        if consumer != Consumer::Raw {
            let peak = run.get("hwm_kib") * 1024.0;
            let mut check = Check::below(
                format!("{streams} idle streams / {}: peak RSS MB", consumer.label()),
                peak / 1e6,
                IDLE_RSS_LIMIT / 1e6,
                "",
                1,
            );
            check.met &= run.ok() && run.get("errors").is_nan();
            row_checks.push(check);
        }
        let (target, met) = target_cells(&row_checks);
        let per_stream = (run.get("rss_kib") - run.get("rss_before_kib")) / streams as f64;
        let status = match (&run.failure, run.get("errors") > 0.0) {
            (Some(failure), _) => format!(" (FAILED: {failure})"),
            (None, true) => " (not all open in time)".into(),
            _ => String::new(),
        };
        rows.push(vec![
            format!("{}{status}", consumer.label()),
            thousands(streams as u64),
            num(run.get("open_s"), 2),
            num(run.get("rss_kib") / 1024.0, 1),
            num(run.get("hwm_kib") / 1024.0, 1),
            num(per_stream, 0),
            num(run.get("threads"), 0),
            num(run.get("free_all_s") * 1e3, 0),
            target,
            met,
        ]);
        checks.extend(row_checks);
    }
    let mut markdown = format!(
        "{streams} streams to a server that sends the response head and then nothing, in \
         one process; figures taken 0.5 s after the last one opened. RSS per stream: \
         (RSS − RSS before opening) / streams. Target: peak RSS < 100 MB (95.4 MiB) in \
         all.\n\n"
    );
    markdown.push_str(&table(
        &[
            "consumer",
            "streams",
            "open all s",
            "RSS MiB",
            "peak RSS MiB",
            "KiB / stream",
            "threads",
            "free all ms",
            "target",
            "met?",
        ],
        &rows,
    ));
    Section { markdown, checks }
}

// --- close() latency -------------------------------------------------------------------------

pub fn close(runner: &mut Runner) -> Section {
    let reps = if runner.options.smoke {
        2
    } else if runner.options.quick {
        5
    } else {
        20
    };
    let base = runner.server.url("");
    let states = [
        (
            "connecting",
            "callback",
            "connecting: request sent, the server never answers",
        ),
        ("open", "callback", "open: stream open, nothing arriving"),
        (
            "backoff",
            "callback",
            "waiting to reconnect: after a 503, 60 s backoff",
        ),
        (
            "fullqueue",
            "poll",
            "blocked on a full queue: capacity 16, the server still sending",
        ),
    ];
    let mut rows = Vec::new();
    let mut checks = Vec::new();
    for (state, mode, label) in states {
        let mut command = Command::new(&runner.exe);
        command.args([
            "--consume",
            "close",
            "--state",
            state,
            "--url",
            &base,
            "--reps",
            &reps.to_string(),
        ]);
        let run = runner.run("close", state, command, Duration::from_secs(600));
        let mut check = Check::below(
            format!("close() in state {state}: median ms"),
            run.get("close_p50_ms"),
            20.0,
            " ms",
            2,
        );
        check.met &= run.ok() && run.get("errors") == 0.0;
        let (target, met) = target_cells(std::slice::from_ref(&check));
        let status = match (&run.failure, run.get("errors") > 0.0) {
            (Some(failure), _) => format!(" (FAILED: {failure})"),
            (None, true) => format!(" ({} reps did not reach the state)", run.get("errors")),
            _ => String::new(),
        };
        rows.push(vec![
            format!("{label}{status}"),
            mode.into(),
            num(run.get("close_p50_ms"), 3),
            num(run.get("close_max_ms"), 3),
            num(run.get("free_p50_ms"), 3),
            target,
            met,
        ]);
        checks.push(check);
    }
    let mut markdown = format!(
        "sse_client_close() timed on the host thread with the worker in each state ({reps} \
         clients per state, one at a time), then sse_client_free() (which joins the worker).\n\n"
    );
    markdown.push_str(&table(
        &[
            "state",
            "mode",
            "close median ms",
            "close max ms",
            "free median ms",
            "target",
            "met?",
        ],
        &rows,
    ));
    Section { markdown, checks }
}

// --- Parser (criterion) ----------------------------------------------------------------------

/// Summarises criterion's results for benches/parser.rs, if it has run.
pub fn parser(runner: &Runner) -> Section {
    let dir = runner.options.criterion_dir.join("parser");
    let mut rows = Vec::new();
    let names = [
        "small_32B_id",
        "kib_1KiB",
        "mib_1MiB",
        "multi_line_8x32B",
        "small_tiny_chunks",
    ];
    for name in names {
        let estimates = std::fs::read_to_string(dir.join(name).join("new/estimates.json"));
        let benchmark = std::fs::read_to_string(dir.join(name).join("new/benchmark.json"));
        let (Ok(estimates), Ok(benchmark)) = (estimates, benchmark) else {
            continue;
        };
        let ns = json_number_after(&estimates, "\"median\"", "\"point_estimate\"");
        let bytes = json_number_after(&benchmark, "\"throughput\"", "\"bytes\"");
        let elements = json_number_after(&benchmark, "\"throughput\"", "\"elements\"");
        let (Some(ns), Some(bytes), Some(elements)) = (ns, bytes, elements) else {
            continue;
        };
        let seconds = ns / 1e9;
        rows.push(vec![
            name.to_string(),
            count(bytes),
            count(elements),
            num(ns / 1e3, 1),
            num(bytes / seconds / 1e6, 0),
            count(elements / seconds),
            num(ns / elements, 1),
        ]);
    }
    let markdown = if rows.is_empty() {
        "No criterion results found (run `cargo bench --bench parser`).\n".to_string()
    } else {
        let mut md = String::from(
            "`cargo bench --bench parser`: `Parser::feed` with a counting sink, input fed in \
             64 KiB pieces (13-byte pieces for tiny chunks); criterion's median time per \
             iteration.\n\n",
        );
        md.push_str(&table(
            &[
                "shape",
                "bytes / iter",
                "events / iter",
                "µs / iter",
                "MB/s",
                "events/s",
                "ns / event",
            ],
            &rows,
        ));
        md
    };
    Section {
        markdown,
        checks: Vec::new(),
    }
}

/// The number after `key` that follows `anchor` in a JSON text (enough for criterion's
/// files without a JSON parser).
fn json_number_after(text: &str, anchor: &str, key: &str) -> Option<f64> {
    let from = text.find(anchor)?;
    let at = from + text[from..].find(key)? + key.len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
