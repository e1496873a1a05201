//! What a consumer process measures about itself: the monotonic clock shared with the
//! server (latency), CPU time (getrusage), memory (/proc/self/status), percentiles, and the
//! one `RESULT key=value ...` line it prints for the orchestrator.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine, so the
/// server's send time and a consumer's receive time can be subtracted. (The Qt consumer
/// uses std::chrono::steady_clock, which is CLOCK_MONOTONIC on Linux.)
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// User + system CPU seconds of this whole process (every thread) so far.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// A field of /proc/self/status in kB (VmHWM: peak RSS, VmRSS: current RSS), or a count
/// (Threads).
pub fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// Raises the soft limit on open files to the hard limit (1,000 streams need ~2,000).
pub fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The value at quantile `q` (0..=1) of sorted samples (nearest rank); 0 when empty.
pub fn quantile_sorted<T: Copy + Default>(sorted: &[T], q: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The figures of one consumer run, printed as one line: `RESULT key=value ...`.
///
/// Keys every throughput/latency consumer sets: `events`, `first_s` (open to first event),
/// `span_s` (first to last event), `cpu_s` (process CPU from just before open to the last
/// event), `hwm_kib` (peak RSS of the process); latency runs add `p50_us`, `p99_us`,
/// `max_us`; `errors` counts error callbacks or messages.
#[derive(Debug, Default, Clone)]
pub struct Record(pub BTreeMap<String, f64>);

impl Record {
    pub fn set(&mut self, key: &str, value: f64) -> &mut Record {
        self.0.insert(key.to_string(), value);
        self
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.0.get(key).copied()
    }

    /// Adds the latency percentiles of `samples_ns` (sorted in place) in microseconds.
    pub fn latencies(&mut self, samples_ns: &mut [u64]) -> &mut Record {
        samples_ns.sort_unstable();
        let us = |q: f64| quantile_sorted(samples_ns, q) as f64 / 1e3;
        self.set("p50_us", us(0.50));
        self.set("p99_us", us(0.99));
        self.set("max_us", us(1.0));
        self
    }

    pub fn line(&self) -> String {
        let mut line = String::from("RESULT");
        for (key, value) in &self.0 {
            let _ = write!(line, " {key}={value}");
        }
        line
    }

    /// Parses a `RESULT ...` line (from any consumer, Rust or Qt).
    pub fn parse(line: &str) -> Option<Record> {
        let rest = line.trim().strip_prefix("RESULT")?;
        let mut record = Record::default();
        for pair in rest.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            record.set(key, value.parse().ok()?);
        }
        Some(record)
    }
}
