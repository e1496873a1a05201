//! The parser alone: `sse_client::Parser` fed the payload shapes of the firehose benchmark
//! (benches/firehose), with a sink that only counts. Throughput in bytes and events per
//! second. `cargo bench --bench parser` (benches/run.sh runs it and summarises it).
//!
//! The input is fed in 64 KiB chunks, as the worker reads the socket (its read buffer is
//! 64 KiB), except for `small_tiny_chunks`, fed 13 bytes at a time like a server that
//! writes tiny chunks (lines and the "\n\n" pairs then straddle feeds).
//!
//! Instruction counts: with `SSE_PARSER_PROFILE=<case>:<events>` (e.g. `small_32B_id:100000`)
//! the binary skips criterion and feeds that case's stream once through [`feed_all`], so
//! that callgrind counts the parser alone (wall-clock figures on a shared machine are noisy):
//!
//! ```text
//! cargo bench --bench parser --no-run
//! SSE_PARSER_PROFILE=small_32B_id:100000 valgrind --tool=callgrind \
//!     --collect-atstart=no --toggle-collect='*feed_all*' target/release/deps/parser-<hash>
//! ```
//!
//! Ir / events is the cost per event (run with 1 event too to see the fixed part).

use std::hint::black_box;

use criterion::{criterion_group, Criterion, Throughput};
use sse_client::{Event, Parser, Sink, Text};

// Shared with benches/firehose, which also uses the server side of it (queries).
#[allow(dead_code)]
#[path = "shared/payload.rs"]
mod payload;

use payload::Shape;

/// As the client's default `max_event_size` (16 MiB): the limit check is on the hot path.
const MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;
const WORKER_READ: usize = 64 * 1024;
const TINY_CHUNK: usize = 13;

/// Counts what it is handed and looks at the data, as a host would at least do.
#[derive(Default)]
struct CountingSink {
    events: u64,
    data_bytes: usize,
}

impl Sink for CountingSink {
    fn event(&mut self, event: &Event<'_>) {
        self.events += 1;
        self.data_bytes += black_box(event.data.len()) + event.id.len();
    }
    fn comment(&mut self, _text: Text<'_>) {}
    fn retry(&mut self, _millis: u64) {}
}

/// One benchmark: (name, shape of one iteration's input, feed size).
fn cases() -> Vec<(&'static str, Shape, usize)> {
    vec![
        ("small_32B_id", Shape::small(1000), WORKER_READ),
        ("kib_1KiB", Shape::kib(64), WORKER_READ),
        ("mib_1MiB", Shape::mib(1), WORKER_READ),
        ("multi_line_8x32B", Shape::multi_line(200), WORKER_READ),
        ("small_tiny_chunks", Shape::small(1000), TINY_CHUNK),
    ]
}

fn parser_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");
    for (name, shape, chunk) in cases() {
        let input = shape.stream();
        group.throughput(Throughput::ElementsAndBytes {
            elements: shape.events,
            bytes: input.len() as u64,
        });
        let mut parser = Parser::new(MAX_EVENT_SIZE);
        let mut sink = CountingSink::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                for piece in input.chunks(chunk) {
                    parser
                        .feed(black_box(piece), &mut sink)
                        .expect("within max_event_size");
                }
            })
        });
        // Zero when a filter on the command line skipped this case.
        assert!(sink.events % shape.events == 0);
        assert!(sink.events == 0 || sink.data_bytes > 0);
    }
    group.finish();
}

/// Feeds `input` in `chunk`-byte pieces: the only code callgrind counts in profile mode.
#[inline(never)]
fn feed_all(parser: &mut Parser, input: &[u8], chunk: usize, sink: &mut CountingSink) {
    for piece in input.chunks(chunk) {
        parser
            .feed(black_box(piece), sink)
            .expect("within max_event_size");
    }
}

/// `SSE_PARSER_PROFILE=<case>:<events>`: one pass over that many events of the case.
fn profile(spec: &str) {
    let (name, events) = spec
        .split_once(':')
        .expect("SSE_PARSER_PROFILE=<case>:<events>");
    let events: u64 = events.parse().expect("a number of events");
    let (_, shape, chunk) = cases()
        .into_iter()
        .find(|(case, _, _)| *case == name)
        .expect("a case name of cases()");
    let input = Shape { events, ..shape }.stream();
    let mut parser = Parser::new(MAX_EVENT_SIZE);
    let mut sink = CountingSink::default();
    feed_all(&mut parser, &input, chunk, &mut sink);
    assert_eq!(sink.events, events);
    println!("{name}: {events} events, {} bytes", input.len());
}

criterion_group!(benches, parser_throughput);

fn main() {
    match std::env::var("SSE_PARSER_PROFILE") {
        Ok(spec) => profile(&spec),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
