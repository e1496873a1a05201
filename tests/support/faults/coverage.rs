//! Which (fault, cut) pairs the rounds of a scenario actually exercised, for its summary.

use std::collections::BTreeMap;

use super::fault_plan::{Cut, Fault};
use super::round::RoundOutcome;

#[derive(Default)]
pub struct Coverage {
    rounds: usize,
    chunked: usize,
    counts: BTreeMap<(Fault, Cut), usize>,
}

impl Coverage {
    pub fn add(&mut self, outcome: &RoundOutcome) {
        self.rounds += 1;
        for &(fault, cut, chunked) in &outcome.cuts {
            *self.counts.entry((fault, cut)).or_default() += 1;
            self.chunked += usize::from(chunked);
        }
    }

    pub fn count(&self, fault: Fault, cut: Cut) -> usize {
        self.counts.get(&(fault, cut)).copied().unwrap_or(0)
    }

    pub fn summary(&self) -> String {
        let faults: usize = self.counts.values().sum();
        let detail: Vec<String> = self
            .counts
            .iter()
            .map(|((fault, cut), n)| match fault.in_head() {
                true => format!("{fault:?} {n}"),
                false => format!("{fault:?}/{cut:?} {n}"),
            })
            .collect();
        format!(
            "{} rounds, {faults} faults, {} on chunked bodies ({})",
            self.rounds,
            self.chunked,
            detail.join(", ")
        )
    }
}
