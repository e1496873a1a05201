//! One mode, start to end: the sampler, the server and the clients started in that order,
//! the wait until the plan's end (or a stall, or a client giving up), then everything
//! closed and the process given a moment to return to its starting fds and threads, so
//! that the report can tell a leak from a slow exit.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::fleet::Fleet;
use crate::options::Options;
use crate::oracle::Totals;
use crate::plan::{Plan, Until};
use crate::report::Report;
use crate::sampler::{print_row, sample, worker_cpu_ticks, Sampler};
use crate::server;

/// The run has stalled when no event arrives for this long.
const STALL: Duration = Duration::from_secs(20);
/// How long fds and threads may take to return to their starting counts after the close.
const SETTLE: Duration = Duration::from_secs(5);

/// Runs one plan and prints its report; true when it passed.
pub fn run(plan: &Plan, options: &Options) -> bool {
    println!();
    println!("== {} ==", plan.name);
    println!(
        "{} client(s), {} delivery, server drops every {} events, {}",
        plan.clients,
        plan.delivery.name(),
        plan.server.drop_every,
        match plan.server.interval.is_zero() {
            true => "unpaced".to_string(),
            false => format!("one event per {:?} per connection", plan.server.interval),
        }
    );
    let origin = Instant::now();
    let totals = Arc::new(Totals::default());
    let sampler = Sampler::start(
        origin,
        totals.clone(),
        options.sample_every,
        options.print_every,
    );
    // Let the sampler take its first reading (and print the header) first.
    thread::sleep(Duration::from_millis(50));
    let start = sample(origin, &totals);

    let server = match server::start(plan.server) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("soak: cannot start the server: {error}");
            return false;
        }
    };
    let run_start = origin.elapsed().as_secs_f64();
    let fleet = Fleet::open(&server::url(&server), plan.clients, plan.delivery, &totals);

    let mut failures = Vec::new();
    let mut last_events = 0;
    let mut last_progress = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(5));
        let events = totals.events.load(Relaxed);
        if events != last_events {
            last_events = events;
            last_progress = Instant::now();
        }
        let done = match plan.until {
            Until::Counts { events, reconnects } => {
                let t = &fleet.tallies[0];
                t.events.load(Relaxed) >= events && t.reconnects() >= reconnects
            }
            Until::Elapsed(duration) => {
                origin.elapsed().as_secs_f64() - run_start >= duration.as_secs_f64()
            }
        };
        if done {
            break;
        }
        if last_progress.elapsed() > STALL {
            failures.push(format!("stalled: no event for {STALL:?}"));
            break;
        }
        if fleet.tallies.iter().any(|t| t.gave_up.load(Relaxed)) {
            failures.push("a client gave up".to_string());
            break;
        }
    }
    let end = sample(origin, &totals);
    let worker_cpu = worker_cpu_ticks();
    let run_stop = end.t;
    let stats = fleet.stats();
    let tallies = fleet.tallies.clone();
    let close_time = fleet.close();
    let accepted = server.accepted();
    server.shutdown();

    // Joined threads and closed sockets leave /proc at once, but give them a moment.
    let settle_start = Instant::now();
    let mut after = sample(origin, &totals);
    while (after.fds != start.fds || after.threads != start.threads)
        && settle_start.elapsed() < SETTLE
    {
        thread::sleep(Duration::from_millis(50));
        after = sample(origin, &totals);
    }
    let samples = sampler.finish();
    print_row(&after);

    let report = Report {
        plan,
        start,
        end,
        after,
        samples,
        run_start,
        run_stop,
        stats,
        tallies,
        close_time,
        accepted,
        worker_cpu,
    };
    report.print(failures)
}
