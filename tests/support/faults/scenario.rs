//! The scenario guard: scenarios run one at a time, each with a seed of its own printed on
//! failure with what it was doing, and each checked for leaks when it ends.

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::census::Census;
use super::seed::{master_seed, mix, parse_number, Rng};

/// Held by every scenario: the tests of this binary run one at a time, so the threads,
/// descriptors and memory counted before and after a scenario are that scenario's alone.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// What the scenario is doing right now, printed if it fails.
    static CONTEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Describes the current round (its plan and stream) for a failure report.
pub fn set_context(text: String) {
    CONTEXT.with(|c| *c.borrow_mut() = text);
}

pub struct Scenario {
    seed: u64,
}

impl Scenario {
    /// The rounds of a randomized scenario, each with its own generator: `default`
    /// rounds, times `SSE_FAULT_SCALE`; only round `SSE_FAULT_ONLY` when set (whatever
    /// the scale: a round depends on the seed and its number alone).
    pub fn rounds(&self, default: usize) -> Vec<(usize, Rng)> {
        let round = |r: usize| (r, Rng::new(mix(self.seed, r as u64 + 1)));
        if let Some(only) = std::env::var("SSE_FAULT_ONLY")
            .ok()
            .and_then(|s| parse_number(&s))
        {
            return vec![round(only as usize)];
        }
        let scale: f64 = std::env::var("SSE_FAULT_SCALE")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1.0);
        let count = ((default as f64 * scale).round() as usize).max(1);
        (0..count).map(round).collect()
    }
}

/// Prints the seed and what was going on when a scenario fails.
struct FailureReport {
    name: &'static str,
    master: u64,
}

impl Drop for FailureReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let context = CONTEXT.with(|c| c.borrow().clone());
            // libtest names the thread of a test after it.
            let thread = std::thread::current();
            let test = thread.name().filter(|n| *n != "main").unwrap_or(self.name);
            eprintln!(
                "\n[fault_injection] {} FAILED with master seed {:#x}\n  replay: SSE_FAULT_SEED={:#x} \
                 cargo test --test fault_injection {test} -- --exact --nocapture \
                 (add SSE_FAULT_ONLY=<round> for one round)\n  context: {context}\n",
                self.name, self.master, self.master
            );
        }
    }
}

/// Runs one scenario: alone (see [`SERIAL`]), with its seed printed on failure, then
/// checks that it left no worker or server thread and no descriptor behind. `body`
/// returns a one-line summary (rounds, coverage), printed with the wall time.
pub fn scenario(name: &'static str, body: impl FnOnce(&Scenario) -> String) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let master = master_seed();
    let scenario = Scenario {
        seed: mix(
            master,
            name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
            }),
        ),
    };
    let _report = FailureReport { name, master };
    set_context(format!("{name}: starting"));
    let before = Census::take();
    let started = Instant::now();
    let summary = body(&scenario);
    let took = started.elapsed();
    set_context(format!("{name}: leak check after the scenario"));
    before.expect_restored();
    println!(
        "[fault_injection] {name}: {summary}; {:.2} s; seed {master:#x}",
        took.as_secs_f64()
    );
}
