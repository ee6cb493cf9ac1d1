//! `harness gc`: the reaper for leftovers of crashed runs.

use harness::gc::{GcMode, collect_garbage};

use crate::{EXIT_ENVIRONMENT, EXIT_FAIL, EXIT_PASS, print_error};

/// Removes the containers and networks of dead runs (or of all runs with `all`), prints each
/// removal and each kept run, and returns the exit status.
pub async fn gc(all: bool) -> u8 {
    let docker = match harness::docker::connect().await {
        Ok(docker) => docker,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_ENVIRONMENT;
        }
    };
    let mode = if all { GcMode::All } else { GcMode::DeadRuns };

    let report = match collect_garbage(&docker, mode).await {
        Ok(report) => report,
        Err(error) => {
            print_error(&error.to_string());
            return EXIT_FAIL;
        }
    };

    for removed in &report.removed {
        println!("removed {removed}");
    }
    for kept in &report.kept {
        println!("kept run {}: {}", kept.run_id, kept.reason);
    }
    if report.removed.is_empty() {
        println!("nothing to remove");
    }
    EXIT_PASS
}
