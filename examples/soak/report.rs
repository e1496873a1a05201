//! The verdict and the summary of one run: the oracle's counts, the library's stats and
//! the samples turned into the failures that make the exit status non-zero (events not
//! exactly once and in order, unexpected errors, a short run, fds or threads leaked or
//! beyond their per-client bounds, memory that does not plateau) and the summary lines.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use sse_client::Stats;

use crate::oracle::Tally;
use crate::plan::{Plan, Until};
use crate::sampler::Sample;

/// Memory has plateaued when it grew by at most this much after the 25% mark...
const PLATEAU_MIB: f64 = 2.0;
/// ... or by at most this fraction of the RSS at the mark, whichever is larger.
const PLATEAU_FRACTION: f64 = 0.05;

/// Everything one run measured, for the verdict.
pub struct Report<'a> {
    pub plan: &'a Plan,
    /// Before the server and the clients started.
    pub start: Sample,
    /// When the plan's end was reached, before the close.
    pub end: Sample,
    /// After the close, once fds and threads were back (or `the settle time` passed).
    pub after: Sample,
    /// The sampler's, start to finish.
    pub samples: Vec<Sample>,
    /// When the clients were opened and when the run ended, in the samples' seconds.
    pub run_start: f64,
    pub run_stop: f64,
    pub stats: Vec<Stats>,
    pub tallies: Vec<Arc<Tally>>,
    pub close_time: Duration,
    pub accepted: u64,
    /// Clock ticks the clients' worker threads used, callbacks included.
    pub worker_cpu: u64,
}

