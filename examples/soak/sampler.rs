//! Watching the process from /proc/self: resident memory (VmRSS, VmHWM), open file
//! descriptors, threads and CPU time, read by a sampler thread at a fixed pace and printed
//! as rows while a run goes on. Linux-only figures; elsewhere they read as zeros.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::oracle::Totals;

#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// Seconds since the mode started.
    pub t: f64,
    pub events: u64,
    pub reconnects: u64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub fds: usize,
    pub threads: usize,
    /// User plus system CPU time of the whole process, in clock ticks (1/100 s).
    pub cpu_ticks: u64,
}

impl Sample {
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

/// Serialises the readings: a directory being listed holds a descriptor, which the other
/// reader would count.
static PROC_LOCK: Mutex<()> = Mutex::new(());

pub fn sample(origin: Instant, totals: &Totals) -> Sample {
    let _guard = PROC_LOCK.lock().unwrap();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let count = |dir: &str| fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    Sample {
        t: origin.elapsed().as_secs_f64(),
        events: totals.events.load(Relaxed),
        reconnects: totals.reconnects.load(Relaxed),
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
        // Without the descriptor of the listing itself.
        fds: count("/proc/self/fd").saturating_sub(1),
        threads: count("/proc/self/task"),
        cpu_ticks: cpu_ticks("/proc/self/stat"),
    }
}

/// utime + stime of a /proc stat file, in clock ticks: fields 14 and 15, counted after the
/// ")" that ends the command name.
fn cpu_ticks(path: &str) -> u64 {
    let stat = fs::read_to_string(path).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// The CPU time of the clients' worker threads (named "sse_client"), in clock ticks.
pub fn worker_cpu_ticks() -> u64 {
    let _guard = PROC_LOCK.lock().unwrap();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == "sse_client")
        })
        .map(|task| cpu_ticks(&task.path().join("stat").to_string_lossy()))
        .sum()
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Samples every `every` from now on, and prints a row (after the header) at most every
    /// `print_every`; the samples are kept for the report.
    pub fn start(
        origin: Instant,
        totals: Arc<Totals>,
        every: Duration,
        print_every: Duration,
    ) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = stop.clone();
            thread::Builder::new()
                .name("soak-sampler".into())
                .spawn(move || {
                    println!(
                        "{:>8} {:>10} {:>8} {:>8} {:>8} {:>6} {:>8}",
                        "time s", "events", "reconn", "RSS MiB", "HWM MiB", "fds", "threads"
                    );
                    let mut samples = Vec::new();
                    let mut printed: Option<f64> = None;
                    let mut next = Instant::now();
                    while !stop.load(Relaxed) {
                        let s = sample(origin, &totals);
                        if printed.is_none_or(|p| s.t - p >= print_every.as_secs_f64() - 0.01) {
                            print_row(&s);
                            printed = Some(s.t);
                        }
                        samples.push(s);
                        next += every;
                        while !stop.load(Relaxed) {
                            let left = next.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                break;
                            }
                            thread::sleep(left.min(Duration::from_millis(20)));
                        }
                    }
                    samples
                })
                .expect("cannot start the sampler thread")
        };
        Sampler { stop, handle }
    }

    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

pub fn print_row(s: &Sample) {
    println!(
        "{:>8.2} {:>10} {:>8} {:>8.2} {:>8.2} {:>6} {:>8}",
        s.t,
        s.events,
        s.reconnects,
        s.rss_mib(),
        s.hwm_kib as f64 / 1024.0,
        s.fds,
        s.threads
    );
}
