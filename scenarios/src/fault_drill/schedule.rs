//! The fault schedule: how long the load runs before the fault and how long the fault lasts,
//! drawn from a seed so that a failing run can be replayed.

use std::ops::RangeInclusive;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Variable that fixes the seed of every fault check's schedule, to replay a run.
pub const SEED_VAR: &str = "HARNESS_FAULT_SEED";

/// Variable that sets how long the app may take to recover after a fault heals, in ms.
pub const RECOVERY_BOUND_VAR: &str = "HARNESS_RECOVERY_BOUND_MS";

/// Default recovery bound.
pub const DEFAULT_RECOVERY_BOUND: Duration = Duration::from_secs(10);

/// Range of the load's lead-in before the fault, in ms: long enough for some acknowledged
/// writes, short enough to keep a check at tens of seconds.
const LEAD_IN_MS: RangeInclusive<u64> = 500..=1500;

/// Range of one freeze of a stutter, in ms.
const STUTTER_FREEZE_MS: RangeInclusive<u64> = 100..=400;

/// Range of the gap between two freezes of a stutter, in ms.
const STUTTER_GAP_MS: RangeInclusive<u64> = 50..=250;

/// When a fault starts and how long it lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Seed the schedule was drawn from.
    pub seed: u64,
    /// Load before the fault.
    pub lead_in: Duration,
    /// Duration of the fault.
    pub hold: Duration,
    /// For a stutter: each freeze and the gap after it, filling `hold`.
    pub stutter: Vec<(Duration, Duration)>,
}

impl Schedule {
    /// Draws a schedule from `seed` with a fault duration in `hold_ms`.
    pub fn from_seed(seed: u64, hold_ms: RangeInclusive<u64>) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let lead_in = Duration::from_millis(rng.random_range(LEAD_IN_MS));
        let hold = Duration::from_millis(rng.random_range(hold_ms));

        let mut stutter = Vec::new();
        let mut planned = Duration::ZERO;
        while planned < hold {
            let freeze = Duration::from_millis(rng.random_range(STUTTER_FREEZE_MS));
            let gap = Duration::from_millis(rng.random_range(STUTTER_GAP_MS));
            planned += freeze + gap;
            stutter.push((freeze, gap));
        }
        Self {
            seed,
            lead_in,
            hold,
            stutter,
        }
    }
}

/// Returns the seed from [`SEED_VAR`], or a random one when it is unset.
pub fn seed() -> Result<u64, String> {
    match std::env::var(SEED_VAR) {
        Ok(value) => value.trim().parse().map_err(|_| {
            format!("{SEED_VAR}={value:?} is invalid; set it to an unsigned 64-bit integer")
        }),
        Err(_) => Ok(rand::random()),
    }
}

/// Returns the recovery bound from [`RECOVERY_BOUND_VAR`], or [`DEFAULT_RECOVERY_BOUND`].
pub fn recovery_bound() -> Result<Duration, String> {
    match std::env::var(RECOVERY_BOUND_VAR) {
        Ok(value) => value
            .trim()
            .parse()
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                format!("{RECOVERY_BOUND_VAR}={value:?} is invalid; set it to milliseconds above 0")
            }),
        Err(_) => Ok(DEFAULT_RECOVERY_BOUND),
    }
}

/// Checks [`SEED_VAR`] and [`RECOVERY_BOUND_VAR`], so that an invalid value stops a run
/// before anything starts.
pub fn check_env() -> Result<(), String> {
    seed()?;
    recovery_bound()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule() {
        let first = Schedule::from_seed(42, 2000..=4000);
        let second = Schedule::from_seed(42, 2000..=4000);

        assert_eq!(first, second);
    }

    #[test]
    fn schedule_stays_in_ranges() {
        for seed in 0..200 {
            let schedule = Schedule::from_seed(seed, 2000..=4000);

            assert!(LEAD_IN_MS.contains(&(schedule.lead_in.as_millis() as u64)));
            assert!((2000..=4000).contains(&(schedule.hold.as_millis() as u64)));
            let planned: Duration = schedule
                .stutter
                .iter()
                .map(|(freeze, gap)| *freeze + *gap)
                .sum();
            assert!(
                planned >= schedule.hold,
                "seed {seed}: stutter shorter than hold"
            );
        }
    }
}
