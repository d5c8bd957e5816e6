//! The process's peak resident memory, as Linux reports it.

/// The peak resident set size (`VmHWM` in `/proc/self/status`) in kibibytes, or `None` where
/// the file does not exist or does not say (not Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_peak(&status)
}

fn parse_peak(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark() {
        assert_eq!(parse_peak("VmPeak:\t  10 kB\nVmHWM:\t   5120 kB\nVmRSS: 1 kB\n"), Some(5120));
        assert_eq!(parse_peak("VmRSS: 1 kB\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
        }
    }
}
