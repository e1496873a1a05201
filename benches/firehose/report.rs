//! Markdown output: tables, number formats, the machine description, target checks.

use std::process::Command;

/// One target checked against a figure.
#[derive(Debug, Clone)]
pub struct Check {
    /// "small / C API, callback: time ratio".
    pub what: String,
    /// "≤ 2.5x".
    pub target: String,
    /// "3.12x".
    pub value: String,
    pub met: bool,
}

impl Check {
    pub fn at_most(what: String, value: f64, limit: f64, unit: &str, digits: usize) -> Check {
        Check {
            what,
            target: format!("≤ {limit}{unit}"),
            value: format!("{value:.digits$}{unit}"),
            met: value.is_finite() && value <= limit,
        }
    }

    pub fn below(what: String, value: f64, limit: f64, unit: &str, digits: usize) -> Check {
        Check {
            what,
            target: format!("< {limit}{unit}"),
            value: format!("{value:.digits$}{unit}"),
            met: value.is_finite() && value < limit,
        }
    }
}

/// A Markdown table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    out.push_str(&format!("| {} |\n", headers.join(" | ")));
    out.push_str(&format!(
        "|{}\n",
        headers.iter().map(|_| " --- |").collect::<String>()
    ));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// The target and met? columns of a row from its checks.
pub fn target_cells(checks: &[Check]) -> (String, String) {
    if checks.is_empty() {
        return ("—".into(), "—".into());
    }
    let targets: Vec<String> = checks
        .iter()
        .map(|c| {
            let short = c.what.rsplit(": ").next().unwrap_or(&c.what);
            format!("{short} {}", c.target)
        })
        .collect();
    let met: Vec<&str> = checks
        .iter()
        .map(|c| if c.met { "yes" } else { "**no**" })
        .collect();
    (targets.join("; "), met.join("; "))
}

/// 1234567.8 -> "1,234,568"; NaN -> "—".
pub fn count(value: f64) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    crate::orchestrate::thousands(value.round() as u64)
}

/// A number with `digits` decimals; NaN -> "—".
pub fn num(value: f64, digits: usize) -> String {
    if value.is_finite() {
        format!("{value:.digits$}")
    } else {
        "—".into()
    }
}

/// A ratio: "2.31x"; NaN -> "—".
pub fn ratio(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}x")
    } else {
        "—".into()
    }
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Date, machine, toolchain and load, for the report's header.
pub fn machine() -> String {
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|x| x.1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let rustc = command_line("rustc", &["--version"]).unwrap_or_default();
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let dirty =
        command_line("git", &["status", "--porcelain", "--", "src"]).is_some_and(|s| !s.is_empty());
    format!(
        "{date}; {cpu}, {cores} cores, {memory_gib:.0} GiB RAM; Linux {}; {rustc}; \
         commit {commit}{}; load average at start {}",
        kernel.trim(),
        if dirty { " (src/ modified)" } else { "" },
        load.join(" ")
    )
}
