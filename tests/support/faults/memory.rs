//! How much memory a scenario takes: the growth of the resident set, read from /proc.

/// One field of /proc/self/status, in KiB.
#[cfg(target_os = "linux")]
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Measures how much the resident set grows: the peak (VmHWM, reset through
/// /proc/self/clear_refs) when the kernel allows it, else the current VmRSS. Linux only:
/// it reads /proc.
#[cfg(target_os = "linux")]
pub struct MemoryProbe {
    baseline_kib: u64,
    peak: bool,
}

#[cfg(target_os = "linux")]
impl MemoryProbe {
    pub fn start() -> MemoryProbe {
        // "5" resets the peak resident set size to the current one (Linux 4.0+).
        let peak = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        MemoryProbe {
            baseline_kib: status_kib("VmRSS").expect("VmRSS in /proc/self/status"),
            peak,
        }
    }

    /// Checks that the probe sees memory at all: 8 MiB mapped and touched. Mapped
    /// directly, not through malloc, whose thresholds a freed block would raise (glibc then
    /// serves the next large blocks from memory already resident, which RSS cannot see).
    pub fn self_test() {
        const SIZE: usize = 8 << 20;
        let probe = MemoryProbe::start();
        // SAFETY: a fresh private anonymous mapping, written within its length, then
        // unmapped once; no reference to it outlives this block.
        let growth = unsafe {
            let block = libc::mmap(
                std::ptr::null_mut(),
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(block, libc::MAP_FAILED, "mmap");
            std::ptr::write_bytes(block.cast::<u8>(), 1, SIZE);
            let growth = probe.growth_kib();
            libc::munmap(block, SIZE);
            growth
        };
        assert!(
            growth >= 7 * 1024,
            "{} saw {growth} KiB of 8 MiB mapped and touched",
            probe.what()
        );
    }

    pub fn what(&self) -> &'static str {
        if self.peak {
            "peak RSS (VmHWM)"
        } else {
            "RSS (VmRSS)"
        }
    }

    /// Growth since `start`, in KiB.
    pub fn growth_kib(&self) -> u64 {
        let now = status_kib(if self.peak { "VmHWM" } else { "VmRSS" }).unwrap_or(0);
        now.saturating_sub(self.baseline_kib)
    }
}
