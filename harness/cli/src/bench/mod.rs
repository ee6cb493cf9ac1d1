//! `harness bench`: one module per benchmark, and the summary statistics they share.

pub mod db;
pub mod scan;

use std::time::Duration;

/// Median, minimum and maximum of a set of timings.
pub struct Summary {
    /// Median; the upper one of the two middle values for an even count.
    pub median: Duration,
    /// Shortest timing.
    pub min: Duration,
    /// Longest timing.
    pub max: Duration,
    /// Number of timings.
    pub count: usize,
}

impl Summary {
    /// Summarizes `times`, which must not be empty.
    pub fn of(times: &[Duration]) -> Self {
        let mut sorted = times.to_vec();
        sorted.sort();
        Self {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            count: sorted.len(),
        }
    }
}

/// Formats a duration in milliseconds with two decimals.
pub fn millis(time: Duration) -> String {
    format!("{:.2}", time.as_secs_f64() * 1e3)
}

/// Reads the 1, 5 and 15 minute load averages from /proc/loadavg (Linux), or returns
/// "unknown" where that file does not exist.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}
