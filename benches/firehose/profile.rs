//! `--profile`: the consumers (C API callback and poll, Qt when built, and the raw reader
//! for reference) on small events under `valgrind --tool=callgrind`: instructions per event
//! and the top functions.
//!
//! Each consumer runs twice, with N events and with 1, so that the per-event figure can be
//! given both as total Ir / N and as the marginal cost (Ir(N) − Ir(1)) / (N − 1), which
//! leaves out process start-up and connection setup.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::orchestrate::{thousands, Consumer, Runner};
use crate::payload::Shape;
use crate::report::{count, num, table};
use crate::sections::Section;

/// What callgrind_annotate says about one run.
struct Annotated {
    total: f64,
    /// (Ir, share, function) by self cost, then by inclusive cost.
    top_self: Vec<(f64, String, String)>,
    top_inclusive: Vec<(f64, String, String)>,
}

pub fn profile(runner: &mut Runner) -> Section {
    let events: u64 = if runner.options.smoke { 2000 } else { 100_000 };
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut tops = Vec::new();
    let mut per_event = std::collections::BTreeMap::new();
    let mut consumers = vec![Consumer::Callback, Consumer::Poll, Consumer::Raw];
    if runner.options.qt.is_some() {
        consumers.push(Consumer::Qt);
    }
    for consumer in consumers {
        let mut totals = Vec::new();
        for n in [events, 1] {
            let url = runner
                .server
                .url(&format!("/stream?{}&chunk=0", Shape::small(n).query()));
            let out = runner
                .options
                .out_dir
                .join(format!("callgrind.{}.{n}.out", consumer.name()));
            let mut command = Command::new("valgrind");
            command
                .arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", out.display()));
            match (consumer, &runner.options.qt) {
                (Consumer::Qt, Some(qt)) => command.arg(qt),
                _ => command
                    .arg(&runner.exe)
                    .args(["--consume", consumer.name()]),
            };
            command
                .args(["--url", &url])
                .args(["--events", &n.to_string(), "--timeout", "3000"]);
            let run = runner.run(
                "profile",
                consumer.name(),
                command,
                Duration::from_secs(3600),
            );
            if let Some(failure) = &run.failure {
                failures.push(format!("{} with {n} events: {failure}", consumer.name()));
                totals.push(None);
                continue;
            }
            let annotated = annotate(&out);
            totals.push(annotated.as_ref().map(|a| a.total));
            if n == events && consumer != Consumer::Raw {
                if let Some(annotated) = annotated {
                    tops.push((consumer, annotated));
                }
            }
        }
        let (Some(Some(big)), Some(Some(one))) = (totals.first(), totals.get(1)) else {
            continue;
        };
        let marginal = (big - one) / (events - 1) as f64;
        per_event.insert(consumer, marginal);
        rows.push((consumer, *big, *one, marginal));
    }
    let raw = per_event.get(&Consumer::Raw).copied().unwrap_or(f64::NAN);
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(consumer, big, one, marginal)| {
            vec![
                consumer.label().to_string(),
                count(big),
                num(big / events as f64, 0),
                count(one),
                num(marginal, 0),
                crate::report::ratio(marginal / raw),
            ]
        })
        .collect();
    let mut markdown = format!(
        "`valgrind --tool=callgrind` on {} small events (32 B + id), each consumer process \
         only (all its threads; the server is another process). \"marginal\" = (Ir(N) − \
         Ir(1)) / (N − 1): the cost of one more event, without start-up and connection \
         setup. Output files: `callgrind.<consumer>.<N>.out` next to this report.\n\n",
        thousands(events)
    );
    markdown.push_str(&table(
        &[
            "consumer",
            "Ir total (N events)",
            "Ir / event",
            "Ir total (1 event)",
            "marginal Ir / event",
            "marginal ÷ raw",
        ],
        &rows,
    ));
    for (consumer, top) in &tops {
        let mut lists = vec![("self (exclusive) cost", &top.top_self)];
        if *consumer == Consumer::Callback {
            lists.push(("inclusive cost", &top.top_inclusive));
        }
        for (title, list) in lists {
            markdown.push_str(&format!(
                "\nTop functions of the {} consumer by {title} (N = {}):\n\n",
                consumer.name(),
                thousands(events)
            ));
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|(ir, share, function)| {
                    vec![
                        count(*ir),
                        share.clone(),
                        num(ir / events as f64, 1),
                        format!("`{}`", function.replace('`', "'")),
                    ]
                })
                .collect();
            markdown.push_str(&table(&["Ir", "share", "Ir / event", "function"], &rows));
        }
    }
    for failure in failures {
        markdown.push_str(&format!("\nFAILED: {failure}\n"));
    }
    Section {
        markdown,
        checks: Vec::new(),
    }
}