impl Report<'_> {
    /// Adds its own failures to those the run met (a stall, a client that gave up), prints
    /// the summary and returns whether there were none.
    pub fn print(&self, mut failures: Vec<String>) -> bool {
        let sum = |f: &dyn Fn(&Tally) -> u64| self.tallies.iter().map(|t| f(t)).sum::<u64>();
        let events = sum(&|t| t.events.load(Relaxed));
        let reconnects = sum(&|t| t.reconnects());
        let lost = sum(&|t| t.lost.load(Relaxed));
        let duplicated = sum(&|t| t.duplicated.load(Relaxed));
        let corrupt = sum(&|t| t.corrupt.load(Relaxed));
        let drops = sum(&|t| t.drops.load(Relaxed));
        let unexpected = sum(&|t| t.unexpected_errors.load(Relaxed));
        let contiguous = self.tallies.iter().all(|t| {
            t.last_id.load(Relaxed) == t.events.load(Relaxed) && t.events.load(Relaxed) > 0
        });
        let per_client_reconnects = self.tallies.iter().map(|t| t.reconnects());
        let (min_rec, max_rec) = (
            per_client_reconnects.clone().min().unwrap_or(0),
            per_client_reconnects.max().unwrap_or(0),
        );
        let lib = |f: &dyn Fn(&Stats) -> u64| self.stats.iter().map(f).sum::<u64>();
        let duration = self.run_stop - self.run_start;

        // The plateau: RSS at the 25% mark of the run against its end.
        let mark = self.run_start + 0.25 * duration;
        let warm = self
            .samples
            .iter()
            .find(|s| s.t >= mark && s.t <= self.run_stop)
            .copied()
            .unwrap_or(self.end);
        let running: Vec<Sample> = self
            .samples
            .iter()
            .filter(|s| s.t <= self.run_stop)
            .copied()
            .chain([self.end])
            .collect();
        let after_mark: Vec<Sample> = running.iter().filter(|s| s.t >= warm.t).copied().collect();
        let growth = self.end.rss_mib() - warm.rss_mib();
        let allowance = PLATEAU_MIB.max(PLATEAU_FRACTION * warm.rss_mib());
        let slope = slope_mib_per_min(&after_mark);
        let every: Vec<Sample> = running
            .iter()
            .chain(&self.samples)
            .chain([&self.start, &self.after])
            .copied()
            .collect();
        let peak_rss = every.iter().map(Sample::rss_mib).fold(0.0, f64::max);
        let hwm = every.iter().map(|s| s.hwm_kib).max().unwrap_or(0) as f64 / 1024.0;
        let peak_fds = every.iter().map(|s| s.fds).max().unwrap_or(0);
        let peak_threads = every.iter().map(|s| s.threads).max().unwrap_or(0);
        let clients = self.plan.clients;

        if lost + duplicated + corrupt > 0 || !contiguous {
            failures.push(format!(
                "events not exactly once in order: {lost} lost, {duplicated} duplicated, \
                 {corrupt} corrupt"
            ));
        }
        if unexpected > 0 {
            failures.push(format!("{unexpected} unexpected errors"));
        }
        if let Until::Counts {
            events: want_events,
            reconnects: want_reconnects,
        } = self.plan.until
        {
            if events < want_events || reconnects < want_reconnects {
                failures.push(format!(
                    "short run: {events} events, {reconnects} reconnects (wanted {want_events}, \
                     {want_reconnects})"
                ));
            }
        } else if min_rec == 0 {
            failures.push("a client never reconnected".to_string());
        }
        for t in &self.tallies {
            if let Some(problem) = t.problem.lock().unwrap().as_ref() {
                failures.push(format!("first problem: {problem}"));
                break;
            }
        }
        if self.after.fds != self.start.fds {
            failures.push(format!(
                "file descriptors: {} at the start, {} after the close",
                self.start.fds, self.after.fds
            ));
        }
        if self.after.threads != self.start.threads {
            failures.push(format!(
                "threads: {} at the start, {} after the close",
                self.start.threads, self.after.threads
            ));
        }
        // Per client at most: its socket, the server's end, an eventfd, and the previous
        // connection's two ends while it winds down; plus the listener.
        let fd_bound = self.start.fds + 1 + 5 * clients + 2;
        if peak_fds > fd_bound {
            failures.push(format!(
                "file descriptors peaked at {peak_fds} (bound {fd_bound})"
            ));
        }
        // Per client: its worker, a server thread and the previous one winding down; plus
        // the accept and poll threads.
        let thread_bound = self.start.threads + 2 + 3 * clients + 2;
        if peak_threads > thread_bound {
            failures.push(format!(
                "threads peaked at {peak_threads} (bound {thread_bound})"
            ));
        }
        let plateau = growth <= allowance;
        if !plateau {
            failures.push(format!(
                "memory did not plateau: +{growth:.2} MiB after the 25% mark (allowed {allowance:.2})"
            ));
        }

        let ok = failures.is_empty();
        let name = &self.plan.name;
        println!("-- {name}: summary --");
        println!(
            "clients          {clients} ({} delivery)",
            self.plan.delivery.name()
        );
        println!(
            "events           {events} ({}; {lost} lost, {duplicated} duplicated, {corrupt} corrupt)",
            match contiguous {
                true => "ids contiguous from 1 for every client",
                false => "ids NOT contiguous",
            }
        );
        println!(
            "reconnects       {reconnects} (per client {min_rec}..{max_rec}; {drops} drops \
             reported, {unexpected} unexpected errors; server accepted {} connections)",
            self.accepted
        );
        println!(
            "library stats    {} attempts, {} opened, {} events, {:.1} MiB received",
            lib(&|s| s.connection_attempts),
            lib(&|s| s.connections_opened),
            lib(&|s| s.events),
            lib(&|s| s.bytes_received) as f64 / (1024.0 * 1024.0)
        );
        println!("duration         {duration:.2} s");
        println!("events/s         {:.0}", events as f64 / duration.max(1e-9));
        println!(
            "CPU s            {:.2} user+sys for the whole process (server and harness \
             included), {:.2} in the client worker threads (callbacks included)",
            self.end.cpu_ticks.saturating_sub(self.start.cpu_ticks) as f64 / 100.0,
            self.worker_cpu as f64 / 100.0
        );
        println!(
            "RSS MiB          start {:.2} | after warm-up ({:.1} s) {:.2} | end {:.2} | peak \
             {:.2} (VmHWM {:.2}) | after close {:.2}",
            self.start.rss_mib(),
            warm.t - self.run_start,
            warm.rss_mib(),
            self.end.rss_mib(),
            peak_rss,
            hwm,
            self.after.rss_mib()
        );
        println!(
            "fds              start {} | peak {} | end {} (after close)",
            self.start.fds, peak_fds, self.after.fds
        );
        println!(
            "threads          start {} | peak {} | end {} (after close)",
            self.start.threads, peak_threads, self.after.threads
        );
        println!(
            "close            {:.1} ms for all clients",
            self.close_time.as_secs_f64() * 1e3
        );
        println!(
            "plateau          {:+.2} MiB from the 25% mark to the end (allowed {allowance:.2}), \
             slope {slope:+.3} MiB/min over {} samples: {}",
            growth,
            after_mark.len(),
            if plateau { "PASS" } else { "FAIL" }
        );
        if after_mark.len() < 8 {
            println!("                 (few samples: a longer run says more)");
        }
        for failure in &failures {
            println!("FAILURE          {failure}");
        }
        println!("verdict          {}", if ok { "PASS" } else { "FAIL" });
        ok
    }
}

/// Least-squares slope of RSS over time, MiB per minute.
fn slope_mib_per_min(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.t).sum::<f64>() / n;
    let mean_r = samples.iter().map(Sample::rss_mib).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        num += (s.t - mean_t) * (s.rss_mib() - mean_r);
        den += (s.t - mean_t).powi(2);
    }
    match den > 0.0 {
        true => num / den * 60.0,
        false => 0.0,
    }
}