fn annotate(file: &Path) -> Option<Annotated> {
    let run = |inclusive: &str| -> Option<String> {
        let output = Command::new("callgrind_annotate")
            .arg("--auto=no")
            .arg(format!("--inclusive={inclusive}"))
            .arg(file)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let exclusive = run("no")?;
    let inclusive = run("yes")?;
    let total = exclusive
        .lines()
        .find(|l| l.contains("PROGRAM TOTALS"))
        .and_then(|l| parse_count(l.split_whitespace().next()?))?;
    Some(Annotated {
        total,
        top_self: functions(&exclusive, 10, false),
        top_inclusive: functions(&inclusive, 15, true),
    })
}

fn parse_count(text: &str) -> Option<f64> {
    text.replace(',', "").parse().ok()
}

/// The first `limit` functions of callgrind_annotate's "file:function" table (3.19
/// format: `1,234 (12.34%)  file:function [object]`), merged by function name (the same
/// function appears once per source file its inlined code comes from, e.g. parser.rs and
/// vec/mod.rs, or under a relative and an absolute path): self costs add up,
/// inclusive costs take the largest. Thread start-up frames, which only wrap the worker,
/// are left out of the inclusive list.
fn functions(text: &str, limit: usize, inclusive: bool) -> Vec<(f64, String, String)> {
    let total = text
        .lines()
        .find(|l| l.contains("PROGRAM TOTALS"))
        .and_then(|l| parse_count(l.split_whitespace().next()?))
        .unwrap_or(f64::NAN);
    let mut lines = text.lines().skip_while(|l| !l.contains("file:function"));
    lines.next(); // the header
    let mut merged: Vec<(f64, String)> = Vec::new();
    for line in lines
        .skip_while(|l| l.starts_with("---") || l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
    {
        let line = line.trim();
        let Some((ir, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((_, location)) = rest.trim_start().split_once(")  ") else {
            continue;
        };
        let (Some(ir), Some(function)) = (parse_count(ir), function_name(location)) else {
            continue;
        };
        if inclusive && is_wrapper(&function) {
            continue;
        }
        match merged.iter_mut().find(|(_, f)| *f == function) {
            Some((cost, _)) if inclusive => *cost = cost.max(ir),
            Some((cost, _)) => *cost += ir,
            None => merged.push((ir, function)),
        }
    }
    merged.sort_by(|a, b| b.0.total_cmp(&a.0));
    merged
        .into_iter()
        .take(limit)
        .map(|(ir, function)| (ir, format!("{:.2}%", ir / total * 100.0), function))
        .collect()
}

/// "path/to/file.rs:crate::f [/path/object]" -> "crate::f". File paths have no ':' (this
/// is Linux), so the first one ends the file.
fn function_name(location: &str) -> Option<String> {
    let location = location.trim();
    let location = location.rfind(" [").map_or(location, |at| &location[..at]);
    let (_file, function) = location.split_once(':')?;
    let mut function = function.to_string();
    if let Some((cut, _)) = function.char_indices().nth(110) {
        function.truncate(cut);
        function.push('…');
    }
    Some(function)
}

/// Frames that only start threads or the process and wrap everything below them.
fn is_wrapper(function: &str) -> bool {
    [
        "start_thread",
        "thread_start",
        "__rust_begin_short_backtrace",
        "FnOnce::call_once",
        "Worker::run",
        "__libc_start",
        "lang_start",
        "(below main)",
        "firehose::main",
        "_start ",
        "clone3",
    ]
    .iter()
    .any(|w| function.contains(w))
}
